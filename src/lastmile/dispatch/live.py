"""The live day of a published route: the only writer of a route's and its stops'
live status. The driver app (pod/), the tracking pipeline (tracking/), the console and
dynamic re-optimization call these; each change moves the order through its status
machine (orders/service.transition: history, event log, webhooks) in the caller's
transaction, bumps the route's version and is broadcast after commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..errors import Conflict
from ..events.service import emit
from ..kit.broadcast import publish_after_commit
from ..orders.models import Order
from ..orders.service import transition
from .models import STOP_FINAL, Route, RouteStop

# stop status -> statuses it may follow
STOP_MOVES: dict[str, tuple[str, ...]] = {
    "en_route": ("planned",),
    "arrived": ("planned", "en_route"),
    "done": ("planned", "en_route", "arrived"),
    "failed": ("planned", "en_route", "arrived"),
    "skipped": ("planned", "en_route", "arrived"),
}


def _actor(actor: Principal | str) -> str:
    return actor.actor if isinstance(actor, Principal) else actor


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def topics(route: Route, order_id: str | None = None) -> list[str]:
    out = [f"org:{route.organization_id}", f"route:{route.id}"]
    if route.driver_id:
        out.append(f"driver:{route.driver_id}")
    if order_id is not None:
        out.append(f"order:{order_id}")
    return out


def bump(session: Session, route: Route, message: dict[str, Any] | None = None, order_id: str | None = None) -> None:
    """Record that the route changed: version + 1, broadcast after commit."""
    route.version = (route.version or 0) + 1
    msg = {"type": "route", "route_id": route.id, "status": route.status, "version": route.version}
    publish_after_commit(session, topics(route, order_id), {**msg, **(message or {})})


def start_route(session: Session, route: Route, at: datetime, actor: Principal | str) -> bool:
    """The driver leaves the depot: the route is started and its orders are out for
    delivery. Returns False when it already was."""
    if not route.published:
        raise Conflict("this route is not published", field="route_id")
    if route.status != "planned":
        return False
    route.status, route.started_at = "started", at
    stops = session.scalars(select(RouteStop).where(RouteStop.route_id == route.id).order_by(RouteStop.seq))
    for stop in stops:
        order = session.get(Order, stop.order_id, with_for_update=True)
        if stop.status not in STOP_FINAL and order is not None and order.status == "assigned":
            transition(session, actor, order, "out_for_delivery")
    emit(session, route.organization_id, "route.started", "route", route.id, _actor(actor), {"at": _iso(at)})
    bump(session, route)
    return True


def finish_route(session: Session, route: Route, at: datetime, actor: Principal | str) -> bool:
    if route.status == "finished":
        return False
    route.status, route.finished_at = "finished", at
    if route.started_at is None:
        route.started_at = at
    emit(session, route.organization_id, "route.finished", "route", route.id, _actor(actor), {"at": _iso(at)})
    bump(session, route)
    return True


def mark_stop(
    session: Session, stop: RouteStop, status: str, *, at: datetime, actor: Principal | str, reason: str = ""
) -> bool:
    """Move a stop to ``status`` (en_route, arrived, done, failed, skipped) at time ``at``.

    ``done`` delivers the order, ``failed`` fails it (``reason`` kept); ``skipped``
    takes the stop off the route without touching the order (e.g. it was cancelled or
    moved). Repeating the current status is a harmless no-op (returns False); moving a
    stop that is already done, failed or skipped is a conflict."""
    if status not in STOP_MOVES:
        raise ValueError(f"unknown stop status {status!r}")
    if stop.status == status:
        return False
    if stop.status not in STOP_MOVES[status]:
        raise Conflict(f"a stop that is {stop.status} cannot become {status}", field="status")
    route = session.get(Route, stop.route_id, with_for_update=True)
    assert route is not None
    if not route.published:
        raise Conflict("this route is not published", field="route_id")
    order = session.get(Order, stop.order_id, with_for_update=True)
    assert order is not None
    if status in ("done", "failed") and route.status == "planned":
        start_route(session, route, at, actor)  # a first delivery starts the day
    stop.status = status
    if status == "arrived":
        stop.arrived_at = at
    elif status in ("done", "failed"):
        stop.arrived_at = stop.arrived_at or at
        stop.departed_at = stop.completed_at = at
        if order.status == "assigned":
            transition(session, actor, order, "out_for_delivery")
        transition(session, actor, order, "delivered" if status == "done" else "failed", reason)
    elif status == "skipped":
        stop.completed_at = at
    emit(session, route.organization_id, f"stop.{status}", "route_stop", stop.id, _actor(actor),
         {"route_id": route.id, "order_id": order.id, "at": _iso(at), **({"reason": reason} if reason else {})})
    bump(session, route, {"type": "stop", "stop_id": stop.id, "order_id": order.id, "seq": stop.seq,
                          "stop_status": status, "order_status": order.status, "at": _iso(at)}, order.id)
    return True


def route_view(session: Session, route: Route) -> dict[str, Any]:
    """A route with its stops and what a driver needs at each, as JSON-ready data."""
    rows = session.execute(
        select(RouteStop, Order).join(Order, Order.id == RouteStop.order_id)
        .where(RouteStop.route_id == route.id).order_by(RouteStop.seq)
    ).all()
    stops = []
    for stop, o in rows:
        stops.append({
            "id": stop.id, "seq": stop.seq, "status": stop.status, "locked": stop.locked,
            "order_id": o.id, "order_status": o.status, "reference": o.reference, "kind": o.kind,
            "address": o.address, "lat": o.lat, "lon": o.lon,
            "contact": {"name": o.contact_name, "phone": o.contact_phone},
            "language": o.language, "instructions": o.instructions,
            "windows": o.windows, "service_s": o.service_s,
            "parcels": o.demand_parcels, "items": o.items,
            "cod": {"amount": o.cod_amount, "currency": o.cod_currency} if o.cod_currency else None,
            "planned": {"arrival_at": _iso(stop.arrival_at), "start_at": _iso(stop.start_at),
                        "end_at": _iso(stop.end_at)},
            "eta_at": _iso(stop.eta_at), "arrived_at": _iso(stop.arrived_at),
            "completed_at": _iso(stop.completed_at),
        })
    return {
        "id": route.id, "plan_id": route.plan_id, "driver_id": route.driver_id, "vehicle_id": route.vehicle_id,
        "depot_id": route.depot_id, "status": route.status, "version": route.version,
        "depart_at": _iso(route.depart_at), "arrive_at": _iso(route.arrive_at),
        "started_at": _iso(route.started_at), "finished_at": _iso(route.finished_at),
        "distance_m": route.distance_m, "duration_s": route.duration_s, "stops": stops,
    }
