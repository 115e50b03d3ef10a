"""When and whether a queued message goes out: quiet hours, opt-outs, retries."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from lastmile.kit.time import utcnow
from lastmile.notifications.sender import BACKOFF_S, deliver_due

from .helpers import make_order, move, rows

CHICAGO = ZoneInfo("America/Chicago")


def smtp(settings, server, quiet=False):
    settings.smtp_host, settings.smtp_port = "127.0.0.1", server.port
    if not quiet:
        settings.notify_quiet_start = settings.notify_quiet_end = ""
    return settings


def next_local(hour: int, minute: int = 0, after: datetime | None = None) -> datetime:
    """The next ``hour:minute`` in Laredo after ``after`` (default now), as UTC."""
    base = (after or utcnow()).astimezone(CHICAGO)
    at = base.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= base:
        at += timedelta(days=1)
    return at.astimezone(ZoneInfo("UTC"))


def test_quiet_hours_hold_a_message_until_they_end(db, client, world, settings, smtp_server):
    s = smtp(settings, smtp_server, quiet=True)  # 21:00-08:00 at the depot (America/Chicago)
    oid = make_order(client, world)
    move(db, oid, "assigned")
    night = next_local(23, 30)
    morning = next_local(8, 0, after=night)
    assert deliver_due(db, s, now=night) == {"sent": 0, "retry": 0, "failed": 0, "suppressed": 0, "held": 1}
    [row] = rows(db, oid)
    assert row.status == "queued" and row.next_attempt_at == morning and row.tries == 0
    assert smtp_server.messages == []
    assert deliver_due(db, s, now=morning - timedelta(seconds=1))["sent"] == 0  # not due yet
    assert deliver_due(db, s, now=morning)["sent"] == 1
    [row] = rows(db, oid)
    assert row.status == "sent" and len(smtp_server.messages) == 1


def test_approaching_and_delivered_in_quiet_hours_are_dropped_as_stale(db, client, world, settings, smtp_server):
    from lastmile.notifications.service import notify
    from lastmile.orders.models import Order

    s = smtp(settings, smtp_server, quiet=True)
    oid = make_order(client, world)
    with db.session() as ses:
        order = ses.get(Order, oid)
        for kind in ("approaching", "delivered", "failed"):
            notify(ses, order, kind)
        ses.commit()
    out = deliver_due(db, s, now=next_local(22, 0))
    assert out["suppressed"] == 2 and out["held"] == 1
    by_kind = {r.kind: r for r in rows(db, oid)}
    assert by_kind["approaching"].status == by_kind["delivered"].status == "suppressed"
    assert by_kind["approaching"].error.startswith("stale")
    assert by_kind["failed"].status == "queued"  # the reschedule link still matters in the morning
    assert smtp_server.messages == []


def test_per_order_opt_out_suppresses(db, client, world, settings, smtp_server):
    from lastmile.notifications.service import set_opt_out
    from lastmile.orders.models import Order

    s = smtp(settings, smtp_server)
    oid = make_order(client, world)
    with db.session() as ses:
        set_opt_out(ses, ses.get(Order, oid), "email", True)
        ses.commit()
    move(db, oid, "assigned")
    [row] = rows(db, oid)
    assert (row.status, row.error) == ("suppressed", "opted out")
    assert deliver_due(db, s)["sent"] == 0 and smtp_server.messages == []
    # changing one's mind: messages again (the next kind)
    with db.session() as ses:
        set_opt_out(ses, ses.get(Order, oid), "email", False)
        ses.commit()
    move(db, oid, "out_for_delivery")
    assert deliver_due(db, s)["sent"] == 1


def test_opt_out_after_queueing_still_suppresses_at_send_time(db, client, world, settings, smtp_server):
    from lastmile.notifications.service import set_opt_out
    from lastmile.orders.models import Order

    s = smtp(settings, smtp_server)
    oid = make_order(client, world)
    move(db, oid, "assigned")
    with db.session() as ses:
        set_opt_out(ses, ses.get(Order, oid), "all", True)
        ses.commit()
    assert deliver_due(db, s)["suppressed"] == 1
    assert rows(db, oid)[0].status == "suppressed" and smtp_server.messages == []


def test_email_unsubscribe_link_stops_later_messages(db, client, world, settings, smtp_server):
    from email import message_from_bytes, policy
    from urllib.parse import urlsplit

    s = smtp(settings, smtp_server)
    a = make_order(client, world)
    move(db, a, "assigned")
    deliver_due(db, s)
    msg = message_from_bytes(smtp_server.messages[0].as_bytes(), policy=policy.default)
    link = urlsplit(msg["List-Unsubscribe"].strip("<> "))
    page = client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200 and "pena@example.com" in page.text and "<form method='post'>" in page.text
    assert client.post(f"{link.path}?{link.query}").status_code == 200
    b = make_order(client, world)  # another order, same address: STOP holds for the address
    move(db, b, "assigned")
    assert rows(db, b)[0].status == "suppressed"
    bad = client.post("/notifications/unsubscribe?token=cGVuYQ.0000")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "token"


def test_failing_smtp_retries_with_backoff_then_fails_and_keeps_the_message(db, client, world, settings, smtp_server):
    s = smtp(settings, smtp_server)
    s.notify_max_attempts = 3
    smtp_server.fail_next = 100  # 451 for every DATA
    oid = make_order(client, world)
    move(db, oid, "assigned")
    now = utcnow()
    assert deliver_due(db, s, now=now)["retry"] == 1
    [row] = rows(db, oid)
    assert row.status == "queued" and row.tries == 1 and row.error.startswith("SMTP 451")
    assert row.next_attempt_at == now + timedelta(seconds=BACKOFF_S[0])
    assert deliver_due(db, s, now=now + timedelta(seconds=BACKOFF_S[0] - 1))["retry"] == 0  # backoff respected
    now += timedelta(seconds=BACKOFF_S[0])
    assert deliver_due(db, s, now=now)["retry"] == 1
    now += timedelta(seconds=BACKOFF_S[1])
    assert deliver_due(db, s, now=now)["failed"] == 1
    [row] = rows(db, oid)
    assert (row.status, row.tries, row.provider) == ("failed", 3, "smtp")
    assert "451" in row.error and "Farmacia" in row.subject and "/t/" in row.body  # nothing lost
    assert smtp_server.refused == 3 and smtp_server.messages == []
    assert deliver_due(db, s, now=now + timedelta(days=1))["failed"] == 0  # failed is final


def test_smtp_recovering_delivers_on_a_retry(db, client, world, settings, smtp_server):
    s = smtp(settings, smtp_server)
    smtp_server.fail_next = 2
    oid = make_order(client, world)
    move(db, oid, "assigned")
    now = utcnow()
    for step in (0, BACKOFF_S[0], BACKOFF_S[1]):
        now += timedelta(seconds=step)
        deliver_due(db, s, now=now)
    [row] = rows(db, oid)
    assert (row.status, row.tries) == ("sent", 3) and len(smtp_server.messages) == 1


def test_smtp_server_down_is_a_temporary_failure(db, client, world, settings):
    from tests.notifications.conftest import free_port

    settings.smtp_host, settings.smtp_port = "127.0.0.1", free_port()  # nobody listens
    settings.notify_quiet_start = settings.notify_quiet_end = ""
    oid = make_order(client, world)
    move(db, oid, "assigned")
    assert deliver_due(db, settings)["retry"] == 1
    [row] = rows(db, oid)
    assert row.status == "queued" and "ConnectionRefused" in row.error


def test_permanent_refusal_fails_at_once(db, client, world, settings, smtp_server):
    s = smtp(settings, smtp_server)
    oid = make_order(client, world)
    move(db, oid, "assigned")

    async def refuse(server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such user"

    smtp_server.handle_RCPT = refuse
    assert deliver_due(db, s)["failed"] == 1
    [row] = rows(db, oid)
    assert row.status == "failed" and row.tries == 1 and "550" in row.error


def test_without_smtp_email_goes_to_the_dev_outbox(db, client, world, settings):
    import json

    settings.notify_quiet_start = settings.notify_quiet_end = ""
    oid = make_order(client, world)
    move(db, oid, "assigned")
    assert deliver_due(db, settings)["sent"] == 1
    [row] = rows(db, oid)
    assert (row.provider, row.provider_id) == ("log", f"log:{row.id}")
    lines = (settings.data_dir / "outbox.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["to"] == "pena@example.com"


def test_two_workers_never_send_one_message_twice(db, client, world, settings, smtp_server):
    import threading

    s = smtp(settings, smtp_server)
    for _ in range(6):
        move(db, make_order(client, world), "assigned")
    results = []
    threads = [threading.Thread(target=lambda: results.append(deliver_due(db, s))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["sent"] for r in results) == 6 and len(smtp_server.messages) == 6


def test_a_message_that_comes_due_after_the_moment_passed_is_not_sent(db, client, world, settings, smtp_server):
    """'The driver is nearby' still queued (SMTP was down) when the parcel is delivered: dropped."""
    s = smtp(settings, smtp_server)
    oid = make_order(client, world)
    move(db, oid, "assigned")
    deliver_due(db, s)  # confirmed sent
    smtp_server.fail_next = 2  # out_for_delivery and approaching both fail once
    move(db, oid, "out_for_delivery", "approaching")
    now = utcnow()
    assert deliver_due(db, s, now=now)["retry"] == 2
    move(db, oid, "delivered")
    out = deliver_due(db, s, now=now + timedelta(seconds=BACKOFF_S[0]))
    assert out["suppressed"] == 2 and out["sent"] == 1
    by_kind = {r.kind: r for r in rows(db, oid)}
    assert by_kind["approaching"].status == by_kind["out_for_delivery"].status == "suppressed"
    assert by_kind["approaching"].error == "stale: the order is delivered"
    assert by_kind["delivered"].status == "sent"
