"""Reading the event log: GET /events, newest last, keyset-paged by event id.

Staff (admin, dispatcher) read every event of their organization. A shipper (API
key) reads only events about its own orders (subject_type ``order``), without the
actor (staff and driver identities are the fleet's business); drivers and
customers have no access (drivers see their route, customers their tracking page).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..errors import Invalid
from ..kit.pagination import Page, keyset_page
from ..kit.schema import Id, Timestamp
from ..kit.web import get_session
from .models import Event
from .schemas import EventOut

router = APIRouter(tags=["events"])
SessionDep = Annotated[Session, Depends(get_session)]


@router.get("/events", response_model=Page[EventOut])
def list_events(
    session: SessionDep,
    p: Principal = Depends(allow("admin", "dispatcher", "shipper")),
    order_id: Annotated[Id | None, Query(description="Only events about this order")] = None,
    type: Annotated[str | None, Query(max_length=60, pattern=r"^[a-z_]+(\.[a-z_]+)*$",
                                      description="Event type, e.g. order.delivered")] = None,
    since: Annotated[Timestamp | None, Query(description="At or after this instant (with offset)")] = None,
    until: Annotated[Timestamp | None, Query(description="Before this instant (with offset)")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EventOut]:
    if since is not None and until is not None and until <= since:
        raise Invalid("until must be after since", field="until")
    q = select(Event).where(Event.organization_id == p.organization_id)
    if p.role == "shipper":
        from ..orders.models import Order

        own = select(Order.id).where(Order.shipper_id == p.shipper_id, Order.organization_id == p.organization_id)
        q = q.where(Event.subject_type == "order", Event.subject_id.in_(own))
    if order_id is not None:
        q = q.where(Event.subject_type == "order", Event.subject_id == order_id)
    if type is not None:
        q = q.where(Event.type == type)
    if since is not None:
        q = q.where(Event.at >= since)
    if until is not None:
        q = q.where(Event.at < until)
    rows, nxt = keyset_page(session, q, Event.id, cursor, limit)
    items = [EventOut.model_validate(r) for r in rows]
    if p.role == "shipper":
        for item in items:
            item.actor = None
    return Page[EventOut](items=items, next_cursor=nxt)
