from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, ValidationInfo, field_validator, model_validator

from ..kit.schema import Count, Id, Lat, Lon, Money, Out, Schema, ServiceDate, Skills, Timestamp

Language = Literal["es", "en"]
Currency = Literal["MXN", "USD"]
Kind = Literal["delivery", "pickup"]
Status = Literal["pending", "assigned", "out_for_delivery", "delivered", "failed", "returned", "cancelled"]
Short = Annotated[str, Field(max_length=200)]


class Contact(Schema):
    name: Short = ""
    phone: Annotated[str, Field(max_length=40, pattern=r"^[0-9+() .-]*$")] = ""
    email: EmailStr | None = None


class Window(Schema):
    """Service must start inside [start, end]; give the zone offset (e.g. -06:00)."""

    start: Timestamp
    end: Timestamp

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and v < start:
            raise ValueError("window ends before it starts")
        return v


class Demand(Schema):
    kg: Count = 0
    litres: Count = 0
    parcels: Count = 1


class Item(Schema):
    sku: Annotated[str, Field(max_length=100)] = ""
    description: Annotated[str, Field(max_length=500)] = ""
    quantity: Annotated[int, Field(strict=True, ge=1, le=100_000)] = 1
    barcode: Annotated[str, Field(max_length=100)] = ""


class Cod(Schema):
    """Cash on delivery, in integer minor units (MXN 850.00 is 85000)."""

    amount: Money
    currency: Currency


def _windows_disjoint(windows: list[Window]) -> None:
    ws = sorted(windows, key=lambda w: w.start)
    for a, b in zip(ws, ws[1:], strict=False):
        if b.start <= a.end:
            raise ValueError("windows: time windows overlap")


class OrderCreate(Schema):
    depot_id: Id
    shipper_id: Id | None = Field(None, description="Staff only; a shipper's key implies its own id.")
    reference: Annotated[str, Field(max_length=100)] = ""
    date: ServiceDate
    kind: Kind = "delivery"
    address: Annotated[str, Field(max_length=500)] = ""
    lat: Lat | None = None
    lon: Lon | None = None
    contact: Contact = Contact()
    language: Language = "es"
    windows: Annotated[list[Window], Field(max_length=4)] = []
    service_s: Annotated[int, Field(strict=True, ge=0, le=4 * 3600)] = 300
    demand: Demand = Demand()
    items: Annotated[list[Item], Field(max_length=200)] = []
    skills: Skills = []
    priority: Annotated[int, Field(strict=True, ge=0, le=100)] = 0
    cod: Cod | None = None
    instructions: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _check(self) -> OrderCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat/lon: give both or neither")
        if self.lat is None and not self.address:
            raise ValueError("address: give an address or lat/lon")
        _windows_disjoint(self.windows)
        return self


class OrderUpdate(Schema):
    reference: Annotated[str, Field(max_length=100)] | None = None
    date: ServiceDate | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    contact: Contact | None = None
    language: Language | None = None
    windows: Annotated[list[Window], Field(max_length=4)] | None = None
    service_s: Annotated[int, Field(strict=True, ge=0, le=4 * 3600)] | None = None
    demand: Demand | None = None
    items: Annotated[list[Item], Field(max_length=200)] | None = None
    skills: Skills | None = None
    priority: Annotated[int, Field(strict=True, ge=0, le=100)] | None = None
    cod: Cod | None = None
    instructions: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _check(self) -> OrderUpdate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat/lon: give both or neither")
        if self.windows:
            _windows_disjoint(self.windows)
        return self


class CancelIn(Schema):
    reason: Annotated[str, Field(max_length=500)] = ""


EventType = Literal["out_for_delivery", "approaching", "delivered", "failed", "returned", "rescheduled"]


class StatusEventIn(Schema):
    type: EventType
    reason: Annotated[str, Field(max_length=500)] = ""


class WindowOut(Out):
    start: datetime
    end: datetime


class OrderOut(Out):
    id: str
    shipper_id: str | None
    depot_id: str
    reference: str
    date: date
    kind: str
    status: str
    address: str
    lat: float
    lon: float
    geocoded: bool
    contact: dict[str, Any]
    language: str
    windows: list[WindowOut]
    service_s: int
    demand: dict[str, int]
    items: list[dict[str, Any]]
    skills: list[str]
    priority: int
    cod: dict[str, Any] | None
    instructions: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class StatusChangeOut(Out):
    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    reason: str


class ImportError_(Out):
    line: int
    field: str | None = None
    message: str


class ImportReport(Out):
    created: int
    order_ids: list[str]
    errors: list[ImportError_]


class TrackingTokenOut(Out):
    token: str
    path: str


class TrackingView(Out):
    """What a customer with the link sees: their own order, nothing else."""

    status: str
    date: date
    kind: str
    address: str
    timezone: str
    windows: list[WindowOut]
    eta_start: datetime | None = None
    eta_end: datetime | None = None
    stops_before: int | None = None
    instructions: str
    language: str
