from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
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
