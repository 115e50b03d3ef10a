"""Delivery KPIs for a date range, per depot, driver, shipper or day.

Facts are read once per request (one row per stop of a published route, one per
route) and aggregated in Python: a month of a 15-driver fleet is ~10,000 stops, far
below what needs SQL-side grouping, and one aggregation serves every grouping and the
CSV export alike.

Definitions (also shown on the analytics page):

* **on-time**: a delivered stop whose arrival (``arrived_at``, else its completion)
  lies inside one of the order's windows; stops of orders without a window count as
  on time.
* **first-attempt success**: orders delivered without an earlier failed attempt, over
  orders attempted (delivered or failed) in the range.
* **driver-hours**: started → finished of each route when the driver app recorded
  them, else the planned route duration (``hours_source`` says which dominated).
* **km and cost**: planned route distance; ``actual_km`` is driven distance from the
  driver's pings while on the route (planned vs actual); ``speeding_fixes`` counts
  pings above ``SPEEDING_MPS`` (a safe-driving proxy for scorecards); cost = vehicle fixed + per-km + per-hour rates
  (integer minor units of the organization's currency).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import Shipper
from ..depots.models import Depot
from ..dispatch.models import Plan, Route, RouteStop
from ..fleet.models import Driver, Vehicle
from ..orders.models import Order, OrderStatusChange

GROUPS = ("depot", "driver", "shipper", "day", "all")
SPEEDING_MPS = 33.5  # 75 mph / 120 km/h: above any limit in Laredo or Nuevo Laredo (a proxy, not a ticket)


@dataclass
class StopFact:
    route_id: str
    order_id: str
    day: date
    depot_id: str
    driver_id: str | None
    shipper_id: str | None
    stop_status: str
    order_status: str
    windows: list[dict[str, str]]
    arrived_at: datetime | None
    completed_at: datetime | None
    planned_arrival: datetime
    eta_at: datetime | None
    failures: int  # failed attempts recorded for the order (history)
    fail_reason: str = ""


@dataclass
class RouteFact:
    route_id: str
    day: date
    depot_id: str
    driver_id: str | None
    distance_m: int
    planned_s: int
    actual_s: int | None
    fixed_cost: int
    cost_per_km: int
    cost_per_hour: int
    stops: int = 0
    window: tuple[datetime, datetime] | None = None  # when the driver was on this route
    actual_m: float | None = None  # driven, from the driver's pings
    speeding: int = 0  # pings above SPEEDING_MPS


@dataclass
class Facts:
    stops: list[StopFact] = field(default_factory=list)
    routes: dict[str, RouteFact] = field(default_factory=dict)
    ratings: dict[str, int] = field(default_factory=dict)  # order id -> 1..5
    names: dict[str, str] = field(default_factory=dict)  # depot/driver/shipper id -> name


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def collect(
    session: Session, organization_id: str, start: date, end: date, *, depot_id: str | None = None,
    driver_id: str | None = None, shipper_id: str | None = None,
) -> Facts:
    """Stops and routes of published plans with ``start <= date <= end``."""
    facts = Facts()
    q = (
        select(Route, Plan.date, Vehicle.fixed_cost, Vehicle.cost_per_km, Vehicle.cost_per_hour)
        .join(Plan, Plan.id == Route.plan_id).join(Vehicle, Vehicle.id == Route.vehicle_id)
        .where(Route.organization_id == organization_id, Route.published.is_(True),
               Plan.date >= start, Plan.date <= end)
    )
    if depot_id:
        q = q.where(Route.depot_id == depot_id)
    if driver_id:
        q = q.where(Route.driver_id == driver_id)
    for route, day, fixed, per_km, per_hour in session.execute(q):
        actual = None
        if route.started_at is not None and route.finished_at is not None:
            actual = max(0, int((route.finished_at - route.started_at).total_seconds()))
        facts.routes[route.id] = RouteFact(route.id, day, route.depot_id, route.driver_id, route.distance_m,
                                           route.duration_s, actual, fixed or 0, per_km or 0, per_hour or 0,
                                           window=(route.started_at or route.depart_at, route.finished_at or route.arrive_at))
    if not facts.routes:
        return facts
    ids = list(facts.routes)
    sq = (
        select(RouteStop, Order.shipper_id, Order.status, Order.windows)
        .join(Order, Order.id == RouteStop.order_id).where(RouteStop.route_id.in_(ids))
    )
    if shipper_id:
        sq = sq.where(Order.shipper_id == shipper_id)
    rows = session.execute(sq).all()
    order_ids = [r[0].order_id for r in rows]
    failures: Counter[str] = Counter()
    last_reason: dict[str, str] = {}
    for chunk in _chunks(order_ids, 500):
        for oid, reason in session.execute(
            select(OrderStatusChange.order_id, OrderStatusChange.reason)
            .where(OrderStatusChange.order_id.in_(chunk), OrderStatusChange.to_status == "failed")
            .order_by(OrderStatusChange.at)
        ):
            failures[oid] += 1
            last_reason[oid] = reason or "unspecified"
    for stop, shp, ostatus, windows in rows:
        rf = facts.routes[stop.route_id]
        rf.stops += 1
        facts.stops.append(StopFact(
            stop.route_id, stop.order_id, rf.day, rf.depot_id, rf.driver_id, shp, stop.status, ostatus,
            windows or [], stop.arrived_at, stop.completed_at, stop.arrival_at, stop.eta_at,
            failures[stop.order_id], last_reason.get(stop.order_id, ""),
        ))
    facts.ratings = _ratings(session, order_ids)
    _driven(session, facts)
    for model in (Depot, Driver, Shipper):
        for obj_id, name in session.execute(select(model.id, model.name).where(model.organization_id == organization_id)):
            facts.names[obj_id] = name
    return facts


def _chunks(xs: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


def _ratings(session: Session, order_ids: list[str]) -> dict[str, int]:
    """Customer ratings (1..5) from the tracking page."""
    from ..portal.models import Rating

    out: dict[str, int] = {}
    for chunk in _chunks(order_ids, 500):
        for oid, score in session.execute(select(Rating.order_id, Rating.score).where(Rating.order_id.in_(chunk))):
            out[oid] = int(score)
    return out


def _driven(session: Session, facts: Facts) -> None:
    """Actual km and speeding from each route's pings (the driver's, while on the route)."""
    from ..tracking.models import Position

    for r in facts.routes.values():
        if r.driver_id is None or r.window is None:
            continue
        rows = session.execute(
            select(Position.lat, Position.lon, Position.speed_mps)
            .where(Position.driver_id == r.driver_id, Position.at >= r.window[0], Position.at <= r.window[1])
            .order_by(Position.at)
        )
        total, prev, n = 0.0, None, 0
        for lat, lon, speed in rows:
            n += 1
            if prev is not None:
                total += _metres(prev[0], prev[1], lat, lon)
            prev = (lat, lon)
            r.speeding += int(speed is not None and speed > SPEEDING_MPS)
        if n >= 2:
            r.actual_m = total


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))


def _on_time(s: StopFact) -> bool:
    at = s.arrived_at or s.completed_at
    if at is None:
        return False
    if not s.windows:
        return True
    return any(_parse(w["start"]) <= at <= _parse(w["end"]) for w in s.windows)


def _key(group: str, s: StopFact | RouteFact) -> str:
    if group == "all":
        return "all"
    if group == "day":
        return s.day.isoformat()
    if group == "depot":
        return s.depot_id
    if group == "driver":
        return s.driver_id or "-"
    if group == "shipper":
        return (getattr(s, "shipper_id", None) or "-")
    raise ValueError(group)


def kpis(facts: Facts, group: str = "all") -> list[dict[str, Any]]:
    """One row per group value with every KPI; route-level measures (hours, km, cost)
    are shared out over shippers by their share of the route's stops."""
    if group not in GROUPS:
        raise ValueError(group)
    by: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "stops": 0, "delivered": 0, "failed": 0, "on_time": 0, "attempted_orders": 0, "first_attempt": 0,
        "reasons": Counter(), "ratings": [], "hours": 0.0, "actual_hours": 0.0, "km": 0.0, "cost": 0.0,
        "eta_errors": [], "actual_km": 0.0, "tracked_routes": 0, "speeding": 0,
    })
    for s in facts.stops:
        g = by[_key(group, s)]
        g["stops"] += 1
        if s.stop_status == "done" or s.order_status == "delivered":
            g["delivered"] += 1
            g["on_time"] += _on_time(s)
        if s.stop_status == "failed" or (s.order_status in ("failed", "returned") and s.stop_status != "done"):
            g["failed"] += 1
            g["reasons"][s.fail_reason or "unspecified"] += 1
        if s.order_status in ("delivered", "failed", "returned") or s.stop_status in ("done", "failed"):
            g["attempted_orders"] += 1
            g["first_attempt"] += (s.order_status == "delivered" and s.failures == 0)
        if s.order_id in facts.ratings:
            g["ratings"].append(facts.ratings[s.order_id])
        if s.eta_at is not None and s.arrived_at is not None:
            g["eta_errors"].append(abs((s.eta_at - s.arrived_at).total_seconds()))
    for r in facts.routes.values():
        hours = (r.actual_s if r.actual_s is not None else r.planned_s) / 3600
        km = r.distance_m / 1000
        cost = r.fixed_cost + r.cost_per_km * km + r.cost_per_hour * hours
        if group == "shipper":
            shares = Counter(s.shipper_id or "-" for s in facts.stops if s.route_id == r.route_id)
            total = sum(shares.values()) or 1
            parts = {k: v / total for k, v in shares.items()}
        else:
            parts = {_key(group, r): 1.0}
        for k, share in parts.items():
            g = by[k]
            g["hours"] += hours * share
            g["actual_hours"] += (r.actual_s or 0) / 3600 * share
            g["km"] += km * share
            g["cost"] += cost * share
            if r.actual_m is not None:
                g["actual_km"] += r.actual_m / 1000 * share
                g["tracked_routes"] += 1
            g["speeding"] += round(r.speeding * share)
    out = []
    for key in sorted(by):
        g = by[key]
        delivered = g["delivered"]
        out.append({
            "key": key,
            "name": facts.names.get(key, key),
            "stops": g["stops"],
            "delivered": delivered,
            "failed": g["failed"],
            "on_time_rate": _ratio(g["on_time"], delivered),
            "first_attempt_rate": _ratio(g["first_attempt"], g["attempted_orders"]),
            "driver_hours": round(g["hours"], 2),
            "deliveries_per_driver_hour": _ratio(delivered, g["hours"], 2),
            "km": round(g["km"], 1),
            "km_per_delivery": _ratio(g["km"], delivered, 2),
            "cost": int(round(g["cost"])),
            "cost_per_delivery": int(round(g["cost"] / delivered)) if delivered else None,
            "failed_by_reason": dict(g["reasons"].most_common()),
            "csat": round(sum(g["ratings"]) / len(g["ratings"]), 2) if g["ratings"] else None,
            "ratings": len(g["ratings"]),
            "eta_mae_min": round(sum(g["eta_errors"]) / len(g["eta_errors"]) / 60, 1) if g["eta_errors"] else None,
            "actual_km": round(g["actual_km"], 1) if g["tracked_routes"] else None,
            "speeding_fixes": g["speeding"],
            "hours_source": "actual" if g["actual_hours"] >= g["hours"] / 2 and g["hours"] else "planned",
        })
    return out


def _ratio(a: float, b: float, digits: int = 4) -> float | None:
    if not b:
        return None
    v = a / b
    return None if math.isnan(v) else round(v, digits)


def summary(session: Session, organization_id: str, start: date, end: date, group: str = "all",
            **filters: str | None) -> list[dict[str, Any]]:
    return kpis(collect(session, organization_id, start, end, **filters), group)


def count_orders(session: Session, organization_id: str, start: date, end: date) -> int:
    q = select(func.count()).select_from(Order).where(Order.organization_id == organization_id,
                                                      Order.date >= start, Order.date <= end)
    return int(session.scalar(q) or 0)
