"""Feature columns for the two learned models, built the same way for training rows
and for the rows the engine and live ETAs ask about.

Travel (per leg and departure): the engine's base columns
(``routing.learned.LEG_COLUMNS``: ends, time of day, weekday, straight line, the
static estimate, border crossing) plus what the area says about the roads:

* distance of the origin, destination and midpoint to the I-35 / US-83 corridor
  and to the downtown bridges (where rush hour bites hardest);
* a road-class proxy learned from the pings: the median speed observed in the
  origin's, destination's and midpoint's ~1 km cell (``SpeedMap``; NaN where the
  fleet has not driven -- LightGBM treats missing values natively);
* the static model's pace (seconds per straight-line metre).

Service (per stop visit): parcels, weight, cash on delivery, pickup or delivery,
the planned service time, time of day, weekday, building type (from the address and
instructions: apartment, business, gated community, house), the customer's history
(earlier visits and their mean dwell ratio, keyed by a hash of the phone / e-mail /
address -- no raw contact data in the model) and whether this is the customer's first
visit.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..routing.domain import DAY
from ..routing.learned import LEG_COLUMNS

# The I-35 / US-83 corridor from the downtown bridges north (as routing/matrix/profiles.py).
I35 = ((27.503, -99.507), (27.530, -99.495), (27.560, -99.490), (27.600, -99.482), (27.650, -99.470),
       (27.700, -99.455))
DOWNTOWN_BRIDGES = ((27.4994, -99.5075), (27.4958, -99.5020))
CELL_DEG = 0.01  # ~1.1 km north-south, ~1 km east-west at Laredo's latitude

TRAVEL_FEATURES = (*LEG_COLUMNS, "o_i35_m", "d_i35_m", "m_i35_m", "o_bridge_m", "d_bridge_m", "pace",
                   "o_speed", "d_speed", "m_speed")
SERVICE_FEATURES = ("parcels", "kg", "cod", "pickup", "planned_s", "tod_h", "weekday", "building",
                    "cust_visits", "cust_ratio", "first_visit", "lat", "lon")
BUILDINGS = {"house": 0, "apartment": 1, "business": 2, "gated community": 3}


def _xy(lat: np.ndarray, lon: np.ndarray, lat0: float = 27.5) -> tuple[np.ndarray, np.ndarray]:
    k = math.pi / 180 * 6_371_008.8
    return lon * math.cos(math.radians(lat0)) * k, lat * k


def distance_to_path_m(lat: np.ndarray, lon: np.ndarray, path: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Metres from each point to the polyline (or to the nearest point if ``path`` is points)."""
    x, y = _xy(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
    best = np.full(x.shape, np.inf)
    if len(path) == 1:
        px, py = _xy(np.float64(path[0][0]), np.float64(path[0][1]))
        return np.hypot(x - px, y - py)
    for (alat, alon), (blat, blon) in zip(path, path[1:]):
        ax, ay = _xy(np.float64(alat), np.float64(alon))
        bx, by = _xy(np.float64(blat), np.float64(blon))
        dx, dy = bx - ax, by - ay
        u = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
        best = np.minimum(best, np.hypot(x - (ax + u * dx), y - (ay + u * dy)))
    return best


def nearest_point_m(lat: np.ndarray, lon: np.ndarray, points: tuple[tuple[float, float], ...]) -> np.ndarray:
    return np.min(np.stack([distance_to_path_m(lat, lon, (p,)) for p in points]), axis=0)


@dataclass
class SpeedMap:
    """Median moving speed (m/s) per ~1 km cell, from consecutive pings of each driver."""

    cells: dict[tuple[int, int], float] = field(default_factory=dict)
    _dense: tuple[int, int, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @staticmethod
    def cell(lat: float, lon: float) -> tuple[int, int]:
        return int(math.floor(lat / CELL_DEG)), int(math.floor(lon / CELL_DEG))

    @classmethod
    def from_tracks(cls, tracks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], min_samples: int = 5,
                    moving_mps: float = 1.5) -> "SpeedMap":
        """``tracks``: per driver and day, (epoch seconds, lat, lon) sorted by time."""
        from ..routing.matrix.haversine import great_circle_m

        samples: dict[tuple[int, int], list[float]] = {}
        for t, lat, lon in tracks:
            if len(t) < 2:
                continue
            dt = np.diff(t)
            d = great_circle_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
            ok = (dt > 0) & (dt <= 120)
            v = np.where(ok, d / np.where(dt > 0, dt, 1), 0.0)
            mlat, mlon = (lat[:-1] + lat[1:]) / 2, (lon[:-1] + lon[1:]) / 2
            for k in np.flatnonzero(ok & (v >= moving_mps) & (v < 45)):
                samples.setdefault(cls.cell(float(mlat[k]), float(mlon[k])), []).append(float(v[k]))
        return cls({c: float(np.median(v)) for c, v in samples.items() if len(v) >= min_samples})

    def lookup(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The cell speed at each point (NaN where unknown): one array index per point."""
        if not self.cells:
            return np.full(np.shape(lat), np.nan)
        if self._dense is None:
            keys = np.array(list(self.cells), np.int64)
            i0, j0 = keys.min(axis=0)
            i1, j1 = keys.max(axis=0)
            dense = np.full((i1 - i0 + 1, j1 - j0 + 1), np.nan)
            for (a, b), v in self.cells.items():
                dense[a - i0, b - j0] = v
            self._dense = (int(i0), int(j0), dense)
        i0, j0, dense = self._dense
        ci = np.floor(np.asarray(lat, np.float64) / CELL_DEG).astype(np.int64) - i0
        cj = np.floor(np.asarray(lon, np.float64) / CELL_DEG).astype(np.int64) - j0
        inside = (ci >= 0) & (ci < dense.shape[0]) & (cj >= 0) & (cj < dense.shape[1])
        out = np.full(ci.shape, np.nan)
        out[inside] = dense[ci[inside], cj[inside]]
        return out

    def to_json(self) -> list[list[float]]:
        return [[a, b, round(v, 3)] for (a, b), v in sorted(self.cells.items())]

    @classmethod
    def from_json(cls, rows: list[list[float]]) -> "SpeedMap":
        return cls({(int(a), int(b)): float(v) for a, b, v in rows})


def travel_matrix(cols: dict[str, np.ndarray], speed: SpeedMap) -> np.ndarray:
    """Rows x ``TRAVEL_FEATURES`` (float32) from the engine's leg columns."""
    olat, olon, dlat, dlon = cols["olat"], cols["olon"], cols["dlat"], cols["dlon"]
    mlat, mlon = (olat + dlat) / 2, (olon + dlon) / 2
    out = np.empty((len(olat), len(TRAVEL_FEATURES)), np.float32)
    for k, name in enumerate(LEG_COLUMNS):
        out[:, k] = cols[name]
    k = len(LEG_COLUMNS)
    pace = cols["static_s"] / np.maximum(cols["straight_m"], 50.0)
    for extra in (lambda: distance_to_path_m(olat, olon, I35), lambda: distance_to_path_m(dlat, dlon, I35),
                  lambda: distance_to_path_m(mlat, mlon, I35), lambda: nearest_point_m(olat, olon, DOWNTOWN_BRIDGES),
                  lambda: nearest_point_m(dlat, dlon, DOWNTOWN_BRIDGES), lambda: pace,
                  lambda: speed.lookup(olat, olon), lambda: speed.lookup(dlat, dlon), lambda: speed.lookup(mlat, mlon)):
        out[:, k] = extra()
        k += 1
    return out


# --- service ---

_APARTMENT = re.compile(r"\b(apt|apto|apartment|departamento|depto|unit|suite|ste|piso|interior|int\.?)\b|#\s*\d",
                        re.IGNORECASE)
_BUSINESS = re.compile(r"\b(plaza|mall|center|centre|centro comercial|local|oficina|office|store|tienda|"
                       r"hospital|clinic|cl[ií]nica|school|escuela|warehouse|bodega|parque industrial|"
                       r"front desk|reception|recepci[oó]n|inc|llc)\b", re.IGNORECASE)
_GATED = re.compile(r"\b(gated|guard house|privada|caseta|fraccionamiento|coto)\b", re.IGNORECASE)


def building_type(address: str, explicit: str | None = None) -> int:
    """House, apartment, business or gated community: the order's own building type
    when it has one, else guessed from the address and delivery instructions."""
    if explicit and explicit.lower() in BUILDINGS:
        return BUILDINGS[explicit.lower()]
    if _GATED.search(address or ""):
        return BUILDINGS["gated community"]
    if _APARTMENT.search(address or ""):
        return BUILDINGS["apartment"]
    if _BUSINESS.search(address or ""):
        return BUILDINGS["business"]
    return BUILDINGS["house"]


def customer_key(phone: str, email: str, address: str) -> str:
    """A stable, non-reversible key for "the same customer"."""
    digits = re.sub(r"\D", "", phone or "")
    raw = digits[-10:] if len(digits) >= 7 else (email or "").strip().lower() or " ".join((address or "").lower().split())
    return hashlib.sha256(("lastmile-customer:" + raw).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Visit:
    """What the service model knows about one stop visit before it happens."""

    customer: str
    parcels: int
    kg: int
    cod: bool
    pickup: bool
    planned_s: int
    tod_s: int
    weekday: int
    building: int
    lat: float
    lon: float


def service_matrix(visits: list[Visit], customers: dict[str, tuple[int, float]],
                   history: list[tuple[int, float]] | None = None) -> np.ndarray:
    """Rows x ``SERVICE_FEATURES``. ``customers``: key -> (visits, mean log dwell ratio)
    known from history; ``history`` (training) overrides per row with what was known
    before that visit (no leak of the row's own outcome)."""
    out = np.empty((len(visits), len(SERVICE_FEATURES)), np.float32)
    for r, v in enumerate(visits):
        n, ratio = history[r] if history is not None else customers.get(v.customer, (0, math.nan))
        out[r] = (v.parcels, v.kg, float(v.cod), float(v.pickup), v.planned_s, (v.tod_s % DAY) / 3600.0, v.weekday,
                  v.building, n, ratio if n else math.nan, float(n == 0), v.lat, v.lon)
    return out
