from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ..kit.schema import Lat, Lon, Name, Out, Schema

Zone = Literal["America/Chicago", "America/Matamoros"]
DaySeconds = Annotated[int, Field(strict=True, ge=0, le=86400)]


Code = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]


class DepotCreate(Schema):
    code: Code | None = None
    name: Name
    address: Annotated[str, Field(max_length=500)] = ""
    lat: Lat
    lon: Lon
    timezone: Zone = "America/Chicago"
    opens_s: DaySeconds | None = None
    closes_s: DaySeconds | None = None

    @model_validator(mode="after")
    def _hours(self) -> DepotCreate:
        if self.opens_s is not None and self.closes_s is not None and self.closes_s < self.opens_s:
            raise ValueError("closes_s: closes before it opens")
        return self


class DepotUpdate(Schema):
    name: Name | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    timezone: Zone | None = None


class DepotOut(Out):
    id: str
    code: str | None
    name: str
    address: str
    lat: float
    lon: float
    timezone: str
    opens_s: int | None
    closes_s: int | None
    created_at: datetime
