"""Standard Webhooks delivery: outbox rows written with the change, sent after
commit by the worker, signed, retried with exponential backoff for days.

Signature: ``webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``
where the secret is the base64 part of ``whsec_…``. Receivers deduplicate by
``webhook-id`` (one id per event and subscription, the same on every retry)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import random
import secrets
import socket
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import Database
from ..kit.time import utcnow
from .models import WebhookAttempt, WebhookMessage, WebhookSubscription

log = logging.getLogger("lastmile.webhooks")
# seconds to wait after attempt n (1-based); the last value repeats until retry_for_s runs out
BACKOFF_S = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200)
LEASE_S = 120
BATCH = 10  # messages claimed at a time


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


# Signing secrets are stored sealed (Fernet: AES-128-CBC + HMAC-SHA256) under a key
# derived from LASTMILE_SECRET_KEY; the database alone does not reveal them.
_HKDF_INFO = b"lastmile webhook signing secrets v1"


def _fernet_key(server_secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(server_secret.encode())
    return base64.urlsafe_b64encode(raw)


def _sealer(settings: Settings) -> Any:
    from cryptography.fernet import Fernet, MultiFernet

    keys = [settings.secret_key.get_secret_value()]
    if settings.previous_secret_key is not None:
        keys.append(settings.previous_secret_key.get_secret_value())
    return MultiFernet([Fernet(_fernet_key(k)) for k in keys])


def seal_secret(settings: Settings, secret: str) -> str:
    return _sealer(settings).encrypt(secret.encode()).decode()


class SecretUnreadable(Exception):
    """The sealed secret does not open with the configured key(s)."""


def open_secret(settings: Settings, sealed: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return _sealer(settings).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("webhook signing secret cannot be decrypted: LASTMILE_SECRET_KEY changed "
                               "(set LASTMILE_PREVIOUS_SECRET_KEY, or rotate the subscription's secret)") from None


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def backoff_s(attempts: int, jitter: bool = True) -> float:
    base = BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1]
    return base * (random.uniform(0.9, 1.1) if jitter else 1.0)


_ACTIVE_SUBSCRIPTIONS = select(WebhookSubscription.id, WebhookSubscription.events).where(
    WebhookSubscription.shipper_id == bindparam("shipper_id"), WebhookSubscription.active.is_(True))


def write_outbox(session: Session, shipper_id: str, event_id: str, event_type: str, body: str) -> int:
    """One outbox row per active subscription of this shipper that wants this event."""
    # only the two columns needed, and no autoflush: the caller's pending rows are
    # written once, with the rest of its transaction. On the connection, with a
    # statement built once: every order create runs this (the ORM path cost more CPU
    # than the query)
    subs = session.connection().execute(_ACTIVE_SUBSCRIPTIONS, {"shipper_id": shipper_id}).all()
    n = 0
    now = utcnow()
    for sub_id, events in subs:
        if event_type in events:
            session.add(WebhookMessage(subscription_id=sub_id, event_id=event_id, event_type=event_type,
                                       body=body, created_at=now, next_attempt_at=now))
            n += 1
    if n:
        from ..jobs.queue import after_commit, db_ref
        from .tasks import deliver_webhooks_task

        url = session.get_bind().engine.url.render_as_string(hide_password=False)
        after_commit(session, deliver_webhooks_task, db_ref(url))
    return n


def _private_target(url: str) -> bool:
    host = urlparse(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False  # unresolvable: the request fails on its own
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            return True
    return False


def _claim(db: Database, now: datetime, limit: int, lease_s: int = LEASE_S) -> list[str]:
    with db.session() as s:
        ids = list(s.scalars(
            select(WebhookMessage.id)
            .where(WebhookMessage.status == "pending", WebhookMessage.next_attempt_at <= now,
                   or_(WebhookMessage.lease_until.is_(None), WebhookMessage.lease_until < now))
            .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
            .limit(limit)
        ))
        claimed = []
        for mid in ids:
            res = s.execute(
                update(WebhookMessage)
                .where(WebhookMessage.id == mid, WebhookMessage.status == "pending",
                       or_(WebhookMessage.lease_until.is_(None), WebhookMessage.lease_until < now))
                .values(lease_until=now + timedelta(seconds=lease_s))
            )
            if res.rowcount == 1:
                claimed.append(mid)
        s.commit()
    return claimed


def _send(
    client: httpx.Client, settings: Settings, sub: WebhookSubscription, msg: WebhookMessage
) -> tuple[int | None, str, int]:
    """One signed POST. Returns (status code, error or "", milliseconds)."""
    t0 = time.perf_counter()
    status_code: int | None = None
    error = ""
    if not sub.active:
        error = "subscription is disabled"
    elif not settings.webhooks_may_reach_private and _private_target(sub.url):
        error = "receiver address is on a private network"
    else:
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "lastmile-webhooks/1",
            "webhook-id": msg.id,
            "webhook-timestamp": str(ts),
        }
        try:
            headers["webhook-signature"] = sign(open_secret(settings, sub.secret_sealed), msg.id, ts, msg.body)
            resp = client.post(sub.url, content=msg.body.encode(), headers=headers)
            status_code = resp.status_code
            if not 200 <= resp.status_code < 300:
                error = f"HTTP {resp.status_code}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {str(e)[:200]}"
        except SecretUnreadable as e:
            log.error("subscription %s: %s", sub.id, e)
            error = str(e)[:200]
    return status_code, error, int((time.perf_counter() - t0) * 1000)


def deliver_due(
    db: Database, settings: Settings, *, now: datetime | None = None, client: httpx.Client | None = None,
    limit: int = 200,
) -> dict[str, int]:
    """Send every due message once; schedule retries for failures. Returns counts."""
    now = now or utcnow()
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    own = client is None
    client = client or httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False)
    lease_s = max(LEASE_S, int(4 * BATCH * settings.webhook_timeout_s))  # outlives a batch of timeouts
    sent = 0
    try:
        while sent < limit and (batch := _claim(db, now, min(BATCH, limit - sent), lease_s)):
            sent += len(batch)
            for mid in batch:
                outcome = _deliver_one(db, settings, client, mid, now)
                if outcome:
                    counts[outcome] += 1
    finally:
        if own:
            client.close()
    return counts


def _deliver_one(db: Database, settings: Settings, client: httpx.Client, mid: str, now: datetime) -> str | None:
    # read what to send, then let go of the database while the receiver answers
    with db.read_sessions() as s:
        msg = s.get(WebhookMessage, mid)
        sub = s.get(WebhookSubscription, msg.subscription_id) if msg else None
        if msg is None or sub is None:
            return None
        s.expunge_all()
    status_code, error, ms = _send(client, settings, sub, msg)
    with db.session() as s:
        s.add(WebhookAttempt(message_id=mid, subscription_id=sub.id, at=now, status_code=status_code,
                             error=error, duration_ms=ms))
        row = s.get(WebhookMessage, mid)
        assert row is not None
        row.attempts += 1
        row.lease_until = None
        if not error:
            row.status, row.delivered_at, row.last_error = "delivered", now, ""
            outcome = "delivered"
        else:
            row.last_error = error[:500]
            nxt = now + timedelta(seconds=backoff_s(row.attempts))
            if not sub.active or nxt > row.created_at + timedelta(seconds=settings.webhook_retry_for_s):
                row.status, outcome = "failed", "failed"
            else:
                row.next_attempt_at, outcome = nxt, "retry"
        s.commit()
    return outcome
