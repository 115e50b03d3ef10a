"""Event listeners of dynamic re-optimization (run inside the emitting transaction).

Each works in a savepoint: whatever goes wrong is logged and rolled back to where the
event was emitted -- the change that emitted it is never lost."""

from __future__ import annotations

import logging
from datetime import date

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

    day = _event_day(ev)
    if day is not None and not _day_is_live(session, ev.organization_id, day):
        return  # the common case: read from the event, the order itself is not loaded
    order = session.get(Order, ev.subject_id)
    if order is not None and (day is not None or _day_is_live(session, order.organization_id, order.date)):
        _guarded(session, ev, lambda s, o: on_new_order(s, o), order)


def _event_day(ev: Event) -> date | None:
    try:
        return date.fromisoformat((ev.data or {})["date"])
    except (KeyError, TypeError, ValueError):
        return None


def _day_is_live(session: Session, organization_id: str, day: date) -> bool:
    """One indexed look-up before any savepoint: most orders are created for a day that
    has no published plan yet (overnight, imports), and the create path is the API's
    hottest -- it must not pay a savepoint and the live-day queries for nothing."""
    global _live_plan
    if _live_plan is None:  # built once, run on the connection: no ORM path, no autoflush
        from sqlalchemy import bindparam, select

        from .models import Plan

        _live_plan = select(Plan.id).where(Plan.organization_id == bindparam("org"), Plan.date == bindparam("day"),
                                           Plan.status == "published").limit(1)
    return session.connection().execute(_live_plan, {"org": organization_id, "day": day}).first() is not None


_live_plan = None


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
