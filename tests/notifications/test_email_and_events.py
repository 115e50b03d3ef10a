"""Order events become customer emails, sent by a real SMTP server (aiosmtpd on a free port)."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import parseaddr

from lastmile.notifications.sender import deliver_due

from .helpers import TOKEN_RE, make_order, move, rows, subject_of


def tracked_order(db, settings, token: str) -> str:
    from lastmile.orders.service import order_for_tracking_token

    with db.session() as s:
        return order_for_tracking_token(s, settings, token).id


def smtp_settings(settings, smtp):
    settings.smtp_host, settings.smtp_port = "127.0.0.1", smtp.port
    settings.notify_quiet_start = settings.notify_quiet_end = ""
    return settings


def parsed(smtp):
    return [message_from_bytes(m.as_bytes(), policy=policy.default) for m in smtp.messages]


def test_confirmed_email_in_spanish_with_a_working_tracking_link(db, client, world, settings, smtp_server):
    s = smtp_settings(settings, smtp_server)
    oid = make_order(client, world, language="es", reference="F-77",
                     contact={"name": "Sra. Núñez", "phone": "+52 867 555 0101", "email": "Nunez@Example.com"})
    move(db, oid, "assigned")
    [row] = rows(db, oid)
    assert (row.kind, row.channel, row.status, row.recipient) == ("confirmed", "email", "queued", "nunez@example.com")

    assert deliver_due(db, s)["sent"] == 1
    [msg] = parsed(smtp_server)
    assert smtp_server.envelopes[0][1] == ["nunez@example.com"]
    assert subject_of(msg) == "Farmacia: tu pedido F-77 está confirmado"
    assert msg["Content-Language"] == "es"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Hola Sra. Núñez" in text and "25/11/2026" in text and "Sigue tu entrega aquí" in text
    token = TOKEN_RE.search(text).group(1)
    assert text.count("http://127.0.0.1:8000/t/") == 1
    # the link works: the token opens this order's tracking view
    r = client.get(f"/track/{token}")
    assert r.status_code == 200 and r.json()["language"] == "es" and r.json()["status"] == "assigned"
    assert tracked_order(db, settings, token) == oid
    # unsubscribe headers for mail apps (RFC 8058)
    assert "/notifications/unsubscribe?token=" in msg["List-Unsubscribe"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [row] = rows(db, oid)
    assert (row.status, row.provider, row.tries) == ("sent", "smtp", 1)
    assert row.provider_id == msg["Message-ID"].strip() and row.sent_at is not None


def test_english_customer_gets_english(db, client, world, settings, smtp_server):
    s = smtp_settings(settings, smtp_server)
    oid = make_order(client, world, language="en", reference="E-1")
    move(db, oid, "assigned")
    deliver_due(db, s)
    [msg] = parsed(smtp_server)
    assert subject_of(msg) == "Farmacia: your order E-1 is confirmed"
    assert parseaddr(msg["To"])[1] == "pena@example.com"


def test_approaching_email_is_sent_exactly_once(db, client, world, settings, smtp_server, published_day):
    """Twice through the status machine (which says 'once'), and twice as a raw event
    (as a second emitter could): one approaching message."""
    from lastmile.dispatch.live import start_route
    from lastmile.dispatch.models import Route
    from lastmile.events.service import emit
    from lastmile.kit.time import utcnow
    from lastmile.orders.models import Order

    s = smtp_settings(settings, smtp_server)
    deliver_due(db, s)  # the six confirmations of the published plan
    assert len(smtp_server.messages) == 6
    route_id = published_day["routes"][world.ids["driver_id1"]]["id"]
    with db.session() as ses:
        start_route(ses, ses.get(Route, route_id), utcnow(), "user:test")
        ses.commit()
    oid = published_day["plan"]["routes"][0]["stops"][0]["order_id"]
    oid = next(st["order_id"] for st in published_day["routes"][world.ids["driver_id1"]]["stops"])
    move(db, oid, "approaching", "approaching")
    with db.session() as ses:
        o = ses.get(Order, oid)
        for _ in range(2):
            emit(ses, o.organization_id, "order.approaching", "order", o.id, "system", {"id": o.id})
        ses.commit()
    deliver_due(db, s)
    approaching = [m for m in parsed(smtp_server) if subject_of(m) == "Farmacia: your driver is nearby"]
    assert len(approaching) == 1
    assert len(rows(db, oid, "approaching")) == 1
    # the route's three orders were told they are out for delivery, each with a window
    ofd = [m for m in parsed(smtp_server) if "is out for delivery" in subject_of(m)]
    assert len(ofd) == 3
    assert all("Expected arrival: between " in m.get_body(("plain",)).get_content() for m in ofd)


def test_out_for_delivery_window_uses_the_live_eta_in_the_depot_zone(db, client, world, settings, smtp_server,
                                                                      published_day):
    from datetime import UTC, datetime

    from sqlalchemy import select

    from lastmile.dispatch.live import start_route
    from lastmile.dispatch.models import Route, RouteStop
    from lastmile.kit.time import utcnow

    smtp_settings(settings, smtp_server)
    route_id = published_day["routes"][world.ids["driver_id1"]]["id"]
    with db.session() as ses:
        for st in ses.scalars(select(RouteStop).where(RouteStop.route_id == route_id)):
            st.eta_at = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # 11:00 in Laredo (CST)
        ses.commit()
        start_route(ses, ses.get(Route, route_id), utcnow(), "user:test")
        ses.commit()
    out = rows(db, kind="out_for_delivery")
    assert len(out) == 3
    # window: the ETA +- notify_eta_window_s (30 min by default), local time
    assert all("Expected arrival: between 10:30 and 11:30." in r.body for r in out), [r.body for r in out]


def test_delivered_and_failed_carry_their_links(db, client, world, settings, smtp_server):
    s = smtp_settings(settings, smtp_server)
    a = make_order(client, world, language="en", reference="D-1")
    b = make_order(client, world, language="es", reference="X-1")
    move(db, a, "assigned", "out_for_delivery", "delivered")
    move(db, b, "assigned", "out_for_delivery", "failed", reason="not_home")
    deliver_due(db, s)
    [delivered] = rows(db, a, "delivered")
    [failed] = rows(db, b, "failed")
    assert "Proof of delivery and rating: http://127.0.0.1:8000/t/" in delivered.body
    assert TOKEN_RE.search(failed.body) and "#reschedule" in failed.body
    assert "Elige otro horario aquí" in failed.body
    assert delivered.status == failed.status == "sent"
    # each message's link is a live tracking token for its own order
    tok = TOKEN_RE.search(failed.body).group(1)
    assert client.get(f"/track/{tok}").json()["status"] == "failed"
    assert tracked_order(db, settings, tok) == b


def test_each_kind_once_per_attempt_and_again_after_a_reschedule(db, client, world, settings):
    oid = make_order(client, world)
    move(db, oid, "assigned", "assigned")  # a re-published plan assigns again
    assert [r.kind for r in rows(db, oid)] == ["confirmed"]
    move(db, oid, "failed", "rescheduled", "assigned")
    got = [(r.kind, r.attempt) for r in rows(db, oid)]
    assert got == [("confirmed", 1), ("failed", 1), ("confirmed", 2)]
