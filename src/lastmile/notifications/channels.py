"""Channels behind one interface: ``send(message) -> provider id`` or ``SendError``.

* ``SmtpEmail`` -- email over SMTP (smtplib);
* ``TwilioSms`` -- SMS through a Twilio-compatible HTTP API (any provider speaking it);
* ``WebPush`` -- Web Push with VAPID (pywebpush);
* ``LogChannel`` -- development: appends to a local outbox file (the rows stay in the
  database too, where ``GET /outbox`` shows them).

A channel knows nothing of orders or the database; ``service.py`` picks one per row."""

from __future__ import annotations

import json
import smtplib
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

import httpx

from ..config import Settings
from ..kit.time import utcnow


@dataclass(frozen=True)
class Outgoing:
    id: str  # the notification id (idempotency key where a provider takes one)
    channel: str  # email | sms | push
    recipient: str  # address, phone, or push endpoint
    subject: str
    body: str
    language: str = "es"
    link: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # email: List-Unsubscribe ...
    push_keys: dict[str, str] = field(default_factory=dict)  # push: p256dh, auth


class SendError(Exception):
    """The provider did not take the message. ``permanent``: retrying cannot help
    (address refused, bad number, push subscription gone)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    provider: str

    def send(self, msg: Outgoing) -> str: ...


class SmtpEmail:
    provider = "smtp"

    def __init__(self, host: str, port: int, sender: str, *, user: str | None = None, password: str | None = None,
                 starttls: bool = False, timeout_s: float = 10.0) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.starttls, self.timeout_s = user, password, starttls, timeout_s

    def build(self, msg: Outgoing) -> EmailMessage:
        m = EmailMessage()
        m["From"] = self.sender
        m["To"] = msg.recipient
        m["Subject"] = msg.subject
        m["Date"] = formatdate(localtime=False)
        m["Message-ID"] = make_msgid(idstring=msg.id, domain="lastmile")
        for k, v in msg.headers.items():
            m[k] = v
        m.set_content(msg.body)
        m["Content-Language"] = msg.language  # after set_content, which drops Content-* headers
        return m

    def send(self, msg: Outgoing) -> str:
        m = self.build(msg)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(m)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [c for c, _ in e.recipients.values()]
            raise SendError(f"recipient refused: {codes}", permanent=all(c >= 500 for c in codes)) from e
        except smtplib.SMTPResponseException as e:
            text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
            raise SendError(f"SMTP {e.smtp_code} {text}"[:300], permanent=e.smtp_code >= 500) from e
        except (smtplib.SMTPException, OSError) as e:
            raise SendError(f"{type(e).__name__}: {e}"[:300]) from e
        return str(m["Message-ID"])


class TwilioSms:
    """``POST <base>/2010-04-01/Accounts/<sid>/Messages.json`` (form: To, From, Body),
    HTTP basic auth with the account sid and auth token; the answer's ``sid`` is the id."""

    provider = "twilio"

    def __init__(self, base_url: str, account_sid: str, auth_token: str, sender: str, *,
                 timeout_s: float = 10.0, client: httpx.Client | None = None) -> None:
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, msg: Outgoing) -> str:
        try:
            r = self.client.post(self.url, auth=self.auth,
                                 data={"To": msg.recipient, "From": self.sender, "Body": msg.body})
        except httpx.HTTPError as e:
            raise SendError(f"{type(e).__name__}: {e}"[:300]) from e
        try:
            data = r.json()
        except ValueError:
            data = {}
        if r.status_code >= 300 or not isinstance(data, dict) or not data.get("sid"):
            detail = data.get("message") if isinstance(data, dict) else None
            permanent = 400 <= r.status_code < 500 and r.status_code not in (408, 429)
            raise SendError(f"HTTP {r.status_code} {detail or ''}".strip()[:300], permanent=permanent)
        if data.get("status") in ("failed", "undelivered"):
            raise SendError(f"provider status {data['status']}: {data.get('error_message') or ''}"[:300],
                            permanent=True)
        return str(data["sid"])


class WebPush:
    """Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption,
    through pywebpush. 404/410 from the push service: the subscription is gone."""

    provider = "webpush"

    def __init__(self, private_key: str, subject: str, *, ttl_s: int = 3600, timeout_s: float = 10.0) -> None:
        self.private_key, self.subject, self.ttl_s, self.timeout_s = private_key, subject, ttl_s, timeout_s

    def send(self, msg: Outgoing) -> str:
        from pywebpush import WebPushException, webpush

        data = json.dumps({"title": msg.subject, "body": msg.body, "url": msg.link}, ensure_ascii=False)
        try:
            resp = webpush(
                subscription_info={"endpoint": msg.recipient, "keys": msg.push_keys},
                data=data, vapid_private_key=self.private_key, vapid_claims={"sub": self.subject},
                ttl=self.ttl_s, timeout=self.timeout_s,
            )
        except WebPushException as e:
            code = e.response.status_code if e.response is not None else None
            raise SendError(f"push service: {code or ''} {e.message}"[:300], permanent=code in (404, 410)) from e
        except Exception as e:  # connection errors come from requests
            raise SendError(f"{type(e).__name__}: {e}"[:300]) from e
        return str(resp.headers.get("location") or resp.status_code)


class LogChannel:
    """Development channel: one JSON line per message in ``<data_dir>/outbox.jsonl``."""

    provider = "log"
    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, msg: Outgoing) -> str:
        line = json.dumps({"id": msg.id, "at": utcnow().isoformat(), "channel": msg.channel, "to": msg.recipient,
                           "subject": msg.subject, "body": msg.body}, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as e:
            raise SendError(f"outbox file: {e}"[:300]) from e
        return f"log:{msg.id}"


def channel_for(settings: Settings, channel: str) -> Channel:
    """The transport for a row's channel under these settings."""
    log = LogChannel(settings.data_dir / "outbox.jsonl")
    if channel == "email" and settings.smtp_host:
        pw = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpEmail(settings.smtp_host, settings.smtp_port, settings.notify_sender, user=settings.smtp_user,
                         password=pw, starttls=settings.smtp_starttls, timeout_s=settings.smtp_timeout_s)
    if (channel == "sms" and settings.sms_provider == "twilio" and settings.twilio_account_sid
            and settings.twilio_auth_token):
        return TwilioSms(settings.twilio_base_url, settings.twilio_account_sid,
                         settings.twilio_auth_token.get_secret_value(), settings.twilio_from,
                         timeout_s=settings.smtp_timeout_s)
    if channel == "push" and settings.vapid_private_key:
        return WebPush(settings.vapid_private_key.get_secret_value(), settings.vapid_subject)
    return log
