"""Send queued notifications: claim due rows (a lease, so two workers never send one
row twice), check opt-out and quiet hours again at send time, hand the message to its
channel, record the outcome. Temporary failures retry with backoff up to
``notify_max_attempts``; then the row is ``failed`` with the last error. Nothing is
deleted: every row stays in the log with its status, provider id and error."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from ..config import Settings
from ..db import Database
from ..depots.models import Depot
from ..kit.time import utcnow
from ..orders.models import Order
from .channels import Channel, Outgoing, SendError, channel_for
from .models import Notification, PushSubscription
from .service import ONLY_WHILE, STALE_IN_QUIET, is_opted_out, quiet_until, unsubscribe_token

log = logging.getLogger("lastmile.notifications")
BACKOFF_S = (30, 120, 600, 1800, 7200)
LEASE_S = 300
BATCH = 50


def backoff_s(tries: int) -> int:
    return BACKOFF_S[min(tries, len(BACKOFF_S)) - 1]


def _claim(db: Database, now: datetime, limit: int) -> list[str]:
    with db.session() as s:
        ids = list(s.scalars(
            select(Notification.id)
            .where(Notification.status == "queued", Notification.next_attempt_at <= now,
                   or_(Notification.lease_until.is_(None), Notification.lease_until < now))
            .order_by(Notification.next_attempt_at, Notification.id).limit(limit)))
        claimed = []
        for nid in ids:
            res = s.execute(
                update(Notification)
                .where(Notification.id == nid, Notification.status == "queued",
                       or_(Notification.lease_until.is_(None), Notification.lease_until < now))
                .values(lease_until=now + timedelta(seconds=LEASE_S)))
            if res.rowcount == 1:
                claimed.append(nid)
        s.commit()
    return claimed


def deliver_due(db: Database, settings: Settings, *, now: datetime | None = None, limit: int = 500,
                channels: dict[str, Channel] | None = None) -> dict[str, int]:
    """Send every due row once. Returns counts by outcome (sent, retry, failed,
    suppressed, held)."""
    now = now or utcnow()
    counts = {"sent": 0, "retry": 0, "failed": 0, "suppressed": 0, "held": 0}
    done = 0
    while done < limit and (batch := _claim(db, now, min(BATCH, limit - done))):
        done += len(batch)
        for nid in batch:
            outcome = _deliver_one(db, settings, nid, now, channels or {})
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _deliver_one(db: Database, settings: Settings, nid: str, now: datetime, channels: dict[str, Channel]) -> str:
    # decide and read with a short session, then let go of the database while sending
    with db.read_sessions() as s:
        n = s.get(Notification, nid)
        assert n is not None
        order = s.get(Order, n.order_id)
        depot = s.get(Depot, order.depot_id) if order else None
        zone = depot.timezone if depot else "America/Chicago"
        opted_out = is_opted_out(s, n.order_id, n.channel, n.recipient)
        push = s.get(PushSubscription, n.recipient) if n.channel == "push" else None
        order_status = order.status if order else ""
        s.expunge_all()
    held_until = quiet_until(settings, zone, now)
    outcome, provider, provider_id, error, retry_at = "", "", "", "", None
    gone = False  # the push service says the subscription no longer exists
    if opted_out:
        outcome, error = "suppressed", "opted out"
    elif n.kind in ONLY_WHILE and order_status not in ONLY_WHILE[n.kind]:
        outcome, error = "suppressed", f"stale: the order is {order_status}"
    elif n.channel == "push" and push is None:
        outcome, error = "suppressed", "push subscription removed"
    elif held_until is not None and n.kind in STALE_IN_QUIET:
        outcome, error = "suppressed", "stale: came due in quiet hours"
    elif held_until is not None:
        outcome, retry_at = "held", held_until
    else:
        channel = channels.get(n.channel) or channel_for(settings, n.channel)
        provider = channel.provider
        try:
            provider_id = channel.send(_outgoing(settings, n, push))
            outcome = "sent"
        except SendError as e:
            error = str(e)[:500]
            gone = e.permanent and n.channel == "push"
            if e.permanent or n.tries + 1 >= settings.notify_max_attempts:
                outcome = "failed"
            else:
                outcome, retry_at = "retry", now + timedelta(seconds=backoff_s(n.tries + 1))
        except Exception as e:  # a channel bug must not leave the row leased forever
            log.exception("notification %s: channel %s failed", nid, provider)
            error = f"{type(e).__name__}: {e}"[:500]
            outcome, retry_at = "retry", now + timedelta(seconds=backoff_s(n.tries + 1))
            if n.tries + 1 >= settings.notify_max_attempts:
                outcome = "failed"
    with db.session() as s:
        row = s.get(Notification, nid)
        assert row is not None
        row.lease_until = None
        if outcome == "held":
            row.next_attempt_at = retry_at
        else:
            if outcome != "suppressed":
                row.tries += 1
                row.provider = provider
            row.error = error
            if outcome == "sent":
                row.status, row.provider_id, row.sent_at = "sent", provider_id[:200], now
            elif outcome in ("failed", "suppressed"):
                row.status = outcome
            else:
                row.next_attempt_at = retry_at
            if outcome == "failed" and push is not None and gone:
                s.execute(PushSubscription.__table__.delete().where(PushSubscription.id == push.id))
        s.commit()
    log.info("notification %s %s %s via %s: %s %s", nid, n.kind, n.channel, provider or "-", outcome, error)
    return outcome


def _outgoing(settings: Settings, n: Notification, push: PushSubscription | None) -> Outgoing:
    headers: dict[str, str] = {}
    if n.channel == "email":
        url = f"{settings.public_url.rstrip('/')}/notifications/unsubscribe?token=" + \
            unsubscribe_token(settings, "email", n.recipient)
        headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    link = ""
    for word in n.body.split():
        if "/t/" in word:
            link = word
            break
    if push is not None:
        return Outgoing(id=n.id, channel="push", recipient=push.endpoint, subject=n.subject, body=n.body,
                        language=n.language, link=link, push_keys={"p256dh": push.p256dh, "auth": push.auth})
    return Outgoing(id=n.id, channel=n.channel, recipient=n.recipient, subject=n.subject, body=n.body,
                    language=n.language, link=link, headers=headers)
