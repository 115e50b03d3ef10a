"""Customer notifications: the message log (also the send queue), per-shipper
template overrides, opt-outs, and web-push subscriptions (migration 0008_notify)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow

KINDS = ("confirmed", "out_for_delivery", "approaching", "delivered", "failed")
CHANNELS = ("email", "sms", "push")
STATUSES = ("queued", "sent", "failed", "suppressed")


class Notification(Base):
    """One message to one customer address on one channel. Written ``queued`` by the
    order-event listener in the emitting transaction; a job sends it after commit.
    ``dedupe_key`` (order, attempt, kind, channel) makes a repeated event a no-op."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_org_provider", "organization_id", "provider", "id"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ntf"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    shipper_id: Mapped[str | None] = mapped_column(ForeignKey("shippers.id"))
    dedupe_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    attempt: Mapped[int] = mapped_column(default=1)  # delivery attempt of the order (1 + reschedules)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | push
    recipient: Mapped[str] = mapped_column(String(320))  # address, phone, or push subscription id
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    provider: Mapped[str] = mapped_column(String(20), default="")  # smtp | twilio | webpush | log
    provider_id: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    tries: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationTemplate(Base):
    """A shipper's own wording for one kind, format and language (defaults live in code)."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        UniqueConstraint("shipper_id", "kind", "format", "language", name="uq_notification_templates_key"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ntt"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    shipper_id: Mapped[str] = mapped_column(ForeignKey("shippers.id"))
    kind: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(10))  # email (subject + body) | short (SMS, push)
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactOptOut(Base):
    """A customer address that said STOP (SMS keyword, email unsubscribe): no more
    messages on that channel, whatever the order."""

    __tablename__ = "notification_contact_opt_outs"
    __table_args__ = (UniqueConstraint("channel", "contact", name="uq_notification_contact_opt_outs_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("nco"))
    channel: Mapped[str] = mapped_column(String(10))
    contact: Mapped[str] = mapped_column(String(320))  # normalized: lower-case email, +digits phone
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderOptOut(Base):
    """The customer's choice for one order (set from the tracking page): channel or "all"."""

    __tablename__ = "notification_order_opt_outs"
    __table_args__ = (UniqueConstraint("order_id", "channel", name="uq_notification_order_opt_outs_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("noo"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | push | all
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(Base):
    """A browser's Web Push subscription for one order's messages."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("order_id", "endpoint", name="uq_push_subscriptions_key"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("psb"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000))
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
