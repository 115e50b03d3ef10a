"""Rules of the customer's side of a delivery: what the tracking page may show, the
relayed conversation with the driver, delivery preferences, rescheduling and ratings.

Privacy: a customer sees the driver's first name and, only while the driver is heading
to *this* customer's stop, the driver's position -- never before, never after. Nobody
sees anybody's phone number. Services flush; the endpoint commits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..depots.models import Depot
from ..dispatch import live
from ..dispatch.models import STOP_FINAL, Route, RouteStop
from ..errors import Conflict, Invalid, NotFound, TooManyRequests
from ..events.service import emit
from ..fleet.models import Driver
from ..kit.broadcast import publish_after_commit
from ..kit.time import as_utc, utcnow
from ..orders.models import COMPLETED, Order, OrderStatusChange
from ..orders.service import order_dict, transition
from . import pickup
from .models import DeliveryPreference, PortalMessage, Rating

CUSTOMER = "customer"
POSITION_VISIBLE = ("en_route",)  # stop statuses during which the customer sees the driver
MESSAGE_GRACE = timedelta(hours=24)  # the conversation stays open this long after completion
MESSAGE_LIMIT = 20  # customer messages per order per MESSAGE_WINDOW
MESSAGE_WINDOW = timedelta(minutes=10)
ETA_WINDOW = timedelta(minutes=20)
RESCHEDULABLE = ("pending", "assigned", "failed")
RATABLE = ("delivered", "failed", "returned")
SLOT_DAYS = 3


def iso(dt: datetime | None) -> str | None:
    return as_utc(dt).isoformat().replace("+00:00", "Z") if dt is not None else None


def first_name(name: str) -> str:
    return (name or "").strip().split(" ")[0] if name and name.strip() else ""


def eta_window(eta: datetime | None) -> dict[str, str] | None:
    """'ETA 10:40–11:00': a 20-minute window starting at the ETA floored to 10 minutes."""
    if eta is None:
        return None
    eta = as_utc(eta)
    start = eta.replace(minute=eta.minute - eta.minute % 10, second=0, microsecond=0)
    return {"at": iso(eta), "start": iso(start), "end": iso(start + ETA_WINDOW)}  # type: ignore[dict-item]


def current_stop(session: Session, order: Order) -> tuple[RouteStop, Route] | None:
    """The order's latest stop on a published route (a rescheduled order's old stop is
    skipped and a newer one, if planned, wins: ids grow with time)."""
    row = session.execute(
        select(RouteStop, Route).join(Route, Route.id == RouteStop.route_id)
        .where(RouteStop.order_id == order.id, Route.published.is_(True))
        .order_by(RouteStop.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _live_stop(session: Session, order: Order) -> tuple[RouteStop, Route] | None:
    """The current stop if it is still to be served (not skipped, not moved away)."""
    found = current_stop(session, order)
    if found is None or found[0].status == "skipped":
        return None
    return found


def stops_before(session: Session, stop: RouteStop) -> int:
    return session.scalar(
        select(func.count()).select_from(RouteStop).where(
            RouteStop.route_id == stop.route_id, RouteStop.seq < stop.seq, RouteStop.status.not_in(STOP_FINAL))
    ) or 0


def latest_position(session: Session, driver_id: str | None) -> dict[str, Any] | None:
    """The driver's latest fix, if the tracking pipeline keeps one (tracking/)."""
    if driver_id is None:
        return None
    try:
        from ..tracking.models import DriverLive
    except ImportError:  # pragma: no cover - tracking/ not installed
        return None
    row = session.get(DriverLive, driver_id)
    if row is None:
        return None
    return {"lat": row.lat, "lon": row.lon, "at": iso(row.at), "bearing": row.bearing}


def phase(order: Order, stop: RouteStop | None, route: Route | None) -> str:
    """One word for where the delivery is, the page's headline."""
    if order.status in ("delivered", "failed", "returned", "cancelled"):
        return order.status
    if stop is not None and stop.status not in STOP_FINAL:  # a stop still to be served today
        if stop.status in ("en_route", "arrived"):
            return stop.status
        if route is not None and route.status == "started":
            return "out_for_delivery"
    if order.status == "out_for_delivery":
        return "out_for_delivery"
    if order.status == "assigned":
        return "assigned"
    return "pending"


def preferences(session: Session, order: Order) -> dict[str, Any]:
    pref = session.scalar(select(DeliveryPreference).where(DeliveryPreference.order_id == order.id))
    if pref is None:
        return {"instructions": order.instructions, "safe_place": "", "contactless": False}
    return {"instructions": pref.instructions, "safe_place": pref.safe_place, "contactless": pref.contactless}


def _driver_name(session: Session, route: Route | None) -> str:
    if route is None or route.driver_id is None:
        return ""
    drv = session.get(Driver, route.driver_id)
    return first_name(drv.name) if drv is not None else ""


def customer_message(m: PortalMessage, driver_first_name: str) -> dict[str, Any]:
    """A message as the customer sees it: who (you / the driver's first name / the
    dispatch office), what, when -- no user ids."""
    return {"id": m.id, "from": "you" if m.sender == CUSTOMER else m.sender,
            "name": driver_first_name if m.sender == "driver" else "", "body": m.body, "at": iso(m.created_at)}


def staff_message(m: PortalMessage) -> dict[str, Any]:
    return {"id": m.id, "order_id": m.order_id, "sender": m.sender, "author": m.author, "body": m.body,
            "at": iso(m.created_at)}


def messages(session: Session, order: Order) -> list[PortalMessage]:
    q = select(PortalMessage).where(PortalMessage.order_id == order.id).order_by(PortalMessage.id)
    return list(session.scalars(q.limit(500)))


def can_message(order: Order, now: datetime | None = None) -> bool:
    if order.status == "cancelled":
        return False
    if order.completed_at is None:
        return True
    return (now or utcnow()) <= as_utc(order.completed_at) + MESSAGE_GRACE


def can_change_preferences(order: Order, stop: RouteStop | None) -> bool:
    return order.status not in (*COMPLETED, "failed") and (stop is None or stop.status not in STOP_FINAL)


def can_reschedule(order: Order) -> bool:
    return order.status in RESCHEDULABLE


def state(session: Session, order: Order) -> dict[str, Any]:
    """Everything the tracking page shows, as JSON-ready data."""
    depot = session.get(Depot, order.depot_id)
    found = _live_stop(session, order)
    stop, route = found if found is not None else (None, None)
    ph = phase(order, stop, route)
    name = _driver_name(session, route)  # first name only; says who wrote a message
    driver = name if ph in ("out_for_delivery", "en_route", "arrived") else ""
    eta = None
    ahead = None
    if stop is not None and stop.status not in STOP_FINAL and order.status in ("assigned", "out_for_delivery"):
        eta = eta_window(stop.eta_at or stop.arrival_at)
        ahead = stops_before(session, stop)
    visible = stop is not None and stop.status in POSITION_VISIBLE and order.status not in COMPLETED
    rating = session.scalar(select(Rating).where(Rating.order_id == order.id))
    return {
        "order": {"reference": order.reference, "status": order.status, "kind": order.kind,
                  "date": order.date.isoformat(), "windows": order_dict(order)["windows"], "address": order.address},
        "phase": ph,
        "timezone": depot.timezone if depot is not None else "America/Chicago",
        "language": order.language if order.language in ("es", "en") else "es",
        "stops_before": ahead,
        "eta": eta,
        "driver": {"first_name": driver} if driver else None,
        "live": visible,
        "position": latest_position(session, route.driver_id) if visible and route is not None else None,
        "destination": {"lat": order.lat, "lon": order.lon},
        "preferences": preferences(session, order),
        "messages": [customer_message(m, name) for m in messages(session, order)],
        "rating": {"score": rating.score, "comment": rating.comment} if rating is not None else None,
        "can": {"message": can_message(order), "preferences": can_change_preferences(order, stop),
                "reschedule": can_reschedule(order), "rate": order.status in RATABLE and rating is None,
                "pickup": pickup.can_choose(order) and (stop is None or stop.status == "planned")},
        "pickup": pickup.summary(session, order),
    }


# -- the conversation ---------------------------------------------------------------

def _message_topics(session: Session, order: Order) -> tuple[list[str], dict[str, Any]]:
    """Where the driver side of a message goes: org (console), route and driver (phone)."""
    topics = []
    extra: dict[str, Any] = {}
    found = current_stop(session, order)
    if found is not None:
        stop, route = found
        topics = live.topics(route)
        extra = {"route_id": route.id, "stop_id": stop.id}
    else:
        topics = [f"org:{order.organization_id}"]
    return topics, extra


def add_message(session: Session, order: Order, sender: str, body: str, author: str = "") -> PortalMessage:
    body = body.strip()
    if not body:
        raise Invalid("the message is empty", field="body")
    if not can_message(order):
        raise Conflict("this delivery's conversation is closed", field="body")
    if sender == CUSTOMER:
        since = utcnow() - MESSAGE_WINDOW
        recent = session.scalar(select(func.count()).select_from(PortalMessage).where(
            PortalMessage.order_id == order.id, PortalMessage.sender == CUSTOMER, PortalMessage.created_at >= since))
        if (recent or 0) >= MESSAGE_LIMIT:
            raise TooManyRequests("too many messages; please wait a few minutes", field="body")
    msg = PortalMessage(order_id=order.id, organization_id=order.organization_id, sender=sender, author=author,
                        body=body, created_at=utcnow())
    session.add(msg)
    session.flush()
    found = _live_stop(session, order)
    driver = _driver_name(session, found[1] if found else None)
    publish_after_commit(session, f"order:{order.id}", {"type": "message", "message": customer_message(msg, driver)})
    topics, extra = _message_topics(session, order)
    publish_after_commit(session, topics, {"type": "message", **extra, "message": staff_message(msg)})
    return msg


def driver_may_see(session: Session, p: Principal, order: Order) -> bool:
    """A driver talks only about orders on their own published routes."""
    if p.role != "driver":
        return True
    return session.scalar(
        select(func.count()).select_from(RouteStop).join(Route, Route.id == RouteStop.route_id).where(
            RouteStop.order_id == order.id, Route.published.is_(True), Route.driver_id == (p.driver_id or ""))
    ) > 0


def order_for_staff(session: Session, p: Principal, order_id: str) -> Order:
    order = session.get(Order, order_id)
    if order is None or order.organization_id != p.organization_id or not driver_may_see(session, p, order):
        raise NotFound("order not found")
    return order


# -- preferences --------------------------------------------------------------------

def _instructions_text(instructions: str, safe_place: str, contactless: bool) -> str:
    """What the driver reads (order.instructions): the customer's words, then the safe
    place and contactless, in both languages (the driver's app shows it as is)."""
    parts = [instructions.strip()] if instructions.strip() else []
    if safe_place.strip():
        parts.append(f"Lugar seguro / Safe place: {safe_place.strip()}")
    if contactless:
        parts.append("Entrega sin contacto / Contactless delivery")
    return "\n".join(parts)


def set_preferences(session: Session, order: Order, changes: dict[str, Any]) -> dict[str, Any]:
    found = _live_stop(session, order)
    if not can_change_preferences(order, found[0] if found else None):
        raise Conflict(f"an order that is {order.status} can no longer be changed", field="status")
    pref = session.scalar(select(DeliveryPreference).where(DeliveryPreference.order_id == order.id))
    if pref is None:
        pref = DeliveryPreference(order_id=order.id, instructions=order.instructions, safe_place="", contactless=False)
        session.add(pref)
    for k in ("instructions", "safe_place", "contactless"):
        if changes.get(k) is not None:
            setattr(pref, k, changes[k].strip() if isinstance(changes[k], str) else changes[k])
    pref.updated_at = order.updated_at = utcnow()
    order.instructions = _instructions_text(pref.instructions, pref.safe_place, pref.contactless)
    session.flush()
    emit(session, order.organization_id, "order.updated", "order", order.id, CUSTOMER,
         {"changed": ["instructions"], "by": CUSTOMER, "contactless": pref.contactless}, shipper_id=order.shipper_id)
    if found is not None:  # the driver's phone and the console reload the route
        live.bump(session, found[1], {"order_id": order.id, "stop_id": found[0].id, "change": "instructions"})
    return {"instructions": pref.instructions, "safe_place": pref.safe_place, "contactless": pref.contactless}


# -- rescheduling -------------------------------------------------------------------

def _zone(session: Session, order: Order) -> ZoneInfo:
    depot = session.get(Depot, order.depot_id)
    return ZoneInfo(depot.timezone if depot is not None else "America/Chicago")


def _as_dt(v: Any) -> datetime:
    return as_utc(v if isinstance(v, datetime) else datetime.fromisoformat(str(v).replace("Z", "+00:00")))


def offered_slots(session: Session, order: Order, now: datetime | None = None) -> list[dict[str, Any]]:
    """Feasible delivery slots from tomorrow (depot time) for this order's address."""
    if not can_reschedule(order):
        raise Conflict(f"an order that is {order.status} cannot be rescheduled", field="status")
    try:
        from ..dispatch.slots import offer_slots
    except ImportError as exc:  # the slot service is a separate piece of work (dispatch/slots.py)
        raise Conflict("rescheduling is not available yet", code="unavailable") from exc
    start: date = (now or utcnow()).astimezone(_zone(session, order)).date() + timedelta(days=1)
    raw = offer_slots(session, order.organization_id, lat=order.lat, lon=order.lon, depot_id=order.depot_id,
                      start=start, days=SLOT_DAYS, demand_parcels=order.demand_parcels, service_s=order.service_s)
    out = []
    for s in raw:
        if not s.get("feasible"):
            continue
        out.append({"start": iso(_as_dt(s["start"])), "end": iso(_as_dt(s["end"])), "green": bool(s.get("green"))})
    return out


def reschedule(session: Session, order: Order, start: datetime, end: datetime) -> Order:
    """Move the order to one of the offered slots; it goes back to planning (pending)."""
    wanted = (iso(as_utc(start)), iso(as_utc(end)))
    if not any((s["start"], s["end"]) == wanted for s in offered_slots(session, order)):
        raise Invalid("this slot is not offered (any more); choose another", field="start")
    now = utcnow()
    if order.status == "failed":
        transition(session, CUSTOMER, order, "rescheduled", "rescheduled by the customer")
    elif order.status == "assigned":
        found = _live_stop(session, order)
        if found is not None:  # off today's route; the console and the driver see it go
            if found[0].status != "planned":
                raise Conflict("the driver is already on the way; this delivery can no longer be moved",
                               field="status")
            live.mark_stop(session, found[0], "skipped", at=now, actor=CUSTOMER, reason="rescheduled by the customer")
        session.add(OrderStatusChange(order_id=order.id, at=now, from_status="assigned", to_status="pending",
                                      actor=CUSTOMER, reason="rescheduled by the customer"))
        order.status = "pending"
    zone = _zone(session, order)
    order.date = as_utc(start).astimezone(zone).date()
    order.windows = [{"start": as_utc(start).isoformat(), "end": as_utc(end).isoformat()}]
    order.updated_at = now
    session.flush()
    emit(session, order.organization_id, "order.updated", "order", order.id, CUSTOMER,
         {"changed": ["date", "windows"], "by": CUSTOMER, **order_dict(order)}, shipper_id=order.shipper_id)
    return order


# -- rating -------------------------------------------------------------------------

def rate(session: Session, order: Order, score: int, comment: str) -> Rating:
    if order.status not in RATABLE:
        raise Conflict("a delivery can be rated once it is completed", field="score")
    if session.scalar(select(Rating.id).where(Rating.order_id == order.id)) is not None:
        raise Conflict("this delivery has already been rated", field="score")
    found = current_stop(session, order)
    rating = Rating(order_id=order.id, organization_id=order.organization_id,
                    driver_id=found[1].driver_id if found is not None else None, score=score,
                    comment=comment.strip(), created_at=utcnow())
    session.add(rating)
    session.flush()
    emit(session, order.organization_id, "order.rated", "order", order.id, CUSTOMER,
         {"score": score}, shipper_id=None)
    return rating
