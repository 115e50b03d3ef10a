"""What live ETAs and the plan job ask of the learned models: the newest travel
factors, and learned dwell times for a route's stops. Both answer "nothing" when no
model has been trained (or it cannot be loaded): callers keep the static model."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..dispatch.models import RouteStop
from ..kit.time import seconds_since_midnight
from ..orders.models import Order
from . import store
from .history import visit_of

_SERVICE: OrderedDict[tuple[str, str], int] = OrderedDict()  # (model id, stop id) -> seconds
_SERVICE_MAX = 50_000
_LOCK = threading.Lock()


def learned_travel(session: Session):
    """The newest travel model (``routing.learned.TravelFactors``) or None."""
    return store.newest(session, "travel")


def learned_service(session: Session, stops: Sequence[RouteStop], day: date, zone: str) -> dict[str, int]:
    """Learned dwell seconds per stop id (asked at the stop's planned arrival), or {}
    without a service model. Kept per model and stop: a stop's answer does not change."""
    model = store.newest(session, "service")
    if model is None or not stops:
        return {}
    out: dict[str, int] = {}
    missing = []
    with _LOCK:
        for st in stops:
            hit = _SERVICE.get((model.id, st.id))
            if hit is None:
                missing.append(st)
            else:
                out[st.id] = hit
    if missing:
        orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_({st.order_id for st in missing})))}
        asked = [(st, orders[st.order_id]) for st in missing if st.order_id in orders]
        visits = [visit_of(o, seconds_since_midnight(st.arrival_at, day, zone), day.weekday()) for st, o in asked]
        secs = model.service_s(visits)
        with _LOCK:
            for (st, _), s in zip(asked, secs):
                out[st.id] = int(s)
                _SERVICE[(model.id, st.id)] = int(s)
            while len(_SERVICE) > _SERVICE_MAX:
                _SERVICE.popitem(last=False)
    return out
