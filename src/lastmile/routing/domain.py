"""The routing engine's vocabulary: plain, frozen dataclasses.

Units, everywhere in ``routing/``:

* time: integer seconds since local midnight of the planning day (the caller
  converts to and from zoned datetimes; the engine never reads a clock);
* durations in seconds, distances in metres;
* money in integer minor units (cents) of one currency per problem;
* demand and capacity are tuples with one integer per dimension, named by
  ``Problem.dimensions`` (default: kg, litres, parcels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

DEFAULT_DIMENSIONS: tuple[str, ...] = ("kg", "litres", "parcels")
DAY = 24 * 3600


@dataclass(frozen=True, slots=True)
class LatLon:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.lon <= 180.0):
            raise ValueError(f"coordinates out of range: {self.lat}, {self.lon}")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Service must *start* inside ``[start, end]`` (inclusive)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"time window ends ({self.end}) before it starts ({self.start})")

    def contains(self, t: int) -> bool:
        return self.start <= t <= self.end


class StopKind(str, Enum):
    DELIVERY = "delivery"  # loaded at the start depot, dropped at the stop
    PICKUP = "pickup"  # collected at the stop, brought back to the end depot (returns)


@dataclass(frozen=True, slots=True)
class Stop:
    id: str
    location: LatLon
    service_s: int = 0
    demand: tuple[int, ...] = ()
    windows: tuple[TimeWindow, ...] = ()  # empty: any time
    kind: StopKind = StopKind.DELIVERY
    skills: frozenset[str] = frozenset()
    priority: int = 0  # 0..100; higher is served first when not all can be
    required: bool = True  # False: may be left out, at ``penalty`` cost
    penalty: int = 0  # cost of leaving an optional stop out (same units as costs)
    name: str = ""
    address: str = ""

    def __post_init__(self) -> None:
        if self.service_s < 0:
            raise ValueError(f"stop {self.id}: negative service time")
        if any(d < 0 for d in self.demand):
            raise ValueError(f"stop {self.id}: negative demand")
        if not 0 <= self.priority <= 100:
            raise ValueError(f"stop {self.id}: priority must be within 0..100")
        ws = sorted(self.windows, key=lambda w: w.start)
        for a, b in zip(ws, ws[1:]):
            if b.start <= a.end:
                raise ValueError(f"stop {self.id}: time windows overlap")
        object.__setattr__(self, "windows", tuple(ws))


@dataclass(frozen=True, slots=True)
class Depot:
    id: str
    location: LatLon
    name: str = ""
    hours: TimeWindow | None = None  # opening hours; None: always open


@dataclass(frozen=True, slots=True)
class Break:
    """A driver break of ``duration_s`` that must start inside ``window``."""

    window: TimeWindow
    duration_s: int
    id: str = "break"

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError("break duration must be positive")


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: str
    start_depot: str
    end_depot: str | None = None  # None: same as start
    capacity: tuple[int, ...] = ()
    shift: TimeWindow = TimeWindow(0, DAY)
    breaks: tuple[Break, ...] = ()
    max_work_s: int | None = None  # hours of service: start to end of route
    max_distance_m: int | None = None
    skills: frozenset[str] = frozenset()
    fixed_cost: int = 0  # cents per day when used
    cost_per_km: int = 0  # cents
    cost_per_hour: int = 0  # cents
    name: str = ""
    driver: str = ""

    @property
    def end(self) -> str:
        return self.end_depot or self.start_depot

    def __post_init__(self) -> None:
        if any(c < 0 for c in self.capacity):
            raise ValueError(f"vehicle {self.id}: negative capacity")


class Objective(str, Enum):
    COST = "cost"  # per-km + per-hour + fixed costs as given by the vehicles
    DISTANCE = "distance"
    TIME = "time"
    VEHICLES = "vehicles"  # fewest vehicles first, then distance


@dataclass(frozen=True, slots=True)
class Options:
    objective: Objective = Objective.COST
    balance: float = 0.0  # >0: penalize uneven working time across drivers
    time_limit_s: float = 10.0
    iterations: int | None = None  # set: stop on iteration count, so same input + seed -> same plan
    seed: int = 0
    backend: str = "auto"  # auto | pyvrp | ortools


@dataclass(frozen=True, slots=True)
class Problem:
    stops: tuple[Stop, ...]
    vehicles: tuple[Vehicle, ...]
    depots: tuple[Depot, ...]
    dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS
    weekday: int = 0  # 0 = Monday; selects the time-of-day traffic profile
    name: str = ""

    def __post_init__(self) -> None:
        for kind, items in (("stop", self.stops), ("vehicle", self.vehicles), ("depot", self.depots)):
            ids = [x.id for x in items]
            if len(ids) != len(set(ids)):
                dup = sorted({i for i in ids if ids.count(i) > 1})[0]
                raise ValueError(f"duplicate {kind} id {dup!r}")
        depot_ids = {d.id for d in self.depots}
        nd = len(self.dimensions)
        for v in self.vehicles:
            for d in (v.start_depot, v.end):
                if d not in depot_ids:
                    raise ValueError(f"vehicle {v.id}: unknown depot {d!r}")
            if v.capacity and len(v.capacity) != nd:
                raise ValueError(f"vehicle {v.id}: capacity has {len(v.capacity)} values, expected {nd}")
        for s in self.stops:
            if s.demand and len(s.demand) != nd:
                raise ValueError(f"stop {s.id}: demand has {len(s.demand)} values, expected {nd}")

    def depot(self, depot_id: str) -> Depot:
        for d in self.depots:
            if d.id == depot_id:
                return d
        raise KeyError(depot_id)

    def demand_of(self, stop: Stop) -> tuple[int, ...]:
        return stop.demand or (0,) * len(self.dimensions)

    def capacity_of(self, vehicle: Vehicle) -> tuple[int, ...] | None:
        """None means unlimited."""
        return vehicle.capacity or None


class VisitKind(str, Enum):
    STOP = "stop"
    BREAK = "break"


@dataclass(frozen=True, slots=True)
class Visit:
    kind: VisitKind
    ref: str  # stop id, or break id
    arrival: int  # when the vehicle gets there (breaks: when the break starts)
    start: int  # service (or break) start, >= arrival
    end: int  # service end = departure if no wait for a break follows
    travel_s: int = 0  # driving time from the previous place
    distance_m: int = 0  # from the previous place
    load: tuple[int, ...] = ()  # on board after this visit

    @property
    def wait_s(self) -> int:
        return self.start - self.arrival


@dataclass(frozen=True, slots=True)
class Route:
    vehicle_id: str
    visits: tuple[Visit, ...]
    depart: int  # leaves the start depot
    arrive: int  # back at the end depot
    distance_m: int
    end_travel_s: int = 0  # last stop -> end depot
    end_distance_m: int = 0
    start_load: tuple[int, ...] = ()

    @property
    def stop_ids(self) -> tuple[str, ...]:
        return tuple(v.ref for v in self.visits if v.kind is VisitKind.STOP)

    @property
    def duration_s(self) -> int:
        return self.arrive - self.depart

    @property
    def travel_s(self) -> int:
        return sum(v.travel_s for v in self.visits) + self.end_travel_s


@dataclass(frozen=True, slots=True)
class Unassigned:
    stop_id: str
    reason: str
    code: str  # machine-readable: skill, capacity, window, shift, capacity_fleet, ...


@dataclass(frozen=True, slots=True)
class PlanStats:
    cost: int
    distance_m: int
    duration_s: int
    travel_s: int
    routes: int
    assigned: int
    unassigned: int
    late_stops: int = 0
    solve_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Plan:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    stats: PlanStats
    backend: str = ""
    matrix_provider: str = ""
    seed: int = 0
    notes: tuple[str, ...] = field(default=())

    def route_of(self, vehicle_id: str) -> Route | None:
        for r in self.routes:
            if r.vehicle_id == vehicle_id:
                return r
        return None
