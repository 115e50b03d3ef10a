from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..auth.models import Shipper
from ..auth.service import record_audit
from ..config import Settings
from ..errors import Invalid, NotFound
from ..kit.pagination import Page, keyset_page
from ..kit.schema import Id
from ..kit.web import get_app_settings, get_session, snapshot
from .models import WebhookAttempt, WebhookMessage, WebhookSubscription
from .schemas import (
    AttemptOut,
    MessageOut,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from .service import new_secret, seal_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
owners = allow("admin", "shipper")


def _snap(sub: WebhookSubscription) -> dict:
    return snapshot(sub, exclude=("secret_sealed",))  # not even sealed secrets go into the audit log


def _with_secret(sub: WebhookSubscription, secret: str) -> SubscriptionWithSecret:
    return SubscriptionWithSecret(**SubscriptionOut.model_validate(sub).model_dump(), secret=secret)


def _get(session: Session, p: Principal, sub_id: str) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None or sub.organization_id != p.organization_id or (
        p.role == "shipper" and sub.shipper_id != p.shipper_id
    ):
        raise NotFound("webhook subscription not found")
    return sub


@router.post("/subscriptions", response_model=SubscriptionWithSecret, status_code=201)
def create_subscription(
    body: SubscriptionCreate, session: SessionDep, settings: SettingsDep, p: Principal = Depends(owners)
) -> SubscriptionWithSecret:
    """Subscribe a URL to order events. The answer carries the signing secret: this
    once only (it is stored encrypted and never shown again; rotate to get a new one)."""
    if p.role == "shipper":
        if body.shipper_id not in (None, p.shipper_id):
            raise NotFound("shipper not found")
        shipper_id = p.shipper_id
    else:
        shipper = session.get(Shipper, body.shipper_id) if body.shipper_id else None
        if shipper is None or shipper.organization_id != p.organization_id:
            raise Invalid("shipper_id must name one of your shippers", field="shipper_id")
        shipper_id = shipper.id
    sub = WebhookSubscription(organization_id=p.organization_id, shipper_id=shipper_id, url=str(body.url),
                              events=list(body.events), description=body.description)
    secret = new_secret()
    sub.secret_sealed = seal_secret(settings, secret)
    session.add(sub)
    session.flush()
    record_audit(session, p, "webhook.create", "webhook_subscription", sub.id, None, _snap(sub))
    session.commit()
    return _with_secret(sub, secret)


@router.get("/subscriptions", response_model=list[SubscriptionOut])
def list_subscriptions(session: SessionDep, p: Principal = Depends(owners)) -> list[WebhookSubscription]:
    q = select(WebhookSubscription).where(WebhookSubscription.organization_id == p.organization_id)
    if p.role == "shipper":
        q = q.where(WebhookSubscription.shipper_id == p.shipper_id)
    return list(session.scalars(q.order_by(WebhookSubscription.id)))


@router.get("/subscriptions/{sub_id}", response_model=SubscriptionOut)
def get_subscription(sub_id: Id, session: SessionDep, p: Principal = Depends(owners)) -> WebhookSubscription:
    return _get(session, p, sub_id)


@router.patch("/subscriptions/{sub_id}", response_model=SubscriptionOut)
def update_subscription(
    sub_id: Id, body: SubscriptionUpdate, session: SessionDep, p: Principal = Depends(owners)
) -> WebhookSubscription:
    sub = _get(session, p, sub_id)
    before = _snap(sub)
    for k, v in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(sub, k, str(v) if k == "url" else v)
    record_audit(session, p, "webhook.update", "webhook_subscription", sub.id, before, _snap(sub))
    session.commit()
    return sub


@router.delete("/subscriptions/{sub_id}", status_code=204)
def delete_subscription(sub_id: Id, session: SessionDep, p: Principal = Depends(owners)) -> Response:
    """Stop sending (the delivery log is kept)."""
    sub = _get(session, p, sub_id)
    before = _snap(sub)
    sub.active = False
    record_audit(session, p, "webhook.disable", "webhook_subscription", sub.id, before, _snap(sub))
    session.commit()
    return Response(status_code=204)


@router.post("/subscriptions/{sub_id}/rotate-secret", response_model=SubscriptionWithSecret)
def rotate_secret(
    sub_id: Id, session: SessionDep, settings: SettingsDep, p: Principal = Depends(owners)
) -> SubscriptionWithSecret:
    """A new signing secret, shown this once; deliveries from now on are signed with it."""
    sub = _get(session, p, sub_id)
    secret = new_secret()
    sub.secret_sealed = seal_secret(settings, secret)
    record_audit(session, p, "webhook.rotate_secret", "webhook_subscription", sub.id, None, None)
    session.commit()
    return _with_secret(sub, secret)


@router.get("/subscriptions/{sub_id}/messages", response_model=Page[MessageOut])
def list_messages(
    sub_id: Id, session: SessionDep, p: Principal = Depends(owners),
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[MessageOut]:
    """Events sent (or being retried) to this subscription."""
    sub = _get(session, p, sub_id)
    q = select(WebhookMessage).where(WebhookMessage.subscription_id == sub.id)
    rows, nxt = keyset_page(session, q, WebhookMessage.id, cursor, limit)
    return Page[MessageOut](items=[MessageOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/subscriptions/{sub_id}/deliveries", response_model=Page[AttemptOut])
def list_deliveries(
    sub_id: Id, session: SessionDep, p: Principal = Depends(owners),
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[AttemptOut]:
    """The delivery log: every HTTP attempt, with status code or error."""
    sub = _get(session, p, sub_id)
    q = select(WebhookAttempt).where(WebhookAttempt.subscription_id == sub.id)
    rows, nxt = keyset_page(session, q, WebhookAttempt.id, cursor, limit)
    return Page[AttemptOut](items=[AttemptOut.model_validate(r) for r in rows], next_cursor=nxt)
