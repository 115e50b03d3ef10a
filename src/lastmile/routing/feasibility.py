"""Before solving: which vehicles could serve each stop at all, and, for stops
no vehicle can serve, a reason a dispatcher understands."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..kit.time import hhmm
from .domain import Stop, Unassigned, Vehicle
from .schedule import CROSS_BORDER, Context, _service_start


@dataclass(frozen=True)
class Eligibility:
    allowed: dict[str, frozenset[str]]  # stop id -> vehicle ids that could serve it on a route of its own
    unassigned: tuple[Unassigned, ...]  # stops that no vehicle can serve, with the reason



def _time_group(v: Vehicle) -> tuple:
    return (v.start_depot, v.end, v.shift.start, v.shift.end, v.max_work_s, v.max_distance_m)


def eligibility(ctx: Context) -> Eligibility:
    problem = ctx.problem
    vehicles = problem.vehicles
    # Vehicles sharing depots, shift and limits answer the timing question once.
    groups: dict[tuple, list[Vehicle]] = defaultdict(list)
    for v in vehicles:
        groups[_time_group(v)].append(v)

    allowed: dict[str, frozenset[str]] = {}
    unassigned: list[Unassigned] = []
    for stop in problem.stops:
        demand = ctx.demand(stop)
        by_skill = [v for v in vehicles if ctx.can_serve(v, stop)]
        if not by_skill and any(stop.skills <= v.skills for v in vehicles):
            needs = " + ".join(sorted(stop.skills | {CROSS_BORDER}))
            unassigned.append(Unassigned(
                stop.id, f"it is across the border and no vehicle with skill {needs} is on shift", "border"))
            continue
        if not by_skill:
            missing = sorted(stop.skills - set().union(*(v.skills for v in vehicles))) if vehicles else sorted(stop.skills)
            what = ", ".join(missing) if missing else " + ".join(sorted(stop.skills))
            unassigned.append(Unassigned(stop.id, f"no vehicle with skill {what} is on shift", "skill"))
            continue
        by_cap = [v for v in by_skill if not v.capacity or all(d <= c for d, c in zip(demand, v.capacity))]
        if not by_cap:
            worst = max(range(len(demand)), key=lambda k: demand[k] - max((v.capacity[k] if v.capacity else 10**18) for v in by_skill))
            dim = problem.dimensions[worst]
            biggest = max((v.capacity[worst] for v in by_skill if v.capacity), default=0)
            unassigned.append(Unassigned(
                stop.id, f"demand of {demand[worst]} {dim} exceeds every suitable vehicle's capacity (largest {biggest} {dim})",
                "capacity"))
            continue
        ok_ids: set[str] = set()
        earliest: int | None = None
        reason_code = "window"
        cap_ids = {v.id for v in by_cap}
        for key, members in groups.items():
            members = [v for v in members if v.id in cap_ids]
            if not members:
                continue
            verdict, arrival = _solo(ctx, members[0], stop)
            earliest = arrival if earliest is None else min(earliest, arrival)
            if verdict == "ok":
                ok_ids.update(v.id for v in members)
            elif verdict != "window":
                reason_code = verdict
        if ok_ids:
            allowed[stop.id] = frozenset(ok_ids)
            continue
        assert earliest is not None
        if reason_code == "window" and stop.windows:
            closes = stop.windows[-1].end
            unassigned.append(Unassigned(
                stop.id, f"window closes {hhmm(closes)}, earliest arrival {hhmm(earliest)}", "window"))
        elif reason_code == "distance":
            unassigned.append(Unassigned(stop.id, "too far: the round trip exceeds every vehicle's distance limit", "distance"))
        else:
            unassigned.append(Unassigned(
                stop.id, "no vehicle can reach it and be back before its shift ends or hours run out", "shift"))
    return Eligibility(allowed, tuple(unassigned))


def _solo(ctx: Context, v: Vehicle, stop: Stop) -> tuple[str, int]:
    """Could ``v`` serve ``stop`` on a route of its own? (verdict, earliest arrival)."""
    model = ctx.model
    a, s, b = ctx.depot_row(v.start_depot), ctx.row(stop.id), ctx.depot_row(v.end)
    depart = v.shift.start
    arrival = depart + model.travel(a, s, depart)
    start, late = _service_start(stop, arrival)
    if late > 0:
        return "window", arrival
    back = start + stop.service_s + model.travel(s, b, start + stop.service_s)
    if v.max_distance_m is not None and model.distance(a, s) + model.distance(s, b) > v.max_distance_m:
        return "distance", arrival
    # Leaving later instead of waiting at the door shortens the working day.
    leave = max(depart, start - (arrival - depart))
    work = back - leave
    breaks = sum(b.duration_s for b in v.breaks if b.window.start < back)
    if back + breaks > v.shift.end or (v.max_work_s is not None and work + breaks > v.max_work_s):
        return "shift", arrival
    return "ok", arrival
