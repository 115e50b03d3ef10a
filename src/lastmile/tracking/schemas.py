"""Request and response shapes of the tracking endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..kit.schema import Id, Out, Schema

Num = Annotated[float, Field(allow_inf_nan=False)]
Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]


class PositionIn(Schema):
    """One fix from the driver app. Range checks (and rejections with a reason) are
    the pipeline's: a fix with lat 95 is answered in ``rejected``, not with a 422."""

    lat: Num
    lon: Num
    at: datetime = Field(description="fix time: ISO 8601 (no zone = UTC) or Unix seconds")
    accuracy: Num | None = Field(default=None, description="metres")
    speed: Num | None = Field(default=None, description="metres per second")
    bearing: Num | None = Field(default=None, description="degrees")
    altitude: Num | None = Field(default=None, description="metres")
    battery: Num | None = Field(default=None, description="percent")


class PositionsIn(Schema):
    positions: list[PositionIn] = Field(min_length=1, max_length=1000)


class Rejection(BaseModel):
    index: int
    reason: str


class IngestOut(BaseModel):
    accepted: int
    rejected: list[Rejection]


class DeviceCreate(Schema):
    driver_id: Id
    kind: Literal["app", "osmand", "owntracks"]
    name: str = Field(default="", max_length=200)
    owntracks_user: Slug | None = Field(default=None, description="OwnTracks only: <user> of owntracks/<user>/<device>")
    owntracks_device: Slug | None = Field(default=None, description="OwnTracks only: <device>")


class DeviceOut(Out):
    id: str
    driver_id: str
    kind: str
    name: str
    topic: str | None
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None


class DeviceCreated(DeviceOut):
    token: str = Field(description="the device's credential, shown only now")
    setup: dict[str, str] = Field(description="how to configure the phone")


class LivePosition(BaseModel):
    lat: float
    lon: float
    at: str
    received_at: str
    accuracy: float | None
    speed: float | None
    bearing: float | None
    battery: float | None
    source: str
    device_id: str | None
    age_s: int


class LiveStop(BaseModel):
    id: str
    seq: int
    status: str
    order_id: str
    lat: float
    lon: float
    eta_at: str | None


class LiveDriver(BaseModel):
    driver_id: str
    name: str
    state: Literal["driving", "at_stop", "stopped", "offline"]
    position: LivePosition | None
    route_id: str | None
    next_stop: LiveStop | None


class StatsOut(BaseModel):
    accepted: int
    rejected: int
    ignored: int
    rejected_by_reason: dict[str, int]
    by_source: dict[str, dict[str, int]]
