"""Run the demo: prepare a data folder, seed and plan the day through the platform,
then drive it -- headless at full speed (the clock stepped, the job queue worked
in-process) or live (the server, the job worker and the MQTT ingest as their own
processes, everyone on the same running simulation clock)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("lastmile.demo")
LEAD_S = 20 * 60  # the simulated day starts this long before the first shift


@dataclass
class Options:
    data_dir: Path
    seed: int = 1
    orders: int = 300
    drivers: int = 15
    hours: float = 14.0
    speed: float = 30.0
    time_limit: float = 10.0
    port: int = 8000
    host: str = "127.0.0.1"
    mqtt: str | None = None  # host:port of an MQTT broker (OwnTracks positions)
    ping_s: float | None = None
    day: date | None = None


def prepare_env(opts: Options, extra: dict[str, str] | None = None) -> None:
    """Settings for this process and the ones it starts: SQLite and the job queue in the
    demo's data folder, plain-HTTP cookies, links to this server. Must run before the
    job queue is first imported (it is built from the settings at import)."""
    if "lastmile.jobs.queue" in sys.modules:
        from ..jobs.queue import huey

        if Path(getattr(huey.storage, "filename", "")).parent != opts.data_dir.resolve():
            raise RuntimeError("the job queue was set up before the demo chose its data folder")
    for k in ("LASTMILE_DATABASE_URL", "LASTMILE_REDIS_URL", "LASTMILE_SIM_CLOCK"):
        os.environ.pop(k, None)
    os.environ.update({
        "LASTMILE_DATA_DIR": str(opts.data_dir.resolve()), "LASTMILE_ENV": "development",
        "LASTMILE_COOKIE_SECURE": "false", "LASTMILE_PUBLIC_URL": f"http://{opts.host}:{opts.port}",
        **(extra or {}),
    })
    from ..config import get_settings
    from ..tracking.config import get_tracking_settings

    get_settings.cache_clear()
    get_tracking_settings.cache_clear()


def fresh_data_dir(path: Path) -> None:
    """Every run starts clean: the demo owns this folder and re-creates it (a folder it
    did not create is refused, so a real data folder is never wiped)."""
    if path.exists():
        old_plan = {"plan.json", "plan.geojson", "plan.csv"}  # what the earlier `lastmile demo` wrote there
        if not (path / ".lastmile-demo").exists() and {p.name for p in path.iterdir()} - old_plan:
            raise SystemExit(f"{path} is not empty and is not a demo data folder; choose another --data-dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / ".lastmile-demo").write_text("created by `lastmile demo`; deleted and re-created by the next run\n")


def day_window(day: Any, hours: float) -> tuple[int, int]:
    start = min(d.shift_start_s for d in day.drivers) - LEAD_S
    return start, int(start + hours * 3600)


def sim_seconds(day: Any, now: datetime) -> float:
    from ..kit.time import local_midnight

    return (now - local_midnight(day.date, day.zone)).total_seconds()


Say = Callable[[str, float], None]


def seed_and_plan(api: Any, db: Any, settings: Any, day: Any, opts: Options, say: Say,
                  sources: Callable[[int], str]) -> tuple[Any, dict[str, Any]]:
    """Seed through the API, plan with ``POST /plans`` and publish. The plan's job is
    queued as always; this process runs that same job function at once (a worker's
    idle poll could wait seconds) and the queued copy then finds it claimed and does
    nothing. Returns (seeded ids, the published plan)."""
    from ..dispatch.service import run_plan
    from .seed import seed_fleet, seed_orders

    seeded = seed_fleet(api, db, settings, day, sources=sources, progress=lambda m, f: say(f"seeding: {m}", 0.3 * f))
    seed_orders(api, seeded, day, progress=lambda m, f: say(f"seeding: {m}", 0.3 * f))
    plan = api.post("/plans", token=seeded.dispatcher_token, json={
        "date": day.date.isoformat(), "depot_ids": list(seeded.depot_ids.values()),
        "options": {"time_limit_s": opts.time_limit, "seed": opts.seed, "balance": 1.0}})
    job = threading.Thread(target=run_plan, args=(db, plan["id"]), daemon=True)
    job.start()
    t0 = time.monotonic()
    while True:
        plan = api.get(f"/plans/{plan['id']}", token=seeded.dispatcher_token)
        say(f"optimizing: {plan.get('message') or plan['status']}", 0.3 + 0.65 * float(plan.get("progress") or 0))
        if plan["status"] in ("done", "failed"):
            break
        if time.monotonic() - t0 > opts.time_limit * 4 + 120:
            raise RuntimeError("the plan job did not finish")
        time.sleep(0.25)
    job.join()
    if plan["status"] != "done":
        raise RuntimeError(f"planning failed: {plan.get('message')}")
    plan = api.post(f"/plans/{plan['id']}/publish", token=seeded.dispatcher_token)
    plan = api.get(f"/plans/{plan['id']}", token=seeded.dispatcher_token)
    say("published", 1.0)
    return seeded, plan


def make_agents(api: Any, day: Any, seeded: Any, publisher: Any, start_s: float, end_s: float, ping_s: float) -> Any:
    from .agents import Dispatcher, DriverAgent, Timeline, World

    w = World(api, day, seeded, Timeline(), publisher, ping_s=ping_s, end_s=end_s)
    w.refresh_keys()
    drivers = {spec.key: DriverAgent(w, spec, seeded.drivers[spec.key]) for spec in day.drivers}
    for a in drivers.values():
        a.plan_start()
    dispatcher = Dispatcher(w, drivers)
    dispatcher.start(start_s)
    return w, drivers, dispatcher


def all_done(drivers: dict[str, Any]) -> bool:
    """Every driver is back and no order is still to come in today."""
    w = next(iter(drivers.values())).w if drivers else None
    pending = w.dispatcher.releases_left if w is not None and w.dispatcher is not None else 0
    return pending <= 0 and all(a.state == "done" for a in drivers.values())


def wrap_up(w: Any, drivers: dict[str, Any], t: float) -> None:
    """The end of the simulated day: drivers still out come back and end their shifts
    (stops they did not reach become not attempted, through the driver API)."""
    w.timeline._heap.clear()
    for a in drivers.values():
        if a.state not in ("done", "off") and a.route is not None:
            a.gen += 1
            a.end_shift(t)
        elif a.state == "off" and a.route is not None and a.route["status"] != "finished":
            a.start(t - 60)  # never left: the day ends for them too
            a.gen += 1
            a.end_shift(t)


# -- headless ------------------------------------------------------------------------------


def headless(opts: Options, console: Any, progress: Any = None) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    fresh_data_dir(opts.data_dir)
    # in-process, one request after another: the per-device flood limit is for phones
    prepare_env(opts, {"LASTMILE_TRACKING_DEVICE_REQUESTS_PER_WINDOW": "100000000"})
    from ..app import create_app
    from ..config import get_settings
    from ..db import database_for
    from ..kit.time import SimClock, at_seconds, use_clock
    from .adapter import demo_day
    from .agents import Publisher
    from .api import Api
    from .jobs import StepWorker
    from .outcome import outcome

    wall = time.monotonic()
    day = demo_day(opts.seed, orders=opts.orders, drivers=opts.drivers, day=opts.day)
    start_s, end_s = day_window(day, opts.hours)
    clock = use_clock(SimClock(at_seconds(day.date, day.zone, start_s), speed=0))
    clock.set(at_seconds(day.date, day.zone, start_s))
    settings = get_settings()
    db = database_for(settings)
    db.migrate()
    jobs = StepWorker()
    say = progress or (lambda m, f: None)
    with TestClient(create_app(settings.model_copy(update={"auto_migrate": False}), db),
                    base_url=f"http://{opts.host}:{opts.port}") as client:
        api = Api(client)
        seeded, plan = seed_and_plan(api, db, settings, day, opts, say, sources=lambda i: ("osmand", "app")[i % 2])
        jobs.drain(clock.now())
        w, drivers, _ = make_agents(api, day, seeded, Publisher(api), start_s, end_s, opts.ping_s or 120.0)
        tl = w.timeline
        steps, t_end = 0, float(start_s)
        while len(tl) and not all_done(drivers):
            t, fn = tl.pop()
            if t > end_s:
                break
            t_end = max(t_end, t)
            clock.set(at_seconds(day.date, day.zone, int(t)))
            fn()
            jobs.drain(clock.now())
            steps += 1
            if steps % 200 == 0:
                say(f"simulating {_hhmm(t)}", min(1.0, (t - start_s) / max(1, end_s - start_s)))
        if not all_done(drivers):
            t_end = float(end_s)
        clock.set(at_seconds(day.date, day.zone, int(t_end)))
        wrap_up(w, drivers, t_end)
        for _ in range(3):  # notifications and jobs that the last actions queued
            clock.advance(60)
            jobs.drain(clock.now())
        out = outcome(api, db, settings, seeded, day.date.isoformat(), w.stats)
    out.update(elapsed_s=round(time.monotonic() - wall, 1), jobs_run=jobs.executed, requests=api.requests,
               plan={"routes": len(plan.get("routes") or []), "unassigned": len(plan.get("unassigned") or []),
                     "stats": plan.get("stats")}, day=day.date.isoformat(), seed=opts.seed,
               simulated=f"{_hhmm(start_s)}-{_hhmm(t_end)}")
    return out


def _hhmm(t: float) -> str:
    from ..kit.time import hhmm

    return hhmm(int(t))


# -- live ------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the demo process dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class Children:
    """The processes the demo starts (server, job worker, MQTT ingest); stopped by their
    own ids when the demo ends."""

    def __init__(self, log_dir: Path) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.log_dir = log_dir

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 -- kept open for the child's lifetime
        p = subprocess.Popen([sys.executable, "-m", "lastmile.cli", *args], stdout=out, stderr=subprocess.STDOUT,
                             env=os.environ.copy(), preexec_fn=_die_with_parent)
        self.procs.append((name, p))
        return p

    def check(self) -> None:
        for name, p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{name} stopped (exit {p.returncode}); see {self.log_dir / (name + '.log')}")

    def stop(self) -> None:
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for _, p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_healthy(base: str, children: Children, timeout_s: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children.check()
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer on {base} within {timeout_s:.0f} s")


def live(opts: Options, console: Any, progress_factory: Any) -> None:
    import httpx
    from fastapi.testclient import TestClient

    if not port_free(opts.host, opts.port):
        raise SystemExit(f"port {opts.port} on {opts.host} is in use (another lastmile?): choose one with --port")
    fresh_data_dir(opts.data_dir)
    prepare_env(opts)
    from ..app import create_app
    from ..config import get_settings
    from ..db import database_for
    from ..kit.time import CLOCK_ENV, FileClock, SimClock, at_seconds, use_clock, write_clock_file
    from .adapter import demo_day
    from .agents import Publisher
    from .api import Api

    wall = time.monotonic()
    day = demo_day(opts.seed, orders=opts.orders, drivers=opts.drivers, day=opts.day)
    start_s, end_s = day_window(day, opts.hours)
    # One clock for every process, in a file: held at the start of the day while the day is
    # set up, then let run from just before the first van leaves.
    clock_file = opts.data_dir.resolve() / "clock"
    write_clock_file(clock_file, SimClock(at_seconds(day.date, day.zone, start_s), speed=0))
    clock = use_clock(FileClock(clock_file))
    os.environ[CLOCK_ENV] = clock.env_value()  # the server, the worker and the ingest read it too
    settings = get_settings()
    db = database_for(settings)
    db.migrate()
    children = Children(opts.data_dir)
    base = f"http://{opts.host}:{opts.port}"

    def _term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    mqtt_client = None
    try:
        children.start("server", ["serve", "--host", opts.host, "--port", str(opts.port)])
        if opts.mqtt:
            mhost, _, mport = opts.mqtt.partition(":")
            children.start("ingest-mqtt", ["ingest-mqtt", "--host", mhost, "--port", mport or "1883"])
        n_src = ("osmand", "app", "owntracks") if opts.mqtt else ("osmand", "app")
        with progress_factory() as say, \
                TestClient(create_app(settings.model_copy(update={"auto_migrate": False}), db), base_url=base) as client:
            seeded, plan = seed_and_plan(Api(client), db, settings, day, opts, say,
                                         sources=lambda i: n_src[i % len(n_src)])
            children.start("worker", ["worker", "--workers", "2"])
            say("starting the server", 1.0)
            wait_healthy(base, children)
        departs = [sim_seconds(day, datetime.fromisoformat(r["depart_at"].replace("Z", "+00:00")))
                   for r in plan.get("routes") or [] if r.get("depart_at")]
        go = max(start_s, int(min(departs, default=start_s)) - 4 * 60)
        write_clock_file(clock_file, SimClock(at_seconds(day.date, day.zone, go), speed=opts.speed))
        api = Api(httpx.Client(base_url=base, timeout=60))
        if opts.mqtt:
            mqtt_client = _mqtt(opts.mqtt)
        links = _links(api, seeded, day, plan)
        ready_s = time.monotonic() - wall
        _print_links(console, base, links, seeded, plan, ready_s, opts)
        w, drivers, _ = make_agents(api, day, seeded, Publisher(api, mqtt_client), start_s, end_s,
                                    opts.ping_s or max(30.0, 2 * opts.speed))
        _pace(w, drivers, clock, day, end_s, opts, console, children)
        from .outcome import outcome, print_outcome

        print_outcome(console, outcome(api, db, settings, seeded, day.date.isoformat(), w.stats))
        console.print(f"The day is over; the server keeps running at {base}/console -- Ctrl-C to stop.")
        while True:
            children.check()
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        if mqtt_client is not None:
            mqtt_client.loop_stop()
        children.stop()


def _mqtt(addr: str) -> Any:
    import paho.mqtt.client as mqtt

    host, _, port = addr.partition(":")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"lastmile-demo-{os.getpid()}")
    c.connect(host, int(port or 1883))
    c.loop_start()
    return c


def _links(api: Any, seeded: Any, day: Any, plan: dict[str, Any]) -> dict[str, str]:
    """A customer's tracking link: an order on the first route of the day."""
    routes = sorted(plan.get("routes") or [], key=lambda r: r.get("depart_at") or "")
    stops = routes[0].get("stops") if routes else []
    oid = (stops[min(2, len(stops) - 1)]["order_id"] if stops else next(iter(seeded.orders.values())))
    tok = api.post(f"/orders/{oid}/tracking-token", token=seeded.dispatcher_token)
    token = tok.get("token") or tok.get("tracking_token") or ""
    driver = next((d for d in seeded.drivers.values() if routes and d.driver_id == routes[0].get("driver_id")),
                  next(iter(seeded.drivers.values())))
    return {"token": token, "order": oid, "driver": driver.email, "day": day.date.isoformat()}


def _print_links(console: Any, base: str, links: dict[str, str], seeded: Any, plan: dict[str, Any], ready_s: float,
                 opts: Options) -> None:
    from .seed import ADMIN_EMAIL, DISPATCHER_EMAIL, PASSWORD

    st = plan.get("stats") or {}
    console.print(f"\n[bold]lastmile demo[/] is up in {ready_s:.0f} s ({time.process_time():.0f} s of CPU here): "
                  f"{st.get('assigned', '?')} orders on "
                  f"{st.get('routes', '?')} routes, {len(plan.get('unassigned') or [])} unassigned; "
                  f"the day runs {opts.speed:g}x faster than real time.\n")
    rows = [("Dispatch console", f"{base}/console", f"{DISPATCHER_EMAIL} / {PASSWORD} (admin: {ADMIN_EMAIL})"),
            ("Driver app", f"{base}/driver", f"{links['driver']} / {PASSWORD}"),
            ("Customer tracking", f"{base}/t/{links['token']}", "no login (the link a customer gets)"),
            ("Analytics", f"{base}/analytics?start={links['day']}&end={links['day']}", "the console login"),
            ("Notifications outbox", f"{base}/outbox?format=html", "the console login"),
            ("API docs", f"{base}/docs", "")]
    for name, url, who in rows:
        console.print(f"  {name:<21} {url}" + (f"   [dim]{who}[/]" if who else ""), highlight=False, soft_wrap=True)
    console.print("\nPositions: OsmAnd (GET /tracking/osmand) and the driver app (POST /tracking/positions)"
                  + (", OwnTracks over MQTT" if opts.mqtt else "") + f". Logs: {opts.data_dir}/*.log\n",
                  highlight=False)


def _pace(w: Any, drivers: dict[str, Any], clock: Any, day: Any, end_s: float, opts: Options, console: Any,
          children: Children) -> None:
    """Run the timeline as the simulation clock reaches each moment."""
    tl = w.timeline
    last_report = 0.0
    while len(tl):
        now_s = sim_seconds(day, clock.now())
        nxt = tl.next_time()
        assert nxt is not None
        if nxt > end_s:
            break
        if nxt > now_s:
            time.sleep(min(0.5, (nxt - now_s) / max(opts.speed, 0.001)))
        else:
            _, fn = tl.pop()
            try:
                fn()
            except Exception as e:  # one failed request must not end the demo
                log.warning("simulation step failed: %s", e)
        if time.monotonic() - last_report > 15:
            last_report = time.monotonic()
            children.check()
            busy = Counter(a.state for a in drivers.values())
            console.print(f"[dim]{_hhmm(now_s)}[/]  " + ", ".join(f"{k} {v}" for k, v in sorted(busy.items()))
                          + f"  · actions {sum(w.stats.actions.values())}, positions {sum(w.stats.positions.values())}",
                          highlight=False)
        if all_done(drivers):
            break
    wrap_up(w, drivers, min(end_s, sim_seconds(day, clock.now())))


# -- the command -------------------------------------------------------------------------------


class _Bar:
    """A one-line progress display (rich), as ``say(message, fraction)``."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:<44}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self.task = self.progress.add_task("starting", total=1.0)
        self.last = ""

    def __enter__(self) -> Say:
        self.progress.__enter__()

        def say(message: str, fraction: float) -> None:
            self.progress.update(self.task, completed=fraction, description=message[:44])
            if not self.progress.console.is_terminal and message.split(":")[0] != self.last:
                self.last = message.split(":")[0]
                self.progress.console.print(f"  {message}", highlight=False)

        return say

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)


def main(opts: Options, *, headless_run: bool, json_out: Path | None, console: Any) -> int:
    """``lastmile demo``: returns the exit code."""
    if headless_run:
        import json

        console.print(f"Simulating the Laredo day (seed {opts.seed}: {opts.orders} orders, {opts.drivers} drivers) "
                      f"at full speed, data in {opts.data_dir} ...", highlight=False)
        with _Bar(console) as say:
            out = headless(opts, console, say)
        from .outcome import print_outcome

        print_outcome(console, out, out.get("elapsed_s"))
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(out, indent=1, ensure_ascii=False))
            console.print(f"Wrote {json_out}")
        bad = [k for k in out["result"] if k.startswith("open")]
        return 1 if bad or out["pod"]["broken"] else 0
    console.print(f"Setting up the Laredo day in {opts.data_dir} (seed {opts.seed}: {opts.orders} orders, "
                  f"{opts.drivers} drivers) ...", highlight=False)
    live(opts, console, lambda: _Bar(console))
    return 0
