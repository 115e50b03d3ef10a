from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JsonType, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow


class Vehicle(Base):
    __tablename__ = "vehicles"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("veh"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    plate: Mapped[str] = mapped_column(String(20), default="")
    capacity_kg: Mapped[int | None]
    capacity_litres: Mapped[int | None]
    capacity_parcels: Mapped[int | None]
    skills: Mapped[list[str]] = mapped_column(JsonType, default=list)
    fixed_cost: Mapped[int] = mapped_column(default=0)  # minor units per day used
    cost_per_km: Mapped[int] = mapped_column(default=0)
    cost_per_hour: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Driver(Base):
    __tablename__ = "drivers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("drv"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40), default="")
    skills: Mapped[list[str]] = mapped_column(JsonType, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Shift(Base):
    """A driver on duty with a vehicle from a depot on one local date."""

    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_org_date", "organization_id", "date"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("shf"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    driver_id: Mapped[str] = mapped_column(ForeignKey("drivers.id"), index=True)
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id"))
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.id"))
    date: Mapped[date]
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    break_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # earliest break start
    break_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # latest break start
    break_s: Mapped[int | None]
    max_work_s: Mapped[int | None]
    available: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
