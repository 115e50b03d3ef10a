"""Order rules: creation, updates, the status machine, tracking tokens.
Services flush; the endpoint commits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..auth.models import Shipper
from ..auth.service import record_audit
from ..config import Settings
from ..depots.models import Depot
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..events.models import Event
from ..events.service import announce, emit, event_row, has_event, new_event
from ..kit.ids import hash_secret, new_id, new_secret
from ..kit.rows import Row, insert_rows
from ..kit.time import utcnow
from ..kit.web import snapshot
from .geocoding import Geocoder
from .models import COMPLETED, Order, OrderStatusChange, TrackingToken
from .schemas import OrderCreate, OrderOut, OrderUpdate

# event type -> statuses it may follow; the new status (None: no change)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "assigned": (("pending", "assigned"), "assigned"),
    "out_for_delivery": (("assigned",), "out_for_delivery"),
    "approaching": (("out_for_delivery",), None),
    "delivered": (("out_for_delivery",), "delivered"),
    "failed": (("assigned", "out_for_delivery"), "failed"),
    "returned": (("failed", "out_for_delivery"), "returned"),
    "cancelled": (("pending", "assigned", "failed"), "cancelled"),
    "rescheduled": (("failed",), "pending"),
    "unassigned": (("assigned", "out_for_delivery"), "pending"),  # taken off every live route
}


def _iso(dt: Any) -> str | None:
    if dt is None:
        return None
    text = dt if isinstance(dt, str) else dt.isoformat()
    return text.replace("+00:00", "Z")


def order_dict(order: Order) -> dict[str, Any]:
    """The API's view of an order as JSON-ready data (the shape of ``OrderOut``),
    built by hand: lists of orders are the hottest path of the API."""
    return order_json({k: getattr(order, k) for k in _COLUMNS})


_COLUMNS = tuple(Order.__table__.c.keys())


def order_json(o: Mapping[str, Any]) -> dict[str, Any]:
    """``order_dict`` from a mapping of column values (``row._asdict()`` of a Core
    select of the orders table: no ORM object needed)."""
    return {
        "id": o["id"],
        "shipper_id": o["shipper_id"],
        "depot_id": o["depot_id"],
        "reference": o["reference"],
        "date": o["date"].isoformat(),
        "kind": o["kind"],
        "status": o["status"],
        "address": o["address"],
        "lat": o["lat"],
        "lon": o["lon"],
        "geocoded": o["geocoded"],
        "contact": {"name": o["contact_name"], "phone": o["contact_phone"], "email": o["contact_email"] or None},
        "language": o["language"],
        "windows": [{"start": _iso(w["start"]), "end": _iso(w["end"])} for w in o["windows"]],
        "service_s": o["service_s"],
        "demand": {"kg": o["demand_kg"], "litres": o["demand_litres"], "parcels": o["demand_parcels"]},
        "items": o["items"],
        "skills": o["skills"],
        "priority": o["priority"],
        "cod": {"amount": o["cod_amount"], "currency": o["cod_currency"]} if o["cod_currency"] else None,
        "instructions": o["instructions"],
        "created_at": _iso(o["created_at"]),
        "updated_at": _iso(o["updated_at"]),
        "completed_at": _iso(o["completed_at"]),
    }


def to_out(order: Order) -> OrderOut:
    return OrderOut.model_validate(order_dict(order))


def _payload(order: Order) -> dict[str, Any]:
    return order_dict(order)


def _apply(order: Order, data: dict[str, Any]) -> None:
    simple = ("reference", "date", "address", "language", "service_s", "items", "skills", "priority", "instructions")
    for k in simple:
        if k in data and data[k] is not None:
            setattr(order, k, data[k])
    if data.get("lat") is not None:
        order.lat, order.lon, order.geocoded = data["lat"], data["lon"], False
    if data.get("contact") is not None:
        c = data["contact"]
        order.contact_name, order.contact_phone, order.contact_email = c["name"], c["phone"], c.get("email") or ""
    if data.get("windows") is not None:
        order.windows = [
            {"start": w["start"].isoformat(), "end": w["end"].isoformat()} for w in data["windows"]
        ]
    if data.get("demand") is not None:
        d = data["demand"]
        order.demand_kg, order.demand_litres, order.demand_parcels = d["kg"], d["litres"], d["parcels"]
    if "cod" in data:
        cod = data["cod"]
        order.cod_amount = cod["amount"] if cod else 0
        order.cod_currency = cod["currency"] if cod else None


def resolve_shipper(session: Session, p: Principal, shipper_id: str | None) -> str | None:
    if p.role == "shipper":
        if shipper_id is not None and shipper_id != p.shipper_id:
            raise Forbidden("a shipper may create orders only for itself", field="shipper_id")
        return p.shipper_id
    if shipper_id is None:
        return None
    shipper = session.get(Shipper, shipper_id)
    if shipper is None or shipper.organization_id != p.organization_id:
        raise Invalid(f"shipper {shipper_id} does not exist", field="shipper_id")
    return shipper_id


def check_depot(session: Session, p: Principal, depot_id: str, field: str = "depot_id") -> Depot:
    depot = session.get(Depot, depot_id)
    if depot is None or depot.organization_id != p.organization_id:
        raise Invalid(f"depot {depot_id} does not exist", field=field)
    if len(_depot_org) > 10_000:
        _depot_org.clear()
    _depot_org[depot_id] = depot.organization_id
    return depot


# depot id -> its organization, remembered per process: a depot never changes
# organization and is never deleted, so creating an order needs no depot query
_depot_org: dict[str, str] = {}


def check_depot_id(session: Session, p: Principal, depot_id: str, field: str = "depot_id") -> None:
    """``check_depot`` without loading the depot: known depots cost no query."""
    org = _depot_org.get(depot_id)
    if org is None:
        check_depot(session, p, depot_id, field)
    elif org != p.organization_id:
        raise Invalid(f"depot {depot_id} does not exist", field=field)


def create_order(
    session: Session, p: Principal, body: OrderCreate, geocoder: Geocoder,
    extra_rows: Callable[[dict[str, Any]], list[Row]] | None = None,
) -> dict[str, Any]:
    """Create an order; returns its API view (``order_dict``'s shape).

    The hottest write of the API, so no ORM objects: the order, its first history
    entry and its ``order.created`` event are written by one ``insert_rows`` call (one
    round trip on PostgreSQL), together with ``extra_rows(view)`` (the endpoint's
    idempotency record); then the webhook outbox and the event's listeners run as for
    any event. Everything is in the database before the listeners run, as an ORM
    flush would have made it."""
    shipper_id = resolve_shipper(session, p, body.shipper_id)
    check_depot_id(session, p, body.depot_id)
    lat, lon, geocoded = body.lat, body.lon, False
    if lat is None or lon is None:
        found = geocoder.geocode(body.address)
        if found is None:
            raise Invalid("the address could not be geocoded; give lat and lon", field="address")
        (lat, lon), geocoded = found, True
    now = utcnow()
    row: dict[str, Any] = {
        "id": new_id("ord"), "organization_id": p.organization_id, "shipper_id": shipper_id,
        "depot_id": body.depot_id, "reference": body.reference, "date": body.date, "kind": body.kind,
        "status": "pending", "address": body.address, "lat": lat, "lon": lon, "geocoded": geocoded,
        "contact_name": body.contact.name, "contact_phone": body.contact.phone,
        "contact_email": body.contact.email or "", "language": body.language,
        "windows": [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in body.windows],
        "service_s": body.service_s, "demand_kg": body.demand.kg, "demand_litres": body.demand.litres,
        "demand_parcels": body.demand.parcels, "items": [i.model_dump() for i in body.items],
        "skills": list(body.skills), "priority": body.priority,
        "cod_amount": body.cod.amount if body.cod else 0, "cod_currency": body.cod.currency if body.cod else None,
        "instructions": body.instructions, "created_at": now, "updated_at": now, "completed_at": None,
    }
    view = order_json(row)
    ev = new_event(p.organization_id, "order.created", "order", row["id"], p.actor, view)
    rows: list[Row] = [
        (Order.__table__, row),
        (OrderStatusChange.__table__, {"id": new_id("osc"), "order_id": row["id"], "at": now, "from_status": None,
                                       "to_status": "pending", "actor": p.actor, "reason": ""}),
        (Event.__table__, event_row(ev)),
    ]
    if extra_rows is not None:
        rows += extra_rows(view)
    insert_rows(session, rows)
    if p.is_staff:  # what snapshot(order) gives for the ORM object
        after = {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items()}
        record_audit(session, p, "order.create", "order", row["id"], None, after)
    announce(session, ev, shipper_id=shipper_id)
    return view


def update_order(session: Session, p: Principal, order: Order, body: OrderUpdate) -> Order:
    if order.status != "pending":
        raise Conflict(f"an order that is {order.status} cannot be changed", field="status")
    data = body.model_dump(exclude_unset=True)
    # nested objects merge: {"demand": {"kg": 5}} changes kg and keeps litres and parcels
    if data.get("demand") is not None:
        data["demand"] = {"kg": order.demand_kg, "litres": order.demand_litres, "parcels": order.demand_parcels,
                          **data["demand"]}
    if data.get("contact") is not None:
        data["contact"] = {"name": order.contact_name, "phone": order.contact_phone,
                           "email": order.contact_email or None, **data["contact"]}
    before = snapshot(order)
    _apply(order, data)
    order.updated_at = utcnow()
    session.flush()
    record_audit(session, p, "order.update", "order", order.id, before, snapshot(order))
    emit(session, p.organization_id, "order.updated", "order", order.id, p.actor, {"changed": sorted(data)})
    return order


PRIORITY_OPEN = ("pending", "assigned", "out_for_delivery")


def set_priority(session: Session, p: Principal, order: Order, priority: int, reason: str = "") -> bool:
    """Change an order's priority (0..100) while it can still be planned or re-planned:
    a line in its history (same status, the change as the reason), the audit log, the
    event log and a live message for the consoles. Returns False when unchanged."""
    if order.status not in PRIORITY_OPEN:
        raise Conflict(f"the priority of an order that is {order.status} cannot change", field="priority")
    if order.priority == priority:
        return False
    before, old = snapshot(order), order.priority
    order.priority = priority
    order.updated_at = utcnow()
    note = f"priority {old} -> {priority}" + (f": {reason}" if reason else "")
    session.add(OrderStatusChange(order_id=order.id, from_status=order.status, to_status=order.status,
                                  actor=p.actor, reason=note[:500]))
    session.flush()
    record_audit(session, p, "order.priority", "order", order.id, before, snapshot(order))
    emit(session, p.organization_id, "order.updated", "order", order.id, p.actor,
         {"changed": ["priority"], "priority": priority})
    from ..kit.broadcast import publish_after_commit

    publish_after_commit(session, [f"org:{order.organization_id}"],
                         {"type": "order", "order_id": order.id, "priority": priority, "status": order.status})
    return True


def transition(
    session: Session, actor: Principal | str, order: Order, event: str, reason: str = ""
) -> bool:
    """Move an order through its status machine; write history, event log, webhook outbox.
    Returns False when nothing happened (a repeated ``approaching``)."""
    allowed_from, to = TRANSITIONS[event]
    if order.status not in allowed_from:
        raise Conflict(f"cannot mark an order that is {order.status} as {event}", field="type")
    actor_name = actor.actor if isinstance(actor, Principal) else actor
    if event == "approaching":
        if has_event(session, order.id, "order.approaching"):
            return False  # tell the customer once
    before = snapshot(order) if isinstance(actor, Principal) else None
    if to is not None and (to != order.status or event == "assigned"):
        session.add(OrderStatusChange(order_id=order.id, from_status=order.status, to_status=to, actor=actor_name, reason=reason))
        order.status = to
        order.updated_at = utcnow()
        order.completed_at = utcnow() if to in COMPLETED else None
    session.flush()
    if isinstance(actor, Principal):
        record_audit(session, actor, f"order.{event}", "order", order.id, before, snapshot(order))
    emit(session, order.organization_id, f"order.{event}", "order", order.id, actor_name,
         {**_payload(order), **({"reason": reason} if reason else {})}, shipper_id=order.shipper_id)
    return True


def issue_tracking_token(session: Session, order: Order) -> str:
    token = new_secret("", 24)  # 192 bits
    session.add(TrackingToken(order_id=order.id, token_hash=hash_secret(token)))
    session.flush()
    return token


def order_for_tracking_token(session: Session, settings: Settings, token: str) -> Order:
    row = session.execute(
        select(Order).join(TrackingToken, TrackingToken.order_id == Order.id).where(
            TrackingToken.token_hash == hash_secret(token)
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("tracking link not found")
    if row.completed_at is not None and utcnow() > row.completed_at + timedelta(seconds=settings.tracking_token_ttl_s):
        raise NotFound("tracking link has expired")
    return row


def next_service_day(day: date) -> date:
    """The next day with deliveries after ``day`` (there is no Sunday service)."""
    nxt = day + timedelta(days=1)
    return nxt + timedelta(days=1) if nxt.weekday() == 6 else nxt


def reattempt_on(session: Session, actor: Principal | str, order: Order, day: date, reason: str = "") -> Order:
    """A new attempt of a failed order on ``day``: ``failed -> pending`` through the
    status machine (a history row, the ``order.rescheduled`` event, the webhook outbox),
    its service date set to ``day`` and its time windows moved with it, keeping their
    local clock times in the depot's zone (a 9:00-11:00 window stays 9:00-11:00 across a
    daylight-saving change). Planning then picks it up like any pending order."""
    from zoneinfo import ZoneInfo

    if order.status != "failed":
        raise Conflict(f"an order that is {order.status} cannot be attempted again", field="status")
    depot = session.get(Depot, order.depot_id)
    zone = ZoneInfo(depot.timezone if depot is not None else "UTC")
    shift = day - order.date
    windows = []
    for w in order.windows or []:
        moved = {}
        for k, v in w.items():
            local = datetime.fromisoformat(str(v).replace("Z", "+00:00")).astimezone(zone)
            moved[k] = (local.replace(tzinfo=None) + shift).replace(tzinfo=zone).astimezone(UTC).isoformat()
        windows.append(moved)
    old_day, order.date, order.windows = order.date, day, windows
    transition(session, actor, order, "rescheduled",
               f"new attempt on {day.isoformat()} (was {old_day.isoformat()})" + (f": {reason}" if reason else ""))
    return order


def reattempt_next_day(session: Session, actor: Principal | str, order: Order, after: date,
                       reason: str = "") -> Order:
    """The ``next_day`` reattempt policy: a new attempt on the service day after ``after``
    (the day of the failed attempt)."""
    return reattempt_on(session, actor, order, next_service_day(after), reason)


def unassign(session: Session, actor: Principal | str, order: Order, reason: str = "") -> bool:
    """The order left every live route (a dispatcher moved it off, its driver became
    unavailable ...): ``assigned``/``out_for_delivery -> pending`` with a history row and
    the ``order.unassigned`` event, so planning and the console see it as waiting again.
    Returns False when it was not on a route (already pending)."""
    if order.status == "pending":
        return False
    return transition(session, actor, order, "unassigned", reason or "taken off the route")
