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
    try:
        with session.begin_nested():  # a failure here rolls back only the messages, never the event
            notify(session, order, kind)
    except Exception:
        log.exception("could not queue %s message for order %s", kind, order.id)
