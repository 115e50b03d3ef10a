"""Live ETAs: accuracy of the time-of-day model vs a constant-speed model, and the
cost of ``dispatch.eta.on_position``.

    .venv/bin/python bench/eta.py                       # 120 drives; 50 routes x 20 stops on SQLite
    .venv/bin/python bench/eta.py --drives 300 --pg     # also on the local PostgreSQL

1. Accuracy. Simulated Laredo / Nuevo Laredo weekday drives (15 stops, half with a
   2-hour window, about one drive in five with stops across the Rio Grande), leaving
   between 06:30 and 15:00. The hidden "true" traffic is the Laredo profile with every
   zone's slowdown rescaled by a per-drive factor (0.75-1.35: a lighter or heavier
   day) and a fixed random factor per leg (lognormal, sigma 0.15: the road network
   the straight lines do not see). At the depot and after every stop, both models
   predict the remaining arrivals from the true position and time:
   * time-of-day: ``routing.eta.predict`` on the Laredo profile (rush hours, school
     zones, the bridges and their queues by hour and direction);
   * static: the same straight lines at one constant speed, calibrated on the truth
     (mean true/free-flow ratio of same-side legs over the day) -- the usual
     "distance / average speed" ETA.
   Error = |predicted - actual arrival|, by horizon (how far ahead it was predicted).
   The truth has the time-of-day model's shape (the same profile, rescaled and
   perturbed), so this measures what knowing the shape of the day is worth when the
   day is 25-35 % lighter or heavier and each leg ~15 % off; it is not a field
   measurement (``dispatch.eta.eta_accuracy`` measures that from the history).

2. Cost per fix. 50 published routes x 20 stops in a fresh database; 50 drivers
   drive them (fix every 15 s, 8 m/s between stops, 4 min at each door), one
   transaction per round of 50 fixes, like the tracking pipeline's batches. Timed:
   each ``on_position`` call (wall and CPU: the machine is shared), with the 30 s ETA
   throttle (the default) and, as the baseline in the same run, with the ETA
   recomputed on every fix. The first fix of each route, which starts it
   (``live.start_route``: every order out for delivery), is reported apart.

Not part of the test run; timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("LASTMILE_ENV", "test")

import argparse
import dataclasses
import math
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from lastmile.routing.domain import DAY, LatLon, TimeWindow
from lastmile.routing.eta import EtaStop, predict
from lastmile.routing.matrix.haversine import HaversineProvider
from lastmile.routing.matrix.profiles import laredo
from lastmile.routing.matrix.timedep import TimeDependentModel, TrafficProfile, Zone, matrix_with_bridges
from lastmile.routing.ports import Matrix

H = 3600
DEPOT = LatLon(27.5630, -99.4870)
US_BOX = ((27.48, 27.62), (-99.51, -99.43))
MX_BOX = ((27.43, 27.49), (-99.57, -99.52))
TUESDAY = 1


# --- 1. accuracy ---


class NoisyModel:
    """The hidden truth: a time-of-day model times a fixed factor per leg."""

    def __init__(self, base: TimeDependentModel, noise: np.ndarray) -> None:
        self.base, self.noise = base, noise

    def travel(self, i: int, j: int, depart: int) -> int:
        return int(round(self.base.travel(i, j, depart) * self.noise[i, j]))

    def distance(self, i: int, j: int) -> int:
        return self.base.distance(i, j)


def rescaled(profile: TrafficProfile, k: float) -> TrafficProfile:
    zones = tuple(dataclasses.replace(z, slowdowns=tuple(
        dataclasses.replace(s, factor=max(1.0, 1.0 + (s.factor - 1.0) * k)) for s in z.slowdowns)) for z in profile.zones)
    return TrafficProfile(zones, profile.border, name=f"{profile.name}x{k:.2f}")


def point(rng: random.Random, box) -> LatLon:
    (a, b), (c, d) = box
    return LatLon(rng.uniform(a, b), rng.uniform(c, d))


def nearest_neighbour(locs: list[LatLon]) -> list[int]:
    left, order, cur = set(range(1, len(locs))), [], 0
    while left:
        nxt = min(left, key=lambda j: (locs[j].lat - locs[cur].lat) ** 2 + (locs[j].lon - locs[cur].lon) ** 2)
        order.append(nxt)
        left.remove(nxt)
        cur = nxt
    return order


def drive(rng: random.Random, truth_base: TrafficProfile, plan_profile: TrafficProfile, static_factor: float | None,
          n_stops: int = 15):
    crossing = rng.random() < 0.2
    locs = [DEPOT] + [point(rng, MX_BOX if crossing and k < 3 else US_BOX) for k in range(n_stops)]
    order = nearest_neighbour(locs)
    depart = int(rng.uniform(6.5 * H, 15 * H))
    stops = []
    for row in order:
        windows = ()
        if rng.random() < 0.5:
            a = depart + int(rng.uniform(0, 5 * H))
            windows = (TimeWindow(a, a + 2 * H),)
        stops.append(EtaStop(f"s{row}", locs[row], int(rng.uniform(120, 420)), windows))
    matrix = matrix_with_bridges(HaversineProvider(), locs, plan_profile)
    k = rng.uniform(0.75, 1.35)
    truth = NoisyModel(TimeDependentModel(matrix, locs, rescaled(truth_base, k), TUESDAY),
                       np.exp(np.random.default_rng(rng.randrange(1 << 30)).normal(0.0, 0.15, (len(locs), len(locs)))))
    tod = TimeDependentModel(matrix, locs, plan_profile, TUESDAY)
    return locs, order, depart, stops, truth, tod, crossing


def calibrate(rng: random.Random, truth_base: TrafficProfile, samples: int = 3000) -> float:
    """Mean true / free-flow travel of same-side legs at random times of the working day."""
    locs = [point(rng, US_BOX) for _ in range(60)]
    hv = HaversineProvider().matrix(locs)
    ratios = []
    for _ in range(samples // 100):
        k = rng.uniform(0.75, 1.35)
        model = TimeDependentModel(hv, locs, rescaled(truth_base, k), TUESDAY)
        noise = np.exp(np.random.default_rng(rng.randrange(1 << 30)).normal(0.0, 0.15, (60, 60)))
        for _ in range(100):
            i, j = rng.sample(range(60), 2)
            t = int(rng.uniform(6.5 * H, 19 * H))
            ff = hv.durations[i, j]
            if ff > 60:
                ratios.append(model.travel(i, j, t) * noise[i, j] / ff)
    return float(np.mean(ratios))


def accuracy(drives: int, seed: int) -> dict:
    rng = random.Random(seed)
    truth_base = laredo()
    factor = calibrate(rng, truth_base)
    buckets = ((0, 15), (15, 60), (60, 10**9))
    err: dict[str, dict] = {m: {b: [] for b in buckets} for m in ("tod", "static")}
    cross_err: dict[str, list] = {"tod": [], "static": []}
    for _ in range(drives):
        locs, order, depart, stops, truth, tod, crossing = drive(rng, truth_base, truth_base, factor)
        hv = HaversineProvider().matrix(locs)
        static = TimeDependentModel(Matrix(hv.distances, np.rint(hv.durations * factor).astype(np.int64), "static"),
                                    locs, TrafficProfile(), TUESDAY)
        actual = predict(truth, depart, stops, origin=0, rows=order)
        checkpoints = [(0, depart, 0)] + [(order[k], actual.stops[k].end, k + 1) for k in range(len(stops))]
        for origin, t, first in checkpoints:
            rest, rows = stops[first:], order[first:]
            if not rest:
                continue
            for name, model in (("tod", tod), ("static", static)):
                pred = predict(model, t, rest, origin=origin, rows=rows)
                for p, a in zip(pred.stops, actual.stops[first:]):
                    ahead = (a.arrival - t) / 60
                    e = abs(p.arrival - a.arrival) / 60
                    for b in buckets:
                        if b[0] <= ahead < b[1]:
                            err[name][b].append(e)
                    if crossing:
                        cross_err[name].append(e)
    out = {"static_factor": factor}
    for name in err:
        allv = [x for b in buckets for x in err[name][b]]
        out[name] = {"all": (statistics.mean(allv), float(np.percentile(allv, 90)), len(allv)),
                     **{f"{a}-{b if b < 10**9 else 'inf'}min": (statistics.mean(v), float(np.percentile(v, 90)), len(v))
                        for (a, b), v in err[name].items() if v},
                     "crossing drives": (statistics.mean(cross_err[name]), float(np.percentile(cross_err[name], 90)),
                                         len(cross_err[name])) if cross_err[name] else None}
    return out


# --- 2. cost per on_position ---

DAY0 = date(2026, 11, 24)  # a Tuesday
ZONE = "America/Chicago"


def build_day(db, routes: int, stops: int, seed: int) -> list[dict]:
    from lastmile.auth.service import get_or_create_organization
    from lastmile.depots.models import Depot
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.fleet.models import Driver, Shift, Vehicle
    from lastmile.kit.time import at_seconds
    from lastmile.orders.models import Order

    rng = random.Random(seed)
    out = []
    with db.session() as s:
        org = get_or_create_organization(s, "Bench")
        depot = Depot(organization_id=org.id, name="North", lat=DEPOT.lat, lon=DEPOT.lon, timezone=ZONE)
        s.add(depot)
        s.flush()
        plan = Plan(organization_id=org.id, date=DAY0, depot_ids=[depot.id], status="published", created_by="bench")
        s.add(plan)
        s.flush()
        start, end = at_seconds(DAY0, ZONE, 8 * H), at_seconds(DAY0, ZONE, 18 * H)
        win = [{"start": at_seconds(DAY0, ZONE, 9 * H).isoformat(), "end": at_seconds(DAY0, ZONE, 13 * H).isoformat()}]
        for r in range(routes):
            veh = Vehicle(organization_id=org.id, depot_id=depot.id, name=f"Van {r}")
            drv = Driver(organization_id=org.id, name=f"Driver {r}")
            s.add_all([veh, drv])
            s.flush()
            shift = Shift(organization_id=org.id, driver_id=drv.id, vehicle_id=veh.id, depot_id=depot.id, date=DAY0,
                          start_at=start, end_at=end)
            s.add(shift)
            s.flush()
            route = Route(plan_id=plan.id, organization_id=org.id, vehicle_id=veh.id, driver_id=drv.id,
                          shift_id=shift.id, depot_id=depot.id, depart_at=start, arrive_at=end, distance_m=0,
                          duration_s=0, published=True)
            s.add(route)
            s.flush()
            locs = [DEPOT] + [point(rng, US_BOX) for _ in range(stops)]
            seq = nearest_neighbour(locs)
            pts = []
            for k, row in enumerate(seq):
                o = Order(organization_id=org.id, depot_id=depot.id, date=DAY0, status="assigned",
                          lat=locs[row].lat, lon=locs[row].lon, windows=win if k % 2 else [], service_s=240)
                s.add(o)
                s.flush()
                t = start + timedelta(minutes=10 + 12 * k)
                s.add(RouteStop(route_id=route.id, order_id=o.id, seq=k + 1, arrival_at=t, start_at=t,
                                end_at=t + timedelta(seconds=240)))
                pts.append(locs[row])
            out.append({"route_id": route.id, "driver_id": drv.id, "points": [DEPOT, *pts]})
        s.commit()
    return out


def position(points: list[LatLon], t: float, speed: float = 8.0, dwell: float = 240.0) -> tuple[float, float, float]:
    """Where a driver is ``t`` seconds after leaving the depot: (lat, lon, speed)."""
    for a, b in zip(points, points[1:]):
        d = 1.3 * 6_371_008.8 * math.radians(math.hypot(b.lat - a.lat, (b.lon - a.lon) * math.cos(math.radians(a.lat))))
        leg = d / speed
        if t < leg:
            f = t / leg
            return a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f, speed
        t -= leg
        if t < dwell:
            return b.lat, b.lon, 0.0
        t -= dwell
    return points[-1].lat, points[-1].lon, 0.0


def cost(url: str, routes: int, stops: int, minutes: int, every_s: int, refresh_s: int, seed: int) -> dict:
    from lastmile.config import Settings
    from lastmile.db import Database
    from lastmile.dispatch.eta import on_position
    from lastmile.dispatch.models import RouteStop, StopEtaHistory
    from lastmile.kit.time import at_seconds
    from sqlalchemy import func, select

    db = Database(url)
    db.migrate()
    day = build_day(db, routes, stops, seed)
    cfg = Settings(env="test", eta_refresh_s=refresh_s, eta_traffic_profile="laredo")
    t0 = at_seconds(DAY0, ZONE, 8 * H + 5 * 60)
    calls, cpu, commits, starts = [], [], [], []
    for k in range(minutes * 60 // every_s):
        at = t0 + timedelta(seconds=k * every_s)
        with db.session() as s:
            for r in day:
                lat, lon, v = position(r["points"], k * every_s)
                c, p = time.perf_counter(), time.process_time()
                on_position(s, driver_id=r["driver_id"], route_id=r["route_id"], lat=lat, lon=lon, at=at, speed_mps=v,
                            settings=cfg)
                if k == 0:  # the first fix of the day starts the route (live.start_route): apart
                    starts.append(time.process_time() - p)
                    continue
                calls.append(time.perf_counter() - c)
                cpu.append(time.process_time() - p)
            c = time.perf_counter()
            s.commit()
            commits.append(time.perf_counter() - c)
    with db.session() as s:
        arrived = s.scalar(select(func.count()).select_from(RouteStop).where(RouteStop.arrived_at.is_not(None)))
        history = s.scalar(select(func.count()).select_from(StopEtaHistory))
    db.dispose()
    ms = sorted(x * 1000 for x in calls)
    cms = sorted(x * 1000 for x in cpu)
    return {"calls": len(ms), "mean_ms": statistics.mean(ms), "p50_ms": ms[len(ms) // 2],
            "p95_ms": ms[int(0.95 * len(ms))], "cpu_mean_ms": statistics.mean(cms), "cpu_p50_ms": cms[len(cms) // 2],
            "commit_ms": statistics.mean(commits) * 1000, "arrived": arrived, "history_rows": history,
            "start_cpu_ms": statistics.mean(starts) * 1000}


def pg_url() -> tuple[str, object] | None:
    try:
        import psycopg
    except ImportError:
        return None
    admin = os.environ.get("LASTMILE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"lastmile_bench_eta_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True, connect_timeout=3) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except Exception:
        return None

    def drop() -> None:
        with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drives", type=int, default=120)
    ap.add_argument("--routes", type=int, default=50)
    ap.add_argument("--stops", type=int, default=20)
    ap.add_argument("--minutes", type=int, default=8, help="simulated minutes of fixes")
    ap.add_argument("--every", type=int, default=15, help="seconds between a driver's fixes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pg", action="store_true", help="also time on the local PostgreSQL")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    acc = accuracy(args.drives, args.seed)
    print(f"# ETA accuracy: {args.drives} simulated Tuesday drives x 15 stops, hidden truth = Laredo profile "
          f"x per-drive 0.75-1.35 x per-leg lognormal(0.15); static = constant speed, calibrated "
          f"x{acc['static_factor']:.2f} free flow ({time.perf_counter() - t:.1f} s)")
    print(f"{'horizon':<16}{'time-of-day MAE / p90 (min)':>30}{'static MAE / p90 (min)':>26}{'n':>8}")
    for key in acc["tod"]:
        a, b = acc["tod"][key], acc["static"][key]
        if a is None:
            continue
        print(f"{key:<16}{a[0]:>20.1f} / {a[1]:<7.1f}{b[0]:>16.1f} / {b[1]:<7.1f}{a[2]:>8}")

    results = []
    targets = [("SQLite", None)]
    if args.pg:
        targets.append(("PostgreSQL", "pg"))
    print(f"# on_position: {args.routes} routes x {args.stops} stops, a fix per driver every {args.every} s for "
          f"{args.minutes} simulated min, one transaction per round of {args.routes} fixes")
    print(f"{'database':<12}{'ETA refresh':<18}{'calls':>7}{'mean ms':>9}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'CPU mean':>10}{'CPU p50':>9}{'commit ms':>11}{'arrived':>9}{'history':>9}{'start CPU ms':>14}")
    for label, kind in targets:
        for refresh_s, what in ((0, "every fix (base)"), (30, "throttled 30 s")):
            drop = None
            if kind == "pg":
                got = pg_url()
                if got is None:
                    print("PostgreSQL not reachable; skipped")
                    break
                url, drop = got
            else:
                url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='lastmile-bench-eta-')) / 'eta.db'}"
            try:
                r = cost(url, args.routes, args.stops, args.minutes, args.every, refresh_s, args.seed)
            finally:
                if drop is not None:
                    drop()
            results.append((label, refresh_s, r))
            print(f"{label:<12}{what:<18}{r['calls']:>7}{r['mean_ms']:>9.2f}{r['p50_ms']:>8.2f}{r['p95_ms']:>8.2f}"
                  f"{r['cpu_mean_ms']:>10.2f}{r['cpu_p50_ms']:>9.2f}{r['commit_ms']:>11.1f}{r['arrived']:>9}"
                  f"{r['history_rows']:>9}{r['start_cpu_ms']:>14.1f}")
    tod, st = acc["tod"]["all"], acc["static"]["all"]
    thr = next(r for lab, rs, r in results if lab == "SQLite" and rs == 30)
    base = next(r for lab, rs, r in results if lab == "SQLite" and rs == 0)
    load = os.getloadavg()[0]
    print(f"ETA MAE time-of-day {tod[0]:.1f} min vs static {st[0]:.1f} min ({(1 - tod[0] / st[0]) * 100:.0f}% lower); "
          f"on_position CPU {thr['cpu_mean_ms']:.2f} ms/fix mean (wall {thr['mean_ms']:.2f}, p95 {thr['p95_ms']:.2f}) "
          f"throttled vs CPU {base['cpu_mean_ms']:.2f} ms recomputing every fix; {args.routes} routes x {args.stops} "
          f"stops, SQLite, load average {load:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
