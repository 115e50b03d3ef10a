"""The day as the demo needs it: plain data, independent of how the simulator names
things (``adapter`` builds it from :mod:`lastmile.sim`). Times are seconds after local
midnight of ``date`` in ``zone``; positions are (lat, lon)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

Point = tuple[float, float]


@dataclass(frozen=True)
class DepotSpec:
    key: str
    name: str
    lat: float
    lon: float
    timezone: str = "America/Chicago"
    code: str | None = None
    address: str = ""


@dataclass(frozen=True)
class ShipperSpec:
    key: str
    name: str
    code: str | None = None
    email: str | None = None
    reattempt: str | None = None  # next_day | customer_choice | return_to_depot (None: the default)


@dataclass(frozen=True)
class VehicleSpec:
    name: str
    plate: str = ""
    capacity_kg: int | None = None
    capacity_litres: int | None = None
    capacity_parcels: int | None = None
    skills: tuple[str, ...] = ()
    fixed_cost: int = 0
    cost_per_km: int = 0
    cost_per_hour: int = 0


@dataclass(frozen=True)
class DriverSpec:
    key: str
    name: str
    depot_key: str
    vehicle: VehicleSpec
    shift_start_s: int
    shift_end_s: int
    language: str = "es"
    phone: str = ""
    skills: tuple[str, ...] = ()
    break_earliest_s: int | None = None
    break_latest_s: int | None = None
    break_s: int | None = None


@dataclass(frozen=True)
class OrderSpec:
    key: str
    shipper_key: str
    depot_key: str
    body: dict[str, Any]  # POST /orders fields except depot_id and shipper_id
    release_s: int | None = None  # None: known before the day; else created at this time


@dataclass(frozen=True)
class IllnessSpec:
    driver_key: str
    at_s: int


class Truth(Protocol):
    """What really happens (hidden from the platform). Places are ids: a depot's or
    an order's key."""

    def travel_s(self, a: str, b: str, depart_s: float) -> float: ...

    def path(self, a: str, b: str, depart_s: float) -> Sequence[tuple[float, Point]]:
        """(seconds after local midnight, position) along the leg, first and last included."""
        ...

    def service_s(self, order_key: str, arrival_s: float, first_visit: bool) -> float: ...

    def at_home(self, order_key: str, arrival_s: float, notified: bool) -> bool: ...


@dataclass
class DemoDay:
    date: date
    zone: str
    depots: list[DepotSpec]
    shippers: list[ShipperSpec]
    drivers: list[DriverSpec]
    orders: list[OrderSpec]
    truth: Truth
    illness: IllnessSpec | None = None
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def depot(self, key: str) -> DepotSpec:
        return next(d for d in self.depots if d.key == key)


DayFactory = Callable[..., DemoDay]
