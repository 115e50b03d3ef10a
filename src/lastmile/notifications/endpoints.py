"""Notification HTTP: the message log (staff, the shipper for its orders), the
development outbox, per-shipper templates, and the customer's side -- SMS STOP
(a Twilio-style inbound webhook), email unsubscribe, web-push subscription."""

from __future__ import annotations

import base64
import hashlib
import hmac
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow, public
from ..auth.models import Shipper
from ..auth.service import record_audit
from ..config import Settings
from ..errors import DomainError, Invalid, NotFound
from ..kit.schema import Id
from ..kit.time import utcnow
from ..kit.web import get_app_settings, get_session
from ..orders import repository as orders_repo
from ..orders.models import Order
from ..orders.service import order_for_tracking_token
from . import service, templates
from .models import Notification, NotificationTemplate
from .schemas import (
    Format,
    Kind,
    Language,
    NotificationOut,
    OutboxItem,
    PushKeyOut,
    PushSubscribe,
    TemplateIn,
    TemplateOut,
)

router = APIRouter(tags=["notifications"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ALTO", "BAJA", "PARAR", "DETENER"}
START_WORDS = {"START", "UNSTOP", "YES", "ALTA", "INICIO", "REANUDAR"}


class BadSignature(DomainError):
    status = 400
    code = "bad_signature"


def _out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id, order_id=n.order_id, kind=n.kind, attempt=n.attempt, channel=n.channel, recipient=n.recipient,
        language=n.language, subject=n.subject, body=service.redact(n.body), status=n.status, provider=n.provider,
        provider_id=n.provider_id, error=n.error, tries=n.tries, created_at=n.created_at,
        next_attempt_at=n.next_attempt_at, sent_at=n.sent_at)


@router.get("/notifications", response_model=list[NotificationOut])
def list_notifications(
    session: SessionDep, order_id: Id | None = None, status: str | None = Query(None, max_length=12),
    limit: int = Query(100, ge=1, le=500), p: Principal = Depends(allow("admin", "dispatcher", "shipper")),
) -> list[NotificationOut]:
    """The customer-message log, newest first, with status, provider id and error.
    A shipper sees only its orders' messages."""
    q = select(Notification).where(Notification.organization_id == p.organization_id)
    if order_id is not None:
        orders_repo.get_order(session, p, order_id)  # 404 unless the caller may see it
        q = q.where(Notification.order_id == order_id)
    if p.role == "shipper":
        q = q.where(Notification.shipper_id == p.shipper_id)
    if status is not None:
        q = q.where(Notification.status == status)
    return [_out(n) for n in session.scalars(q.order_by(Notification.id.desc()).limit(limit))]


@router.get("/outbox", response_model=list[OutboxItem], responses={200: {"content": {"text/html": {}}}})
def outbox(
    request: Request, session: SessionDep, limit: int = Query(100, ge=1, le=500),
    format: str = Query("json", pattern="^(json|html)$"), p: Principal = Depends(allow("admin", "dispatcher")),
) -> Any:
    """Development outbox: what the log channel "sent" (email without an SMTP server,
    SMS without a provider), newest first, links intact. ``format=html`` for a page."""
    rows = session.scalars(
        select(Notification).where(Notification.organization_id == p.organization_id, Notification.provider == "log")
        .order_by(Notification.id.desc()).limit(limit)).all()
    items = [OutboxItem(id=n.id, order_id=n.order_id, kind=n.kind, channel=n.channel, to=n.recipient,
                        subject=n.subject, body=n.body, status=n.status, at=n.sent_at or n.created_at) for n in rows]
    if format == "html":
        return HTMLResponse(_outbox_page(items))
    return items


def _outbox_page(items: list[OutboxItem]) -> str:
    cards = "".join(
        f"<article><header><b>{escape(i.channel)}</b> → {escape(i.to)} · {escape(i.kind)} · "
        f"<time>{i.at:%Y-%m-%d %H:%M:%S} UTC</time></header>"
        + (f"<h3>{escape(i.subject)}</h3>" if i.subject else "")
        + f"<pre>{escape(i.body)}</pre></article>" for i in items)
    return ("<!doctype html><html lang='es'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            "<title>Outbox · Bandeja de salida</title><style>body{font-family:system-ui;max-width:48rem;"
            "margin:auto;padding:1rem}article{border:1px solid #ccc;border-radius:.5rem;padding:.5rem 1rem;"
            "margin:.5rem 0}pre{white-space:pre-wrap}</style></head><body>"
            f"<h1>Bandeja de salida · Outbox</h1><p>{len(items)} mensajes · messages</p>{cards}</body></html>")


# -- templates -------------------------------------------------------------------

def _shipper_for(session: Session, p: Principal, shipper_id: str | None) -> str:
    if p.role == "shipper":
        if shipper_id not in (None, p.shipper_id):
            raise NotFound("shipper not found")
        assert p.shipper_id is not None
        return p.shipper_id
    shipper = session.get(Shipper, shipper_id) if shipper_id else None
    if shipper is None or shipper.organization_id != p.organization_id:
        raise Invalid("shipper_id must name one of your shippers", field="shipper_id")
    return shipper.id


@router.get("/notifications/templates", response_model=list[TemplateOut])
def list_templates(
    session: SessionDep, shipper_id: Id | None = None, p: Principal = Depends(allow("admin", "dispatcher", "shipper")),
) -> list[TemplateOut]:
    """Every kind, format and language: the shipper's wording where it has one, else
    the default (``custom`` false). Without ``shipper_id`` (staff): the defaults."""
    sid = _shipper_for(session, p, shipper_id) if (shipper_id or p.role == "shipper") else None
    custom = {}
    if sid is not None:
        for t in session.scalars(select(NotificationTemplate).where(NotificationTemplate.shipper_id == sid)):
            custom[(t.kind, t.format, t.language)] = t
    out = []
    for (kind, fmt, lang), (subject, body) in templates.DEFAULTS.items():
        t = custom.get((kind, fmt, lang))
        out.append(TemplateOut(shipper_id=sid, kind=kind, format=fmt, language=lang,
                               subject=t.subject if t else subject, body=t.body if t else body, custom=t is not None))
    return out


@router.put("/notifications/templates", response_model=TemplateOut)
def set_template(body: TemplateIn, session: SessionDep, p: Principal = Depends(allow("admin", "shipper"))) -> TemplateOut:
    """A shipper's own wording for one kind, format and language. Placeholders:
    $name $shipper $reference $link $window $date (nothing else is expanded)."""
    sid = _shipper_for(session, p, body.shipper_id)
    templates.check_template(body.body, "body")
    templates.check_template(body.subject, "subject")
    if body.format == "email" and not body.subject:
        raise Invalid("an email template needs a subject", field="subject")
    if len(body.body) > templates.MAX_BODY[body.format]:
        raise Invalid(f"at most {templates.MAX_BODY[body.format]} characters", field="body")
    row = session.scalar(select(NotificationTemplate).where(
        NotificationTemplate.shipper_id == sid, NotificationTemplate.kind == body.kind,
        NotificationTemplate.format == body.format, NotificationTemplate.language == body.language))
    before = {"subject": row.subject, "body": row.body} if row else None
    if row is None:
        row = NotificationTemplate(organization_id=p.organization_id, shipper_id=sid, kind=body.kind,
                                   format=body.format, language=body.language)
        session.add(row)
    row.subject = body.subject if body.format == "email" else ""
    row.body, row.updated_at = body.body, utcnow()
    session.flush()
    record_audit(session, p, "notification_template.set", "notification_template", row.id, before,
                 {"kind": row.kind, "format": row.format, "language": row.language, "subject": row.subject,
                  "body": row.body})
    session.commit()
    return TemplateOut(shipper_id=sid, kind=row.kind, format=row.format, language=row.language, subject=row.subject,
                       body=row.body, custom=True)


@router.delete("/notifications/templates", status_code=204)
def reset_template(
    session: SessionDep, kind: Kind, format: Format, language: Language, shipper_id: Id | None = None,
    p: Principal = Depends(allow("admin", "shipper")),
) -> Response:
    """Back to the default wording."""
    sid = _shipper_for(session, p, shipper_id)
    res = session.execute(delete(NotificationTemplate).where(
        NotificationTemplate.shipper_id == sid, NotificationTemplate.kind == kind,
        NotificationTemplate.format == format, NotificationTemplate.language == language))
    if res.rowcount:
        record_audit(session, p, "notification_template.reset", "shipper", sid, None,
                     {"kind": kind, "format": format, "language": language})
    session.commit()
    return Response(status_code=204)


# -- the customer's side ---------------------------------------------------------

def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature: HMAC-SHA1 of the URL followed by every POST
    parameter name and value, sorted by name; base64."""
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


@router.post("/notifications/sms/inbound", dependencies=[Depends(public)],
             responses={200: {"content": {"application/xml": {}}}})
async def sms_inbound(request: Request, settings: SettingsDep) -> Response:
    """Inbound SMS from the provider (Twilio's webhook shape: form fields From, Body;
    signed with X-Twilio-Signature). STOP/ALTO/BAJA ... opt the number out of SMS;
    START/ALTA opt it back in. Answers TwiML (empty: the provider confirms STOP)."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    ctype = request.headers.get("content-type", "")
    form = await request.form() if ctype.startswith("application/x-www-form-urlencoded") else {}
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    url = settings.public_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    sent = request.headers.get("x-twilio-signature", "")
    if not token or not sent or not hmac.compare_digest(sent.encode(), twilio_signature(token, url, params).encode()):
        raise BadSignature("missing or wrong X-Twilio-Signature")
    word = (params.get("Body") or "").strip().split()[:1]
    keyword = word[0].upper().strip(".!") if word else ""
    phone = params.get("From") or ""
    if keyword in STOP_WORDS | START_WORDS and service.normalize_phone(phone):
        db = request.app.state.db
        with db.session() as s:
            service.set_contact_opt_out(s, "sms", phone, keyword in STOP_WORDS)
            s.commit()
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type="application/xml")


UNSUB_TEXT = {
    "title": "Cancelar avisos · Unsubscribe",
    "ask": "¿Dejar de recibir avisos de entrega en {c}? · Stop delivery messages to {c}?",
    "button": "Cancelar avisos · Unsubscribe",
    "done": "Listo: no enviaremos más avisos a {c}. · Done: no more messages to {c}.",
}


def _page(body: str) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html lang='es'><head><meta charset='utf-8'>"
                        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
                        f"<title>{UNSUB_TEXT['title']}</title></head><body style='font-family:system-ui;"
                        f"max-width:32rem;margin:2rem auto;padding:1rem'>{body}</body></html>")


@router.get("/notifications/unsubscribe", response_class=HTMLResponse, dependencies=[Depends(public)])
def unsubscribe_page(settings: SettingsDep, token: str = Query(..., max_length=1000)) -> HTMLResponse:
    """The link in every email: asks before unsubscribing (mail scanners follow links)."""
    _, contact = service.read_unsubscribe_token(settings, token)
    return _page(f"<p>{escape(UNSUB_TEXT['ask'].format(c=contact))}</p><form method='post'>"
                 f"<button type='submit'>{UNSUB_TEXT['button']}</button></form>")


@router.post("/notifications/unsubscribe", response_class=HTMLResponse, dependencies=[Depends(public)])
def unsubscribe(session: SessionDep, settings: SettingsDep, token: str = Query(..., max_length=1000)) -> HTMLResponse:
    """Unsubscribe the address the link names (also RFC 8058 one-click from mail apps)."""
    channel, contact = service.read_unsubscribe_token(settings, token)
    service.set_contact_opt_out(session, channel, contact, True)
    session.commit()
    return _page(f"<p>{escape(UNSUB_TEXT['done'].format(c=contact))}</p>")


@router.get("/notifications/push/key", response_model=PushKeyOut, dependencies=[Depends(public)])
def push_key(settings: SettingsDep) -> PushKeyOut:
    """The VAPID public key a browser subscribes with (null: web push is not configured)."""
    return PushKeyOut(public_key=settings.vapid_public_key if settings.vapid_private_key else None)


@router.post("/notifications/push/subscriptions", status_code=201, dependencies=[Depends(public)])
def push_subscribe(body: PushSubscribe, session: SessionDep, settings: SettingsDep) -> dict[str, str]:
    """A customer's browser subscribes to its order's messages (the tracking token says
    which order)."""
    order: Order = order_for_tracking_token(session, settings, body.token)
    if settings.production and not body.subscription.endpoint.startswith("https://"):
        raise Invalid("a push endpoint must be https", field="subscription.endpoint")
    row = service.add_push_subscription(session, order, body.subscription.endpoint, body.subscription.keys.p256dh,
                                        body.subscription.keys.auth)
    session.commit()
    return {"id": row.id}
