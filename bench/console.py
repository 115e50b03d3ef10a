"""Dispatch console benchmark: 100 routes x 50 stops (5,000 stops) in real Chromium.

    .venv/bin/python bench/console.py [--routes 100] [--stops 50] [--positions 1000] [--runs 3]

Seeds a fresh SQLite database with direct inserts (one organization, a depot, one van
and driver per route, a published plan whose stops are partly done/failed/en route),
serves the real app under uvicorn on a free port, signs a dispatcher in and measures:

* page load to interactive: ``page.goto('/console?date=…')`` until the console says
  it is ready (day loaded, map and route list drawn) -- against the same page on a
  day with no routes (the baseline: shell, libraries, stream, panels);
* click to response: opening a route (its stop list and timeline);
* a burst of live updates: ``--positions`` position messages for all drivers
  published on the organization's topic (as the tracking pipeline does), timed from
  the first publish until the page has drawn the last one -- on the full day and on
  the empty-day baseline; and the same burst handed to the page's message handler
  directly (rendering alone, no network);
* stop updates: 500 stop status changes (a stop arrived, one done: what drivers'
  phones send) handed to the page's handler, until the route list and the map show
  the last one;
* the size of ``GET /console/day``: JSON, and gzipped as sent to a browser.

Run on a quiet machine for figures to compare (the script prints the load average):

    .venv/bin/python bench/console.py

Medians of ``--runs``. The last line is the key figure.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

CHROMIUM = os.environ.get("LASTMILE_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"
DAY = date(2026, 11, 25)
EMPTY_DAY = date(2026, 11, 26)
CENTER = (27.52, -99.49)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(db, n_routes: int, n_stops: int) -> dict:
    """Direct inserts: what a day of n_routes x n_stops looks like after publishing."""
    from sqlalchemy import insert

    from lastmile.auth.service import create_user, get_or_create_organization
    from lastmile.depots.models import Depot
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.fleet.models import Driver, Vehicle
    from lastmile.kit.ids import new_id
    from lastmile.orders.models import Order

    rng = random.Random(7)
    start = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # 08:00 in Laredo
    with db.session() as s:
        org = get_or_create_organization(s, "Bench Fleet")
        create_user(s, org.id, "dispatcher@example.com", PASSWORD, "dispatcher", name="Dispatcher")
        depot = Depot(organization_id=org.id, name="Laredo", lat=CENTER[0], lon=CENTER[1], timezone="America/Chicago")
        s.add(depot)
        s.flush()
        plan = Plan(organization_id=org.id, date=DAY, depot_ids=[depot.id], status="published", progress=1.0,
                    created_by="bench", published_at=start)
        s.add(plan)
        s.flush()
        vehicles, drivers, routes, orders, stops = [], [], [], [], []
        for r in range(n_routes):
            vid, did, rid = new_id("veh"), new_id("drv"), new_id("rte")
            vehicles.append({"id": vid, "organization_id": org.id, "depot_id": depot.id, "name": f"Van {r + 1}",
                             "capacity_parcels": 200})
            drivers.append({"id": did, "organization_id": org.id, "name": f"Driver {r + 1}"})
            routes.append({"id": rid, "plan_id": plan.id, "organization_id": org.id, "vehicle_id": vid, "driver_id": did,
                           "depot_id": depot.id, "depart_at": start, "arrive_at": start + timedelta(hours=9),
                           "distance_m": 80_000, "duration_s": 9 * 3600, "published": True,
                           "status": "started" if r % 2 else "planned"})
            clat, clon = CENTER[0] + rng.uniform(-0.12, 0.12), CENTER[1] + rng.uniform(-0.12, 0.12)
            done = rng.randint(0, n_stops // 2)
            for k in range(n_stops):
                oid = new_id("ord")
                at = start + timedelta(minutes=10 * (k + 1))
                status = "done" if k < done else ("en_route" if k == done else "planned")
                if k < done and k % 9 == 4:
                    status = "failed"
                orders.append({"id": oid, "organization_id": org.id, "depot_id": depot.id, "reference": f"R{r}-{k}",
                               "date": DAY, "status": "assigned", "address": f"{k} Calle {r}, Laredo",
                               "lat": clat + rng.uniform(-0.02, 0.02), "lon": clon + rng.uniform(-0.02, 0.02),
                               "contact_name": f"Cliente {r}-{k}", "contact_phone": f"+52 867 {r:03d} {k:04d}",
                               "windows": [{"start": (start + timedelta(hours=1)).isoformat(),
                                            "end": (start + timedelta(hours=9)).isoformat()}]})
                stops.append({"id": new_id("rst"), "route_id": rid, "order_id": oid, "seq": k + 1, "arrival_at": at,
                              "start_at": at, "end_at": at + timedelta(minutes=5), "status": status,
                              "eta_at": at + timedelta(minutes=rng.randint(-5, 25)) if status == "planned" else None,
                              "completed_at": at if status in ("done", "failed") else None})
        for model, rows in ((Vehicle, vehicles), (Driver, drivers), (Route, routes), (Order, orders),
                            (RouteStop, stops)):
            for i in range(0, len(rows), 1000):
                s.execute(insert(model), rows[i:i + 1000])
        s.commit()
        return {"org": org.id, "drivers": [(d["id"], r["id"]) for d, r in zip(drivers, routes, strict=True)]}


def serve(app) -> tuple[object, threading.Thread, str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def load(page, day: date) -> float:
    t0 = time.perf_counter()
    page.goto(f"/console?date={day.isoformat()}")
    page.wait_for_function("window.__console && window.__console.ready", timeout=120_000)
    return (time.perf_counter() - t0) * 1000


def burst(page, org: str, drivers: list[tuple[str, str]], n: int) -> float:
    """Publish n position messages on the org topic; ms until the page drew the last one."""
    from lastmile.kit.broadcast import publish

    rng = random.Random(n)
    page.evaluate("window.__console.positions = 0")
    page.wait_for_timeout(200)
    t0 = time.perf_counter()
    sent = 0
    # in slices the size of one subscriber's queue (kit.broadcast drops the oldest beyond it)
    while sent < n:
        chunk = min(200, n - sent)
        for _ in range(chunk):
            d, r = drivers[rng.randrange(len(drivers))]
            publish(f"org:{org}", {"type": "position", "driver_id": d, "route_id": r,
                                   "lat": CENTER[0] + rng.uniform(-0.15, 0.15), "lon": CENTER[1] + rng.uniform(-0.15, 0.15),
                                   "at": datetime.now(UTC).isoformat(), "speed": rng.uniform(0, 15),
                                   "bearing": rng.uniform(0, 360), "accuracy": 8})
        sent += chunk
        page.wait_for_function(f"window.__console.positions >= {sent}", timeout=60_000)
    # the last frame that drew them
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return (time.perf_counter() - t0) * 1000


def render_only(page, drivers: list[tuple[str, str]], n: int) -> float:
    """The same burst handed to the page's handler: parsing, batching and drawing only."""
    msgs = []
    rng = random.Random(n + 1)
    for _ in range(n):
        d, r = drivers[rng.randrange(len(drivers))]
        msgs.append({"type": "position", "driver_id": d, "route_id": r, "lat": CENTER[0] + rng.uniform(-0.15, 0.15),
                     "lon": CENTER[1] + rng.uniform(-0.15, 0.15), "at": "2026-11-25T16:00:00Z",
                     "speed": 5, "bearing": rng.uniform(0, 360)})
    return page.evaluate("""async (msgs) => {
        const t0 = performance.now();
        for (const m of msgs) window.__console.ingest(JSON.parse(JSON.stringify(m)));
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        return performance.now() - t0;
    }""", msgs)


def stop_updates(page, n: int = 500) -> float:
    """n stop status changes into the page's handler: ms until the last is in the list."""
    return page.evaluate("""async (n) => {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
            window.__console.touchStop(i * 7, { type: "stop", stop_status: i % 2 ? "done" : "arrived",
                                                at: new Date().toISOString() });
        }
        // the route list redraws what changed (debounced) and the map restyles
        await new Promise((r) => { const tick = () => (window.__console.flushedAfter(t0) ? r() : setTimeout(tick, 5)); tick(); });
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        return performance.now() - t0;
    }""", n)


def click_route(page) -> float:
    return page.evaluate("""async () => {
        const head = document.querySelectorAll('.route-head')[3];
        const t0 = performance.now();
        head.click();
        await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
        const n = document.querySelectorAll('.route.open .stop').length;
        if (!n) throw new Error('route did not open');
        return performance.now() - t0;
    }""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--routes", type=int, default=100)
    ap.add_argument("--stops", type=int, default=50)
    ap.add_argument("--positions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from argon2 import PasswordHasher
    from playwright.sync_api import sync_playwright

    from lastmile.app import create_app
    from lastmile.auth import passwords
    from lastmile.config import Settings
    from lastmile.web.vendor import installed, not_installed_message

    if not installed():
        raise SystemExit(not_installed_message())
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    os.environ.pop("LASTMILE_REDIS_URL", None)
    tmp = Path(tempfile.mkdtemp(prefix="lastmile-bench-console-"))
    try:
        settings = Settings(env="test", data_dir=tmp / "data", cookie_secure=False, auto_migrate=True,
                            rate_limit_requests=1_000_000)
        app = create_app(settings)
        t0 = time.perf_counter()
        world = seed(app.state.db, args.routes, args.stops)
        print(f"seeded {args.routes} routes x {args.stops} stops in {time.perf_counter() - t0:.1f} s", flush=True)
        server, thread, url = serve(app)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--headless=new", "--no-sandbox", "--disable-gpu",
                                              "--disable-dev-shm-usage"])
            context = browser.new_context(base_url=url, viewport={"width": 1440, "height": 900}, locale="es-MX")
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            r = page.request.post("/auth/login", form={"email": "dispatcher@example.com", "password": PASSWORD})
            assert r.ok, r.text()
            t0 = time.perf_counter()
            day_json = page.request.get(f"/console/day?date={DAY.isoformat()}")
            day_ms = (time.perf_counter() - t0) * 1000
            assert day_json.ok
            size_kb = len(day_json.body()) / 1024
            import gzip

            gz_kb = len(gzip.compress(day_json.body(), compresslevel=1)) / 1024  # what the endpoint sends
            res: dict[str, list[float]] = {k: [] for k in ("empty", "full", "fetch", "click", "burst_empty",
                                                            "burst_full", "render", "stops")}
            for _ in range(args.runs):
                res["empty"].append(load(page, EMPTY_DAY))
                res["burst_empty"].append(burst(page, world["org"], world["drivers"], args.positions))
                res["full"].append(load(page, DAY))
                res["fetch"].append(page.evaluate(
                    "performance.getEntriesByType('resource').filter(e => e.name.includes('/console/day'))"
                    ".map(e => e.responseEnd - e.startTime).pop() || 0"))
                stops = page.evaluate("document.querySelectorAll('.route').length")
                assert stops == args.routes, stops
                res["click"].append(click_route(page))
                res["burst_full"].append(burst(page, world["org"], world["drivers"], args.positions))
                res["render"].append(render_only(page, world["drivers"], args.positions))
                res["stops"].append(stop_updates(page))
            drawn = page.evaluate("document.querySelectorAll('.driver-icon').length")
            browser.close()
        server.should_exit = True
        thread.join(10)
        app.state.db.dispose()
        if errors:
            print("page errors:", errors[:5])
        med = {k: statistics.median(v) for k, v in res.items()}
        print(f"GET /console/day ({args.routes * args.stops} stops): {day_ms:.0f} ms, {size_kb:.0f} KiB JSON, "
              f"{gz_kb:.0f} KiB gzipped")
        print(f"page load to interactive: empty day {med['empty']:.0f} ms, {args.routes}x{args.stops} day "
              f"{med['full']:.0f} ms (runs: {', '.join(f'{x:.0f}' for x in res['full'])}), of which the page's "
              f"GET /console/day {med['fetch']:.0f} ms")
        print(f"open a route (click to drawn): {med['click']:.0f} ms")
        print(f"{args.positions} position messages over SSE, first publish to last drawn: empty day "
              f"{med['burst_empty']:.0f} ms, full day {med['burst_full']:.0f} ms; {drawn} driver markers")
        print(f"rendering alone ({args.positions} messages into the page's handler): {med['render']:.0f} ms")
        print(f"500 stop status changes into the page's handler until the list and map show them: "
              f"{med['stops']:.0f} ms")
        print(f"key: {args.routes} routes x {args.stops} stops -- load to interactive {med['full']:.0f} ms "
              f"(empty-day baseline {med['empty']:.0f} ms, +{med['full'] - med['empty']:.0f} ms); "
              f"{args.positions} SSE position updates drawn in {med['burst_full']:.0f} ms "
              f"(baseline {med['burst_empty']:.0f} ms), rendering alone {med['render']:.0f} ms; "
              f"500 stop updates {med['stops']:.0f} ms; day {size_kb:.0f} KiB ({gz_kb:.0f} KiB gzipped); "
              f"1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
