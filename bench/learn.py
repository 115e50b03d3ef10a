"""Learned travel and service times vs the static model: ETA accuracy on held-out
simulated days.

    .venv/bin/python bench/learn.py                  # 14 days (11 train, 3 held out), 150 orders, 6 drivers
    .venv/bin/python bench/learn.py --days 20 --orders 300 --drivers 15 --holdout 4
    .venv/bin/python bench/learn.py --pg             # record into the local PostgreSQL instead of SQLite
    .venv/bin/python bench/learn.py --history /tmp/h.db   # keep the recorded days; a re-run reuses them

1. History. Simulated Laredo / Nuevo Laredo days (``lastmile.sim``: seeds 1..N,
   Monday to Saturday from 2026-03-02) are planned by the engine on the static
   time-of-day model and driven against the hidden truth (traffic that differs from
   the planner's profile, a per-leg road deviation, service times by building type,
   customer and cash on delivery, customers not at home); pings, arrivals and
   departures are recorded in a fresh database the way the live system records them
   (``learn/simulate.py``).
2. Training. ``learn.train`` on the first days only -- from the database, as
   ``lastmile learn`` does.
3. Evaluation on the held-out days (never seen in training): at the depot and at
   every stop left, the ETAs of all stops still ahead (``routing.eta.predict``, as
   live ETAs compute them) with the static model and planned service times vs the
   learned models, against the recorded arrivals. Printed side by side: ETA mean
   absolute error (overall and by how far ahead), bias, and the share of arrivals
   inside the one-hour window promised when the route started; then travel-only and
   service-only (which model earns what), and the cost of the learned model in the
   engine (the grid for a 300-stop plan).

The truth is not tuned to the model; the target (>= 25 % lower MAE) is printed
MET or NOT MET on the last line. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))


def _database(pg: bool, history: str | None):
    from lastmile.db import Database

    if not pg:
        path = history or os.path.join(tempfile.mkdtemp(prefix="lastmile-bench-learn-"), "history.db")
        db = Database(f"sqlite:///{path}")
        db.migrate()
        return db, None
    import psycopg

    admin = os.environ.get("LASTMILE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"lastmile_bench_learn_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    db = Database(admin.rsplit("/", 1)[0] + "/" + name)
    db.migrate()

    def drop() -> None:
        db.dispose()
        with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return db, drop


def _engine_cost(travel) -> str:
    """Building the learned grid for a 300-stop plan vs the static matrix at one departure."""
    import numpy as np

    from lastmile.routing.learned import LearnedTravelModel
    from lastmile.routing.matrix.profiles import laredo
    from lastmile.routing.solve import build_model
    from lastmile.sim.world import make_world, to_problem

    problem = to_problem(make_world(99, orders=300, drivers=15))
    t0 = time.perf_counter()
    _, static = build_model(problem, traffic=laredo())
    t1 = time.perf_counter()
    static.static_durations(np.full(static.size, 9 * 3600))
    t2 = time.perf_counter()
    _, learned = build_model(problem, traffic=laredo(), learned=travel)
    assert isinstance(learned, LearnedTravelModel)
    learned.table()
    t3 = time.perf_counter()
    return (f"engine cost, {static.size} places: static model {t1 - t0:.2f} s + one static matrix {t2 - t1:.2f} s; "
            f"learned grid ({len(learned.grid)} departure times x {static.size}^2 legs) {t3 - t2:.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--holdout", type=int, default=3)
    ap.add_argument("--orders", type=int, default=150)
    ap.add_argument("--drivers", type=int, default=6)
    ap.add_argument("--pg", action="store_true", help="record into the local PostgreSQL")
    ap.add_argument("--history", help="SQLite file to keep the recorded days in; if it already holds them, "
                                      "they are reused (no new simulation)")
    args = ap.parse_args(argv)
    if args.holdout >= args.days:
        ap.error("--holdout must be smaller than --days")

    from lastmile.learn.evaluate import compare, format_comparison
    from lastmile.learn.history import driven_routes
    from lastmile.learn.simulate import history_days, simulate_history
    from lastmile.learn.train import train_service, train_travel

    if args.pg and args.history:
        ap.error("--history is a SQLite file; leave it out with --pg")
    db, drop = _database(args.pg, args.history)
    try:
        t0 = time.perf_counter()
        days = history_days(args.days)
        with db.session() as s:
            recorded = {r.day for r in driven_routes(s)}
        if set(days) <= recorded:
            print(f"reusing the {len(days)} recorded days in {args.history}")
            stops = pings = 0
        else:
            print(f"recording {args.days} simulated days ({args.orders} orders, {args.drivers} drivers each) "
                  f"into {'PostgreSQL' if args.pg else 'SQLite'} ...", flush=True)
            sims = simulate_history(db.session, args.days, orders=args.orders, drivers=args.drivers, via_live=False,
                                    progress=lambda d: print(f"  {d.day} {d.day:%a} seed {d.seed}: {d.routes} "
                                                             f"routes, {d.stops} stops, {d.pings} pings", flush=True))
            stops, pings = sum(d.stops for d in sims), sum(d.pings for d in sims)
        t1 = time.perf_counter()
        train_days, test_days = set(days[:-args.holdout]), set(days[-args.holdout:])
        with db.session() as s:
            travel = train_travel(s, days=train_days)
            service = train_service(s, days=train_days)
            t2 = time.perf_counter()
            print(f"history: {stops} stops, {pings} pings recorded ({t1 - t0:.0f} s); trained on {len(train_days)} days in {t2 - t1:.1f} s: "
                  f"travel {travel.rows} legs (validation MAE per leg {travel.metrics['mae_static_s']:.0f} s static, "
                  f"{travel.metrics['mae_learned_s']:.0f} s learned), service {service.rows} visits "
                  f"({service.metrics['mae_static_s']:.0f} s static, {service.metrics['mae_learned_s']:.0f} s learned)")
            print(f"held out: {', '.join(f'{d} {d:%a}' for d in sorted(test_days))}")
            t3 = time.perf_counter()
            both = compare(s, test_days, travel=travel.predictor, service=service.predictor)
            t4 = time.perf_counter()
            only_travel = compare(s, test_days, travel=travel.predictor, service=None)
            only_service = compare(s, test_days, travel=None, service=service.predictor)
        print(f"(evaluation {t4 - t3:.1f} s)")
        print(f"travel model only:  MAE {only_travel.learned.mae_s:.0f} s ({only_travel.mae_reduction:.1%} lower), "
              f"in promised window {only_travel.learned.in_window:.1%}")
        print(f"service model only: MAE {only_service.learned.mae_s:.0f} s ({only_service.mae_reduction:.1%} lower), "
              f"in promised window {only_service.learned.in_window:.1%}")
        print(_engine_cost(travel.predictor))
        load = os.getloadavg()
        print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
        print()
        for line in format_comparison(both):
            print(line)
    finally:
        if drop is not None:
            drop()
        else:
            db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
