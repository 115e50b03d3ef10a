"""Live ETAs: when a driver on the road will reach each of the stops still ahead.

Pure: no database, no clock. Given where the driver is and when (seconds since
local midnight, the engine's clock), the remaining stops in the order they will be
driven (location, service time, customer windows), the breaks still owed and a
``TravelTimeModel`` (``matrix/timedep.py``: rush hours, school zones, the border and
its bridges), it walks the route forward: drive, wait for the window to open, serve,
take the break where the planner would (``schedule.py`` rules: a break whose window
is open is taken before driving on; one that driving on would miss is waited for; one
that opens before the next service is taken on arrival, absorbing the wait).

``predict`` takes a model whose row ``origin`` is the driver's position and row
``rows[k]`` stop ``k``; ``predict_from`` builds one on straight lines (the
haversine fallback, or any ``MatrixProvider``) with a traffic profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .domain import Break, LatLon, TimeWindow
from .learned import TravelFactors, with_learned
from .matrix.haversine import HaversineProvider
from .matrix.timedep import TimeDependentModel, TrafficProfile, matrix_with_bridges
from .ports import MatrixProvider, TravelTimeModel


@dataclass(frozen=True, slots=True)
class EtaStop:
    id: str
    location: LatLon
    service_s: int = 0
    windows: tuple[TimeWindow, ...] = ()  # service must start inside one of them


@dataclass(frozen=True, slots=True)
class StopEta:
    id: str
    arrival: int  # reaches the door
    start: int  # starts serving (after waiting for the window, or a break)
    end: int  # leaves
    travel_s: int  # driving on the leg to it
    wait_s: int  # waiting at the door for the window to open (break time excluded)
    late_by_s: int  # arrival after the last window closed (0: on time)
    break_before: bool = False  # the break is taken on the way to (or on arriving at) this stop


@dataclass(frozen=True, slots=True)
class Eta:
    stops: tuple[StopEta, ...]
    breaks: tuple[tuple[str, int, int], ...]  # (break id, start, end) as predicted
    end: int  # when the last stop is done (``ready`` if none)

    @property
    def late(self) -> tuple[StopEta, ...]:
        return tuple(s for s in self.stops if s.late_by_s > 0)


def service_start(windows: Sequence[TimeWindow], arrival: int) -> tuple[int, int]:
    """(service start, lateness) for a door reached at ``arrival``: the first window
    that has not closed yet (waiting for it to open), else late past the last one."""
    if not windows:
        return arrival, 0
    for w in windows:
        if arrival <= w.end:
            return max(arrival, w.start), 0
    return arrival, arrival - max(w.end for w in windows)


def predict(
    model: TravelTimeModel,
    at: int,
    stops: Sequence[EtaStop],
    *,
    origin: int = 0,
    rows: Sequence[int] | None = None,
    breaks: Sequence[Break] = (),
    ready_at: int | None = None,
) -> Eta:
    """Walk the remaining route from the driver's position at ``at``.

    ``ready_at``: the driver cannot drive on before then (still serving the stop
    they are at, or held by a reported delay). ``breaks``: those still to take;
    one whose window has already closed when the walk starts is not owed any more."""
    if rows is None:
        rows = range(origin + 1, origin + 1 + len(stops))
    if len(rows) != len(stops):
        raise ValueError("one model row per stop")
    t = max(at, ready_at if ready_at is not None else at)
    pending = sorted((b for b in breaks if b.window.end >= t), key=lambda b: b.window.start)
    taken: list[tuple[str, int, int]] = []

    def take(start: int) -> int:
        b = pending.pop(0)
        taken.append((b.id, start, start + b.duration_s))
        return start + b.duration_s

    out: list[StopEta] = []
    cur = origin
    for stop, row in zip(stops, rows):
        had = len(taken)
        while pending and pending[0].window.start <= t:  # open now: before driving on
            t = take(t)
        travel = model.travel(cur, row, t)
        arrival = t + travel
        if pending and arrival > pending[0].window.end:  # driving on would miss it
            t = take(max(t, pending[0].window.start))
            travel = model.travel(cur, row, t)
            arrival = t + travel
        start, late = service_start(stop.windows, arrival)
        at_door = arrival
        if pending:
            b = pending[0]
            opens_before_service = b.window.start <= start
            would_miss = start + stop.service_s > b.window.end
            if (opens_before_service or would_miss) and max(arrival, b.window.start) <= b.window.end:
                at_door = take(max(arrival, b.window.start))  # on arrival, absorbing the wait
                start, late = service_start(stop.windows, at_door)
        wait = start - at_door
        out.append(StopEta(stop.id, arrival, start, start + stop.service_s, travel, wait, late,
                           len(taken) > had))
        t = start + stop.service_s
        cur = row
    return Eta(tuple(out), tuple(taken), t)


def chain_model(
    points: Sequence[LatLon],
    profile: TrafficProfile | None = None,
    weekday: int = 0,
    provider: MatrixProvider | None = None,
) -> TimeDependentModel:
    """A time-of-day model over ``points`` (the driver's position first, then the
    stops): the provider's free-flow legs (straight lines at an urban pace by
    default), and with a border the legs to and from its bridges."""
    profile = profile or TrafficProfile()
    matrix = matrix_with_bridges(provider or HaversineProvider(), list(points), profile)
    return TimeDependentModel(matrix, list(points), profile, weekday)


ORIGIN = -1  # the driver's position in a ``FromPosition`` model


@dataclass(frozen=True, slots=True)
class FromPosition:
    """The driver's position (row ``ORIGIN``) to the next stop on a small model of
    its own; stop to stop on ``stops_model``, which can be built once per route and
    kept (its rows are the route's stops; the position changes with every fix)."""

    first: TravelTimeModel  # rows 0 (the position) and 1 (the next stop)
    stops_model: TravelTimeModel
    next_row: int  # the next stop's row in ``stops_model``

    def travel(self, i: int, j: int, depart: int) -> int:
        if i == ORIGIN:
            if j != self.next_row:
                raise ValueError("from the position, only the next stop")
            return self.first.travel(0, 1, depart)
        return self.stops_model.travel(i, j, depart)

    def distance(self, i: int, j: int) -> int:
        if i == ORIGIN:
            return self.first.distance(0, 1)
        return self.stops_model.distance(i, j)


def predict_from(
    position: LatLon,
    at: int,
    stops: Sequence[EtaStop],
    *,
    profile: TrafficProfile | None = None,
    weekday: int = 0,
    provider: MatrixProvider | None = None,
    breaks: Sequence[Break] = (),
    ready_at: int | None = None,
    stops_model: TravelTimeModel | None = None,
    rows: Sequence[int] | None = None,
    learned: TravelFactors | None = None,
) -> Eta:
    """``predict`` from ``position``. With ``stops_model`` (``chain_model`` over the
    route's stop locations, ``rows`` = each of ``stops``' row in it), only the leg
    from the position is modelled anew; without, one model for position + stops.
    ``learned``: travel factors learned from history applied to the models built
    here (``stops_model``, if given, is used as it is: wrap it the same way)."""
    if not stops:
        return Eta((), (), max(at, ready_at or at))
    if stops_model is None:
        model = with_learned(chain_model([position, *(s.location for s in stops)], profile, weekday, provider),
                             learned)
        return predict(model, at, stops, breaks=breaks, ready_at=ready_at)
    if rows is None or len(rows) != len(stops):
        raise ValueError("one stops_model row per stop")
    first = with_learned(chain_model([position, stops[0].location], profile, weekday, provider), learned)
    return predict(FromPosition(first, stops_model, rows[0]), at, stops, origin=ORIGIN, rows=rows, breaks=breaks,
                   ready_at=ready_at)
