"""API benchmark: order create and list under 50 concurrent clients, on SQLite and
on PostgreSQL, against a plain-insert baseline in the same run.

    .venv/bin/python bench/api.py [--clients 50] [--rate 100] [--requests 1000]
                                  [--paced-requests 1500] [--workers 2] [--only sqlite|postgresql]

Starts a real `uvicorn` server (the same app `lastmile serve` runs) per database,
drives it with asyncio HTTP clients, then inserts orders with plain SQLAlchemy Core
inserts from the same number of threads (no HTTP, no validation, no auth, no
events). Two modes, each with its own plain-insert baseline:

* saturated (closed loop): every client sends its next request the moment the last
  answer arrives -- the most the server can do. Its requests/s is the server's
  CAPACITY; its latency is mostly queueing (clients / capacity), not what a user waits.
* paced (open loop): the 50 clients together offer ``--rate`` requests/s (each
  client one request every 50/rate s on average, uniform jitter 0.5x-1.5x, random
  start phase), whether or not the server keeps up -- the shape of real traffic.
  Latency counts from the scheduled send time, so a server that falls behind is
  charged for the wait (no coordinated omission).

The default rate, 100 requests/s, is 50 clients each sending one request every
half second: 360,000 orders an hour, far more than one city's fleet receives (the
Laredo day of SCENARIOS.md is a few thousand), and under half of what a quiet 2-CPU
machine that also runs PostgreSQL and the load generator serves saturated (220-235
creates/s and 410-470 lists/s with the heavier create path of November 2026). An open-loop
run *above* capacity measures a queue that grows for as long as the test lasts (the
p95 then depends on the test's length, not on the server), so the run prints the
offered rate as a share of the measured capacity and warns when it is over 100 %.

Prints p50/p95, requests/s and the server's CPU time per request (its processes'
user + system time: far steadier than latency when other work shares the machine,
though it too grows on a box loaded many times over -- compare code versions by it,
run back to back), with the 1- and 5-minute load averages
beside each section; the last line is the key figure: PostgreSQL p95s against the
targets of issue 4 (p95 <= 100 ms for creates, <= 50 ms for reads) at the paced rate,
and the saturated capacity with its (queueing) p95 beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx

PG_ADMIN = os.environ.get("LASTMILE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
DAY = date(2026, 11, 25)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str) -> tuple[str, str, str]:
    """Migrate, create an organization, a depot and a shipper key. Returns (org, depot, key)."""
    from lastmile.auth.models import Shipper
    from lastmile.auth.service import create_api_key, get_or_create_organization
    from lastmile.db import Database
    from lastmile.depots.models import Depot

    db = Database(url)
    db.migrate()
    with db.session() as s:
        org = get_or_create_organization(s, "bench")
        depot = Depot(organization_id=org.id, name="North", lat=27.56, lon=-99.49, timezone="America/Chicago")
        shipper = Shipper(organization_id=org.id, name="Farmacia")
        s.add_all([depot, shipper])
        s.flush()
        key, _ = create_api_key(s, shipper)
        s.commit()
        out = (org.id, depot.id, key)
    db.dispose()
    return out


def body(depot: str, i: int) -> dict:
    return {
        "depot_id": depot, "date": DAY.isoformat(), "reference": f"B{i}",
        "address": f"{1000 + i} Saunders St, Laredo, TX", "lat": 27.5 + (i % 100) / 1000, "lon": -99.48,
        "contact": {"name": "Cliente", "phone": "+1 956 555 0100"}, "language": "es",
        "windows": [{"start": "2026-11-25T09:00:00-06:00", "end": "2026-11-25T12:00:00-06:00"}],
        "demand": {"kg": 3, "litres": 10, "parcels": 1},
    }


class Conn:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams. httpx, tried first,
    could not send more than ~180 requests/s from one process here, so it measured
    itself; this one costs a few microseconds per request."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        if self.w is None:
            self.r, self.w = await asyncio.open_connection(self.host, self.port)
        assert self.r is not None
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.w.write(head.encode() + body)
        status = int((await self.r.readline()).split()[1])
        length, close = 0, False
        while (line := await self.r.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            if k.lower() == "content-length":
                length = int(v)
            elif k.lower() == "connection" and "close" in v.lower():
                close = True
        data = await self.r.readexactly(length) if length else b""
        if close:
            self.w.close()
            self.w = None
        return status, data

    def close(self) -> None:
        if self.w is not None:
            self.w.close()


async def drive(
    base: str, key: str, depot: str, clients: int, n: int, kind: str, pace: tuple[float, float] | None = None,
) -> tuple[list[float], float]:
    """``n`` requests from ``clients`` connections. Closed loop (``pace`` None): back to
    back. Open loop: each client sends one request every ``pace`` = (lo, hi) seconds
    (uniform), and latency counts from the scheduled time, not from the actual send."""
    host, port = base.removeprefix("http://").split(":")
    auth = {"authorization": f"Bearer {key}"}
    lat: list[float] = []
    counter = iter(range(n))
    errors: list[int] = []
    list_path = f"/orders?date={DAY.isoformat()}&status=pending&limit=50"

    per_client = n // clients

    async def worker(seed: int) -> None:
        conn = Conn(host, int(port))
        rng = random.Random(seed)
        due = time.perf_counter() + (rng.uniform(0, pace[1]) if pace else 0.0)
        sent = 0
        try:
            for i in counter:
                if pace:
                    if sent == per_client:
                        break
                    sent += 1
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    t0 = due  # charged from when it was meant to go
                    due += rng.uniform(*pace)
                else:
                    t0 = time.perf_counter()
                if kind in ("create", "warm", "solo", "paced-create"):
                    payload = json.dumps(body(depot, i)).encode()
                    status, _ = await conn.request("POST", "/orders", {**auth, "content-type": "application/json",
                                                                       "idempotency-key": f"{kind}-{i}"}, payload)
                else:
                    status, _ = await conn.request("GET", list_path, auth)
                lat.append(time.perf_counter() - t0)
                if status >= 300:
                    errors.append(status)
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(clients)))
    wall = time.perf_counter() - t0
    if errors:
        print(f"  !! {len(errors)} {kind} requests failed: {sorted(set(errors))}", file=sys.stderr)
    return lat, wall


def baseline(
    url: str, org: str, depot: str, clients: int, n: int, pace: tuple[float, float] | None = None,
) -> tuple[list[float], float]:
    """Plain inserts: one row, one transaction, no HTTP -- what the API adds its work to.
    Paced like ``drive``: each thread one insert every ``pace`` seconds, latency from
    the scheduled time."""
    from sqlalchemy import insert

    from lastmile.db import Database
    from lastmile.kit.ids import new_id
    from lastmile.kit.time import utcnow
    from lastmile.orders.models import Order

    db = Database(url)
    lat: list[float] = []
    lock = threading.Lock()

    def one(i: int, t0: float | None = None) -> None:
        t0 = time.perf_counter() if t0 is None else t0
        with db.engine.begin() as conn:
            now = utcnow()
            conn.execute(insert(Order).values(
                id=new_id("ord"), organization_id=org, depot_id=depot, date=DAY, kind="delivery", status="pending",
                reference=f"P{i}", address="x", lat=27.5, lon=-99.48, geocoded=False, contact_name="", contact_phone="",
                contact_email="", language="es", windows=[], service_s=300, demand_kg=3, demand_litres=10,
                demand_parcels=1, items=[], skills=[], priority=0, cod_amount=0, instructions="", created_at=now,
                updated_at=now))
        with lock:
            lat.append(time.perf_counter() - t0)

    def paced_client(c: int) -> None:
        assert pace is not None
        rng = random.Random(c)
        due = start + rng.uniform(0, pace[1])
        for j in range(n // clients):
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            one(c * n + j, due)
            due += rng.uniform(*pace)

    with db.engine.connect():
        pass  # connect once before the clock starts
    start = t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        if pace is None:
            list(ex.map(one, range(n)))
        else:
            list(ex.map(paced_client, range(clients)))
    wall = time.perf_counter() - t0
    db.dispose()
    return lat, wall


def start_server(url: str, data_dir: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "LASTMILE_DATABASE_URL": url, "LASTMILE_DATA_DIR": str(data_dir), "LASTMILE_ENV": "test"}
    log = open(data_dir.parent / f"server-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "lastmile.app:create_app", "--factory", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "3"],
        env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"server did not start; see {log.name}")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop uvicorn and its worker processes (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def server_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the server's processes (its own
    process group). Unlike latency, CPU per request hardly moves when other work
    shares the machine, so it compares code versions on a busy box."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[2] is pgrp; utime, stime are fields 11, 12
            total += int(fields[11]) + int(fields[12])
    return total / tick


def row(name: str, lat: list[float], wall: float, cpu_s: float | None = None) -> str:
    cpu = f"   server CPU {cpu_s / len(lat) * 1000:5.2f} ms/req" if cpu_s is not None else ""
    return f"    {name:<22} p50 {pct(lat, 50):7.1f} ms   p95 {pct(lat, 95):7.1f} ms   {len(lat) / wall:8.1f} req/s{cpu}"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} (1/5 min) on {os.cpu_count()} CPUs"


def bench(label: str, url: str, args: argparse.Namespace, tmp: Path) -> dict[str, float]:
    org, depot, key = seed(url)
    mean = args.clients / args.rate  # seconds between one client's requests, on average
    pace = (0.5 * mean, 1.5 * mean)
    proc, base = start_server(url, tmp / f"data-{label}", args.workers)
    cpu: dict[str, float] = {}
    loads: dict[str, str] = {}

    def run(name: str, *a: object) -> tuple[list[float], float]:
        c0 = server_cpu_s(proc.pid)
        out = asyncio.run(drive(base, key, depot, *a))  # type: ignore[arg-type]
        cpu[name] = server_cpu_s(proc.pid) - c0
        loads[name] = load()
        return out

    try:
        run("warm", args.clients, min(200, args.requests), "warm")  # warm-up
        # service time: one client, no queueing
        s_c_lat, s_c_wall = run("solo", 1, 200, "solo")
        s_l_lat, s_l_wall = run("solo-list", 1, 200, "list")
        c_lat, c_wall = run("create", args.clients, args.requests, "create")
        l_lat, l_wall = run("list", args.clients, args.requests, "list")
        pc_lat, pc_wall = run("paced-create", args.clients, args.paced_requests, "paced-create", pace)
        pl_lat, pl_wall = run("paced-list", args.clients, args.paced_requests, "list", pace)
    finally:
        stop_server(proc)
    b_lat, b_wall = baseline(url, org, depot, args.clients, args.requests)
    pb_lat, pb_wall = baseline(url, org, depot, args.clients, args.paced_requests, pace)
    loads["baseline"] = load()
    c_cap, l_cap = len(c_lat) / c_wall, len(l_lat) / l_wall
    print(f"{label}  ({args.workers} server workers, {os.cpu_count()} CPUs shared with the load generator "
          f"and the database)")
    print(f"  service time: 1 client, back to back (no queueing)   [{loads['solo-list']}]")
    print(row("POST /orders", s_c_lat, s_c_wall, cpu["solo"]))
    print(row("GET /orders (50/page)", s_l_lat, s_l_wall, cpu["solo-list"]))
    print(f"  SATURATED (closed loop) = CAPACITY: {args.clients} clients, each sends its next request as soon as "
          f"the last answer arrives; {args.requests} requests per test; latency is mostly queueing   "
          f"[{loads['list']}]")
    print(row("POST /orders", c_lat, c_wall, cpu["create"]))
    print(row("GET /orders (50/page)", l_lat, l_wall, cpu["list"]))
    print(row("plain insert baseline", b_lat, b_wall))
    ratio = c_cap / (len(b_lat) / b_wall)
    print(f"    API create capacity = {ratio:.2f}x plain insert")
    print(f"  PACED (open loop): {args.clients} clients offering {args.rate:.0f} req/s together (each one request "
          f"every {pace[0] * 1000:.0f}-{pace[1] * 1000:.0f} ms, uniform); {args.paced_requests} requests per test; "
          f"latency from the scheduled send time   [{loads['paced-list']}]")
    for what, cap in (("create", c_cap), ("list", l_cap)):
        share = args.rate / cap
        note = "  -- OVER CAPACITY: this p95 measures a growing queue" if share > 1 else ""
        print(f"    offered {args.rate:.0f} req/s = {share:.0%} of the measured {what} capacity ({cap:.0f} req/s){note}")
    print(row("POST /orders", pc_lat, pc_wall, cpu["paced-create"]))
    print(row("GET /orders (50/page)", pl_lat, pl_wall, cpu["paced-list"]))
    print(row("plain insert baseline", pb_lat, pb_wall))
    return {"create_p95": pct(c_lat, 95), "list_p95": pct(l_lat, 95), "ratio": ratio, "base_p95": pct(b_lat, 95),
            "paced_create_p95": pct(pc_lat, 95), "paced_list_p95": pct(pl_lat, 95),
            "paced_base_p95": pct(pb_lat, 95), "create_rps": c_cap, "list_rps": l_cap,
            "create_cpu_ms": cpu["create"] / len(c_lat) * 1000, "list_cpu_ms": cpu["list"] / len(l_lat) * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=float, default=100.0,
                    help="paced mode: requests/s offered by all clients together (default 100; see above)")
    ap.add_argument("--requests", type=int, default=1000, help="per saturated test")
    ap.add_argument("--paced-requests", type=int, default=1500, help="per paced test")
    ap.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    args = ap.parse_args()
    if args.rate <= 0:
        ap.error("--rate must be positive")
    results: dict[str, dict[str, float]] = {}
    keep = os.environ.get("LASTMILE_BENCH_KEEP")  # keep the server logs and databases
    with tempfile.TemporaryDirectory(prefix="lastmile-bench-") as t:
        tmp = Path(tempfile.mkdtemp(prefix="lastmile-bench-keep-")) if keep else Path(t)
        if args.only in (None, "sqlite"):
            results["SQLite"] = bench("SQLite", f"sqlite:///{tmp / 'bench.db'}", args, tmp)
        if args.only in (None, "postgresql"):
            import psycopg

            name = f"lastmile_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{name}"')
            try:
                results["PostgreSQL"] = bench("PostgreSQL", PG_ADMIN.rsplit("/", 1)[0] + "/" + name, args, tmp)
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as c:
                    c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    label = "PostgreSQL" if "PostgreSQL" in results else "SQLite"
    r = results[label]

    def verdict(v: float, target: float) -> str:
        return f"{v:.0f} ms ({'met' if v <= target else 'NOT met'}, target <= {target:.0f})"

    print(f"key: {label} p95, {args.clients} clients -- PACED at {args.rate:.0f} req/s "
          f"({args.rate / r['create_rps']:.0%} of create capacity): create {verdict(r['paced_create_p95'], 100)}, "
          f"list {verdict(r['paced_list_p95'], 50)}, plain insert {r['paced_base_p95']:.0f} ms; "
          f"SATURATED (capacity; p95 is queueing): create {r['create_rps']:.0f} req/s at p95 {r['create_p95']:.0f} ms, "
          f"list {r['list_rps']:.0f} req/s at p95 {r['list_p95']:.0f} ms, plain insert p95 {r['base_p95']:.0f} ms; "
          f"create capacity {r['ratio']:.2f}x plain insert; server CPU create {r['create_cpu_ms']:.2f} ms/req, "
          f"list {r['list_cpu_ms']:.2f} ms/req ({load()})")


if __name__ == "__main__":
    main()
