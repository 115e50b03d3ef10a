from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from ..kit.schema import Schema, Timestamp

MessageText = Annotated[str, Field(min_length=1, max_length=1000)]


class MessageIn(Schema):
    body: MessageText


class PreferencesIn(Schema):
    """Only the fields given change."""

    instructions: Annotated[str, Field(max_length=500)] | None = None
    safe_place: Annotated[str, Field(max_length=200)] | None = None
    contactless: bool | None = None


class RescheduleIn(Schema):
    """One of the slots ``GET /t/{token}/slots`` offered."""

    start: Timestamp
    end: Timestamp

    @model_validator(mode="after")
    def _ordered(self) -> RescheduleIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class RatingIn(Schema):
    score: Annotated[int, Field(strict=True, ge=1, le=5)]
    comment: Annotated[str, Field(max_length=1000)] = ""


class CustomerMessageOut(BaseModel):
    id: str
    from_: str = Field(alias="from", description="you | driver | staff")
    name: str = Field(description="the driver's first name for driver messages")
    body: str
    at: str

    model_config = {"populate_by_name": True}


class StaffMessageOut(BaseModel):
    id: str
    order_id: str
    sender: str
    author: str
    body: str
    at: str


class SlotOut(BaseModel):
    start: str
    end: str
    green: bool


class PreferencesOut(BaseModel):
    instructions: str
    safe_place: str
    contactless: bool


class RatingOut(BaseModel):
    score: int
    comment: str


class TrackingState(BaseModel):
    """The tracking page's data; ``position`` only while the driver heads to this stop."""

    order: dict[str, Any]
    phase: str
    timezone: str
    language: str
    stops_before: int | None
    eta: dict[str, str] | None
    driver: dict[str, str] | None
    live: bool
    position: dict[str, Any] | None
    destination: dict[str, float]
    preferences: PreferencesOut
    messages: list[dict[str, Any]]
    rating: RatingOut | None
    can: dict[str, bool]
