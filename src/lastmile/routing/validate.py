"""An independent check of any plan against every constraint of its problem.

It shares no timing code with ``schedule.py``: it re-walks each route, asks the
time-dependent model for every leg, and compares with what the plan claims.
Every plan the engine returns passes it; plans edited by hand (a dispatcher
dragging a stop) are checked with it before they are committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..kit.time import hhmm, hours_minutes
from .domain import Plan, Problem, StopKind, VisitKind
from .ports import LocationIndex, TravelTimeModel


@dataclass(frozen=True)
class Violation:
    code: str  # unknown, duplicate, missing, skill, capacity, window, travel, service, shift, ...
    message: str
    vehicle_id: str | None = None
    stop_id: str | None = None

    def __str__(self) -> str:
        return self.message


def validate(plan: Plan, problem: Problem, model: TravelTimeModel, index: LocationIndex | None = None) -> list[Violation]:
    index = index or LocationIndex.of(problem)
    stops = {s.id: s for s in problem.stops}
    vehicles = {v.id: v for v in problem.vehicles}
    nd = len(problem.dimensions)
    out: list[Violation] = []
    seen: dict[str, str] = {}

    def bad(code: str, message: str, vehicle: str | None = None, stop: str | None = None) -> None:
        out.append(Violation(code, message, vehicle, stop))

    used_vehicles: set[str] = set()
    for route in plan.routes:
        vid = route.vehicle_id
        v = vehicles.get(vid)
        if v is None:
            bad("unknown", f"route for unknown vehicle {vid!r}", vid)
            continue
        if vid in used_vehicles:
            bad("duplicate", f"vehicle {vid} has more than one route", vid)
        used_vehicles.add(vid)
        if not route.visits:
            continue

        # Load: deliveries are on board at the start, pickups come aboard.
        load = [0] * nd
        for vis in route.visits:
            s = stops.get(vis.ref) if vis.kind is VisitKind.STOP else None
            if s is not None and s.kind is StopKind.DELIVERY and s.demand:
                load = [a + b for a, b in zip(load, s.demand)]
        cap = v.capacity or None
        peak = list(load)

        place = index.depot_row[v.start_depot]
        prev_end = route.depart
        if route.depart < v.shift.start:
            bad("shift", f"{vid} leaves at {hhmm(route.depart)}, before its shift starts at {hhmm(v.shift.start)}", vid)
        depot = problem.depot(v.start_depot)
        if depot.hours is not None and not depot.hours.contains(route.depart):
            bad("depot_hours", f"{vid} leaves depot {depot.id} outside its opening hours", vid)
        distance = 0
        breaks_taken: dict[str, int] = {}
        for k, vis in enumerate(route.visits):
            if vis.kind is VisitKind.STOP:
                s = stops.get(vis.ref)
                if s is None:
                    bad("unknown", f"{vid} visits unknown stop {vis.ref!r}", vid, vis.ref)
                    continue
                if vis.ref in seen:
                    bad("duplicate", f"stop {vis.ref} is on {seen[vis.ref]} and {vid}", vid, vis.ref)
                seen[vis.ref] = vid
                target = index.stop_row[vis.ref]
            else:
                b = next((b for b in v.breaks if b.id == vis.ref), None)
                if b is None:
                    bad("unknown", f"{vid} takes unknown break {vis.ref!r}", vid)
                    continue
                # A break is taken where the vehicle is, or -- if it carries a leg -- at the next stop.
                nxt = next((w for w in route.visits[k + 1:] if w.kind is VisitKind.STOP), None)
                target = index.stop_row[nxt.ref] if (vis.travel_s or vis.distance_m) and nxt is not None else place
            need = model.travel(place, target, prev_end)
            if vis.arrival < prev_end + need:
                bad("travel", f"{vid} reaches {vis.ref} at {hhmm(vis.arrival)} but cannot be there before "
                    f"{hhmm(prev_end + need)}", vid, vis.ref)
            distance += model.distance(place, target)
            if vis.start < vis.arrival:
                bad("service", f"{vid} starts {vis.ref} before arriving", vid, vis.ref)
            if vis.kind is VisitKind.STOP:
                s = stops[vis.ref]
                if vis.end - vis.start != s.service_s:
                    bad("service", f"{vid} serves {s.id} for {vis.end - vis.start}s, needs {s.service_s}s", vid, s.id)
                if s.windows and not any(w.contains(vis.start) for w in s.windows):
                    last = s.windows[-1]
                    bad("window", f"stop {s.id} served at {hhmm(vis.start)}, outside its window"
                        f"{'s' if len(s.windows) > 1 else ''} (last closes {hhmm(last.end)})", vid, s.id)
                missing = s.skills - v.skills
                if missing:
                    bad("skill", f"stop {s.id} needs {', '.join(sorted(missing))}; {vid} lacks it", vid, s.id)
                crosses = getattr(model, "crosses", None)
                if crosses and "cross-border" not in v.skills and crosses(index.depot_row[v.start_depot], target):
                    bad("border", f"stop {s.id} is across the border; {vid} may not cross", vid, s.id)
                if s.demand:
                    sign = -1 if s.kind is StopKind.DELIVERY else 1
                    load = [a + sign * b for a, b in zip(load, s.demand)]
                    peak = [max(p, x) for p, x in zip(peak, load)]
            else:
                b = next(b for b in v.breaks if b.id == vis.ref)
                if vis.ref in breaks_taken:
                    bad("break", f"{vid} takes break {vis.ref} twice", vid)
                breaks_taken[vis.ref] = vis.start
                if not b.window.contains(vis.start):
                    bad("break", f"{vid} starts break {b.id} at {hhmm(vis.start)}, outside "
                        f"{hhmm(b.window.start)}-{hhmm(b.window.end)}", vid)
                if vis.end - vis.start < b.duration_s:
                    bad("break", f"{vid} break {b.id} lasts {vis.end - vis.start}s, needs {b.duration_s}s", vid)
            place = target
            prev_end = vis.end

        end_row = index.depot_row[v.end]
        need = model.travel(place, end_row, prev_end)
        if route.arrive < prev_end + need:
            bad("travel", f"{vid} is back at {hhmm(route.arrive)} but cannot be before {hhmm(prev_end + need)}", vid)
        distance += model.distance(place, end_row)
        if route.arrive > v.shift.end:
            bad("shift", f"{vid} is back at {hhmm(route.arrive)}, after its shift ends at {hhmm(v.shift.end)}", vid)
        if v.max_work_s is not None and route.arrive - route.depart > v.max_work_s:
            bad("hours", f"{vid} works {hours_minutes(route.arrive - route.depart)}, more than its {hours_minutes(v.max_work_s)} limit", vid)
        if v.max_distance_m is not None and distance > v.max_distance_m:
            bad("distance", f"{vid} drives {distance / 1000:.1f} km, more than its {v.max_distance_m / 1000:.1f} km limit", vid)
        if distance != route.distance_m:
            bad("distance_report", f"{vid} reports {route.distance_m} m but its legs add up to {distance} m", vid)
        if cap is not None:
            for dim, p, c in zip(problem.dimensions, peak, cap):
                if p > c:
                    bad("capacity", f"{vid} carries {p} {dim}, more than its capacity of {c}", vid)
        for b in v.breaks:
            owed = route.arrive > b.window.start and route.depart <= b.window.end
            if owed and b.id not in breaks_taken:
                bad("break", f"{vid} works through {hhmm(b.window.start)}-{hhmm(b.window.end)} "
                    f"without its {hours_minutes(b.duration_s)} break", vid)

    unassigned = {u.stop_id for u in plan.unassigned}
    for s in problem.stops:
        if s.id in seen and s.id in unassigned:
            bad("duplicate", f"stop {s.id} is both routed and unassigned", seen[s.id], s.id)
        if s.id not in seen and s.id not in unassigned:
            bad("missing", f"stop {s.id} is neither routed nor reported unassigned", None, s.id)
    for u in plan.unassigned:
        if u.stop_id not in stops:
            bad("unknown", f"unassigned list names unknown stop {u.stop_id!r}", None, u.stop_id)
        elif not u.reason:
            bad("reason", f"stop {u.stop_id} is unassigned without a reason", None, u.stop_id)
    return out
