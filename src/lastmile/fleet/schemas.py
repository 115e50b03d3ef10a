from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StrictBool, model_validator

from ..kit.schema import Count, Id, Name, Out, Schema, ServiceDate, Skills, Timestamp

Capacity = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]
Cost = Annotated[int, Field(strict=True, ge=0, le=1_000_000_000, description="minor units (cents)")]  # INTEGER column


class VehicleCreate(Schema):
    depot_id: Id
    name: Name
    plate: Annotated[str, Field(max_length=20)] = ""
    capacity_kg: Capacity | None = None
    capacity_litres: Capacity | None = None
    capacity_parcels: Capacity | None = None
    skills: Skills = []
    fixed_cost: Cost = 0
    cost_per_km: Cost = 0
    cost_per_hour: Cost = 0


class VehicleUpdate(Schema):
    name: Name | None = None
    plate: Annotated[str, Field(max_length=20)] | None = None
    capacity_kg: Capacity | None = None
    capacity_litres: Capacity | None = None
    capacity_parcels: Capacity | None = None
    skills: Skills | None = None
    active: StrictBool | None = None


class VehicleOut(Out):
    id: str
    depot_id: str
    name: str
    plate: str
    capacity_kg: int | None
    capacity_litres: int | None
    capacity_parcels: int | None
    skills: list[str]
    fixed_cost: int
    cost_per_km: int
    cost_per_hour: int
    active: bool


class DriverCreate(Schema):
    name: Name
    phone: Annotated[str, Field(max_length=40)] = ""
    skills: Skills = []
    user_id: Id | None = None


class DriverOut(Out):
    id: str
    name: str
    phone: str
    skills: list[str]
    user_id: str | None
    active: bool


class BreakIn(Schema):
    earliest: Timestamp
    latest: Timestamp
    duration_s: Annotated[int, Field(strict=True, gt=0, le=8 * 3600)]

    @model_validator(mode="after")
    def _order(self) -> BreakIn:
        if self.latest < self.earliest:
            raise ValueError("latest: break window ends before it starts")
        return self


class ShiftCreate(Schema):
    driver_id: Id
    vehicle_id: Id
    depot_id: Id
    date: ServiceDate
    start_at: Timestamp
    end_at: Timestamp
    break_: BreakIn | None = Field(None, alias="break")
    max_work_s: Annotated[int, Field(strict=True, gt=0, le=24 * 3600)] | None = None

    @model_validator(mode="after")
    def _order(self) -> ShiftCreate:
        if self.end_at <= self.start_at:
            raise ValueError("end_at: shift ends before it starts")
        return self


class ShiftUpdate(Schema):
    available: StrictBool


class ShiftOut(Out):
    id: str
    driver_id: str
    vehicle_id: str
    depot_id: str
    date: date
    start_at: datetime
    end_at: datetime
    break_start_at: datetime | None
    break_end_at: datetime | None
    break_s: int | None
    max_work_s: int | None
    available: StrictBool


__all__ = ["Count"]
