"""Traffic profiles for the markets we serve. Coordinates are approximate (to a
few hundred metres) and every number is a default a deployment can override.

Laredo, TX / Nuevo Laredo, Tamaulipas:

* city-wide rush hours on weekdays;
* the I-35 / US-83 corridor from the downtown bridges north, much slower at rush;
* the approaches to the downtown bridges (Gateway to the Americas, Juarez-Lincoln);
* school zones around the high schools, 07:00-08:30 and 14:30-16:00 on weekdays;
* the Rio Grande as the border: a leg that crosses waits at a bridge, longer
  northbound (inspection) and at the commute peaks.
"""

from __future__ import annotations

from ..domain import LatLon
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

RIO_GRANDE = (
    LatLon(27.700, -99.760),
    LatLon(27.640, -99.600),
    LatLon(27.600, -99.537),
    LatLon(27.555, -99.525),
    LatLon(27.520, -99.515),
    LatLon(27.500, -99.505),
    LatLon(27.475, -99.490),
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


def laredo() -> TrafficProfile:
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
        into_left=(  # northbound, into the US
            (hm("06:00"), hm("10:00"), 45 * 60),
            (hm("10:00"), hm("15:00"), 25 * 60),
            (hm("15:00"), hm("20:00"), 60 * 60),
        ),
        into_right=(  # southbound, into Mexico
            (hm("07:00"), hm("09:00"), 20 * 60),
            (hm("16:00"), hm("19:00"), 25 * 60),
        ),
        base_wait_s=12 * 60,
    )
    return TrafficProfile(tuple(zones), border, name="laredo")


PROFILES = {"laredo": laredo, "none": TrafficProfile}


def profile_named(name: str) -> TrafficProfile:
    try:
        return PROFILES[name]()
    except KeyError:
        raise ValueError(f"unknown traffic profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
