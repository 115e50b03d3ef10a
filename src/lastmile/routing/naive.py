"""A naive dispatcher: the baseline lastmile's plans are compared against (the ROI
report, bench/day.py).

What a dispatcher without optimization does: take orders first come, first served,
and give each to the nearest driver who still has room -- nearest to where that
driver will be (their last assigned stop, or the depot), room meaning the van can
carry it, the driver has the skills and may cross the border, and the route still
ends inside the shift. Stops are driven in the order they were assigned; nothing is
re-sequenced or re-planned. Timed on the same travel model as the optimized plan, so
the comparison is like for like.
"""

from __future__ import annotations

import time
from dataclasses import replace

from .domain import Plan, Problem, Unassigned
from .matrix.timedep import TrafficProfile
from .ports import Matrix, MatrixProvider
from .schedule import Context, Timing, schedule
from .solve import _stats, build_model


def naive_plan(problem: Problem, *, provider: MatrixProvider | None = None, matrix: Matrix | None = None,
               traffic: TrafficProfile | None = None) -> Plan:
    t0 = time.perf_counter()
    index, model = build_model(problem, provider, matrix, traffic)
    ctx = Context(problem, index, model)
    seqs: dict[str, list[str]] = {v.id: [] for v in problem.vehicles}
    timings: dict[str, Timing] = {}
    unassigned: list[Unassigned] = []
    for stop in problem.stops:  # the order they came in
        row = ctx.row(stop.id)
        options = []
        for v in problem.vehicles:
            if not ctx.can_serve(v, stop) or not ctx.may_fit(v, seqs[v.id], stop):
                continue
            here = ctx.row(seqs[v.id][-1]) if seqs[v.id] else ctx.depot_row(v.start_depot)
            options.append((model.distance(here, row), v.id))
        placed = False
        for _, vid in sorted(options):
            v = ctx.vehicles[vid]
            trial = schedule(ctx, v, [*seqs[vid], stop.id], depart=v.shift.start)
            if trial.overtime_s <= 0 and not trial.overload:
                seqs[vid].append(stop.id)
                timings[vid] = trial
                placed = True
                break
        if not placed:
            why = "no driver with room" if options else "no driver may serve it"
            unassigned.append(Unassigned(stop.id, why, "capacity" if options else "skill"))
    routes = [timings[v.id].route for v in problem.vehicles if seqs[v.id]]
    stats = replace(_stats(ctx, routes, unassigned, time.perf_counter() - t0),
                    late_stops=sum(len(timings[v.id].late) for v in problem.vehicles if seqs[v.id]))
    return Plan(routes=tuple(routes), unassigned=tuple(unassigned), stats=stats, backend="naive")
