"""Order queries, always inside the caller's organization (and shipper)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..dispatch.models import Route, RouteStop
from ..errors import NotFound
from .models import Order


def visible_orders(p: Principal, q: Select | None = None) -> Select:
    """``q`` (default: ``select(Order)``) narrowed to the orders ``p`` may see."""
    q = (select(Order) if q is None else q).where(Order.organization_id == p.organization_id)
    if p.role == "shipper":
        q = q.where(Order.shipper_id == p.shipper_id)
    elif p.role == "driver":
        on_my_routes = (
            select(RouteStop.order_id)
            .join(Route, Route.id == RouteStop.route_id)
            .where(Route.driver_id == (p.driver_id or ""), Route.published.is_(True))
        )
        q = q.where(Order.id.in_(on_my_routes))
    return q


def get_order(session: Session, p: Principal, order_id: str, *, for_update: bool = False) -> Order:
    q = visible_orders(p).where(Order.id == order_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    order = session.scalar(q)
    if order is None:
        raise NotFound("order not found")
    return order


def list_orders(
    session: Session,
    p: Principal,
    *,
    day: date | None,
    status: str | None,
    depot_id: str | None,
    shipper_id: str | None,
    after: str | None,
    limit: int,
) -> list[Row[Any]]:
    """Rows with every order column, as attributes (``row.status``): no ORM objects,
    which cost more to build than the rest of a page. On PostgreSQL the one
    SELECT runs without BEGIN/ROLLBACK round trips (autocommit)."""
    q = visible_orders(p, select(*Order.__table__.c))
    if day is not None:
        q = q.where(Order.date == day)
    if status is not None:
        q = q.where(Order.status == status)
    if depot_id is not None:
        q = q.where(Order.depot_id == depot_id)
    if shipper_id is not None:
        q = q.where(Order.shipper_id == shipper_id)
    if after is not None:
        q = q.where(Order.id > after)
    q = q.order_by(Order.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        conn = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    else:
        conn = session.connection()
    return list(conn.execute(q).all())
