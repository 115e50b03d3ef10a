"""Reference data of the simulated Laredo / Nuevo Laredo day (``sim.world``) and
of ``examples/make_laredo_day.py``: neighbourhood centres and their streets (real
places, to a few hundred metres), names, the two depots, the shippers, building
types with their hidden service factor and chance of nobody home, vehicle types,
the driver roster, delivery slots and instructions; and which side of the Rio
Grande a point is on (the planner's own border line, ``routing.matrix.profiles``).
Everything here is re-exported by ``sim.world``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

import numpy as np

from ..routing import domain as d
from ..routing.matrix.haversine import distance_m
from ..routing.matrix.profiles import SCHOOLS, laredo

DEFAULT_DAY = date(2026, 3, 3)  # a Tuesday: weekday traffic, school in session
H = 3600


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * H + int(m) * 60


# --- reference data ----------------------------------------------------------------


@dataclass(frozen=True)
class Neighbourhood:
    name: str
    lat: float
    lon: float
    spread_deg: float  # standard deviation of addresses around the centre
    weight: int  # share of orders
    country: str  # US | MX
    streets: tuple[str, ...]


NEIGHBOURHOODS: tuple[Neighbourhood, ...] = tuple(Neighbourhood(*row[:6], tuple(row[6])) for row in (
    ("Downtown Laredo", 27.5065, -99.5070, 0.006, 8, "US", ["San Bernardo Ave", "Convent Ave", "Matamoros St", "Hidalgo St"]),
    ("El Azteca", 27.5030, -99.4975, 0.004, 4, "US", ["Santa Ursula Ave", "Zaragoza St", "Grant St"]),
    ("The Heights", 27.5215, -99.4985, 0.007, 8, "US", ["San Agustin Ave", "Clark Blvd", "Market St"]),
    ("North Central", 27.5560, -99.4900, 0.010, 10, "US", ["McPherson Rd", "Del Mar Blvd", "Calton Rd"]),
    ("Del Mar", 27.5780, -99.4700, 0.010, 9, "US", ["Del Mar Blvd", "Springfield Ave", "Shiloh Dr"]),
    ("Plantation", 27.5500, -99.4700, 0.008, 6, "US", ["Plantation Dr", "Lafayette St", "Jacaman Rd"]),
    ("San Isidro", 27.5950, -99.4450, 0.012, 9, "US", ["San Isidro Pkwy", "University Blvd", "Bob Bullock Loop"]),
    ("East Laredo", 27.5230, -99.4650, 0.010, 7, "US", ["Saunders St", "Ejido Ave", "Arkansas Ave"]),
    ("Santa Rita / South", 27.4880, -99.4800, 0.009, 7, "US", ["Zapata Hwy", "Cuatro Vientos Rd", "Los Presidentes Ave"]),
    ("Mines Road", 27.6050, -99.5250, 0.010, 4, "US", ["Mines Rd", "Killam Industrial Blvd", "Pan American Blvd"]),
    ("Centro Nuevo Laredo", 27.4780, -99.5080, 0.005, 6, "MX", ["Av. Guerrero", "Calle Victoria", "Calle Ocampo"]),
    ("Col. Madero", 27.4700, -99.5200, 0.006, 5, "MX", ["Calle Madero", "Calle Bravo", "Calle Aldama"]),
    ("Col. Guerrero", 27.4690, -99.4960, 0.006, 4, "MX", ["Av. Reforma", "Calle Jalisco", "Calle Colima"]),
    ("Col. Hidalgo", 27.4580, -99.5300, 0.007, 4, "MX", ["Blvd. Colosio", "Calle Hidalgo", "Calle Nayarit"]),
    ("Col. Buenavista", 27.4530, -99.5120, 0.006, 3, "MX", ["Calle Belden", "Calle Perú", "Calle Chile"]),
))

FIRST_ES = ("María", "José", "Guadalupe", "Juan", "Rosa", "Luis", "Ana", "Carlos", "Patricia", "Jorge", "Elena", "Miguel")
LAST_ES = ("Garza", "García", "Martínez", "Rodríguez", "Hernández", "López", "González", "Peña", "Treviño", "Salinas")
FIRST_EN = ("John", "Mary", "Robert", "Linda", "Michael", "Susan", "David", "Karen", "James", "Nancy")
LAST_EN = ("Smith", "Johnson", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Moore")


@dataclass(frozen=True)
class Depot:
    id: str
    name: str
    location: d.LatLon
    opens_s: int
    closes_s: int
    timezone: str
    country: str
    address: str = ""


DEPOTS: tuple[Depot, ...] = (
    Depot("LRD-N", "Laredo North depot (Mines Rd)", d.LatLon(27.5930, -99.5050), hm("06:00"), hm("21:00"),
          "America/Chicago", "US", "Mines Rd, Laredo, TX 78045"),
    Depot("NLD", "Nuevo Laredo depot (Av. Reforma)", d.LatLon(27.4600, -99.5050), hm("06:00"), hm("21:00"),
          "America/Matamoros", "MX", "Av. Reforma, Nuevo Laredo, Tamps."),
)


@dataclass(frozen=True)
class Shipper:
    id: str
    name: str
    kind: str  # pharmacy | furniture | online | grocery
    weight: int  # share of orders
    email: str = ""


SHIPPERS: tuple[Shipper, ...] = (
    Shipper("farmacia-del-rio", "Farmacia del Río", "pharmacy", 5, "pedidos@farmacia-del-rio.example.com"),
    Shipper("muebles-frontera", "Muebles Frontera", "furniture", 1, "envios@muebles-frontera.example.com"),
    Shipper("tienda-en-linea", "Tienda en Línea", "online", 9, "ops@tienda-en-linea.example.com"),
    Shipper("mercado-fresco", "Mercado Fresco", "grocery", 2, "entregas@mercado-fresco.example.com"),
)

# building type -> (share in US neighbourhoods, share in MX, hidden service factor, p(not home))
BUILDINGS: dict[str, tuple[float, float, float, float]] = {
    "house": (0.55, 0.65, 1.00, 0.08),
    "apartment": (0.20, 0.15, 1.35, 0.10),
    "business": (0.15, 0.15, 0.80, 0.03),
    "gated community": (0.10, 0.05, 1.25, 0.07),
}


@dataclass(frozen=True)
class FleetVehicle:
    id: str
    name: str
    kind: str  # cargo-van | refrigerated-van | box-truck | car
    plate: str
    capacity: tuple[int, int, int]  # kg, litres, parcels
    skills: frozenset[str]
    fixed_cost: int  # US cents per day used
    cost_per_km: int  # US cents
    cost_per_hour: int  # US cents (driver wage and vehicle time)


# kind -> (name, capacity, skills, fixed, per km, per hour)
VEHICLE_TYPES: dict[str, tuple[str, tuple[int, int, int], frozenset[str], int, int, int]] = {
    "cargo-van": ("Cargo van", (1100, 8000, 90), frozenset(), 4000, 25, 2000),
    "refrigerated-van": ("Refrigerated van", (900, 6000, 80), frozenset({"refrigerated"}), 4500, 28, 2200),
    "box-truck": ("Box truck with lift gate", (3000, 20000, 60), frozenset({"heavy-lift"}), 7000, 45, 2500),
    "car": ("Compact car", (250, 1200, 40), frozenset(), 2000, 15, 1800),
}


# (driver id, name, language, depot, vehicle kind, shift, break window, driver skills); the first
# ``drivers`` of this list are on shift, so a smaller day keeps a balanced fleet.
ROSTER = (
    ("jorge", "Jorge Treviño", "es", "LRD-N", "refrigerated-van", ("07:00", "16:00"), ("11:00", "13:30"), "cross-border bilingual"),
    ("miguel", "Miguel Salinas", "es", "NLD", "refrigerated-van", ("07:00", "16:00"), ("11:00", "13:30"), "bilingual"),
    ("ana", "Ana Martínez", "es", "LRD-N", "cargo-van", ("07:00", "16:00"), ("11:30", "14:00"), "bilingual"),
    ("elena", "Elena Peña", "es", "NLD", "cargo-van", ("08:00", "17:00"), ("12:00", "14:30"), ""),
    ("roberto", "Roberto Garza", "es", "LRD-N", "box-truck", ("07:00", "16:00"), ("11:00", "13:30"), "cross-border"),
    ("sarah", "Sarah Miller", "en", "LRD-N", "cargo-van", ("08:00", "17:00"), ("12:00", "14:30"), ""),
    ("carlos", "Carlos Hernández", "es", "NLD", "car", ("09:00", "18:00"), ("13:00", "15:00"), ""),
    ("patricia", "Patricia López", "es", "LRD-N", "car", ("09:00", "18:00"), ("13:00", "15:00"), "bilingual"),
    ("luis", "Luis González", "es", "LRD-N", "cargo-van", ("08:00", "17:00"), ("12:00", "14:30"), ""),
    ("guadalupe", "Guadalupe Rodríguez", "es", "NLD", "cargo-van", ("07:00", "16:00"), ("11:30", "14:00"), ""),
    ("daniel", "Daniel Wilson", "en", "LRD-N", "refrigerated-van", ("08:00", "17:00"), ("12:00", "14:30"), "bilingual"),
    ("fernando", "Fernando García", "es", "NLD", "box-truck", ("08:00", "17:00"), ("12:00", "14:30"), ""),
    ("rosa", "Rosa Salinas", "es", "LRD-N", "cargo-van", ("09:00", "18:00"), ("13:00", "15:00"), "cross-border"),
    ("juan", "Juan Martínez", "es", "NLD", "car", ("10:00", "19:00"), ("13:30", "16:00"), ""),
    ("michael", "Michael Davis", "en", "LRD-N", "car", ("10:00", "19:00"), ("13:30", "16:00"), "bilingual"),
    ("maria", "María Treviño", "es", "LRD-N", "cargo-van", ("07:00", "16:00"), ("11:30", "14:00"), "bilingual"),
    ("jose", "José Peña", "es", "NLD", "cargo-van", ("08:00", "17:00"), ("12:00", "14:30"), ""),
    ("linda", "Linda Moore", "en", "LRD-N", "cargo-van", ("09:00", "18:00"), ("13:00", "15:00"), "bilingual"),
)


SLOTS = (("08:00", "10:00"), ("09:00", "12:00"), ("10:00", "12:00"), ("12:00", "14:00"), ("13:00", "16:00"),
         ("14:00", "17:00"), ("15:00", "18:00"))
NARROW = (("08:30", "09:30"), ("10:00", "11:00"), ("11:30", "12:30"), ("14:00", "15:00"), ("16:00", "17:00"))
ALL_DAY = ("08:00", "18:00")
BUSINESS_SLOTS = (("09:00", "13:00"), ("09:00", "17:00"), ("10:00", "14:00"), ("14:00", "17:00"))
TWO_WINDOWS = ((("08:00", "10:00"), ("16:00", "18:00")), (("09:00", "11:00"), ("15:00", "17:00")))

INSTRUCTIONS = {
    "es": ("Tocar el timbre dos veces", "Dejar con el vecino del 14", "Llamar al llegar", "Perro en el patio, no abrir la reja",
           "Casa azul con portón negro"),
    "en": ("Leave at the back door", "Ring twice", "Call on arrival", "Beware of the dog", "Blue house, black gate"),
}
BUILDING_NOTES = {
    "apartment": {"es": "Depto {n}, subir por la escalera B", "en": "Apt {n}, second floor, stairs B"},
    "gated community": {"es": "Privada: dar el nombre en la caseta", "en": "Gated: give the name at the guard house"},
    "business": {"es": "Entregar en recepción", "en": "Deliver to the front desk"},
}


@functools.cache
def _border():  # type: ignore[no-untyped-def]
    border = laredo().border
    assert border is not None
    return border


def _country_of(lat: float, lon: float) -> str:
    """Which side of the Rio Grande a point is on (the planner's own border line)."""
    border = _border()
    return border.left_name if border.side(np.array([lat]), np.array([lon]))[0] else border.right_name


def _near_school(loc: d.LatLon, radius_m: float = 400.0) -> bool:
    return any(distance_m(loc, d.LatLon(lat, lon)) <= radius_m for lat, lon in SCHOOLS.values())


