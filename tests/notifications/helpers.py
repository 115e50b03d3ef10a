"""Small helpers shared by the notification tests."""

from __future__ import annotations

import re
from email.message import Message

from sqlalchemy import select

from tests.server.conftest import order_body

TOKEN_RE = re.compile(r"/t/([A-Za-z0-9_\-]{16,})")


def make_order(client, world, **over) -> str:
    body = order_body(world, shipper_id=world.ids["shipper"], **over)
    r = client.post("/orders", json=body, headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def move(db, order_id: str, *events: str, reason: str = "") -> None:
    """Drive the order through its status machine, committing each step (as an endpoint would)."""
    from lastmile.orders.models import Order
    from lastmile.orders.service import transition

    for ev in events:
        with db.session() as s:
            transition(s, "user:test", s.get(Order, order_id), ev, reason)
            s.commit()


def rows(db, order_id: str | None = None, kind: str | None = None) -> list:
    from lastmile.notifications.models import Notification

    with db.session() as s:
        q = select(Notification).order_by(Notification.created_at, Notification.id)
        if order_id:
            q = q.where(Notification.order_id == order_id)
        if kind:
            q = q.where(Notification.kind == kind)
        out = list(s.scalars(q))
        s.expunge_all()
        return out


def text_of(msg: Message) -> str:
    part = msg.get_body(preferencelist=("plain",)) if hasattr(msg, "get_body") else None
    if part is None:
        payload = msg.get_payload(decode=True)
        return payload.decode(msg.get_content_charset() or "utf-8")
    return part.get_content()


def subject_of(msg: Message) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(msg["Subject"])))
