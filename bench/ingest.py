"""Ingest benchmark: sustained positions/s into PostgreSQL through the full pipeline
(decode, authenticate the device, filter, store, ETA hook, driver_live, broadcast
over Redis), against a plain bulk insert of the same rows in the same run.

    .venv/bin/python bench/ingest.py [--drivers 1000] [--seconds 15] [--batch 50]
                                     [--clients 16] [--workers 2] [--no-redis]

Paths measured, each on its own fresh rows:

* HTTP batch   -- ``POST /tracking/positions`` (driver app logins), ``--batch`` fixes
  per request, ``--clients`` concurrent keep-alive connections;
* HTTP single  -- ``GET /tracking/osmand?id=…`` (OsmAnd / Traccar Client), one fix
  per request;
* MQTT         -- (with and without the ETA work, LASTMILE_TRACKING_ETA) OwnTracks JSON published to the real Mosquitto (QoS 1) and taken in
  by ``lastmile ingest-mqtt`` running as its own process; throughput counts until the
  last position is in the database;
* baseline     -- ``executemany`` of the same number of rows into ``positions``
  (SQLAlchemy Core, ``--batch`` rows per statement, one transaction each): the
  database's own speed for these rows, with no HTTP, no MQTT and no pipeline.

The server is the real app under ``uvicorn`` (``--workers`` processes), with Redis
for broadcast and counters when reachable. Every driver has a published, started
route for today with three stops, so the route lookup, the next-stop query and the
customer topic are exercised. The load comes from one address, so the per-address
request limit is raised for the run (a fleet's phones come from many); the
per-device flood limit stays on. The load generator shares the machine's CPUs with
the server, PostgreSQL, Redis and Mosquitto (and with anything else running).

The last line is the key figure: positions/s per path vs the plain insert and the
issue's target of 5,000 positions/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import Conn, free_port, server_cpu_s, start_server, stop_server  # noqa: E402

PG_ADMIN = os.environ.get("LASTMILE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/0"
ZONE = "America/Chicago"
TARGET = 5000


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def seed(url: str, drivers: int, run: str) -> dict:
    """An organization with ``drivers`` drivers, each with a started route for today
    (three stops), a driver login, an OsmAnd device and an OwnTracks device."""
    from lastmile.auth.models import AccessToken, User
    from lastmile.auth.service import get_or_create_organization
    from lastmile.db import Database
    from lastmile.depots.models import Depot
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.fleet.models import Driver, Vehicle
    from lastmile.kit.ids import hash_secret, new_secret
    from lastmile.orders.models import Order
    from lastmile.tracking.models import Device

    db = Database(url)
    db.migrate()
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(ZONE)).date()
    out: dict = {"app": [], "osmand": [], "topics": [], "driver_ids": []}
    with db.session() as s:
        org = get_or_create_organization(s, "bench")
        depot = Depot(organization_id=org.id, name="North", lat=27.563, lon=-99.487, timezone=ZONE)
        s.add(depot)
        s.flush()
        plan = Plan(organization_id=org.id, date=today, depot_ids=[depot.id], status="published", created_by="bench")
        s.add(plan)
        s.flush()
        for i in range(drivers):
            user = User(organization_id=org.id, email=f"d{i}-{run}@bench.example", role="driver",
                        password_hash="!unusable")
            veh = Vehicle(organization_id=org.id, depot_id=depot.id, name=f"Van {i}")
            s.add_all([user, veh])
            s.flush()
            drv = Driver(organization_id=org.id, name=f"Driver {i}", user_id=user.id)
            s.add(drv)
            s.flush()
            token = new_secret("lm_at_")
            s.add(AccessToken(user_id=user.id, token_hash=hash_secret(token), kind="bearer",
                              expires_at=now + timedelta(days=1)))
            osm, own = new_secret("lm_dv_", 24), new_secret("lm_dv_", 24)
            topic = f"owntracks/bench{run}/{i}"
            s.add_all([Device(organization_id=org.id, driver_id=drv.id, kind="osmand", token_hash=hash_secret(osm),
                              created_by="bench"),
                       Device(organization_id=org.id, driver_id=drv.id, kind="owntracks", token_hash=hash_secret(own),
                              topic=topic, created_by="bench")])
            route = Route(plan_id=plan.id, organization_id=org.id, vehicle_id=veh.id, driver_id=drv.id,
                          depot_id=depot.id, depart_at=now - timedelta(hours=3), arrive_at=now + timedelta(hours=5),
                          distance_m=0, duration_s=0, published=True, status="started",
                          started_at=now - timedelta(hours=3))
            s.add(route)
            s.flush()
            for k in range(3):
                o = Order(organization_id=org.id, depot_id=depot.id, date=today, status="out_for_delivery",
                          lat=27.50 + (i % 50) / 1000, lon=-99.50 + k / 100)
                s.add(o)
                s.flush()
                s.add(RouteStop(route_id=route.id, order_id=o.id, seq=k + 1, arrival_at=now, start_at=now, end_at=now))
            out["app"].append(token)
            out["osmand"].append(osm)
            out["topics"].append(topic)
            out["driver_ids"].append(drv.id)
        s.commit()
        out["org"] = org.id
    db.dispose()
    return out


class Track:
    """Each driver's next fix: one second and ~8 m after the last, starting two hours ago."""

    def __init__(self, drivers: int, start: datetime) -> None:
        self.start = start
        self.k = [0] * drivers
        self.lock = threading.Lock()

    def next(self, d: int) -> tuple[float, float, datetime]:
        with self.lock:
            k = self.k[d]
            self.k[d] += 1
        return 27.45 + (d % 100) / 500 + k * 7e-5, -99.55 + (d // 100) / 200, self.start + timedelta(seconds=k)


async def http_load(base: str, seconds: float, clients: int, make) -> tuple[int, int, float]:
    """``clients`` keep-alive connections sending back to back for ``seconds``;
    ``make(i)`` -> (method, path, headers, body, positions in it). Returns
    (positions sent in accepted requests, failed requests, wall seconds)."""
    host, port = base.removeprefix("http://").split(":")
    sent, failed = 0, 0
    stop = time.perf_counter() + seconds

    async def worker(c: int) -> None:
        nonlocal sent, failed
        conn, i = Conn(host, int(port)), c
        while time.perf_counter() < stop:
            method, path, headers, body, n = make(i)
            i += clients
            status, data = await conn.request(method, path, headers, body)
            if status == 200:
                sent += n
            else:
                failed += 1
                if failed < 5:
                    print(f"    !! {status} {data[:200]!r}", file=sys.stderr)
        conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in range(clients)))
    return sent, failed, time.perf_counter() - t0


async def warm_up(base: str, drivers: int, clients: int, make) -> float:
    """Every driver's first fixes, not measured: a driver's first fix of the day starts
    its live state (ETA state row, first ETAs, en route, approaching) once; the
    figure is the sustained rate of a fleet already on the road."""
    host, port = base.removeprefix("http://").split(":")
    t0 = time.perf_counter()
    todo = list(range(drivers))

    async def worker() -> None:
        conn = Conn(host, int(port))
        while todo:
            method, path, headers, body, _ = make(todo.pop())
            await conn.request(method, path, headers, body)
        conn.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - t0


def count_positions(url: str, source: str | None = None) -> int:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as c:
        q = "SELECT count(*) FROM positions" + (" WHERE source = %s" if source else "")
        return c.execute(q, (source,) if source else ()).fetchone()[0]


def mqtt_run(url: str, data_dir: Path, seed_: dict, track: Track, total: int, publishers: int,
             eta: bool = True, processes: int = 1) -> tuple[float, int]:
    """Publish ``total`` OwnTracks locations (QoS 1) from ``publishers`` clients and wait
    until ``lastmile ingest-mqtt`` has stored them. Returns (wall seconds, stored)."""
    import paho.mqtt.client as mqtt

    env = {**os.environ, "LASTMILE_DATABASE_URL": url, "LASTMILE_DATA_DIR": str(data_dir), "LASTMILE_ENV": "test",
           "LASTMILE_REDIS_URL": os.environ.get("BENCH_REDIS", ""), "LASTMILE_TRACKING_ETA": str(eta).lower()}
    if not env["LASTMILE_REDIS_URL"]:
        env.pop("LASTMILE_REDIS_URL")
    procs, logs = [], []
    share = ["--share", f"bench{seed_['run']}"] if processes > 1 else []
    for k in range(processes):
        log = open(data_dir.parent / f"ingest-mqtt-{k}.log", "wb")  # noqa: SIM115
        logs.append(log)
        procs.append(subprocess.Popen([str(Path(sys.executable).parent / "lastmile"), "ingest-mqtt", "--client-id", "",
                                       "--topic", f"owntracks/bench{seed_['run']}/#", *share],
                                      env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        for log in logs:
            for _ in range(1200):  # until it has subscribed (its start-up is slow on a busy machine)
                if b"ingesting" in Path(log.name).read_bytes():
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f"lastmile ingest-mqtt did not start; see {log.name}")
        before = count_positions(url, "owntracks")
        drivers = len(seed_["topics"])
        clients = []
        for p in range(publishers):
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
            c.max_inflight_messages_set(1000)
            c.max_queued_messages_set(0)
            c.connect("127.0.0.1", 1883)
            c.loop_start()
            clients.append(c)
        cpu0 = sum(server_cpu_s(p.pid) for p in procs)

        def publish(p: int) -> None:
            c = clients[p]
            for j in range(p, total, publishers):
                d = j % drivers
                lat, lon, at = track.next(d)
                msg = {"_type": "location", "lat": round(lat, 6), "lon": round(lon, 6), "tst": int(at.timestamp()),
                       "acc": 8, "vel": 30, "cog": 90, "batt": 80, "tid": "bn"}
                c.publish(seed_["topics"][d], json.dumps(msg), qos=1)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=publish, args=(p,)) for p in range(publishers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored, last_change, last = 0, time.perf_counter(), -1
        while True:
            stored = count_positions(url, "owntracks") - before
            now = time.perf_counter()
            if stored >= total:
                break
            if stored != last:
                last, last_change = stored, now
            elif now - last_change > 30:
                break  # stalled: report what arrived
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        cpu = sum(server_cpu_s(p.pid) for p in procs) - cpu0
        for c in clients:
            c.loop_stop()
            c.disconnect()
        print(f"    ingest CPU {cpu / max(stored, 1) * 1e6:6.1f} us/position ({processes} process(es))")
        return wall, stored
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def baseline(url: str, rows: int, batch: int, driver_ids: list[str], org: str) -> float:
    """Plain executemany of the same rows (``batch`` per statement and transaction)."""
    from sqlalchemy import insert

    from lastmile.db import Database
    from lastmile.tracking.models import Position

    db = Database(url)
    start = datetime.now(UTC) - timedelta(days=2)
    data = [{"organization_id": org, "driver_id": driver_ids[i % len(driver_ids)], "device_id": None,
             "route_id": None, "source": "baseline", "at": start + timedelta(seconds=i), "received_at": start,
             "lat": 27.5 + i * 1e-7, "lon": -99.5, "accuracy_m": 8.0, "speed_mps": 8.3, "bearing": 90.0,
             "altitude_m": None, "battery": 80.0} for i in range(rows)]
    t0 = time.perf_counter()
    for k in range(0, rows, batch):
        with db.engine.begin() as conn:
            conn.execute(insert(Position), data[k:k + batch])
    wall = time.perf_counter() - t0
    db.dispose()
    return rows / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drivers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=15.0, help="per HTTP path")
    ap.add_argument("--batch", type=int, default=50, help="fixes per app request and per baseline statement")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--mqtt-messages", type=int, default=30_000)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--mqtt-processes", type=int, default=2,
                    help="lastmile ingest-mqtt processes sharing the subscription (MQTT 5 shared subscription)")
    ap.add_argument("--no-redis", action="store_true")
    args = ap.parse_args()

    import psycopg

    use_redis = not args.no_redis and reachable("127.0.0.1", 6379)
    use_mqtt = reachable("127.0.0.1", 1883)
    name = f"lastmile_bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql+psycopg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    tmp = Path(tempfile.mkdtemp(prefix="lastmile-bench-ingest-"))
    run = uuid.uuid4().hex[:6]
    if use_redis:
        os.environ["BENCH_REDIS"] = REDIS_URL
    results: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        sd = seed(url, args.drivers, run)
        sd["run"] = run
        print(f"seeded {args.drivers} drivers with started routes in {time.perf_counter() - t0:.1f}s; "
              f"{os.cpu_count()} CPUs shared by server, PostgreSQL, Redis, Mosquitto and the load generator; "
              f"load average {os.getloadavg()[0]:.2f}")
        track = Track(args.drivers, datetime.now(UTC) - timedelta(hours=2))

        os.environ["LASTMILE_RATE_LIMIT_REQUESTS"] = "100000000"  # one address sends everything
        if use_redis:
            os.environ["LASTMILE_REDIS_URL"] = REDIS_URL
        proc, base = start_server(url, tmp / "data", args.workers)
        try:
            B = args.batch

            def batch_req(i: int):
                d = i % args.drivers
                fixes = []
                for _ in range(B):
                    lat, lon, at = track.next(d)
                    fixes.append({"lat": round(lat, 6), "lon": round(lon, 6), "at": at.isoformat(), "accuracy": 8,
                                  "speed": 8.3, "bearing": 90, "battery": 80})
                body = json.dumps({"positions": fixes}).encode()
                return ("POST", "/tracking/positions", {"authorization": f"Bearer {sd['app'][d]}",
                                                        "content-type": "application/json"}, body, B)

            def single_req(i: int):
                d = i % args.drivers
                lat, lon, at = track.next(d)
                q = (f"/tracking/osmand?id={sd['osmand'][d]}&lat={lat:.6f}&lon={lon:.6f}"
                     f"&timestamp={int(at.timestamp() * 1000)}&speed=16&bearing=90&accuracy=8&batt=80")
                return ("GET", q, {}, b"", 1)

            warm = asyncio.run(warm_up(base, args.drivers, args.clients, batch_req))
            print(f"  warm-up: every driver's first batch in {warm:.1f}s (not measured)")
            for label, make, clients in (("HTTP batch", batch_req, max(2, args.clients // 2)),
                                         ("HTTP single", single_req, args.clients)):
                before = count_positions(url)
                cpu0 = server_cpu_s(proc.pid)
                sent, failed, wall = asyncio.run(http_load(base, args.seconds, clients, make))
                cpu = server_cpu_s(proc.pid) - cpu0
                stored = count_positions(url) - before
                results[label] = stored / wall
                print(f"  {label:<12} {stored / wall:8.0f} positions/s   ({stored} stored of {sent} sent, "
                      f"{failed} failed requests, {clients} clients, {wall:.1f}s; server CPU "
                      f"{cpu / max(stored, 1) * 1e6:.0f} us/position)")
        finally:
            stop_server(proc)

        if use_mqtt:
            for label, eta in (("MQTT", True), ("MQTT no ETA", False)):
                wall, stored = mqtt_run(url, tmp / "data", sd, track, args.mqtt_messages, args.publishers, eta,
                                        args.mqtt_processes)
                results[label] = stored / wall
                print(f"  {label:<12} {stored / wall:8.0f} positions/s   ({stored} stored of {args.mqtt_messages} "
                      f"published, {args.publishers} publishers, {wall:.1f}s until the last one was stored"
                      f"{'' if eta else '; dispatch.eta.on_position switched off'})")
        else:
            print("  MQTT         skipped: no broker on 127.0.0.1:1883")

        rows = max(int(max(results.values()) * args.seconds), 20_000)
        results["baseline"] = baseline(url, rows, args.batch, sd["driver_ids"], sd["org"])
        print(f"  {'baseline':<12} {results['baseline']:8.0f} rows/s        (plain executemany of {rows} rows, "
              f"{args.batch} per statement)")
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    b = results["baseline"]
    parts = ", ".join(f"{k} {v:,.0f}/s ({v / b:.2f}x)" for k, v in results.items() if k != "baseline")
    best = max(v for k, v in results.items() if k != "baseline")
    print(f"key: PostgreSQL ingest, full pipeline -- {parts} vs plain insert {b:,.0f} rows/s; "
          f"best {best:,.0f}/s vs target {TARGET:,}/s: {'MET' if best >= TARGET else 'NOT MET'} "
          f"(load average {os.getloadavg()[0]:.2f}, shared machine)")


if __name__ == "__main__":
    main()
