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
    pickup: dict[str, Any] | None = None  # the pickup point / locker chosen instead of the door


# -- pickup points and lockers -----------------------------------------------------------

Hours = dict[str, list[list[str]]]  # {"mon": [["09:00", "20:00"]], ...} in the point's local time


class PickupPointIn(Schema):
    kind: Annotated[str, Field(pattern="^(locker|pickup_point)$")] = "locker"
    name: Annotated[str, Field(min_length=1, max_length=200)]
    address: Annotated[str, Field(max_length=500)] = ""
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    timezone: Annotated[str, Field(max_length=64)] = "America/Chicago"
    hours: Hours = Field(default_factory=dict, description='per weekday (mon..sun) [["HH:MM", "HH:MM"], ...]')
    capacity: Annotated[int, Field(strict=True, ge=1, le=10_000)] = 20
    active: bool = True


class PickupPointPatch(Schema):
    """Only the fields given change (``active: false`` withdraws it from customers)."""

    kind: Annotated[str, Field(pattern="^(locker|pickup_point)$")] | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    hours: Hours | None = None
    capacity: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _pair(self) -> PickupPointPatch:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat/lon: give both or neither")
        return self


class PickupPointOut(BaseModel):
    id: str
    kind: str
    name: str
    address: str
    lat: float
    lon: float
    timezone: str
    hours: dict[str, Any]
    capacity: int
    active: bool


class OfferedPickupOut(BaseModel):
    """A pickup point near the customer's door: its hours on the service day and
    whether it can still take the parcel."""

    id: str
    kind: str
    name: str
    address: str
    lat: float
    lon: float
    distance_m: int
    hours: list[list[str]]
    available: bool
    chosen: bool


class PickupChoiceIn(Schema):
    pickup_point_id: Annotated[str, Field(min_length=1, max_length=32)]
