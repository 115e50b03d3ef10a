"""Delivery slot offer for one address over 3 days: fast quotes vs a naive re-timing.

    .venv/bin/python bench/slots.py                      # 1,000 stops / 50 vehicles, 40 addresses
    .venv/bin/python bench/slots.py --addresses 60 --naive 3

The live plan is ``bench/insertion.py``'s (a generated Laredo Tuesday, solved once;
the three days of the offer are three copies of it -- solving three 1,000-stop days
would only make the bench slower, not different). The slot template is the default:
2-hour windows 08:00-22:00 on weekdays (7 slots a day, evening included). An offer
prices every slot of every day for the address:

* fast: ``routing.slots.quote_live`` -- ``LivePlan.estimate`` per slot;
* naive (baseline): ``best_insertion`` per slot, which re-times whole routes per
  position (run for the first ``--naive`` addresses only: it takes seconds per offer).

Agreement: each slot the fast quote calls feasible is re-timed exactly at the quoted
position (not timed) and the share that holds is printed; for the naive addresses,
how often both agree on feasible/infeasible. Not part of the test run.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from insertion import live_plan  # noqa: E402

from lastmile.routing import slots as rs  # noqa: E402
from lastmile.routing.insertion import LivePlan, RouteState, best_insertion, exact_insertion  # noqa: E402
from lastmile.routing.matrix.profiles import laredo  # noqa: E402
from lastmile.routing.schedule import Context  # noqa: E402
from lastmile.routing.solve import build_model  # noqa: E402

DAYS = 3


def pct(xs, q):
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stops", type=int, default=1000)
    ap.add_argument("--vehicles", type=int, default=50)
    ap.add_argument("--addresses", type=int, default=40)
    ap.add_argument("--naive", type=int, default=1, help="addresses priced the naive way too")
    ap.add_argument("--naive-days", type=int, default=1,
                    help="days of the naive offer (it takes minutes per day at 1,000 stops); "
                         "fewer days than the fast offer only flatter the baseline")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--solve-s", type=float, default=20.0)
    args = ap.parse_args()

    ctx0, seqs, departs, addr_ids, _ = live_plan(args.stops, args.vehicles, args.addresses, args.seed, args.solve_s)
    windows = rs.windows_for(rs.DEFAULT_TEMPLATE, 1)
    # every address once per slot window (same place, that window)
    extra = [rs.slot_stop(ctx0.stops[a], w, f"{a}@{i}") for a in addr_ids for i, w in enumerate(windows)]
    problem = dataclasses.replace(ctx0.problem, stops=ctx0.problem.stops + tuple(extra))
    index, model = build_model(problem, traffic=laredo())
    ctx = Context(problem, index, model)
    days = [LivePlan.of(ctx, seqs, departs=departs) for _ in range(DAYS)]
    for p in days:  # prepared once per day (the live plan is kept warm between offers)
        p._build()

    fast_ms, naive_ms = [], []
    quoted = held = 0
    agree = compared = 0
    for n, a in enumerate(addr_ids):
        ids = {w: f"{a}@{i}" for i, w in enumerate(windows)}
        t = time.perf_counter()
        offer = [rs.quote_live(p, ids) for p in days]
        fast_ms.append((time.perf_counter() - t) * 1000)
        for q in offer[0]:  # is the quoted position exactly feasible?
            if not q.feasible:
                continue
            quoted += 1
            e = days[0].estimate(ids[q.window])
            st = days[0].states[e.vehicle_id]
            held += exact_insertion(ctx, st, ids[q.window], e.position) is not None
        if n < args.naive:
            t = time.perf_counter()
            naive = [[best_insertion(ctx, p.sequences(), sid) for sid in ids.values()] for p in days[:args.naive_days]]
            naive_ms.append((time.perf_counter() - t) * 1000)
            for q, spot in zip(offer[0], naive[0]):
                compared += 1
                agree += q.feasible == (spot is not None)
    green = sum(q.green for q in offer[0])
    print(f"plan: {sum(len(s) for s in seqs.values())} stops on {sum(1 for s in seqs.values() if s)} routes; "
          f"{len(addr_ids)} addresses x {DAYS} days x {len(windows)} slots; last offer: {green} green slot(s) a day")
    print(f"quoted feasible slots confirmed by exact re-timing: {held}/{quoted}"
          + (f"; fast and naive agree on feasibility in {agree}/{compared}" if compared else ""))
    print(f"naive (best_insertion per slot) p50 {pct(naive_ms, 50):8.1f} ms  p95 {pct(naive_ms, 95):8.1f} ms  "
          f"({len(naive_ms)} offers of {args.naive_days} day(s))")
    print(f"fast (quote_live)               p50 {pct(fast_ms, 50):8.1f} ms  p95 {pct(fast_ms, 95):8.1f} ms  "
          f"({len(fast_ms)} offers)")
    print(f"slot offer p95 (3 days, one address): fast {pct(fast_ms, 95):.1f} ms vs naive {pct(naive_ms, 95):.1f} ms "
          f"({pct(naive_ms, 95) / max(pct(fast_ms, 95), 1e-9):.0f}x), target <= 50 ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
