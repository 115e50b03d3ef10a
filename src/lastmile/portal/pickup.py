"""Pickup points and lockers as delivery alternatives: dispatchers keep the list of an
organization's lockers and pickup counters (opening hours, capacity); a customer on
the tracking page may send the order there instead of to the door, and back.

Choosing one changes the order through the orders service (``update_order``): its
address and location become the point's, its windows the point's opening hours on
the service day -- so planning, dynamic insertion and the driver app all see a stop
at the locker. An order already on a published route, with the driver not yet on the
way to it, leaves that route first (the stop is skipped, the order is unassigned and
waits for re-planning), as when rescheduling. The door it had is kept, so "deliver to
my door instead" restores it. Services flush; the endpoint commits.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..dispatch import live
from ..errors import Conflict, Invalid, NotFound
from ..events.service import emit
from ..kit.time import utcnow
from ..orders.models import COMPLETED, Order
from ..orders.schemas import OrderUpdate
from ..orders.service import unassign, update_order
from .models import PICKUP_KINDS, WEEKDAYS, PickupChoice, PickupPoint

CUSTOMER = "customer"
CHANGEABLE = ("pending", "assigned")  # order statuses whose place may still change
NEAR_M = 15_000  # points offered to a customer: within this distance of the door
OFFERED = 5
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


# -- the dispatcher's side --------------------------------------------------------------

def check_hours(hours: dict[str, Any]) -> dict[str, list[list[str]]]:
    """``{"mon": [["09:00", "20:00"]], ...}``: known weekdays, HH:MM, open before close."""
    out: dict[str, list[list[str]]] = {}
    for day, spans in (hours or {}).items():
        if day not in WEEKDAYS:
            raise Invalid(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}", field="hours")
        if not isinstance(spans, list) or len(spans) > 4:
            raise Invalid(f"hours.{day}: a list of up to 4 [open, close] pairs", field="hours")
        clean = []
        for span in spans:
            if (not isinstance(span, list | tuple) or len(span) != 2
                    or not all(isinstance(x, str) and _HHMM.match(x) for x in span)):
                raise Invalid(f"hours.{day}: each interval is [\"HH:MM\", \"HH:MM\"]", field="hours")
            if span[0] >= span[1]:
                raise Invalid(f"hours.{day}: {span[0]} is not before {span[1]}", field="hours")
            clean.append([span[0], span[1]])
        clean.sort()
        for a, b in zip(clean, clean[1:]):
            if b[0] < a[1]:
                raise Invalid(f"hours.{day}: intervals overlap", field="hours")
        out[day] = clean
    return out


def _check_zone(zone: str) -> str:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {zone!r}", field="timezone") from None
    return zone


def create_point(session: Session, p: Principal, data: dict[str, Any]) -> PickupPoint:
    if data.get("kind", "locker") not in PICKUP_KINDS:
        raise Invalid(f"kind is one of {', '.join(PICKUP_KINDS)}", field="kind")
    point = PickupPoint(organization_id=p.organization_id, kind=data.get("kind", "locker"), name=data["name"].strip(),
                        address=data.get("address", "").strip(), lat=data["lat"], lon=data["lon"],
                        timezone=_check_zone(data.get("timezone") or "America/Chicago"),
                        hours=check_hours(data.get("hours") or {}), capacity=data.get("capacity", 20),
                        active=data.get("active", True), created_at=utcnow())
    if not point.name:
        raise Invalid("a pickup point needs a name", field="name")
    session.add(point)
    session.flush()
    emit(session, p.organization_id, "pickup_point.created", "pickup_point", point.id, p.actor, point_dict(point))
    return point


def update_point(session: Session, p: Principal, point_id: str, data: dict[str, Any]) -> PickupPoint:
    point = get_point(session, p.organization_id, point_id)
    if "kind" in data and data["kind"] not in PICKUP_KINDS:
        raise Invalid(f"kind is one of {', '.join(PICKUP_KINDS)}", field="kind")
    if "hours" in data:
        data["hours"] = check_hours(data["hours"] or {})
    if "timezone" in data:
        data["timezone"] = _check_zone(data["timezone"])
    for k in ("kind", "name", "address", "lat", "lon", "timezone", "hours", "capacity", "active"):
        if k in data and data[k] is not None:
            setattr(point, k, data[k].strip() if isinstance(data[k], str) and k in ("name", "address") else data[k])
    session.flush()
    emit(session, p.organization_id, "pickup_point.updated", "pickup_point", point.id, p.actor, point_dict(point))
    return point


def get_point(session: Session, organization_id: str, point_id: str) -> PickupPoint:
    point = session.get(PickupPoint, point_id)
    if point is None or point.organization_id != organization_id:
        raise NotFound("no such pickup point", field="pickup_point_id")
    return point


def list_points(session: Session, organization_id: str, *, active_only: bool = False) -> list[PickupPoint]:
    q = select(PickupPoint).where(PickupPoint.organization_id == organization_id)
    if active_only:
        q = q.where(PickupPoint.active.is_(True))
    return list(session.scalars(q.order_by(PickupPoint.name, PickupPoint.id)))


def point_dict(point: PickupPoint) -> dict[str, Any]:
    return {"id": point.id, "kind": point.kind, "name": point.name, "address": point.address, "lat": point.lat,
            "lon": point.lon, "timezone": point.timezone, "hours": point.hours or {}, "capacity": point.capacity,
            "active": point.active}


# -- opening hours and capacity on a day ------------------------------------------------

def windows_on(point: PickupPoint, day: date) -> list[tuple[datetime, datetime]]:
    """The point's opening intervals on ``day`` (its local date) as aware datetimes."""
    zone = ZoneInfo(point.timezone)
    spans = (point.hours or {}).get(WEEKDAYS[day.weekday()], [])
    out = []
    for a, b in spans:
        start = datetime.combine(day, time.fromisoformat(a), zone)
        end = (datetime.combine(day, time(23, 59, 59), zone) if b == "24:00"
               else datetime.combine(day, time.fromisoformat(b), zone))
        out.append((start, end))
    return out


def used_on(session: Session, point_id: str, day: date, *, besides: str | None = None) -> int:
    """Parcels already sent to the point for that day (completed or cancelled ones free their place)."""
    q = (select(func.count()).select_from(PickupChoice).join(Order, Order.id == PickupChoice.order_id)
         .where(PickupChoice.pickup_point_id == point_id, PickupChoice.day == day,
                Order.status.not_in((*COMPLETED, "cancelled"))))
    if besides is not None:
        q = q.where(PickupChoice.order_id != besides)
    return session.scalar(q) or 0


# -- the customer's side ----------------------------------------------------------------

def choice_of(session: Session, order: Order) -> PickupChoice | None:
    return session.scalar(select(PickupChoice).where(PickupChoice.order_id == order.id))


def can_choose(order: Order) -> bool:
    return order.kind == "delivery" and order.status in CHANGEABLE


def offered(session: Session, order: Order) -> list[dict[str, Any]]:
    """Active points near the order's door (nearest first), each with its hours on the
    service day and whether it can still take the parcel."""
    choice = choice_of(session, order)
    home = (choice.home_lat, choice.home_lon) if choice is not None else (order.lat, order.lon)
    out = []
    for point in list_points(session, order.organization_id, active_only=True):
        d = _dist_m(home[0], home[1], point.lat, point.lon)
        if d > NEAR_M:
            continue
        spans = windows_on(point, order.date)
        free = point.capacity - used_on(session, point.id, order.date, besides=order.id)
        out.append({"id": point.id, "kind": point.kind, "name": point.name, "address": point.address,
                    "lat": point.lat, "lon": point.lon, "distance_m": round(d),
                    "hours": [[a.isoformat(), b.isoformat()] for a, b in spans],
                    "available": bool(spans) and free > 0,
                    "chosen": choice is not None and choice.pickup_point_id == point.id})
    out.sort(key=lambda x: x["distance_m"])
    return out[:OFFERED]


def _off_the_route(session: Session, order: Order) -> None:
    """An assigned order leaves its published route before its place changes."""
    if order.status != "assigned":
        return
    from .service import _live_stop

    found = _live_stop(session, order)
    if found is not None:
        if found[0].status != "planned":
            raise Conflict("the driver is already on the way; the delivery place can no longer change",
                           field="status")
        live.mark_stop(session, found[0], "skipped", at=utcnow(), actor=CUSTOMER,
                       reason="delivery place changed by the customer")
    unassign(session, CUSTOMER, order, "delivery place changed by the customer")


def _customer(order: Order) -> Principal:
    return Principal(role="customer", id="tracking-link", organization_id=order.organization_id)


def choose(session: Session, order: Order, point_id: str) -> PickupChoice:
    """Send the order to a pickup point instead of the door."""
    if not can_choose(order):
        raise Conflict(f"an order that is {order.status} can no longer change its delivery place", field="status")
    point = session.get(PickupPoint, point_id)
    if point is None or point.organization_id != order.organization_id or not point.active:
        raise NotFound("no such pickup point", field="pickup_point_id")
    choice = choice_of(session, order)
    if choice is not None and choice.pickup_point_id == point.id:
        return choice
    spans = windows_on(point, order.date)
    if not spans:
        raise Invalid(f"{point.name} is closed on {order.date.isoformat()}", field="pickup_point_id")
    # the point's row is locked while its capacity is counted: two customers cannot
    # both take its last place
    session.get(PickupPoint, point.id, with_for_update=True)
    if used_on(session, point.id, order.date, besides=order.id) >= point.capacity:
        raise Conflict(f"{point.name} is full on {order.date.isoformat()}; choose another", field="pickup_point_id")
    _off_the_route(session, order)
    if choice is None:
        choice = PickupChoice(order_id=order.id, pickup_point_id=point.id, day=order.date,
                              home_address=order.address, home_lat=order.lat, home_lon=order.lon,
                              home_windows=list(order.windows or []), created_at=utcnow())
        session.add(choice)
    else:
        choice.pickup_point_id, choice.day = point.id, order.date
    label = f"{point.name}, {point.address}" if point.address else point.name
    update_order(session, _customer(order), order, OrderUpdate(
        address=label[:500], lat=point.lat, lon=point.lon,
        windows=[{"start": a, "end": b} for a, b in spans]))
    session.flush()
    emit(session, order.organization_id, "order.pickup_point_chosen", "order", order.id, CUSTOMER,
         {"pickup_point_id": point.id, "name": point.name}, shipper_id=order.shipper_id)
    return choice


def back_to_door(session: Session, order: Order) -> None:
    """Deliver to the door again (the address and windows the order had)."""
    choice = choice_of(session, order)
    if choice is None:
        return
    if not can_choose(order):
        raise Conflict(f"an order that is {order.status} can no longer change its delivery place", field="status")
    _off_the_route(session, order)
    windows = [{"start": datetime.fromisoformat(w["start"]), "end": datetime.fromisoformat(w["end"])}
               for w in choice.home_windows or [] if "start" in w and "end" in w]
    update_order(session, _customer(order), order, OrderUpdate(
        address=choice.home_address, lat=choice.home_lat, lon=choice.home_lon, windows=windows))
    session.delete(choice)
    session.flush()
    emit(session, order.organization_id, "order.pickup_point_dropped", "order", order.id, CUSTOMER,
         {}, shipper_id=order.shipper_id)


def summary(session: Session, order: Order) -> dict[str, Any] | None:
    """The pickup point the order goes to, for the tracking page (None: the door)."""
    choice = choice_of(session, order)
    if choice is None:
        return None
    point = session.get(PickupPoint, choice.pickup_point_id)
    if point is None:
        return None
    return {"id": point.id, "kind": point.kind, "name": point.name, "address": point.address,
            "lat": point.lat, "lon": point.lon,
            "hours": [[a.isoformat(), b.isoformat()] for a, b in windows_on(point, order.date)]}
