from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JsonType, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow

SENDERS = ("customer", "driver", "staff")


class PortalMessage(Base):
    """One line of the conversation about an order, relayed by lastmile: the customer
    and the driver never see each other's phone number."""

    __tablename__ = "portal_messages"
    __table_args__ = (Index("ix_portal_messages_order_id_id", "order_id", "id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("msg"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    sender: Mapped[str] = mapped_column(String(10))  # customer | driver | staff
    author: Mapped[str] = mapped_column(String(60), default="")  # "user:usr_.." for driver/staff, "" for the customer
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryPreference(Base):
    """What the customer asked for at the door; order.instructions carries it to the driver."""

    __tablename__ = "portal_preferences"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prf"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    instructions: Mapped[str] = mapped_column(Text, default="")
    safe_place: Mapped[str] = mapped_column(String(200), default="")
    contactless: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(Base):
    """The customer's rating of one delivery (once)."""

    __tablename__ = "portal_ratings"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rat"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    driver_id: Mapped[str | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    score: Mapped[int]  # 1..5
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


PICKUP_KINDS = ("locker", "pickup_point")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class PickupPoint(Base):
    """A parcel locker or a pickup counter (a shop, a depot's desk) where a customer may
    collect an order instead of receiving it at the door (migration 0015_lockers).
    ``hours``: per weekday (``mon``..``sun``) a list of ``["HH:MM", "HH:MM"]`` opening
    intervals in the point's local time; ``capacity``: parcels it can hold per day."""

    __tablename__ = "pickup_points"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pup"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="locker")  # locker | pickup_point
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    timezone: Mapped[str] = mapped_column(String(64), default="America/Chicago")
    hours: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PickupChoice(Base):
    """An order sent to a pickup point instead of the door, with the door it had (so the
    customer can switch back)."""

    __tablename__ = "pickup_choices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pch"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    pickup_point_id: Mapped[str] = mapped_column(ForeignKey("pickup_points.id"), index=True)
    day: Mapped[date] = mapped_column(Date)  # the service day it occupies the point's capacity
    home_address: Mapped[str] = mapped_column(String(500), default="")
    home_lat: Mapped[float]
    home_lon: Mapped[float]
    home_windows: Mapped[list[dict[str, str]]] = mapped_column(JsonType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
