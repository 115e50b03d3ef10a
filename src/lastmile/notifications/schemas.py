from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..kit.schema import Id, Schema

Kind = Literal["confirmed", "out_for_delivery", "approaching", "delivered", "failed"]
Format = Literal["email", "short"]
Language = Literal["es", "en"]


class NotificationOut(BaseModel):
    id: str
    order_id: str
    kind: str
    attempt: int
    channel: str
    recipient: str
    language: str
    subject: str
    body: str  # tracking links shown without their secret
    status: str  # queued | sent | failed | suppressed
    provider: str
    provider_id: str
    error: str
    tries: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None


class OutboxItem(BaseModel):
    id: str
    order_id: str
    kind: str
    channel: str
    to: str
    subject: str
    body: str  # in full: this is the development outbox (links work)
    status: str
    at: datetime


class TemplateIn(Schema):
    shipper_id: Id | None = None  # a shipper's key may leave it out
    kind: Kind
    format: Format = Field(description="email: subject + body; short: SMS and push text")
    language: Language
    subject: Annotated[str, Field(max_length=300)] = ""
    body: Annotated[str, Field(min_length=1, max_length=5000)]


class TemplateOut(BaseModel):
    shipper_id: str | None
    kind: str
    format: str
    language: str
    subject: str
    body: str
    custom: bool  # False: the default wording


class PushKeys(Schema):
    p256dh: Annotated[str, Field(min_length=16, max_length=200)]
    auth: Annotated[str, Field(min_length=8, max_length=100)]


class PushSubscriptionIn(Schema):
    endpoint: Annotated[str, Field(min_length=10, max_length=1000, pattern=r"^https?://")]
    keys: PushKeys


class PushSubscribe(Schema):
    token: Annotated[str, Field(min_length=16, max_length=100)]  # the customer's tracking token
    subscription: PushSubscriptionIn


class PushKeyOut(BaseModel):
    public_key: str | None
