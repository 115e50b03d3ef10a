"""Time-dependent plan vs static-matrix plan, both judged on the time-dependent truth.

    .venv/bin/python bench/timedep.py                 # 200 stops, 8 vehicles, 10 s each
    .venv/bin/python bench/timedep.py --stops 300 --vehicles 12 --seeds 1,2,3

A generated Tuesday in Laredo / Nuevo Laredo (``bench/scale.py``'s generator):
rush hours, the I-35 corridor, school zones 07:00-08:30 and 14:30-16:00, bridge
waits. Plan A = ``solve(..., traffic=laredo())``; plan B = ``solve(..., traffic=None)``
(free-flow static matrix). Both are then re-timed with ``schedule.schedule`` on the
Laredo time-dependent model (same sequences, same vehicles) and checked with the
independent validator. Not part of the test run; shared 2-core machine.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import generate

from lastmile.routing.domain import Options, Plan, Problem
from lastmile.routing.matrix.haversine import HaversineProvider
from lastmile.routing.matrix.profiles import laredo
from lastmile.routing.matrix.timedep import TrafficProfile
from lastmile.routing.schedule import Context, schedule
from lastmile.routing.solve import build_model, solve
from lastmile.routing.validate import validate


def judge(plan: Plan, problem: Problem, ctx: Context) -> dict:
    """Re-time every route of ``plan`` on the time-dependent truth."""
    late_stops = late_s = overtime_s = over_routes = missed = 0
    worst = 0
    duration = 0
    for r in plan.routes:
        tm = schedule(ctx, ctx.vehicles[r.vehicle_id], r.stop_ids)
        late_stops += len(tm.late)
        late_s += sum(x.late_s for x in tm.late)
        worst = max([worst, *(x.late_s for x in tm.late)])
        if tm.overtime_s > 0:
            overtime_s += tm.overtime_s
            over_routes += 1
        missed += len(tm.missed_breaks)
        duration += tm.route.duration_s
    return dict(assigned=plan.stats.assigned, unassigned=plan.stats.unassigned, routes=len(plan.routes),
                km=plan.stats.distance_m / 1000, hours=duration / 3600, late_stops=late_stops,
                late_min=late_s / 60, worst_late_min=worst / 60, overtime_min=overtime_s / 60,
                overtime_routes=over_routes, missed_breaks=missed,
                on_time=plan.stats.assigned - late_stops,
                violations=len(validate(plan, problem, ctx.model, ctx.index)), solve_s=plan.stats.solve_s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stops", type=int, default=200)
    ap.add_argument("--vehicles", type=int, default=8)
    ap.add_argument("--time", type=float, default=10.0)
    ap.add_argument("--seeds", default="1", help="problem seeds, e.g. 1,2,3 (solver seed = problem seed)")
    args = ap.parse_args(argv)

    traffic = laredo()
    # B' = static too, but keeps the border: the engine derives "who may cross the Rio
    # Grande" from the traffic profile, so traffic=None silently lifts that rule.
    static_border = TrafficProfile((), dataclasses.replace(traffic.border, bridges=(), into_left=(), into_right=()),
                                   name="static-border")
    plans = [("A", "A time-dep", traffic), ("B", "B None", None), ("S", "B' static+border", static_border)]
    tot: dict[str, dict] = {k: {} for k, _, _ in plans}
    print(f"# Laredo Tuesday, {args.stops} stops, {args.vehicles} vehicles, {args.time:.0f} s per plan, haversine "
          f"matrix; A = solve(traffic=laredo()); B = solve(traffic=None) (free flow, and no border rule); "
          f"B' = static with the border rule and a constant {traffic.border.base_wait_s // 60}-min bridge wait; "
          f"all re-timed on the Laredo profile")
    for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
        problem = generate(args.stops, args.vehicles, seed)
        index, model = build_model(problem, HaversineProvider(), traffic=traffic)
        ctx = Context(problem, index, model)
        opts = Options(time_limit_s=args.time, seed=seed)
        t = time.perf_counter()
        res = {k: judge(solve(problem, opts, provider=HaversineProvider(), traffic=tr), problem, ctx)
               for k, _, tr in plans}
        print(f"\nseed {seed} ({time.perf_counter() - t:.0f} s)  " + "".join(f"{label:>18}" for _, label, _ in plans))
        rows = [("stops assigned", "assigned", "d"), ("unassigned", "unassigned", "d"), ("routes", "routes", "d"),
                ("km", "km", ".1f"), ("route hours (truth)", "hours", ".1f"), ("late stops (truth)", "late_stops", "d"),
                ("late minutes (truth)", "late_min", ".0f"), ("worst lateness, min", "worst_late_min", ".0f"),
                ("overtime minutes", "overtime_min", ".0f"), ("routes in overtime", "overtime_routes", "d"),
                ("missed breaks", "missed_breaks", "d"), ("served on time", "on_time", "d"),
                ("violations (truth)", "violations", "d"), ("solve s", "solve_s", ".1f")]
        for label, key, fmt in rows:
            print(f"  {label:<24}" + "".join(f"{res[k][key]:>18{fmt}}" for k, _, _ in plans))
        for k, r in res.items():
            for key, val in r.items():
                tot[k][key] = tot[k].get(key, 0) + val
    a, b, c = tot["A"], tot["B"], tot["S"]
    n = a["assigned"] + a["unassigned"]
    print(f"\n# totals over seeds: served on time A {a['on_time']}/{n}, B {b['on_time']}/{n}, B' {c['on_time']}/{n}")
    print(f"timedep truth (A vs B vs B'): late stops {a['late_stops']} vs {b['late_stops']} vs {c['late_stops']}, "
          f"late minutes {a['late_min']:.0f} vs {b['late_min']:.0f} vs {c['late_min']:.0f}, overtime minutes "
          f"{a['overtime_min']:.0f} vs {b['overtime_min']:.0f} vs {c['overtime_min']:.0f}, unassigned "
          f"{a['unassigned']} vs {b['unassigned']} vs {c['unassigned']}, served on time {a['on_time']} vs "
          f"{b['on_time']} vs {c['on_time']} of {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
