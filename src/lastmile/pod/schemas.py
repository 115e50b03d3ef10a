"""Shapes of the driver API (see notes/LIVE_CONTRACT.md "Driver API")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..kit.schema import Lat, Lon, Schema, Timestamp

Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of an uploaded file (POST /driver/files)")]
Code = Annotated[str, Field(min_length=1, max_length=100)]
Codes = Annotated[list[Code], Field(max_length=500)]
Photos = Annotated[list[Sha], Field(max_length=10)]
Note = Annotated[str, Field(max_length=1000)]


class Action(Schema):
    """One thing the driver did; ``data`` depends on ``type`` and is checked per
    action, so one bad action is refused on its own and the rest still apply."""

    id: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
                             description="client-generated id (a UUID); a replay of it is answered 'duplicate'")]
    type: Annotated[str, Field(max_length=20, description="start_shift, end_shift, break_start, break_end, delay, "
                                                          "en_route, arrive, deliver, fail, pickup, scan_in")]
    route_id: Annotated[str, Field(max_length=40)]
    stop_id: Annotated[str, Field(max_length=40)] | None = None
    device_time: Annotated[str, Field(max_length=40, description="the phone's clock, ISO 8601 with offset")]
    position: dict[str, Any] | None = None
    data: dict[str, Any] = {}


class ActionBatch(Schema):
    actions: Annotated[list[Action], Field(max_length=200)]


class Position(Schema):
    lat: Lat
    lon: Lon
    accuracy: Annotated[float, Field(ge=0, le=100_000)] | None = None


class Cod(Schema):
    amount: Annotated[int, Field(strict=True, ge=0, le=10**12, description="minor units")]
    currency: Literal["MXN", "USD"]
    method: Literal["cash", "card"]
    reference: Annotated[str, Field(max_length=100)] = ""


class DeliverData(Schema):
    recipient_name: Annotated[str, Field(max_length=200)] = ""
    signature: Sha | None = None
    photos: Photos = []
    scans: Codes = []
    cod: Cod | None = None
    contactless: bool = False


class FailData(Schema):
    reason: Literal["not_home", "refused", "address_not_found", "unsafe", "closed", "damaged"]
    photos: Photos = []
    note: Note = ""


class PickupData(Schema):
    scans: Annotated[list[Code], Field(min_length=1, max_length=500)]
    condition: Literal["good", "damaged"]
    photos: Photos = []
    note: Note = ""


class DelayData(Schema):
    minutes: Annotated[int, Field(strict=True, ge=1, le=24 * 60)]
    note: Note = ""


class BreakData(Schema):
    """``planned``: the shift's break (it is then no longer owed) or an unplanned one
    (the planned break is still owed; ``minutes`` is how long the driver expects it to
    take, 15 when not said, and the rest of the route is re-timed by it). Absent
    (an app from before this field): planned, unless the note says "unplanned"."""

    planned: bool | None = None
    minutes: Annotated[int, Field(strict=True, ge=1, le=8 * 60)] | None = None
    note: Note = ""


class ScanData(Schema):
    scans: Codes = []


class NoteData(Schema):
    note: Note = ""


DATA: dict[str, type[Schema]] = {
    "start_shift": NoteData, "end_shift": ScanData, "break_start": BreakData, "break_end": NoteData,
    "delay": DelayData, "en_route": NoteData, "arrive": NoteData, "deliver": DeliverData, "fail": FailData,
    "pickup": PickupData, "scan_in": ScanData,
}
NEEDS_STOP = ("en_route", "arrive", "deliver", "fail", "pickup")
Device = Timestamp


class RulesIn(Schema):
    """POD rules for a shipper or an order; null inherits (order ← shipper ← settings)."""

    signature: bool | None = None
    photo: bool | None = None
    scan_all: bool | None = None
    exact_cod: bool | None = None
    reattempt: Literal["next_day", "customer_choice", "return_to_depot"] | None = None
