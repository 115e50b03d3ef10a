"""The console's lookups: ``GET /alerts`` (what needs attention on a day) and
``GET /search`` (an order by reference, customer name, phone or address). Staff only."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..depots.models import Depot
from ..kit.schema import ServiceDate
from ..kit.time import utcnow
from ..kit.web import get_session
from ..orders.models import Order
from .alerts import compute_alerts
from .models import Plan, Route, RouteStop

router = APIRouter(tags=["dispatch"])
SessionDep = Annotated[Session, Depends(get_session)]
staff = allow("admin", "dispatcher")
SEARCH_LIMIT = 20


def _today(session: Session, organization_id: str) -> date:
    """The service date now at the organization's first depot (UTC without depots)."""
    zone = session.scalar(select(Depot.timezone).where(Depot.organization_id == organization_id).order_by(Depot.id))
    try:
        return utcnow().astimezone(ZoneInfo(zone)).date() if zone else utcnow().date()
    except (KeyError, ValueError):
        return utcnow().date()


@router.get("/alerts")
def list_alerts(
    session: SessionDep, p: Principal = Depends(staff), date: Annotated[ServiceDate | None, Query()] = None
) -> dict[str, Any]:
    """Stops about to miss (or missing) their window, failed attempts, drivers offline
    or idle, customer messages waiting -- each with the route and stop to open."""
    day = date or _today(session, p.organization_id)
    return {"date": day.isoformat(), "generated_at": utcnow().isoformat().replace("+00:00", "Z"),
            "alerts": compute_alerts(session, p.organization_id, day)}


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


@router.get("/search")
def search(
    q: Annotated[str, Query(min_length=2, max_length=100)],
    session: SessionDep,
    p: Principal = Depends(staff),
    limit: Annotated[int, Query(ge=1, le=50)] = SEARCH_LIMIT,
) -> dict[str, Any]:
    """Orders whose reference, customer name, phone or address contains ``q`` (case
    insensitive; a phone matches whatever its punctuation), newest first, with the
    published route and stop that serve them."""
    q = q.strip()
    if "\x00" in q:
        q = q.replace("\x00", "")
    like = _like(q)
    conds = [Order.reference.ilike(like, escape="\\"), Order.contact_name.ilike(like, escape="\\"),
             Order.address.ilike(like, escape="\\"), Order.contact_phone.ilike(like, escape="\\"), Order.id == q]
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 4 and len(digits) >= len(q.replace(" ", "")) - 3:  # a phone number, however written
        conds.append(Order.contact_phone.like("%" + "%".join(digits) + "%"))
    orders = session.scalars(
        select(Order).where(Order.organization_id == p.organization_id, or_(*conds))
        .order_by(Order.date.desc(), Order.id.desc()).limit(limit)
    ).all()
    stops: dict[str, tuple[str, str]] = {}
    if orders:
        for stop_id, route_id, order_id in session.execute(
            select(RouteStop.id, RouteStop.route_id, RouteStop.order_id)
            .join(Route, Route.id == RouteStop.route_id).join(Plan, Plan.id == Route.plan_id)
            .where(RouteStop.order_id.in_([o.id for o in orders]), Route.published.is_(True))
            .order_by(Plan.created_at)
        ):
            stops[order_id] = (route_id, stop_id)  # the latest published plan wins
    results = []
    for o in orders:
        route_id, stop_id = stops.get(o.id, (None, None))
        results.append({
            "order_id": o.id, "reference": o.reference, "status": o.status, "date": o.date.isoformat(),
            "contact_name": o.contact_name, "contact_phone": o.contact_phone, "address": o.address,
            "lat": o.lat, "lon": o.lon, "route_id": route_id, "stop_id": stop_id,
        })
    return {"q": q, "results": results}

