"""Great-circle distance x circuity at an urban speed: the fallback when no road
data is available. Estimates, and labelled as such (``provider = "haversine"``).

Defaults calibrated against the road graph of the four shipped OpenStreetMap
extracts (Baltimore, Harrisburg, Aguascalientes, Monaco; 300 random road points
each, pairs at least 250 m apart; ``matrix/calibrate.py``, ``bench/roads.py``):
road distance is a median 1.52x the straight line; with 1.5x at 40 km/h the
travel time is off from the routed time by 25 % on average, 54 % at the 90th
percentile (per extract: 20-33 % mean). Treat any single leg as a rough guess.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..domain import LatLon
from ..ports import Matrix

EARTH_RADIUS_M = 6_371_008.8


def great_circle_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Vectorized haversine distance in metres (broadcasts like numpy)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def distance_m(a: LatLon, b: LatLon) -> float:
    return float(great_circle_m(np.float64(a.lat), np.float64(a.lon), np.float64(b.lat), np.float64(b.lon)))


class HaversineProvider:
    """Straight-line x ``circuity`` metres, at ``speed_kmh`` free-flow."""

    name = "haversine"

    def __init__(self, circuity: float = 1.5, speed_kmh: float = 40.0) -> None:
        if circuity < 1.0 or speed_kmh <= 0:
            raise ValueError("circuity must be >= 1 and speed positive")
        self.circuity = circuity
        self.speed_ms = speed_kmh / 3.6

    def matrix(self, locations: Sequence[LatLon]) -> Matrix:
        lat = np.fromiter((p.lat for p in locations), dtype=np.float64, count=len(locations))
        lon = np.fromiter((p.lon for p in locations), dtype=np.float64, count=len(locations))
        d = great_circle_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) * self.circuity
        dist = np.rint(d).astype(np.int64)
        dur = np.rint(d / self.speed_ms).astype(np.int64)
        return Matrix(dist, dur, self.name)
