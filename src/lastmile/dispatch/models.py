from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JsonType, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow

PLAN_STATUSES = ("queued", "running", "done", "failed", "published")
ROUTE_STATUSES = ("planned", "started", "finished")
# a stop's live status; dispatch/live.py is the only writer
STOP_STATUSES = ("planned", "en_route", "arrived", "done", "failed", "skipped")
STOP_FINAL = ("done", "failed", "skipped")


class Plan(Base):
    __tablename__ = "plans"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pln"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    date: Mapped[date]
    depot_ids: Mapped[list[str]] = mapped_column(JsonType)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[float] = mapped_column(default=0.0)  # 0..1
    message: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    stats: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    unassigned: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    backend: Mapped[str] = mapped_column(String(40), default="")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Route(Base):
    __tablename__ = "routes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rte"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    vehicle_id: Mapped[str] = mapped_column(ForeignKey("vehicles.id"))
    driver_id: Mapped[str | None] = mapped_column(ForeignKey("drivers.id"), index=True)
    shift_id: Mapped[str | None] = mapped_column(ForeignKey("shifts.id"))
    depot_id: Mapped[str] = mapped_column(ForeignKey("depots.id"))
    depart_at: Mapped[datetime] = mapped_column(UTCDateTime)
    arrive_at: Mapped[datetime] = mapped_column(UTCDateTime)
    distance_m: Mapped[int]
    duration_s: Mapped[int]
    published: Mapped[bool] = mapped_column(default=False)
    # live day (migration 0005)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(default=1)  # bumped on every change of its stops


class RouteStop(Base):
    __tablename__ = "route_stops"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rst"))
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    seq: Mapped[int]
    arrival_at: Mapped[datetime] = mapped_column(UTCDateTime)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    travel_s: Mapped[int] = mapped_column(default=0)
    distance_m: Mapped[int] = mapped_column(default=0)
    # live day (migration 0005)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    eta_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # latest prediction
    eta_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked: Mapped[bool] = mapped_column(default=False)  # re-optimization must not move it


# --- live ETAs (dispatch/eta.py, migration 0011_eta) ---


class StopEtaHistory(Base):
    """Each published ETA of a stop (appended when it moves or every few minutes), so
    ETA accuracy can be measured: predicted ``eta_at`` at ``predicted_at`` vs the
    stop's actual ``arrived_at``."""

    __tablename__ = "stop_eta_history"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("eth"))
    route_stop_id: Mapped[str] = mapped_column(ForeignKey("route_stops.id"), index=True)
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"), index=True)
    predicted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    eta_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late_by_s: Mapped[int] = mapped_column(default=0)
    source: Mapped[str] = mapped_column(String(20))  # position | refresh | delay | break | ...


class RouteEtaState(Base):
    """What the ETA work remembers about a live route between two fixes: the last
    refresh (throttle), the geofence being dwelt in, a reported hold, the break,
    which stops were told "approaching" and when each stop's history was last written."""

    __tablename__ = "route_eta_state"
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"), primary_key=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fix_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    fence_stop_id: Mapped[str | None] = mapped_column(String(32))
    fence_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    break_taken: Mapped[bool] = mapped_column(default=False)
    approached: Mapped[list[str]] = mapped_column(JsonType, default=list)
    logged: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # stop id -> last history epoch


PROPOSAL_STATUSES = ("open", "applied", "rejected", "stale")


class Proposal(Base):
    """A change to the live routes that dynamic re-optimization suggests (new order,
    cancellation, failed attempt, driver unavailable or falling behind); the dispatcher
    applies or rejects it, or the organization's policy applies it at once. ``versions``
    holds each affected route's version when proposed: a later change makes it stale."""

    __tablename__ = "proposals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prp"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    date: Mapped[date]
    kind: Mapped[str] = mapped_column(String(20))  # insert | resequence | reattempt | redistribute | behind
    trigger: Mapped[str] = mapped_column(String(40))  # order.created, order.cancelled, stop.failed, ...
    subject_id: Mapped[str] = mapped_column(String(32), default="")  # order or route it is about
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # {"es": ..., "en": ...}
    delta: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)  # [{route_id, order_ids}]
    versions: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # route id -> version
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(60), default="")


class DispatchPolicy(Base):
    """Per organization: what re-optimization may do on its own, and the delivery
    slot template (2-hour windows per weekday, local times)."""

    __tablename__ = "dispatch_policies"
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    auto_apply_insertions: Mapped[bool] = mapped_column(default=False)  # new orders with no lateness
    allow_next_stop: Mapped[bool] = mapped_column(default=False)  # may displace a driver's next stop
    slot_template: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # {} = the default template
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
