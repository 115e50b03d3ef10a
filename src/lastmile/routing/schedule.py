"""Timing a route: given a vehicle and an ordered list of stops, when does the
driver arrive, wait, serve, take breaks and get back — with time-of-day travel.

This is the one place that turns a sequence into clock times. Backends only
decide sequences; ETAs shown anywhere come from here. The validator checks the
result independently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .domain import Break, Problem, Route, Stop, StopKind, TimeWindow, Vehicle, Visit, VisitKind
from .ports import LocationIndex, TravelTimeModel

CROSS_BORDER = "cross-border"


@dataclass(frozen=True)
class Lateness:
    stop_id: str
    late_s: int


@dataclass(frozen=True)
class Timing:
    route: Route
    late: tuple[Lateness, ...]  # stops whose service starts after their last window
    overtime_s: int  # past the shift end or max working time, whichever is worse
    missed_breaks: tuple[str, ...]
    overload: tuple[str, ...] = ()  # dimensions where the load on board exceeds capacity

    @property
    def ok(self) -> bool:
        return not self.late and self.overtime_s <= 0 and not self.missed_breaks and not self.overload


class Context:
    """Lookups shared by the scheduler, the backends and the validator."""

    def __init__(self, problem: Problem, index: LocationIndex, model: TravelTimeModel) -> None:
        self.problem = problem
        self.index = index
        self.model = model
        self.stops = {s.id: s for s in problem.stops}
        self.vehicles = {v.id: v for v in problem.vehicles}
        self.zero = (0,) * len(problem.dimensions)

    def row(self, stop_id: str) -> int:
        return self.index.stop_row[stop_id]

    def depot_row(self, depot_id: str) -> int:
        return self.index.depot_row[depot_id]

    def demand(self, stop: Stop) -> tuple[int, ...]:
        return stop.demand or self.zero

    def crosses_border(self, vehicle: Vehicle, stop: Stop) -> bool:
        """Is the stop on the other side of the border from the vehicle's depot?"""
        crosses = getattr(self.model, "crosses", None)
        return bool(crosses and crosses(self.depot_row(vehicle.start_depot), self.row(stop.id)))

    def may_fit(self, vehicle: Vehicle, stop_ids: Sequence[str], stop: Stop) -> bool:
        """A quick necessary condition: the stop's demand plus the route's demand of
        the same kind (all deliveries, or all pickups) fits the vehicle. The peak
        load of a mixed route is checked by ``schedule``."""
        if not vehicle.capacity:
            return True
        used = list(self.demand(stop))
        for sid in stop_ids:
            other = self.stops[sid]
            if other.kind is stop.kind:
                used = [u + d for u, d in zip(used, self.demand(other))]
        return all(u <= c for u, c in zip(used, vehicle.capacity))

    def can_serve(self, vehicle: Vehicle, stop: Stop) -> bool:
        """Skills, and the border: only vehicles with skill ``cross-border`` cross."""
        if not stop.skills <= vehicle.skills:
            return False
        return CROSS_BORDER in vehicle.skills or not self.crosses_border(vehicle, stop)


def pick_window(stop: Stop, arrival: int) -> TimeWindow | None:
    """The earliest window still open at ``arrival``; None if all have closed
    (or the stop has no windows, in which case it is always open)."""
    for w in stop.windows:
        if arrival <= w.end:
            return w
    return None


def _service_start(stop: Stop, arrival: int) -> tuple[int, int]:
    """(service start, lateness) for a stop reached at ``arrival``."""
    if not stop.windows:
        return arrival, 0
    w = pick_window(stop, arrival)
    if w is None:
        return arrival, arrival - stop.windows[-1].end
    return max(arrival, w.start), 0


def schedule(ctx: Context, vehicle: Vehicle, stop_ids: Sequence[str], depart: int | None = None) -> Timing:
    """Time a route. Leaves at ``depart``, or by default as late as possible
    without coming back later or making anything late: waiting at a customer's
    door is turned into a later start, which saves driver hours."""
    if depart is not None:
        return _schedule(ctx, vehicle, stop_ids, depart)
    first = _schedule(ctx, vehicle, stop_ids, vehicle.shift.start)
    waits = sum(v.wait_s for v in first.route.visits)  # at doors and before breaks
    if waits <= 0 or not stop_ids:
        return first

    def no_worse(t: Timing) -> bool:
        return (len(t.late) <= len(first.late) and len(t.missed_breaks) <= len(first.missed_breaks)
                and t.route.duration_s <= first.route.duration_s and t.overtime_s <= max(first.overtime_s, 0))

    # Later departures are monotone under a FIFO model: bisect on the delay.
    best, lo, hi = first, 0, waits
    while hi - lo > 60:
        mid = (lo + hi) // 2
        trial = _schedule(ctx, vehicle, stop_ids, vehicle.shift.start + mid)
        if no_worse(trial):
            best, lo = trial, mid
        else:
            hi = mid
    # Breaks make lateness non-monotone in the delay; also try the natural
    # candidates -- leaving late enough to absorb all waiting, or that minus the breaks.
    v0 = first.route.visits[0]
    candidates = {waits, waits - sum(b.duration_s for b in vehicle.breaks), v0.wait_s if v0.kind is VisitKind.STOP else 0}
    for d in sorted(c for c in candidates if lo < c <= waits):
        trial = _schedule(ctx, vehicle, stop_ids, vehicle.shift.start + d)
        if no_worse(trial) and trial.route.duration_s < best.route.duration_s:
            best = trial
    return best


def _schedule(ctx: Context, vehicle: Vehicle, stop_ids: Sequence[str], depart: int) -> Timing:
    model = ctx.model
    start_depot = ctx.problem.depot(vehicle.start_depot)
    if start_depot.hours is not None:
        depart = max(depart, start_depot.hours.start)
    cur = ctx.depot_row(vehicle.start_depot)
    loads = [ctx.demand(ctx.stops[s]) for s in stop_ids]
    load = list(ctx.zero)
    for sid, d in zip(stop_ids, loads):
        if ctx.stops[sid].kind is StopKind.DELIVERY:
            load = [a + b for a, b in zip(load, d)]
    start_load = tuple(load)
    peak = list(load)

    # Breaks whose window closed before the day starts are not owed.
    pending: list[Break] = sorted((b for b in vehicle.breaks if b.window.end >= depart), key=lambda b: b.window.start)
    visits: list[Visit] = []
    late: list[Lateness] = []
    missed: list[str] = []
    t = depart
    total_dist = 0

    def take_break(at: int, arrival: int, travel_s: int = 0, dist_m: int = 0) -> int:
        b = pending.pop(0)
        if at > b.window.end:
            missed.append(b.id)
        visits.append(Visit(VisitKind.BREAK, b.id, arrival, at, at + b.duration_s, travel_s, dist_m, tuple(load)))
        return at + b.duration_s

    for sid in stop_ids:
        stop = ctx.stops[sid]
        nxt = ctx.row(sid)
        # A break whose window is open now is taken before driving on.
        while pending and pending[0].window.start <= t:
            t = take_break(t, t)
        travel = model.travel(cur, nxt, t)
        dist = model.distance(cur, nxt)
        arrival = t + travel
        if pending and arrival > pending[0].window.end:
            # Driving on would miss the break: wait for it to open, take it, then drive.
            b = pending[0]
            t = take_break(max(t, b.window.start), t)
            travel = model.travel(cur, nxt, t)
            arrival = t + travel
        start, late_s = _service_start(stop, arrival)
        leg_travel, leg_dist, at_stop = travel, dist, arrival
        if pending:
            b = pending[0]
            opens_before_service = b.window.start <= start
            would_miss = start + stop.service_s > b.window.end
            if (opens_before_service or would_miss) and max(arrival, b.window.start) <= b.window.end:
                # Take it on arrival (absorbing any wait for the customer's window):
                # the break carries the leg, the stop follows it on the spot.
                at_stop = take_break(max(arrival, b.window.start), arrival, travel, dist)
                leg_travel, leg_dist = 0, 0
                start, late_s = _service_start(stop, at_stop)
        if late_s > 0:
            late.append(Lateness(sid, late_s))
        d = ctx.demand(stop)
        if stop.kind is StopKind.DELIVERY:
            load = [a - b for a, b in zip(load, d)]
        else:
            load = [a + b for a, b in zip(load, d)]
            peak = [max(p, x) for p, x in zip(peak, load)]
        visits.append(Visit(VisitKind.STOP, sid, at_stop, start, start + stop.service_s,
                            leg_travel, leg_dist, tuple(load)))
        total_dist += dist
        t = start + stop.service_s
        cur = nxt

    end_row = ctx.depot_row(vehicle.end)
    travel = model.travel(cur, end_row, t) if stop_ids else 0
    dist = model.distance(cur, end_row) if stop_ids else 0
    arrive = t + travel
    if stop_ids:
        # Breaks whose window opens before the driver is back are owed.
        while pending and pending[0].window.start < arrive:
            b = pending[0]
            t = take_break(max(t, b.window.start), t)
            travel = model.travel(cur, end_row, t)
            arrive = t + travel
    total_dist += dist
    route = Route(vehicle.id, tuple(visits), depart, arrive if stop_ids else depart, total_dist,
                  travel, dist, start_load)
    overtime = 0
    if stop_ids:
        overtime = max(overtime, route.arrive - vehicle.shift.end)
        if vehicle.max_work_s is not None:
            overtime = max(overtime, route.duration_s - vehicle.max_work_s)
    over: tuple[str, ...] = ()
    if vehicle.capacity:
        over = tuple(dim for dim, p, c in zip(ctx.problem.dimensions, peak, vehicle.capacity) if p > c)
    return Timing(route, tuple(late), overtime, tuple(missed), over)
