from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JsonType, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow

STATUSES = (
    "pending",  # waiting to be planned
    "assigned",  # on a published route
    "out_for_delivery",
    "delivered",
    "failed",
    "returned",
    "cancelled",
)
COMPLETED = ("delivered", "returned", "cancelled")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # GET /orders: filters, then id (the page order); see migration 0003
        Index("ix_orders_org_date_status_id", "organization_id", "date", "status", "id"),
        Index("ix_orders_shipper_date_status_id", "shipper_id", "date", "status", "id"),
        Index("ix_orders_shipper", "shipper_id", "id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ord"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    shipper_id: Mapped[str | None] = mapped_column(ForeignKey("shippers.id"))
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.id"), index=True)
    reference: Mapped[str] = mapped_column(String(100), default="")  # the shipper's own id
    date: Mapped[date]  # local service date at the depot
    kind: Mapped[str] = mapped_column(String(10), default="delivery")  # delivery | pickup
    status: Mapped[str] = mapped_column(String(20), default="pending")
    address: Mapped[str] = mapped_column(String(500), default="")  # as typed
    lat: Mapped[float]
    lon: Mapped[float]
    geocoded: Mapped[bool] = mapped_column(default=False)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    language: Mapped[str] = mapped_column(String(2), default="es")
    windows: Mapped[list[dict[str, str]]] = mapped_column(JsonType, default=list)  # UTC ISO pairs
    service_s: Mapped[int] = mapped_column(default=300)
    demand_kg: Mapped[int] = mapped_column(default=0)
    demand_litres: Mapped[int] = mapped_column(default=0)
    demand_parcels: Mapped[int] = mapped_column(default=1)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    skills: Mapped[list[str]] = mapped_column(JsonType, default=list)
    priority: Mapped[int] = mapped_column(default=0)
    cod_amount: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units
    cod_currency: Mapped[str | None] = mapped_column(String(3))  # MXN | USD
    instructions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OrderStatusChange(Base):
    __tablename__ = "order_status_history"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("osc"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(60))  # "user:usr_..", "shipper:shp_..", "system"
    reason: Mapped[str] = mapped_column(String(500), default="")


class TrackingToken(Base):
    """A customer's link to one order; only the hash is kept."""

    __tablename__ = "tracking_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("trk"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(Base):
    """The first answer to a create, replayed for retries with the same key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("idk"))
    scope: Mapped[str] = mapped_column(String(80))  # who sent it + which operation
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
