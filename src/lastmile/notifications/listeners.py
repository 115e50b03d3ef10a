"""Order events -> customer messages, queued in the emitting transaction."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from ..events.models import Event
from ..events.service import on
from ..orders.models import Order
from .service import notify

log = logging.getLogger("lastmile.notifications")
KIND_FOR_EVENT = {
    "order.assigned": "confirmed",
    "order.out_for_delivery": "out_for_delivery",
    "order.approaching": "approaching",
    "order.delivered": "delivered",
    "order.failed": "failed",
}


@on("order.")
def queue_customer_message(session: Session, event: Event) -> None:
    kind = KIND_FOR_EVENT.get(event.type)
    if kind is None or event.subject_type != "order":
        return
    order = session.get(Order, event.subject_id)
    if order is None:
        log.warning("event %s names order %s, which does not exist", event.id, event.subject_id)
        return
    # No savepoint around this: SQLAlchemy fires the session's after_commit hook when a
    # savepoint is released, which would enqueue this transaction's jobs (ours and the
    # emitter's webhook deliveries) before the real commit. Inserts use ON CONFLICT DO
    # NOTHING instead, so a repeated event cannot fail the emitter's transaction.
    try:
        notify(session, order, kind)
    except Exception:
        log.exception("could not queue %s message for order %s", kind, order.id)
