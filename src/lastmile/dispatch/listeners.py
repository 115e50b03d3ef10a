"""Event listeners of dynamic re-optimization (run inside the emitting transaction).

Each works in a savepoint: whatever goes wrong is logged and rolled back to where the
event was emitted -- the change that emitted it is never lost."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from ..events.models import Event
from ..events.service import on
from ..orders.models import Order

log = logging.getLogger("lastmile.dispatch.listeners")


def _guarded(session: Session, ev: Event, fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        with session.begin_nested():
            fn(session, *args)
    except Exception:
        log.exception("re-optimization on %s %s failed", ev.type, ev.id)


@on("order.created")
def new_order(session: Session, ev: Event) -> None:
    from .proposals import on_new_order

    order = session.get(Order, ev.subject_id)
    if order is not None and _day_is_live(session, order):
        _guarded(session, ev, lambda s, o: on_new_order(s, o), order)


def _day_is_live(session: Session, order: Order) -> bool:
    """One indexed look-up before any savepoint: most orders are created for a day that
    has no published plan yet (overnight, imports), and the create path is the API's
    hottest -- it must not pay a savepoint and the live-day queries for nothing."""
    from sqlalchemy import select

    from .models import Plan

    with session.no_autoflush:
        return session.scalar(select(Plan.id).where(
            Plan.organization_id == order.organization_id, Plan.date == order.date,
            Plan.status == "published").limit(1)) is not None


@on("order.cancelled")
def cancelled(session: Session, ev: Event) -> None:
    from .proposals import on_cancelled

    order = session.get(Order, ev.subject_id)
    if order is not None:
        _guarded(session, ev, lambda s, o: on_cancelled(s, o, actor=ev.actor), order)


@on("stop.failed")
def failed(session: Session, ev: Event) -> None:
    from .proposals import on_failed

    order = session.get(Order, (ev.data or {}).get("order_id", ""))
    if order is not None:
        _guarded(session, ev, lambda s, o: on_failed(s, o), order)


@on("shift.")
def shift_changed(session: Session, ev: Event) -> None:
    """If fleet/ emits shift events: a shift made unavailable redistributes its live routes."""
    if (ev.data or {}).get("available") is not False:
        return
    from sqlalchemy import select

    from .models import Route
    from .proposals import redistribute

    for route in session.scalars(select(Route).where(Route.shift_id == ev.subject_id, Route.published.is_(True),
                                                     Route.status != "finished")):
        _guarded(session, ev, lambda s, r: redistribute(s, r, trigger=ev.type), route)
