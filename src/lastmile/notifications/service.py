"""Customer notification rules: who gets which message on which channel, in which
words; opt-outs; quiet hours. Services flush, never commit; sending happens after
commit (``sender.py``, run by ``tasks.py``).

Once per order, attempt, kind and channel: the row's ``dedupe_key`` is unique and
rows are inserted with ON CONFLICT DO NOTHING, so a repeated event (an "approaching"
emitted twice, a re-published plan re-assigning an order) sends nothing new.
The attempt is 1 + the order's reschedules: a rescheduled order gets its messages again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..auth.models import Organization, Shipper
from ..config import Settings, get_settings
from ..depots.models import Depot
from ..dispatch.models import Route, RouteStop
from ..errors import Invalid
from ..events.models import Event
from ..kit.ids import new_id
from ..kit.time import utcnow
from ..orders.models import Order
from . import templates
from .models import CHANNELS, KINDS, ContactOptOut, Notification, OrderOptOut, PushSubscription

log = logging.getLogger("lastmile.notifications")
# Sent during quiet hours these would be wrong by morning (the driver came and went):
# they are suppressed as stale. Everything else waits for the quiet hours to end.
STALE_IN_QUIET = ("approaching", "delivered")
# ...and these only make sense while the order is still on its way: one that comes due
# (a retry, a queue backlog) after the driver has been is suppressed as stale.
ONLY_WHILE = {"out_for_delivery": ("out_for_delivery",), "approaching": ("out_for_delivery",)}
OPT_OUT_CHANNELS = (*CHANNELS, "all")


# -- addresses -------------------------------------------------------------------

def normalize_email(email: str) -> str:
    return email.strip().lower()


def normalize_phone(phone: str) -> str:
    """``+1 956 555 0100`` -> ``+19565550100`` (E.164 digits; the country code must be given)."""
    digits = re.sub(r"\D", "", phone)
    return f"+{digits}" if digits else ""


def contact_for(channel: str, recipient: str) -> str:
    return normalize_email(recipient) if channel == "email" else normalize_phone(recipient)


def targets(session: Session, settings: Settings, order: Order) -> list[tuple[str, str, str]]:
    """(channel, recipient, key suffix) for this order: email if there is an address,
    SMS if there is a phone (and no email, unless both are configured), and every
    web-push subscription of the order when VAPID keys are set."""
    out: list[tuple[str, str, str]] = []
    email = normalize_email(order.contact_email or "")
    phone = normalize_phone(order.contact_phone or "")
    if email:
        out.append(("email", email, ""))
    if phone and (settings.notify_both_channels or not email):
        out.append(("sms", phone, ""))
    if settings.vapid_private_key is not None:
        with session.no_autoflush:
            subs = session.scalars(select(PushSubscription.id).where(PushSubscription.order_id == order.id)).all()
        out += [("push", sid, f":{sid}") for sid in subs]
    return out


# -- opt-outs --------------------------------------------------------------------

def set_opt_out(session: Session, order: Order, channel: str, value: bool) -> None:
    """The customer's per-order choice (tracking page): no messages on ``channel``
    (email | sms | push | all) for this order when ``value``; messages again when not."""
    if channel not in OPT_OUT_CHANNELS:
        raise Invalid(f"channel must be one of {', '.join(OPT_OUT_CHANNELS)}", field="channel")
    exists = session.scalar(select(OrderOptOut.id).where(OrderOptOut.order_id == order.id,
                                                         OrderOptOut.channel == channel))
    if value and exists is None:
        session.add(OrderOptOut(order_id=order.id, channel=channel))
    elif not value and exists is not None:
        session.execute(delete(OrderOptOut).where(OrderOptOut.id == exists))
    session.flush()


def order_opt_outs(session: Session, order_id: str) -> set[str]:
    return set(session.scalars(select(OrderOptOut.channel).where(OrderOptOut.order_id == order_id)))


def set_contact_opt_out(session: Session, channel: str, recipient: str, value: bool) -> str:
    """STOP / unsubscribe for an address on a channel, whatever the order. Returns the
    normalized contact."""
    if channel not in ("email", "sms"):
        raise Invalid("channel must be email or sms", field="channel")
    contact = contact_for(channel, recipient)
    if not contact:
        raise Invalid("no address", field="contact")
    exists = session.scalar(select(ContactOptOut.id).where(ContactOptOut.channel == channel,
                                                           ContactOptOut.contact == contact))
    if value and exists is None:
        session.add(ContactOptOut(channel=channel, contact=contact))
    elif not value and exists is not None:
        session.execute(delete(ContactOptOut).where(ContactOptOut.id == exists))
    session.flush()
    return contact


def is_opted_out(session: Session, order_id: str, channel: str, recipient: str) -> bool:
    with session.no_autoflush:
        if order_opt_outs(session, order_id) & {channel, "all"}:
            return True
        if channel in ("email", "sms"):
            return session.scalar(select(ContactOptOut.id).where(
                ContactOptOut.channel == channel, ContactOptOut.contact == contact_for(channel, recipient))) is not None
    return False


def unsubscribe_token(settings: Settings, channel: str, contact: str) -> str:
    """A link token naming one address on one channel, signed with the server key."""
    payload = base64.urlsafe_b64encode(f"{channel}:{contact}".encode()).decode().rstrip("=")
    return f"{payload}.{_sign(settings, payload)}"


def read_unsubscribe_token(settings: Settings, token: str) -> tuple[str, str]:
    payload, _, sig = token.partition(".")
    if not payload or not hmac.compare_digest(sig.encode(), _sign(settings, payload).encode()):
        raise Invalid("this unsubscribe link is not valid", field="token")
    try:
        channel, _, contact = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().partition(":")
    except ValueError as e:
        raise Invalid("this unsubscribe link is not valid", field="token") from e
    return channel, contact


def _sign(settings: Settings, payload: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"unsubscribe:" + payload.encode(), hashlib.sha256).hexdigest()[:32]


# -- quiet hours -----------------------------------------------------------------

def _hm(text: str) -> time | None:
    try:
        h, m = text.split(":")
        return time(int(h), int(m))
    except ValueError:
        return None


def quiet_until(settings: Settings, zone: str, now: datetime) -> datetime | None:
    """The UTC end of the quiet hours ``now`` falls in (local time of ``zone``), or None."""
    start, end = _hm(settings.notify_quiet_start), _hm(settings.notify_quiet_end)
    if start is None or end is None or start == end:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    t = local.time()
    if start < end:  # e.g. 13:00-15:00
        inside, end_day = start <= t < end, local.date()
    else:  # over midnight, e.g. 21:00-08:00
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(now.tzinfo or ZoneInfo("UTC"))


# -- queueing --------------------------------------------------------------------

def attempt_of(session: Session, order: Order) -> int:
    with session.no_autoflush:
        n = session.scalar(select(func.count()).select_from(Event).where(
            Event.subject_type == "order", Event.subject_id == order.id,  # ix_events_subject
            Event.type == "order.rescheduled")) or 0
    return 1 + int(n)


def _stop_for(session: Session, order: Order) -> RouteStop | None:
    return session.execute(
        select(RouteStop).join(Route, Route.id == RouteStop.route_id)
        .where(RouteStop.order_id == order.id, Route.published.is_(True))
        .order_by(Route.depart_at.desc()).limit(1)
    ).scalar_one_or_none()


def _window_text(settings: Settings, eta: datetime, zone: str, language: str) -> str:
    half = timedelta(seconds=settings.notify_eta_window_s)
    a, b = ((eta - half).astimezone(ZoneInfo(zone)), (eta + half).astimezone(ZoneInfo(zone)))
    if language == "en":
        return f"between {a:%H:%M} and {b:%H:%M}"
    return f"entre las {a:%H:%M} y las {b:%H:%M}"


def _values(session: Session, settings: Settings, order: Order, kind: str, link: str,
            eta_at: datetime | None) -> dict[str, str]:
    depot = session.get(Depot, order.depot_id)
    zone = depot.timezone if depot else "America/Chicago"
    if order.shipper_id:
        shipper = session.get(Shipper, order.shipper_id)
        sender = shipper.name if shipper else ""
    else:
        org = session.get(Organization, order.organization_id)
        sender = org.name if org else ""
    lang = order.language if order.language in templates.LANGUAGES else "es"
    window = ""
    if kind == "out_for_delivery":
        if eta_at is None:
            stop = _stop_for(session, order)
            eta_at = (stop.eta_at or stop.arrival_at) if stop else None
        if eta_at is not None:
            window = _window_text(settings, eta_at, zone, lang)
        else:
            window = "hoy" if lang == "es" else "today"
    date = order.date.strftime("%d/%m/%Y") if lang == "es" else order.date.strftime("%m/%d/%Y")
    return {"name": order.contact_name or "", "shipper": sender or "lastmile", "reference": order.reference or order.id,
            "link": link, "window": window, "date": date}


def tracking_token_for(session: Session, settings: Settings, order: Order) -> str:
    """The order's one tracking link for notifications: every message about an order
    carries the same link (a customer who kept the first one is not handed a new one
    each time). The token is derived from the server's secret key and the order id
    (HMAC-SHA256, 192 bits: as unguessable as a random one while the key is secret);
    like any tracking token only its hash is stored, once."""
    from ..kit.ids import hash_secret
    from ..orders.models import TrackingToken

    key = settings.secret_key.get_secret_value().encode()
    digest = hmac.new(key, b"tracking-link:" + order.id.encode(), hashlib.sha256).digest()[:24]
    token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    h = hash_secret(token)
    if session.scalar(select(TrackingToken.id).where(TrackingToken.token_hash == h)) is None:
        session.add(TrackingToken(order_id=order.id, token_hash=h))
    session.flush()
    return token


def notify(session: Session, order: Order, kind: str, *, settings: Settings | None = None,
           eta_at: datetime | None = None, **_ctx: Any) -> list[str]:
    """Queue the ``kind`` message for this order on each of its channels (once per
    order, attempt, kind and channel). Rows the customer opted out of are written
    ``suppressed``. The send job is enqueued after commit. Returns the new row ids."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    settings = settings or get_settings()
    chosen = targets(session, settings, order)
    if not chosen:
        return []
    attempt = attempt_of(session, order)
    keys = {f"{order.id}:{attempt}:{kind}:{ch}{suffix}": (ch, rcpt) for ch, rcpt, suffix in chosen}
    with session.no_autoflush:
        done = set(session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(list(keys)))))
    todo = {k: v for k, v in keys.items() if k not in done}
    if not todo:
        return []
    token = tracking_token_for(session, settings, order)  # also flushes the order and its event
    link = f"{settings.public_url.rstrip('/')}/t/{token}" + ("#reschedule" if kind == "failed" else "")
    values = _values(session, settings, order, kind, link, eta_at)
    now = utcnow()
    ids: list[str] = []
    table = Notification.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for key, (channel, recipient) in todo.items():
        subject, body = templates.render(session, order.shipper_id, kind, channel, order.language, values)
        out = is_opted_out(session, order.id, channel, recipient)
        nid = new_id("ntf")
        res = session.execute(insert(table).values(
            id=nid, organization_id=order.organization_id, order_id=order.id, shipper_id=order.shipper_id,
            dedupe_key=key, kind=kind, attempt=attempt, channel=channel, recipient=recipient,
            language=order.language, subject=subject, body=body, status="suppressed" if out else "queued",
            provider="", provider_id="", error="opted out" if out else "", tries=0, created_at=now,
            next_attempt_at=now, lease_until=None, sent_at=None,
        ).on_conflict_do_nothing(index_elements=["dedupe_key"]))
        if res.rowcount and not out:
            ids.append(nid)
    if ids:
        from ..jobs.queue import after_commit, db_ref
        from .tasks import send_notifications_task

        url = session.get_bind().engine.url.render_as_string(hide_password=False)
        after_commit(session, send_notifications_task, db_ref(url))
    return ids


def redact(text: str) -> str:
    """Tracking links without their secret, for logs shown to staff and shippers."""
    return re.sub(r"/t/[A-Za-z0-9_\-]{8,}", "/t/…", text)


def add_push_subscription(session: Session, order: Order, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    row = session.scalar(select(PushSubscription).where(PushSubscription.order_id == order.id,
                                                        PushSubscription.endpoint == endpoint))
    if row is None:
        row = PushSubscription(order_id=order.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
        session.add(row)
    else:
        row.p256dh, row.auth = p256dh, auth
    session.flush()
    return row
