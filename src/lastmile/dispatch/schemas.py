from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from ..kit.schema import Id, Out, Schema, ServiceDate


class PlanOptionsIn(Schema):
    objective: Literal["cost", "distance", "time", "vehicles"] = "cost"
    balance: Annotated[float, Field(strict=True, ge=0, le=100)] = 0.0
    time_limit_s: Annotated[float, Field(strict=True, gt=0, le=600)] = 10.0
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] = 0


class PlanCreate(Schema):
    date: ServiceDate
    depot_ids: Annotated[list[Id], Field(min_length=1, max_length=20)]
    options: PlanOptionsIn = PlanOptionsIn()


class RouteStopOut(Out):
    order_id: str
    seq: int
    arrival_at: datetime
    start_at: datetime
    end_at: datetime
    travel_s: int
    distance_m: int
    status: str = "planned"
    eta_at: datetime | None = None
    arrived_at: datetime | None = None
    completed_at: datetime | None = None
    locked: bool = False


class RouteOut(Out):
    id: str
    plan_id: str
    vehicle_id: str
    driver_id: str | None
    depot_id: str
    depart_at: datetime
    arrive_at: datetime
    distance_m: int
    duration_s: int
    published: bool
    status: str = "planned"
    version: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stops: list[RouteStopOut] = []


class PlanOut(Out):
    id: str
    date: date
    depot_ids: list[str]
    status: str
    progress: float
    message: str
    options: dict[str, Any]
    stats: dict[str, Any] | None
    unassigned: list[dict[str, Any]]
    backend: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    published_at: datetime | None
    routes: list[RouteOut] = []
