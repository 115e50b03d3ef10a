"""Inserting a new order into a live plan: the fast path vs the exact baseline.

    .venv/bin/python bench/insertion.py                    # 1,000 stops / 50 routes, 200 new orders
    .venv/bin/python bench/insertion.py --stops 1000 --vehicles 50 --orders 300 --seed 3

A generated Tuesday in Laredo / Nuevo Laredo (``bench/scale.py``'s generator: windows,
capacity, skills, a lunch break, the Laredo time-of-day traffic and bridges) is
solved once; then new orders arrive one by one. Each is placed by
``LivePlan.insert`` (vectorized lower bounds, slack per position, exact re-timing
of the few best) -- timed together with re-preparing the route that received it --
and, on the very same plan, by the exact ``best_insertion`` (re-times whole routes
per position; the baseline). The fast choice is applied, so both see the same plan.
Quality: both chosen positions are priced the same way (exact re-timing) and the
gap is reported. Not part of the test run; shared 2-core machine.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import dataclasses
import pickle
import tempfile
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import generate  # noqa: E402

from lastmile.routing.domain import Options  # noqa: E402
from lastmile.routing.insertion import LivePlan, best_insertion, exact_insertion  # noqa: E402
from lastmile.routing.matrix.profiles import laredo  # noqa: E402
from lastmile.routing.schedule import Context  # noqa: E402
from lastmile.routing.solve import build_model, solve  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def live_plan(n_stops: int, n_vehicles: int, n_orders: int, seed: int, solve_s: float, balance: float = 0.0,
              max_work_h: float = 4.5):
    """(context over all stops, sequences of the solved plan, departures, ids of the orders
    still to come). Working time is capped so that the day needs (nearly) every vehicle."""
    full = generate(n_stops + n_orders, n_vehicles, seed)
    if max_work_h:
        full = dataclasses.replace(full, vehicles=tuple(
            dataclasses.replace(v, max_work_s=int(max_work_h * 3600)) for v in full.vehicles))
    base = dataclasses.replace(full, stops=full.stops[:n_stops])
    traffic = laredo()
    t = time.perf_counter()
    cache = Path(tempfile.gettempdir()) / f"lastmile-bench-insertion-{n_stops}-{n_vehicles}-{n_orders}-{seed}-{solve_s}-{max_work_h}.pickle"
    if cache.exists():
        plan = pickle.loads(cache.read_bytes())
    else:
        plan = solve(base, Options(time_limit_s=solve_s, seed=seed, balance=balance), traffic=traffic)
        cache.write_bytes(pickle.dumps(plan))
    print(f"# solved {len(base.stops)} stops on {len(base.vehicles)} vehicles in {time.perf_counter() - t:.1f} s: "
          f"{plan.stats.assigned} assigned on {plan.stats.routes} routes, {plan.stats.unassigned} unassigned",
          file=sys.stderr)
    index, model = build_model(full, traffic=traffic)
    ctx = Context(full, index, model)
    seqs = {v.id: () for v in full.vehicles}
    departs = {v.id: v.shift.start for v in full.vehicles}
    for r in plan.routes:
        seqs[r.vehicle_id] = r.stop_ids
        departs[r.vehicle_id] = r.depart  # a published route leaves when it was told to
    return ctx, seqs, departs, [s.id for s in full.stops[n_stops:]], plan.stats.assigned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stops", type=int, default=1000)
    ap.add_argument("--vehicles", type=int, default=50)
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--solve-s", type=float, default=20.0)
    ap.add_argument("--baseline-every", type=int, default=4,
                    help="run the (slow) baseline on every n-th new order only")
    ap.add_argument("--balance", type=float, default=0.0, help="spread the plan over more vehicles")
    args = ap.parse_args()

    ctx, seqs, departs, new, assigned = live_plan(args.stops, args.vehicles, args.orders, args.seed, args.solve_s,
                                                  args.balance)
    t = time.perf_counter()
    live = LivePlan.of(ctx, seqs, departs=departs)
    prep_ms = (time.perf_counter() - t) * 1000
    fast_ms, base_ms, gaps = [], [], []
    placed = both_none = only_fast = only_base = baseline_infeasible = 0
    for n, sid in enumerate(new):
        t = time.perf_counter()
        choice = live.insert(sid)
        if choice is not None:
            seq = list(live.states[choice.vehicle_id].seq)
            seq.insert(choice.position, sid)
            live.update(choice.vehicle_id, seq, timing=choice.timing)
        fast_ms.append((time.perf_counter() - t) * 1000)

        if n % args.baseline_every:
            if choice is not None:
                placed += 1
            continue
        before = {vid: st.seq for vid, st in live.states.items()}
        if choice is not None:  # the baseline sees the plan as it was before this order
            before[choice.vehicle_id] = tuple(x for x in before[choice.vehicle_id] if x != sid)
        t = time.perf_counter()
        spot = best_insertion(ctx, before, sid)
        base_ms.append((time.perf_counter() - t) * 1000)

        if choice is None and spot is None:
            both_none += 1
            continue
        if choice is None:
            only_base += 1
            continue
        placed += 1
        if spot is None:
            only_fast += 1
            continue
        # price the baseline's spot exactly as the fast path priced its own
        st = live.states[spot.vehicle_id]
        if spot.vehicle_id == choice.vehicle_id:
            from lastmile.routing.insertion import RouteState

            st = RouteState(ctx, spot.vehicle_id, before[spot.vehicle_id], depart=departs[spot.vehicle_id])
        other = exact_insertion(ctx, st, sid, spot.position)
        if other is None:
            baseline_infeasible += 1  # its spot breaks a window or the shift with the route's fixed departure
        else:
            gaps.append((choice.cost - other.cost) / max(abs(other.cost), 1.0))

    total = sum(len(s) for s in seqs.values())
    print(f"plan: {total} stops on {sum(1 for s in seqs.values() if s)} routes ({assigned} solved), "
          f"{len(new)} new orders; preparing the live plan: {prep_ms:.0f} ms")
    print(f"placed by fast: {placed}, by neither: {both_none}, only by baseline: {only_base}, only by fast: {only_fast}")
    print(f"baseline best_insertion  ({len(base_ms)} of the orders) p50 {pct(base_ms, 50):7.2f} ms  p95 {pct(base_ms, 95):7.2f} ms  max {max(base_ms):7.2f} ms")
    print(f"fast LivePlan.insert     p50 {pct(fast_ms, 50):7.2f} ms  p95 {pct(fast_ms, 95):7.2f} ms  max {max(fast_ms):7.2f} ms"
          "  (incl. re-preparing the route)")
    if gaps:
        g = np.asarray(gaps) * 100
        print(f"cost gap fast vs baseline (same exact pricing): mean {g.mean():+.2f} %  median {np.median(g):+.2f} %  "
              f"p95 {np.percentile(g, 95):+.2f} %  fast cheaper in {(g < -0.01).sum()}, equal in {(abs(g) <= 0.01).sum()}, "
              f"dearer in {(g > 0.01).sum()} of {len(g)} (baseline's spot infeasible with the fixed departure: "
              f"{baseline_infeasible})")
    print(f"insertion p95: fast {pct(fast_ms, 95):.1f} ms vs baseline {pct(base_ms, 95):.1f} ms "
          f"({pct(base_ms, 95) / max(pct(fast_ms, 95), 1e-9):.1f}x), target <= 50 ms; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
