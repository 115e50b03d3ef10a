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

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import generate  # noqa: E402

from lastmile.routing.domain import Options, Plan, Problem  # noqa: E402
from lastmile.routing.matrix.haversine import HaversineProvider  # noqa: E402
from lastmile.routing.matrix.profiles import laredo  # noqa: E402
from lastmile.routing.schedule import Context, schedule  # noqa: E402
from lastmile.routing.solve import build_model, solve  # noqa: E402
from lastmile.routing.validate import validate  # noqa: E402


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
    tot = {"A": {}, "B": {}}
    print(f"# Laredo Tuesday, {args.stops} stops, {args.vehicles} vehicles, {args.time:.0f} s per plan, haversine "
          f"matrix; A = time-dependent solve, B = static free-flow solve; both re-timed on the Laredo profile")
    for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
        problem = generate(args.stops, args.vehicles, seed)
        index, model = build_model(problem, HaversineProvider(), traffic=traffic)
        ctx = Context(problem, index, model)
        opts = Options(time_limit_s=args.time, seed=seed)
        t = time.perf_counter()
        plan_a = solve(problem, opts, provider=HaversineProvider(), traffic=traffic)
        plan_b = solve(problem, opts, provider=HaversineProvider(), traffic=None)
        a, b = judge(plan_a, problem, ctx), judge(plan_b, problem, ctx)
        print(f"\nseed {seed} ({time.perf_counter() - t:.0f} s)      {'A time-dependent':>17} {'B static':>10}")
        rows = [("stops assigned", "assigned", "d"), ("unassigned", "unassigned", "d"), ("routes", "routes", "d"),
                ("km", "km", ".1f"), ("route hours (truth)", "hours", ".1f"), ("late stops (truth)", "late_stops", "d"),
                ("late minutes (truth)", "late_min", ".0f"), ("worst lateness, min", "worst_late_min", ".0f"),
                ("overtime minutes", "overtime_min", ".0f"), ("routes in overtime", "overtime_routes", "d"),
                ("missed breaks", "missed_breaks", "d"), ("served on time", "on_time", "d"),
                ("validator violations (truth)", "violations", "d"), ("solve s", "solve_s", ".1f")]
        for label, key, fmt in rows:
            print(f"  {label:<24} {a[key]:>17{fmt}} {b[key]:>10{fmt}}")
        for k, res in (("A", a), ("B", b)):
            for key, val in res.items():
                tot[k][key] = tot[k].get(key, 0) + val
    a, b = tot["A"], tot["B"]
    print(f"\n# totals over seeds: A served on time {a['on_time']}/{a['assigned'] + a['unassigned']}, "
          f"B {b['on_time']}/{b['assigned'] + b['unassigned']}")
    print(f"timedep truth: late stops A {a['late_stops']} vs B {b['late_stops']}, late minutes {a['late_min']:.0f} vs "
          f"{b['late_min']:.0f}, overtime minutes {a['overtime_min']:.0f} vs {b['overtime_min']:.0f}, "
          f"unassigned {a['unassigned']} vs {b['unassigned']}, km {a['km']:.0f} vs {b['km']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
