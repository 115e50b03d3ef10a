"""A seeded, realistic delivery day in Laredo, TX and Nuevo Laredo, Tamaulipas.

``make_world(seed)`` returns a ``World``: plain frozen dataclasses, no database, no
clock. Same seed (and arguments) -> the same world, field for field.

Public API (stable; later additions only add):

* ``make_world(seed=1, *, orders=300, drivers=15, day=None) -> World``
* ``to_problem(world, *, known_at=None, orders=None, drivers=None, with_service=...) -> routing.domain.Problem``
* ``to_stop(order) -> routing.domain.Stop`` and ``to_vehicle(world, driver) -> routing.domain.Vehicle``
* ``csv_rows(world, orders=None) -> list[dict[str, str]]``: the orders as rows of the
  stops CSV (``formats/stops_csv.py``), for seeding through the ordinary import
* ``World`` fields: ``seed, day, weekday, depots, shippers, vehicles, drivers, orders,
  hidden, ill`` and helpers ``order(id)``, ``driver(id)``, ``vehicle(id)``, ``depot(id)``,
  ``hidden_of(id)``, ``morning_orders()``, ``live_orders()``, ``events()``
* the dataclasses ``Depot, Shipper, FleetVehicle, Driver, Customer, Order, HiddenOrder,
  DriverIll, NewOrder`` and the reference data ``NEIGHBOURHOODS, SHIPPERS, DEPOTS``
  (defined in ``sim/laredo.py``, importable from here).

Units as in the engine: times are seconds since local midnight of ``World.day``
(Laredo and Nuevo Laredo share the clock: America/Chicago and America/Matamoros
both keep US daylight-saving rules), durations seconds, distances metres, money
integer minor units with a currency (costs in US cents).

What is visible to the planner: depots, shippers, vehicles, drivers (shifts,
breaks, skills), and orders (address, coordinates, windows, the *nominal* service
time a dispatcher would type, demand, skills, COD, customer contact). An order that
``arrives_s`` during the day is not known before then.

What is hidden (``World.hidden``, ``World.ill``): read only by ``sim.truth`` and the
simulation -- never by a planner. Per order: a service-time factor (building type x
customer), whether the customer is away and when, and how they respond to a
notification (reschedule, arrange to receive it, ignore it). For the day: which
driver falls ill and when.

Reference data (neighbourhood centres, street names, depots) are real places to a
few hundred metres; customers, phone numbers and addresses are invented
(``example.com`` e-mail, numbers in real area codes but random).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date

from ..routing import domain as d
from ..routing.matrix.haversine import distance_m
from ..routing.matrix.profiles import SCHOOLS
from .laredo import (ALL_DAY, BUILDING_NOTES, BUILDINGS, BUSINESS_SLOTS, DEFAULT_DAY, DEPOTS, FIRST_EN, FIRST_ES,
                     H, INSTRUCTIONS, LAST_EN, LAST_ES, NARROW, NEIGHBOURHOODS, ROSTER, SHIPPERS, SLOTS, TWO_WINDOWS,
                     VEHICLE_TYPES, Depot, FleetVehicle, Neighbourhood, Shipper, _country_of, _near_school, hm)

__all__ = [
    "BUILDINGS", "DEPOTS", "Customer", "Depot", "Driver", "DriverIll", "FleetVehicle", "HiddenOrder",
    "NEIGHBOURHOODS", "Neighbourhood", "NewOrder", "Order", "SHIPPERS", "Shipper", "World", "make_world",
    "csv_rows", "to_problem", "to_stop", "to_vehicle",
]
_REEXPORTED = (ALL_DAY, BUSINESS_SLOTS, DEFAULT_DAY, FIRST_EN, FIRST_ES, H, LAST_EN, LAST_ES, NARROW, SLOTS,
               TWO_WINDOWS, hm)  # reference data lives in ``laredo.py``; importable from here too


@dataclass(frozen=True)
class Driver:
    id: str
    name: str
    language: str  # es | en
    phone: str
    email: str
    vehicle_id: str
    depot_id: str
    shift_start: int
    shift_end: int
    break_start: int  # the 30-minute break starts inside [break_start, break_end]
    break_end: int
    break_s: int
    max_work_s: int
    skills: frozenset[str]  # the driver's own: cross-border, bilingual


# --- the day -----------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    name: str
    language: str  # es | en
    phone: str
    email: str  # may be empty


@dataclass(frozen=True)
class Order:
    id: str
    shipper_id: str
    depot_id: str  # ships from the depot on the customer's side of the river
    kind: d.StopKind  # delivery, or pickup (a return collected and brought back)
    location: d.LatLon
    address: str
    neighbourhood: str
    country: str  # US | MX
    building: str  # house | apartment | business | gated community
    school_zone: bool  # within ~400 m of a school (slow at the school run)
    customer: Customer
    windows: tuple[d.TimeWindow, ...]  # service must start inside one; never empty
    service_s: int  # nominal: what the shipper's system says (the planner's figure)
    demand: tuple[int, int, int]  # kg, litres, parcels
    skills: frozenset[str]  # refrigerated, heavy-lift
    priority: int
    cod_amount: int  # minor units (cents / centavos), 0: prepaid
    cod_currency: str  # MXN | USD | ""
    instructions: str
    arrives_s: int | None = None  # None: known at planning time; else the time it comes in

    @property
    def refrigerated(self) -> bool:
        return "refrigerated" in self.skills

    @property
    def heavy(self) -> bool:
        return "heavy-lift" in self.skills


@dataclass(frozen=True)
class HiddenOrder:
    """What only the simulation knows about an order (the planner never reads it)."""

    order_id: str
    service_factor: float  # true dwell = nominal service x factor (+ extras, see truth.py)
    p_not_home: float  # the customer's prior probability of being away
    away: tuple[int, int] | None  # realised: away from .. until (None: home all day)
    response: str  # to a notification, if away: reschedule | arrange | ignore


@dataclass(frozen=True)
class DriverIll:
    driver_id: str
    at_s: int  # from then on the driver serves nothing and heads back to the depot


@dataclass(frozen=True)
class NewOrder:
    order_id: str
    at_s: int


@dataclass(frozen=True)
class World:
    seed: int
    day: date
    depots: tuple[Depot, ...]
    shippers: tuple[Shipper, ...]
    vehicles: tuple[FleetVehicle, ...]
    drivers: tuple[Driver, ...]
    orders: tuple[Order, ...]  # morning and live orders, in id order
    hidden: tuple[HiddenOrder, ...] = field(repr=False)  # by order, same order as ``orders``
    ill: DriverIll | None = None

    @property
    def weekday(self) -> int:
        return self.day.weekday()

    def order(self, order_id: str) -> Order:
        return self._by_id("orders", order_id)

    def driver(self, driver_id: str) -> Driver:
        return self._by_id("drivers", driver_id)

    def vehicle(self, vehicle_id: str) -> FleetVehicle:
        return self._by_id("vehicles", vehicle_id)

    def depot(self, depot_id: str) -> Depot:
        return self._by_id("depots", depot_id)

    def hidden_of(self, order_id: str) -> HiddenOrder:
        return self.hidden[self._idx["hidden"][order_id]]  # type: ignore[attr-defined]

    def morning_orders(self) -> tuple[Order, ...]:
        return tuple(o for o in self.orders if o.arrives_s is None)

    def live_orders(self) -> tuple[Order, ...]:
        """Orders that come in during the day, by arrival time."""
        return tuple(sorted((o for o in self.orders if o.arrives_s is not None), key=lambda o: (o.arrives_s, o.id)))

    def events(self) -> tuple[NewOrder | DriverIll, ...]:
        """The day's events by time: new orders arriving and the driver falling ill."""
        evs: list[NewOrder | DriverIll] = [NewOrder(o.id, o.arrives_s) for o in self.live_orders()]  # type: ignore[arg-type]
        if self.ill is not None:
            evs.append(self.ill)
        return tuple(sorted(evs, key=lambda e: e.at_s))

    def __post_init__(self) -> None:
        idx = {name: {x.id: i for i, x in enumerate(getattr(self, name))}
               for name in ("orders", "drivers", "vehicles", "depots")}
        idx["hidden"] = {h.order_id: i for i, h in enumerate(self.hidden)}
        object.__setattr__(self, "_idx", idx)

    def _by_id(self, name: str, key: str):  # type: ignore[no-untyped-def]
        return getattr(self, name)[self._idx[name][key]]  # type: ignore[attr-defined]


# --- generation ----------------------------------------------------------------------

def _fleet(n_drivers: int) -> tuple[tuple[FleetVehicle, ...], tuple[Driver, ...]]:
    if not 1 <= n_drivers <= len(ROSTER):
        raise ValueError(f"drivers must be within 1..{len(ROSTER)}")
    vehicles, drivers = [], []
    counts: dict[str, int] = {}
    for k, (did, name, lang, depot, kind, shift, brk, skills) in enumerate(ROSTER[:n_drivers]):
        counts[kind] = counts.get(kind, 0) + 1
        prefix = {"cargo-van": "van", "refrigerated-van": "rvan", "box-truck": "truck", "car": "car"}[kind]
        vid = f"{prefix}-{counts[kind]:02d}"
        vname, cap, vskills, fixed, per_km, per_h = VEHICLE_TYPES[kind]
        plate = (f"TX-{7100 + k * 37:04d}" if depot == "LRD-N" else f"RVA-{310 + k * 11:03d}-A")
        vehicles.append(FleetVehicle(vid, vname, kind, plate, cap, vskills, fixed, per_km, per_h))
        start, end = hm(shift[0]), hm(shift[1])
        phone = f"+1956{5550100 + k:07d}" if depot == "LRD-N" else f"+52867{3100200 + k:07d}"
        drivers.append(Driver(did, name, lang, phone, f"{did}@lastmile-demo.example.com", vid, depot, start, end,
                              hm(brk[0]), hm(brk[1]), 30 * 60, end - start, frozenset(skills.split())))
    return tuple(vehicles), tuple(drivers)


def _customer(rng: random.Random, country: str, serial: int) -> Customer:
    english = country == "US" and rng.random() < 0.35
    first = rng.choice(FIRST_EN if english else FIRST_ES)
    last = rng.choice(LAST_EN if english and rng.random() < 0.6 else LAST_ES)
    phone = f"+1956{rng.randint(2000000, 9999999)}" if country == "US" else f"+52867{rng.randint(1000000, 9999999)}"
    email = ""
    if rng.random() < 0.65:
        ascii_ = (first + "." + last).lower()
        for a, b in (("á", "a"), ("é", "e"), ("í", "i"), ("ó", "o"), ("ú", "u"), ("ñ", "n")):
            ascii_ = ascii_.replace(a, b)
        email = f"{ascii_}{serial}@example.com"
    return Customer(f"{first} {last}", "en" if english else "es", phone, email)


def _place(rng: random.Random, nb: Neighbourhood) -> d.LatLon:
    while True:  # keep each address on its own side of the Rio Grande
        lat = round(nb.lat + rng.gauss(0, nb.spread_deg), 5)
        lon = round(nb.lon + rng.gauss(0, nb.spread_deg), 5)
        if _country_of(lat, lon) == nb.country:
            return d.LatLon(lat, lon)


def _near_a_school(rng: random.Random, country: str) -> tuple[d.LatLon, Neighbourhood] | None:
    schools = [(lat, lon) for lat, lon in SCHOOLS.values() if _country_of(lat, lon) == country]
    if not schools:
        return None
    lat0, lon0 = rng.choice(schools)
    for _ in range(20):
        loc = d.LatLon(round(lat0 + rng.uniform(-0.0025, 0.0025), 5), round(lon0 + rng.uniform(-0.0025, 0.0025), 5))
        if _country_of(loc.lat, loc.lon) == country:
            nb = min((n for n in NEIGHBOURHOODS if n.country == country),
                     key=lambda n: distance_m(loc, d.LatLon(n.lat, n.lon)))
            return loc, nb
    return None


def _windows(rng: random.Random, building: str, arrives_s: int | None) -> tuple[d.TimeWindow, ...]:
    if arrives_s is not None:  # same-day: from an hour after it comes in, 2-4 hours long
        start = ((arrives_s + H) // 900 + 1) * 900
        return (d.TimeWindow(start, min(start + rng.choice((2, 3, 4)) * H, hm("18:00"))),)
    r = rng.random()
    if building == "business":
        pair = rng.choice(BUSINESS_SLOTS)
        return (d.TimeWindow(hm(pair[0]), hm(pair[1])),)
    if r < 0.10:
        pair = rng.choice(NARROW)
    elif r < 0.18:
        a, b = rng.choice(TWO_WINDOWS)
        return (d.TimeWindow(hm(a[0]), hm(a[1])), d.TimeWindow(hm(b[0]), hm(b[1])))
    elif r < 0.62:
        pair = rng.choice(SLOTS)
    else:
        pair = ALL_DAY
    return (d.TimeWindow(hm(pair[0]), hm(pair[1])),)


def _hidden(rng: random.Random, oid: str, building: str, windows: tuple[d.TimeWindow, ...]) -> HiddenOrder:
    _, _, b_factor, p_away = BUILDINGS[building]
    factor = round(b_factor * math.exp(rng.gauss(0.0, 0.25)), 3)  # this customer: quick or slow at the door
    p = min(0.5, p_away * math.exp(rng.gauss(0.0, 0.4)))
    away = None
    if rng.random() < p:
        # Away for most of the promised time: out from somewhere in the first third of
        # the (first) window until past 70-100 % of it -- of the whole span if two windows.
        w0, w1 = windows[0], windows[-1]
        span = w1.end - w0.start
        start = w0.start + int(rng.uniform(-0.1, 0.3) * span)
        end = w0.start + int(rng.uniform(0.7, 1.05) * span)
        away = (start, max(end, start + 45 * 60))
    response = rng.choices(("reschedule", "arrange", "ignore"), (0.60, 0.25, 0.15))[0]
    return HiddenOrder(oid, factor, round(p, 4), away, response)


def make_world(seed: int = 1, *, orders: int = 300, drivers: int = 15, day: date | None = None) -> World:
    """A deterministic day: ``orders`` orders (about 5 % of them arriving during the
    day), ``drivers`` drivers on shift (1..18) and, with 3 or more drivers, one falls ill."""
    if orders < 1:
        raise ValueError("orders must be at least 1")
    rng = random.Random(f"lastmile-world:{seed}")
    vehicles, fleet = _fleet(drivers)
    country_has_depot = {dep.country for dep in DEPOTS}
    # Nuevo Laredo gets twice its reference weight: six of the fifteen drivers work from NLD.
    weights = [n.weight * (2 if n.country == "MX" else 1) for n in NEIGHBOURHOODS]
    n_live = max(1, round(orders * 0.05)) if orders >= 20 else 0
    live_at = sorted(rng.randint(hm("08:30"), hm("14:00")) // 60 * 60 for _ in range(n_live))
    live_slots = set(rng.sample(range(orders), n_live))
    out_orders: list[Order] = []
    hidden: list[HiddenOrder] = []
    arrivals = iter(live_at)
    for k in range(orders):
        oid = f"ORD-{1001 + k}"
        arrives = next(arrivals) if k in live_slots else None
        spot = _near_a_school(rng, rng.choice(("US", "US", "US", "MX"))) if rng.random() < 0.06 else None
        if spot is not None:
            loc, nb = spot
        else:
            nb = rng.choices(NEIGHBOURHOODS, weights)[0]
            loc = _place(rng, nb)
        country = nb.country
        assert country in country_has_depot
        customer = _customer(rng, country, 1001 + k)
        shipper = rng.choices(SHIPPERS, [s.weight for s in SHIPPERS])[0]
        col = 0 if country == "US" else 1
        building = rng.choices(list(BUILDINGS), [b[col] for b in BUILDINGS.values()])[0]
        if shipper.kind == "furniture" and building == "apartment" and rng.random() < 0.5:
            building = "house"
        kind = d.StopKind.PICKUP if (shipper.kind in ("online", "furniture") and rng.random() < 0.10) else d.StopKind.DELIVERY
        skills: set[str] = set()
        kg, litres, parcels = rng.randint(1, 12), rng.randint(2, 40), rng.randint(1, 3)
        service = rng.choice((3, 4, 5, 5, 6)) * 60
        priority = 0
        if shipper.kind == "pharmacy":
            priority = 50
            kg, litres, parcels = rng.randint(1, 4), rng.randint(1, 10), 1
            if rng.random() < 0.25:
                skills.add("refrigerated")
        elif shipper.kind == "grocery":
            kg, litres, parcels = rng.randint(5, 25), rng.randint(20, 80), rng.randint(2, 5)
            service = rng.choice((5, 6, 8)) * 60
            if rng.random() < 0.5:
                skills.add("refrigerated")
        elif shipper.kind == "furniture":
            kg, litres, parcels = rng.randint(30, 160), rng.randint(200, 1500), rng.randint(1, 2)
            service = rng.choice((10, 15, 20)) * 60
            if kg > 110:
                skills.add("heavy-lift")
        if arrives is not None and shipper.kind == "furniture":
            shipper = SHIPPERS[0]  # same-day orders are pharmacy / shop orders, not sofas
            skills.discard("heavy-lift")
            kg, litres, parcels, service = 2, 5, 1, 4 * 60
        windows = _windows(rng, building, arrives)
        cod, currency = 0, ""
        if kind is d.StopKind.DELIVERY and rng.random() < (0.35 if country == "MX" else 0.10):
            if country == "MX":
                cod, currency = rng.choice((150, 280, 450, 850, 1200, 2400)) * 100, "MXN"
            else:
                cod, currency = rng.choice((25, 40, 60, 120)) * 100, "USD"
        street = rng.choice(nb.streets)
        number = rng.randint(100, 4999)
        address = (f"{number} {street}, {nb.name}, Laredo, TX" if country == "US"
                   else f"{street} {number}, {nb.name}, Nuevo Laredo, Tamps.")
        notes = [rng.choice(INSTRUCTIONS[customer.language])] if rng.random() < 0.3 else []
        if building in BUILDING_NOTES:
            notes.insert(0, BUILDING_NOTES[building][customer.language].format(n=f"{rng.randint(1, 4)}{'ABCD'[rng.randint(0, 3)]}"))
        if kind is d.StopKind.PICKUP:
            notes.insert(0, "Recoger devolución" if customer.language == "es" else "Collect the return")
        depot = next(dep.id for dep in DEPOTS if dep.country == country)
        out_orders.append(Order(
            id=oid, shipper_id=shipper.id, depot_id=depot, kind=kind, location=loc, address=address,
            neighbourhood=nb.name, country=country, building=building, school_zone=_near_school(loc),
            customer=customer, windows=windows, service_s=service, demand=(kg, litres, parcels),
            skills=frozenset(skills), priority=priority, cod_amount=cod, cod_currency=currency,
            instructions="; ".join(notes), arrives_s=arrives,
        ))
        hidden.append(_hidden(rng, oid, building, windows))
    ill = None
    if drivers >= 3:
        sick = rng.choice([dr for dr in fleet if dr.vehicle_id.startswith(("van", "car"))] or list(fleet))
        ill = DriverIll(sick.id, rng.randint(hm("11:00"), hm("13:30")) // 60 * 60)
    return World(seed, day or DEFAULT_DAY, DEPOTS, SHIPPERS, vehicles, fleet, tuple(out_orders), tuple(hidden), ill)


# --- the planner's view ---------------------------------------------------------------


def to_stop(order: Order, *, windows: tuple[d.TimeWindow, ...] | None = None) -> d.Stop:
    """The engine's stop for an order: what the planner knows (nominal service time)."""
    return d.Stop(
        id=order.id, location=order.location, service_s=order.service_s, demand=order.demand,
        windows=order.windows if windows is None else windows, kind=order.kind, skills=order.skills,
        priority=order.priority, name=order.customer.name, address=order.address,
    )


def to_vehicle(world: World, driver: Driver, *, shift_start: int | None = None) -> d.Vehicle:
    """The engine's vehicle for a driver on shift: vehicle and driver skills together."""
    v = world.vehicle(driver.vehicle_id)
    start = driver.shift_start if shift_start is None else shift_start
    return d.Vehicle(
        id=driver.id, start_depot=driver.depot_id, capacity=v.capacity,
        shift=d.TimeWindow(start, driver.shift_end),
        breaks=(d.Break(d.TimeWindow(driver.break_start, driver.break_end), driver.break_s),),
        max_work_s=driver.max_work_s, skills=v.skills | driver.skills, fixed_cost=v.fixed_cost,
        cost_per_km=v.cost_per_km, cost_per_hour=v.cost_per_hour, name=f"{v.name} {v.id}", driver=driver.name,
    )


def to_problem(world: World, *, known_at: int | None = None, orders: tuple[Order, ...] | None = None,
               drivers: tuple[Driver, ...] | None = None, name: str = "") -> d.Problem:
    """The engine's problem: both depots, every driver on shift (vehicle id = driver id),
    and the orders known by ``known_at`` (None: the morning's orders only; ``orders``
    overrides). Service times are the nominal ones: the planner does not see the truth."""
    if orders is None:
        orders = tuple(o for o in world.orders if o.arrives_s is None or (known_at is not None and o.arrives_s <= known_at))
    fleet = world.drivers if drivers is None else drivers
    depots = tuple(d.Depot(x.id, x.location, x.name, d.TimeWindow(x.opens_s, x.closes_s)) for x in world.depots)
    return d.Problem(stops=tuple(to_stop(o) for o in orders), vehicles=tuple(to_vehicle(world, dr) for dr in fleet),
                     depots=depots, weekday=world.weekday, name=name or f"laredo-day-{world.seed}")


def csv_rows(world: World, orders: tuple[Order, ...] | None = None) -> list[dict[str, str]]:
    """Orders as rows of the stops CSV (``formats/stops_csv.py`` columns): what a
    shipper would upload. Local times HH:MM; COD in currency units."""
    def clock(s: int) -> str:
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

    rows = []
    for o in world.orders if orders is None else orders:
        w = list(o.windows) + [None]
        rows.append({
            "id": o.id, "name": o.customer.name, "address": o.address, "lat": f"{o.location.lat:.5f}",
            "lon": f"{o.location.lon:.5f}", "service_min": f"{o.service_s / 60:g}", "kg": str(o.demand[0]),
            "litres": str(o.demand[1]), "parcels": str(o.demand[2]),
            "window_start": clock(w[0].start) if w[0] else "", "window_end": clock(w[0].end) if w[0] else "",
            "window2_start": clock(w[1].start) if w[1] else "", "window2_end": clock(w[1].end) if w[1] else "",
            "kind": o.kind.value, "skills": ";".join(sorted(o.skills)), "priority": str(o.priority),
            "phone": o.customer.phone, "email": o.customer.email, "language": o.customer.language,
            "cod_amount": f"{o.cod_amount / 100:g}" if o.cod_amount else "", "cod_currency": o.cod_currency,
            "instructions": o.instructions, "depot": o.depot_id, "shipper": o.shipper_id,
        })
    return rows
