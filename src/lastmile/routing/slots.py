"""Which delivery slots to offer an address, and at what marginal cost. Pure.

A slot template names the windows per weekday (seconds since local midnight): by
default 2-hour windows 08:00-20:00 plus an evening window 20:00-22:00 on weekdays,
and 09:00-15:00 on Saturdays. For a day that already has routes, each slot is
priced by the fast insertion (``insertion.LivePlan``) of the address with that
slot as its window; for a day without routes, by the distance to the nearest order
already booked in that slot (a neighbour already served costs little), else to the
depot. The cheapest feasible slots are "green".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .domain import LatLon, Stop, TimeWindow
from .insertion import LivePlan

H = 3600
# weekday (0 = Monday) -> windows
DEFAULT_TEMPLATE: dict[int, tuple[tuple[int, int], ...]] = {
    **{wd: tuple((h * H, (h + 2) * H) for h in range(8, 22, 2)) for wd in range(5)},
    5: tuple((h * H, (h + 2) * H) for h in range(9, 15, 2)),
    6: (),
}
ROAD_FACTOR = 1.3  # straight line -> road, for estimates only
DEFAULT_CENTS_PER_KM = 60  # estimate when no route gives a vehicle's rate
GREEN_MARGIN = 0.10  # within 10 % of the cheapest feasible slot counts as green


def template_from(data: Mapping[str, object] | None) -> dict[int, tuple[tuple[int, int], ...]]:
    """A stored template {"0": [["08:00","10:00"], ...], ...} (missing weekdays: default)."""
    out = dict(DEFAULT_TEMPLATE)
    for key, windows in (data or {}).items():
        wd = int(key)
        if not 0 <= wd <= 6:
            raise ValueError("weekday must be 0..6")
        parsed = []
        for pair in windows:  # type: ignore[union-attr]
            a, b = (_secs(x) for x in pair)
            if b <= a:
                raise ValueError("a slot must end after it starts")
            parsed.append((a, b))
        out[wd] = tuple(sorted(parsed))
    return out


def _secs(x: object) -> int:
    if isinstance(x, int):
        return x
    h, m = str(x).split(":")
    return int(h) * H + int(m) * 60


def windows_for(template: Mapping[int, Sequence[tuple[int, int]]], weekday: int) -> list[TimeWindow]:
    return [TimeWindow(a, b) for a, b in template.get(weekday, ())]


@dataclass(frozen=True)
class Quote:
    window: TimeWindow
    feasible: bool
    cost_cents: int  # marginal cost in minor units
    extra_m: int  # added distance
    neighbour: bool  # an order nearby is already served in this slot
    green: bool = False
    estimated: bool = False  # no routes that day: priced from booked neighbours


def quote_live(plan: LivePlan, stop_ids: Mapping[TimeWindow, str], *, exact: bool = False) -> list[Quote]:
    """Price each slot (a stop id per window, same place) by the fast insertion's
    estimate (slack bookkeeping and the time-of-day model on the two new legs); with
    ``exact``, by the exactly re-timed insertion. Booking always goes through the
    exact insertion, so a quote never commits the plan to anything infeasible."""
    out = []
    for w, sid in stop_ids.items():
        choice = plan.insert(sid) if exact else plan.estimate(sid)
        if choice is None:
            out.append(Quote(w, False, 0, 0, False))
            continue
        # cost is in milli-cents; a short detour means someone nearby is served then
        out.append(Quote(w, True, int(round(choice.cost / 1000)), max(0, choice.added_distance_m),
                         choice.added_distance_m < 1500))
    return mark_green(out)


def haversine_m(a: LatLon, b: LatLon) -> float:
    r = 6371008.8
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def quote_estimate(place: LatLon, depot: LatLon, windows: Sequence[TimeWindow],
                   booked: Sequence[tuple[LatLon, TimeWindow | None]], cents_per_km: int = DEFAULT_CENTS_PER_KM,
                   ) -> list[Quote]:
    """No routes yet: the detour to the nearest order booked in the same slot (there and
    back), else half the round trip from the depot (the van comes anyway for others)."""
    out = []
    to_depot = haversine_m(place, depot) * ROAD_FACTOR
    for w in windows:
        near = [haversine_m(place, loc) for loc, bw in booked
                if bw is None or (bw.start < w.end and w.start < bw.end)]
        if near:
            extra = 2 * min(near) * ROAD_FACTOR
            extra = min(extra, to_depot)
            neighbour = min(near) < 1500
        else:
            extra = to_depot if booked else 2 * to_depot
            neighbour = False
        out.append(Quote(w, True, int(round(extra / 1000 * cents_per_km)), int(extra), neighbour, estimated=True))
    return mark_green(out)


def mark_green(quotes: list[Quote]) -> list[Quote]:
    """The cheapest feasible slots (within GREEN_MARGIN) are green -- only when they
    are cheaper than the rest or a neighbour is served then."""
    ok = [q for q in quotes if q.feasible]
    if not ok:
        return quotes
    low = min(q.cost_cents for q in ok)
    high = max(q.cost_cents for q in ok)
    out = []
    for q in quotes:
        green = q.feasible and q.cost_cents <= low * (1 + GREEN_MARGIN) + 1 and (high > low or q.neighbour)
        out.append(Quote(q.window, q.feasible, q.cost_cents, q.extra_m, q.neighbour, green, q.estimated))
    return out


def slot_stop(base: Stop, window: TimeWindow, sid: str) -> Stop:
    return Stop(sid, base.location, service_s=base.service_s, demand=base.demand, windows=(window,),
                kind=base.kind, skills=base.skills)
