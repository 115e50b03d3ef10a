from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, Field, StrictBool, field_validator

from ..kit.schema import Id, Out, Schema

EventName = Literal[
    "order.created", "order.assigned", "order.out_for_delivery", "order.approaching",
    "order.delivered", "order.failed", "order.returned",
]
def _fits(url: AnyHttpUrl) -> AnyHttpUrl:
    if len(str(url)) > 2000:  # after normalization (an IDN host grows as punycode)
        raise ValueError("URL is longer than 2000 characters")
    return url


Url = Annotated[AnyHttpUrl, Field(max_length=2000, examples=["https://shipper.example/hooks/lastmile"]),
                AfterValidator(_fits)]


def _unique(v: list[str]) -> list[str]:
    return list(dict.fromkeys(v))


class SubscriptionCreate(Schema):
    url: Url
    events: Annotated[list[EventName], Field(min_length=1, max_length=7)]
    description: Annotated[str, Field(max_length=200)] = ""
    shipper_id: Id | None = Field(None, description="Admins: whose subscription; shippers: implied")

    _dedupe = field_validator("events")(_unique)


class SubscriptionUpdate(Schema):
    url: Url | None = None
    events: Annotated[list[EventName], Field(min_length=1, max_length=7)] | None = None
    description: Annotated[str, Field(max_length=200)] | None = None
    active: StrictBool | None = None


class SubscriptionOut(Out):
    id: str
    shipper_id: str
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime


class SubscriptionWithSecret(SubscriptionOut):
    secret: str = Field(description="whsec_… signing secret; shown once, when created or rotated, "
                                    "and never again (it is stored encrypted)")


class MessageOut(Out):
    id: str
    event_id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"] | str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str


class AttemptOut(Out):
    id: str
    message_id: str
    at: datetime
    status_code: int | None
    error: str
    duration_ms: int
