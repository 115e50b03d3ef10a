"""Tables of the driver's day (migrations 0007_pod, 0014_pod2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JsonType, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow

ACTION_TYPES = ("start_shift", "end_shift", "break_start", "break_end", "delay", "en_route", "arrive", "deliver",
                "fail", "pickup", "scan_in")
FAIL_REASONS = ("not_home", "refused", "address_not_found", "unsafe", "closed", "damaged")
REATTEMPT = ("next_day", "customer_choice", "return_to_depot")


class DriverAction(Base):
    """One applied action from the driver app, kept by its client-generated id: a
    replay of the same id answers with ``result`` and changes nothing."""

    __tablename__ = "pod_driver_actions"
    __table_args__ = (UniqueConstraint("driver_id", "client_id", name="uq_pod_driver_actions_driver_client"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("dac"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    driver_id: Mapped[str] = mapped_column(ForeignKey("drivers.id"))
    client_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"), index=True)
    stop_id: Mapped[str | None] = mapped_column(ForeignKey("route_stops.id"))
    device_time: Mapped[datetime] = mapped_column(UTCDateTime)
    server_time: Mapped[datetime] = mapped_column(UTCDateTime)
    skew_s: Mapped[int] = mapped_column(default=0)  # server minus device, at receipt
    skew_flagged: Mapped[bool] = mapped_column(default=False)  # device clock ahead of the server
    position: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class PodFile(Base):
    """A photo or signature uploaded by a driver; the bytes live in the file store
    under their sha256 (content-addressed)."""

    __tablename__ = "pod_files"
    __table_args__ = (UniqueConstraint("organization_id", "sha256", name="uq_pod_files_org_sha256"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pfl"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(40))
    uploaded_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PodRecord(Base):
    """Proof of one thing that happened at a stop (delivered, failed attempt, pickup,
    scan-in), tamper-evident: ``payload`` is the canonical JSON that was hashed into
    ``record_hash``; it names the previous record's hash, so the records of a route
    form a chain (``lastmile pod verify``)."""

    __tablename__ = "pod_records"
    __table_args__ = (UniqueConstraint("route_id", "seq", name="uq_pod_records_route_seq"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pod"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))  # delivered | failed | pickup | scan_in
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), index=True)
    stop_id: Mapped[str | None] = mapped_column(ForeignKey("route_stops.id"))
    server_time: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))


class PodRules(Base):
    """What proof a stop needs, for one shipper or one order (order beats shipper,
    shipper beats the settings' defaults); None means inherit."""

    __tablename__ = "pod_rules"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prl"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    shipper_id: Mapped[str | None] = mapped_column(ForeignKey("shippers.id"), unique=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    signature: Mapped[bool | None]
    photo: Mapped[bool | None]
    scan_all: Mapped[bool | None]
    exact_cod: Mapped[bool | None]
    reattempt: Mapped[str | None] = mapped_column(String(20))  # next_day | customer_choice | return_to_depot
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReturnParcel(Base):
    """A parcel that must come back to the depot: picked up from a customer, or not
    delivered. ``scanned_in_at`` is set by the driver's scan-in at the depot."""

    __tablename__ = "pod_return_parcels"
    __table_args__ = (
        Index("ix_pod_return_parcels_depot_date", "depot_id", "date"),
        UniqueConstraint("route_id", "code", name="uq_pod_return_parcels_route_code"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rtp"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.id"))
    date: Mapped[date]
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20))  # pickup | failed | not_attempted
    reason: Mapped[str] = mapped_column(String(40), default="")
    condition: Mapped[str] = mapped_column(String(20), default="")  # good | damaged (pickups)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scanned_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DriverBreak(Base):
    """A break the driver took on a route: the shift's planned break or an unplanned
    one (which does not count as the planned break: that one is still owed). Written by
    the app's ``break_start`` / ``break_end`` actions; read by ``/driver/today`` (the
    app's "on break" state, on any phone), the ETA work (``dispatch.eta.refresh_route``
    is told ``break_taken`` only for the planned break; an unplanned one holds the
    route for its expected length) and the live day's loader (``planned_break_taken``)."""

    __tablename__ = "pod_driver_breaks"
    __table_args__ = (Index("ix_pod_driver_breaks_route_started", "route_id", "started_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("brk"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"))
    driver_id: Mapped[str] = mapped_column(ForeignKey("drivers.id"))
    planned: Mapped[bool]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expected_s: Mapped[int | None]  # the shift's break length, or the driver's estimate of an unplanned one
    note: Mapped[str] = mapped_column(Text, default="")
    start_action: Mapped[str] = mapped_column(String(100))  # the app's client ids
    end_action: Mapped[str | None] = mapped_column(String(100))
