"""Training rows read from what the live system recorded.

Legs: for each route that was driven, its visited stops in the order they were
actually reached (``arrived_at``); a leg runs from leaving the previous place
(the route's ``started_at`` at the depot, else the previous stop's
``departed_at`` / ``completed_at``) to arriving at the next. Its static estimate
is the engine's own time-of-day model on the same places (the depot's traffic
profile, straight lines at the configured pace), evaluated as the learned model
evaluates it (``LearnedTravelModel`` with factor 1), so the learned factor
corrects exactly what it will be multiplied with.

Visits: each stop reached and completed; the dwell is from the later of arrival
and the opening of its window (waiting for a window is not service) to leaving.

Pings (``positions``): per driver and route, the ~1 km-cell speed map
(``features.SpeedMap``), the road-class proxy of the travel model.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..depots.models import Depot
from ..dispatch.models import Plan, Route, RouteStop
from ..kit.time import seconds_since_midnight
from ..orders.models import Order
from ..pod.models import DriverAction
from ..routing.domain import LatLon
from ..routing.eta import chain_model
from ..routing.learned import LearnedTravelModel, leg_columns
from ..routing.matrix.timedep import TrafficProfile
from ..tracking.models import Position
from .features import SpeedMap, Visit, building_type, customer_key

MIN_LEG_S = 20
MAX_LEG_S = 4 * 3600


class _One:
    """Factor 1 everywhere: the static model as the learned model sees it."""

    version = 0

    def factors(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        return np.ones(len(cols["olat"]))


ONE = _One()


@dataclass
class Leg:
    day: date
    route_id: str
    cols: dict[str, float]  # routing.learned.LEG_COLUMNS
    actual_s: float
    static_s: float  # the live static model (what ETAs use today), for the comparison


@dataclass
class VisitRow:
    day: date
    visit: Visit
    dwell_s: float


@dataclass
class DrivenStop:
    """One stop of a driven route, as recorded."""

    stop_id: str
    order: Order
    arrived_s: int
    left_s: int | None
    window_start_s: int | None
    status: str


@dataclass
class DrivenRoute:
    route_id: str
    day: date
    zone: str
    weekday: int
    depot: LatLon
    started_s: int
    stops: list[DrivenStop] = field(default_factory=list)
    break_window: tuple[int, int, int] | None = None  # the shift's: (earliest start, latest start, seconds)
    break_at: tuple[int, int] | None = None  # taken (driver app's break_start .. break_end)


def driven_routes(session: Session, *, days: set[date] | None = None) -> list[DrivenRoute]:
    """Routes that were driven (started, with stops reached), with their stops in
    the order they were reached."""
    from ..fleet.models import Shift

    q = (select(Route, Plan.date, Depot).join(Plan, Plan.id == Route.plan_id).join(Depot, Depot.id == Route.depot_id)
         .where(Route.started_at.is_not(None)).order_by(Plan.date, Route.id))
    out = []
    for route, day, depot in session.execute(q):
        if days is not None and day not in days:
            continue
        zone = depot.timezone
        rows = session.execute(select(RouteStop, Order).join(Order, Order.id == RouteStop.order_id)
                               .where(RouteStop.route_id == route.id, RouteStop.arrived_at.is_not(None))
                               .order_by(RouteStop.arrived_at)).all()
        dr = DrivenRoute(route.id, day, zone, day.weekday(), LatLon(depot.lat, depot.lon),
                         seconds_since_midnight(route.started_at, day, zone))
        if route.shift_id:
            sh = session.get(Shift, route.shift_id)
            if sh is not None and sh.break_s and sh.break_start_at and sh.break_end_at:
                dr.break_window = (seconds_since_midnight(sh.break_start_at, day, zone),
                                   seconds_since_midnight(sh.break_end_at, day, zone), sh.break_s)
        acts = dict(session.execute(select(DriverAction.type, DriverAction.device_time).where(
            DriverAction.route_id == route.id, DriverAction.type.in_(("break_start", "break_end")))).all())
        if "break_start" in acts:
            b0 = seconds_since_midnight(acts["break_start"], day, zone)
            b1 = seconds_since_midnight(acts["break_end"], day, zone) if "break_end" in acts else \
                b0 + (dr.break_window[2] if dr.break_window else 1800)
            dr.break_at = (b0, b1)
        for st, order in rows:
            left = st.departed_at or st.completed_at
            ws = None
            for w in order.windows or ():
                try:
                    a = seconds_since_midnight(datetime.fromisoformat(w["start"]), day, zone)
                    b = seconds_since_midnight(datetime.fromisoformat(w["end"]), day, zone)
                except (KeyError, TypeError, ValueError):
                    continue
                arr = seconds_since_midnight(st.arrived_at, day, zone)
                if arr <= b:
                    ws = a
                    break
            dr.stops.append(DrivenStop(st.id, order, seconds_since_midnight(st.arrived_at, day, zone),
                                       seconds_since_midnight(left, day, zone) if left else None, ws, st.status))
        if dr.stops:
            out.append(dr)
    return out


def legs_of(routes: list[DrivenRoute], profile: TrafficProfile) -> list[Leg]:
    out: list[Leg] = []
    for r in routes:
        points = [r.depot, *(LatLon(s.order.lat, s.order.lon) for s in r.stops)]
        static = chain_model(points, profile, r.weekday)
        grid = LearnedTravelModel(static, ONE)
        side = np.asarray(static._side, np.float64)
        prev_left = r.started_s
        for k, s in enumerate(r.stops, start=1):
            depart = prev_left
            prev_left = s.left_s
            if depart is None:
                continue
            actual = s.arrived_s - depart
            if not MIN_LEG_S <= actual <= MAX_LEG_S:
                continue
            if r.break_at and depart <= r.break_at[0] < s.arrived_s:
                continue  # the break was taken on this leg: not travel time
            if r.break_at is None and r.break_window and depart <= r.break_window[1] \
                    and s.arrived_s >= r.break_window[0] \
                    and actual - grid.travel(k - 1, k, depart) > 0.75 * r.break_window[2]:
                continue  # a break nobody recorded, most likely: not travel time
            a, b = points[k - 1], points[k]
            cols = leg_columns(a.lat, a.lon, b.lat, b.lon, depart, r.weekday, grid.travel(k - 1, k, depart),
                               float(side[k - 1] != side[k]), side[k - 1])
            out.append(Leg(r.day, r.route_id, {c: float(v[0]) for c, v in cols.items()}, float(actual),
                           float(static.travel(k - 1, k, depart))))
    return out


def visits_of(routes: list[DrivenRoute]) -> list[VisitRow]:
    out = []
    for r in routes:
        for s in r.stops:
            if s.left_s is None or s.status != "done":
                continue
            start = max(s.arrived_s, s.window_start_s or s.arrived_s)
            if r.break_at and s.arrived_s <= r.break_at[0] < s.left_s:  # the break at the door
                start = max(start, r.break_at[1])
            dwell = s.left_s - start
            if dwell <= 0 or dwell > 3 * 3600:
                continue
            out.append(VisitRow(r.day, visit_of(s.order, start, r.weekday), float(dwell)))
    return out


def visit_of(order: Order, at_s: int, weekday: int) -> Visit:
    """The service model's view of visiting ``order`` at ``at_s`` (seconds since midnight)."""
    return Visit(customer=customer_key(order.contact_phone, order.contact_email, order.address),
                 parcels=order.demand_parcels or 0, kg=order.demand_kg or 0, cod=bool(order.cod_amount),
                 pickup=order.kind == "pickup", planned_s=order.service_s or 0, tod_s=int(at_s), weekday=weekday,
                 building=building_type(f"{order.address} {order.instructions}"), lat=order.lat, lon=order.lon)


def customer_history(rows: list[VisitRow]) -> tuple[list[tuple[int, float]], dict[str, tuple[int, float]]]:
    """Per row, (earlier visits, their mean log dwell ratio) of its customer, in time
    order (no leak of the row's own outcome); and the totals for the model."""
    order = sorted(range(len(rows)), key=lambda k: (rows[k].day, rows[k].visit.tod_s))
    seen: dict[str, list[float]] = defaultdict(list)
    before: list[tuple[int, float]] = [(0, math.nan)] * len(rows)
    for k in order:
        v = rows[k].visit
        past = seen[v.customer]
        before[k] = (len(past), float(np.mean(past)) if past else math.nan)
        past.append(math.log(rows[k].dwell_s / max(v.planned_s, 30)))
    totals = {c: (len(v), float(np.mean(v))) for c, v in seen.items() if len(v) >= 1}
    return before, totals


def tracks(session: Session, route_ids: list[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pings per route: (epoch seconds, lat, lon), time-sorted."""
    out = []
    for k in range(0, len(route_ids), 200):
        rows = session.execute(select(Position.route_id, Position.at, Position.lat, Position.lon)
                               .where(Position.route_id.in_(route_ids[k:k + 200]))
                               .order_by(Position.route_id, Position.at)).all()
        by: dict[str, list] = defaultdict(list)
        for rid, at, lat, lon in rows:
            by[rid].append((at.timestamp(), lat, lon))
        for pts in by.values():
            a = np.array(pts, np.float64)
            out.append((a[:, 0], a[:, 1], a[:, 2]))
    return out


def speed_map(session: Session, route_ids: list[str]) -> SpeedMap:
    return SpeedMap.from_tracks(tracks(session, route_ids))
