"""Devices, positions, each driver's latest fix (driver_live) and the ingest
counters behind GET /tracking/stats (migration 0006_tracking)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow

DEVICE_KINDS = ("app", "osmand", "owntracks")
DRIVER_STATES = ("driving", "at_stop", "stopped", "offline")
# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Device(Base):
    """A phone or tracker bound to one driver, with its own credential (only its hash
    is kept). OwnTracks devices are found by their MQTT topic ``owntracks/<user>/<device>``."""

    __tablename__ = "devices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("dev"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    driver_id: Mapped[str] = mapped_column(ForeignKey("drivers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # app | osmand | owntracks
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str | None] = mapped_column(String(300), unique=True)  # owntracks only
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Position(Base):
    """One accepted fix. Append-only; ``at`` is the device's fix time (UTC)."""

    __tablename__ = "positions"
    __table_args__ = (Index("ix_positions_driver_at", "driver_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(String(32))
    driver_id: Mapped[str] = mapped_column(ForeignKey("drivers.id"))
    device_id: Mapped[str | None] = mapped_column(String(32))
    route_id: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(20))  # app | osmand | owntracks
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float]
    lon: Mapped[float]
    accuracy_m: Mapped[float | None]
    speed_mps: Mapped[float | None]
    bearing: Mapped[float | None]
    altitude_m: Mapped[float | None]
    battery: Mapped[float | None]


class DriverLive(Base):
    """A driver's latest accepted fix and state: what the console map starts from."""

    __tablename__ = "driver_live"
    driver_id: Mapped[str] = mapped_column(ForeignKey("drivers.id"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(32), index=True)
    device_id: Mapped[str | None] = mapped_column(String(32))
    route_id: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float]
    lon: Mapped[float]
    accuracy_m: Mapped[float | None]
    speed_mps: Mapped[float | None]
    bearing: Mapped[float | None]
    battery: Mapped[float | None]
    state: Mapped[str] = mapped_column(String(20))  # driving | at_stop | stopped


class IngestCounter(Base):
    """Fixes accepted and rejected, per organization (empty when the sender was not
    identified), source and reason; added to in batches by every ingest process."""

    __tablename__ = "tracking_counters"
    organization_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)  # "accepted" or a rejection reason
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
