"""Traffic profiles for the markets we serve. Coordinates are approximate (to a
few hundred metres) and every number is a default a deployment can override.

Laredo, TX / Nuevo Laredo, Tamaulipas:

* city-wide rush hours on weekdays;
* the I-35 / US-83 corridor from the downtown bridges north, much slower at rush;
* the approaches to the downtown bridges (Gateway to the Americas, Juarez-Lincoln);
* school zones around the high schools, 07:00-08:30 and 14:30-16:00 on weekdays;
* the Rio Grande as the border, crossed only at the four international bridges
  (``laredo_bridges``): each with opening hours, the traffic it takes, and a
  wait by hour, weekday and direction -- northbound (inspection) much longer,
  peaks at the commute, Saturday shopping and Sunday-evening returns.
"""

from __future__ import annotations

import itertools

from ..domain import DAY, LatLon
from .bridges import COMMERCIAL, PASSENGER, Bridge, OpenHours, WaitProfile
from .timedep import EVERY_DAY, WEEKDAYS, Border, Slowdown, TrafficProfile, Zone, hm


def _sd(start: str, end: str, factor: float, weekdays: frozenset[int] = WEEKDAYS) -> Slowdown:
    return Slowdown(hm(start), hm(end), factor, weekdays)


SCHOOLS = {
    # name: (lat, lon) -- approximate campus locations
    "Martin HS": (27.5146, -99.5004),
    "Nixon HS": (27.5262, -99.4795),
    "Cigarroa HS": (27.4834, -99.4840),
    "LBJ HS": (27.5455, -99.4535),
    "United HS": (27.5896, -99.4717),
    "Alexander HS": (27.6176, -99.4468),
    "United South HS": (27.4668, -99.4688),
    "Sec. Tec. 1 Nuevo Laredo": (27.4810, -99.5190),
    "CBTIS 137 Nuevo Laredo": (27.4540, -99.5380),
}

# The river, upstream to downstream, through the bridges' crossing points: downtown
# Laredo (San Agustin, Houston St) is on the US bank just north of Gateway to the
# Americas; the line is coarse elsewhere (a few hundred metres), which only matters
# for addresses right on the bank.
RIO_GRANDE = (
    LatLon(27.700, -99.760),
    LatLon(27.640, -99.600),
    LatLon(27.5990, -99.5370),  # World Trade Bridge
    LatLon(27.560, -99.540),
    LatLon(27.530, -99.535),
    LatLon(27.508, -99.525),  # Laredo College (Fort McIntosh) bank
    LatLon(27.5010, -99.5130),
    LatLon(27.4994, -99.5075),  # Gateway to the Americas
    LatLon(27.4958, -99.5020),  # Juarez-Lincoln
    LatLon(27.4900, -99.4950),
    LatLon(27.4750, -99.4950),
    LatLon(27.440, -99.485),
    LatLon(27.400, -99.470),
    LatLon(27.350, -99.460),
)

BRIDGES = {
    "Gateway to the Americas": LatLon(27.4994, -99.5075),
    "Juarez-Lincoln": LatLon(27.4958, -99.5020),
    "World Trade Bridge": LatLon(27.5990, -99.5370),
    "Colombia Solidarity": LatLon(27.7010, -99.7450),
}


def _hours(*pairs: tuple[int, int]) -> tuple[float, ...]:
    """``(hour, minutes)`` anchors -> 24 hourly values, linear between anchors."""
    out = []
    for h in range(24):
        for (h0, m0), (h1, m1) in itertools.pairwise(pairs):
            if h0 <= h <= h1:
                out.append(m0 + (m1 - m0) * (h - h0) / max(h1 - h0, 1))
                break
    return tuple(out)


# Minutes of wait by hour. Northbound (into the US, CBP inspection) is much longer
# than southbound; weekday peaks follow the commute and the school run, Saturday
# is a shopping day, Sunday evening everyone comes home north.
NORTH_WEEKDAY = _hours((0, 10), (5, 15), (7, 45), (8, 50), (10, 30), (11, 25), (13, 35), (15, 50), (17, 65),
                       (19, 40), (21, 20), (23, 10))
NORTH_SATURDAY = _hours((0, 10), (7, 15), (10, 35), (13, 50), (16, 45), (19, 30), (22, 15), (23, 10))
NORTH_SUNDAY = _hours((0, 10), (8, 10), (12, 30), (16, 60), (19, 75), (21, 45), (23, 15))
SOUTH_WEEKDAY = _hours((0, 5), (6, 10), (7, 20), (9, 15), (16, 20), (17, 25), (18, 25), (20, 10), (23, 5))
SOUTH_SATURDAY = _hours((0, 5), (8, 10), (11, 20), (15, 20), (19, 10), (23, 5))
SOUTH_SUNDAY = _hours((0, 5), (9, 10), (13, 15), (18, 10), (23, 5))
# Commercial (trucks, FAST lanes aside): long northbound queues through the working day.
CARGO_NORTH = _hours((0, 30), (8, 60), (11, 90), (15, 100), (18, 70), (23, 30))
CARGO_NORTH_SAT = _hours((0, 30), (8, 45), (12, 60), (16, 40), (23, 30))
CARGO_SOUTH = _hours((0, 15), (8, 30), (12, 45), (17, 40), (23, 15))


def _scaled(hours: tuple[float, ...], k: float) -> tuple[float, ...]:
    return tuple(round(m * k, 1) for m in hours)


def _passenger(k: float) -> tuple[WaitProfile, WaitProfile]:
    north = WaitProfile(_scaled(NORTH_WEEKDAY, k), _scaled(NORTH_SATURDAY, k), _scaled(NORTH_SUNDAY, k))
    south = WaitProfile(_scaled(SOUTH_WEEKDAY, k), _scaled(SOUTH_SATURDAY, k), _scaled(SOUTH_SUNDAY, k))
    return north, south


def laredo_bridges() -> tuple[Bridge, ...]:
    """The four international bridges of Laredo / Nuevo Laredo. Hours and waits are
    typical figures for planning (CBP publishes live waits), not a schedule."""
    gw_n, gw_s = _passenger(1.0)
    jl_n, jl_s = _passenger(1.1)  # Bridge II carries most of the cars and buses
    co_n, co_s = _passenger(0.4)  # Colombia: far out, short queues
    weekdays_and_saturday = (OpenHours(hm("08:00"), DAY, WEEKDAYS), OpenHours(hm("08:00"), hm("16:00"), frozenset({5})))
    return (
        Bridge("Gateway to the Americas", BRIDGES["Gateway to the Americas"], gw_n, gw_s,
               serves=frozenset({PASSENGER})),
        Bridge("Juarez-Lincoln", BRIDGES["Juarez-Lincoln"], jl_n, jl_s, serves=frozenset({PASSENGER})),
        Bridge("World Trade Bridge", BRIDGES["World Trade Bridge"], WaitProfile(CARGO_NORTH, CARGO_NORTH_SAT),
               WaitProfile(CARGO_SOUTH), hours=weekdays_and_saturday, serves=frozenset({COMMERCIAL})),
        Bridge("Colombia Solidarity", BRIDGES["Colombia Solidarity"], co_n, co_s,
               hours=(OpenHours(hm("08:00"), DAY),), serves=frozenset({PASSENGER, COMMERCIAL})),
    )


def laredo(vehicle_class: str | None = PASSENGER) -> TrafficProfile:
    """Laredo's rush hours, school zones and bridges. ``vehicle_class`` picks the
    bridges a crossing may use: ``"passenger"`` (vans and cars: Gateway,
    Juarez-Lincoln, Colombia), ``"commercial"`` (trucks: World Trade Bridge,
    Colombia) or ``None`` (any)."""
    zones = [
        Zone("citywide", (
            _sd("07:00", "09:00", 1.30),
            _sd("12:00", "13:30", 1.10),
            _sd("16:30", "18:30", 1.35),
            _sd("11:00", "15:00", 1.10, frozenset({5})),  # Saturday shopping
        )),
        Zone("I-35 corridor", (
            _sd("07:00", "09:00", 1.70),
            _sd("16:30", "18:30", 1.80),
        ), path=(LatLon(27.503, -99.507), LatLon(27.530, -99.495), LatLon(27.560, -99.490),
                 LatLon(27.600, -99.482), LatLon(27.650, -99.470), LatLon(27.700, -99.455)),
            radius_m=800.0),
        Zone("downtown bridges", (
            _sd("06:30", "09:30", 1.80),
            _sd("16:00", "19:00", 2.00),
            _sd("10:00", "16:00", 1.30, EVERY_DAY),
        ), path=(BRIDGES["Gateway to the Americas"],), radius_m=1200.0),
    ]
    for name, (lat, lon) in SCHOOLS.items():
        zones.append(Zone(f"school zone {name}", (
            _sd("07:00", "08:30", 2.0),
            _sd("14:30", "16:00", 2.0),
        ), path=(LatLon(lat, lon),), radius_m=400.0))
    border = Border(
        river=RIO_GRANDE,
        # Walking the river downstream (north-west to south-east), Mexico is on the right.
        left_name="US",
        right_name="MX",
        base_wait_s=12 * 60,  # only if the bridges are taken away
        bridges=laredo_bridges(),
        vehicle_class=vehicle_class,
    )
    name = "laredo" if vehicle_class == PASSENGER else f"laredo-{vehicle_class or 'any'}"
    return TrafficProfile(tuple(zones), border, name=name)


def laredo_free_flow() -> TrafficProfile:
    """No time-of-day slowdowns, but the border stays: crossing still needs a bridge
    (and its queue) and a vehicle allowed to cross. The border is geography, not traffic."""
    return TrafficProfile((), laredo().border, name="free-flow")


PROFILES = {
    "laredo": laredo,
    "laredo-commercial": lambda: laredo(COMMERCIAL),
    "none": laredo_free_flow,  # no slowdowns; the border and its bridges stay
    "off": TrafficProfile,  # nothing at all: no slowdowns, no border
}


def profile_named(name: str) -> TrafficProfile:
    try:
        return PROFILES[name]()
    except KeyError:
        raise ValueError(f"unknown traffic profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
