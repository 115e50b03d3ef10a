"""Fit the straight-line fallback (``HaversineProvider``) to routed travel.

The fallback predicts ``time = straight_line_m * circuity / speed``. Given a
road provider and sample points, ``calibrate`` fits:

* ``circuity``: the median of road distance / straight-line distance;
* ``speed_kmh``: the speed that minimises the mean relative error of travel
  time (a weighted median, see ``_fit_time``), given that circuity;

and reports the mean and 90th-percentile relative error ``|predicted - routed|
/ routed`` of travel time over the pairs. Pairs closer than ``min_m`` in a
straight line are left out: a stop across the street is not what a detour
factor is for, and its relative error says nothing.

Measured on the shipped extracts (``bench/roads.py``: 300 random points on
the main road network of each, by road length; pairs at least 250 m apart;
our free-flow car profile, ``osm_read``):

=============== ======== ========== ======== ======= =========================
extract         circuity speed      mean err p90 err with the defaults (1.5, 40)
=============== ======== ========== ======== ======= =========================
baltimore       1.41     39.4 km/h  20 %     49 %    20 % / 48 %
harrisburg      1.47     44.1 km/h  20 %     40 %    22 % / 46 %
aguascalientes  1.57     34.5 km/h  21 %     44 %    26 % / 50 %
monaco          1.75     40.9 km/h  31 %     64 %    33 % / 67 %
all four pooled 1.52     40.1 km/h  25 %     54 %    25 % / 54 %
=============== ======== ========== ======== ======= =========================

``HaversineProvider``'s defaults are the pooled fit, rounded: circuity 1.5
at 40 km/h. Time errors barely move with the rounding because only the ratio
circuity / speed matters for time; the circuity sets distances. The p90 is
high because short legs vary most (one block, or around a one-way loop): the
fallback is an estimate, and every matrix says which provider made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..domain import LatLon
from ..ports import MatrixProvider
from .haversine import great_circle_m


@dataclass(frozen=True)
class Pairs:
    """Straight-line metres and routed metres/seconds for ordered pairs i != j."""

    straight_m: np.ndarray
    road_m: np.ndarray
    road_s: np.ndarray

    def __add__(self, other: Pairs) -> Pairs:
        return Pairs(*(np.concatenate((a, b)) for a, b in
                       ((self.straight_m, other.straight_m), (self.road_m, other.road_m),
                        (self.road_s, other.road_s))))


@dataclass(frozen=True)
class Calibration:
    circuity: float
    speed_kmh: float
    mean_rel_error: float
    p90_rel_error: float
    pairs: int

    def __str__(self) -> str:
        return (f"circuity {self.circuity:.2f} at {self.speed_kmh:.1f} km/h: travel time off by "
                f"{self.mean_rel_error:.0%} on average, {self.p90_rel_error:.0%} at the 90th percentile "
                f"({self.pairs:,} pairs)")


def sample_points(road, n: int, seed: int = 0) -> list[LatLon]:
    """``n`` random points on the main network of a ``RoadGraph``, by road length."""
    rng = np.random.default_rng(seed)
    segs = np.flatnonzero(road.seg_main & (road.seg_len > 1.0))
    if segs.shape[0] == 0:
        raise ValueError("the road graph has no main network to sample")
    p = road.seg_len[segs] / road.seg_len[segs].sum()
    pick = rng.choice(segs, size=n, p=p)
    out = []
    for s in pick:
        a = rng.uniform(0.0, float(road.seg_len[s]))
        lat, lon = road.piece(int(s), a, a)[0]
        out.append(LatLon(lat, lon))
    return out


def pairs(provider: MatrixProvider, points: Sequence[LatLon], min_m: float = 250.0) -> Pairs:
    m = provider.matrix(points)
    lat = np.array([p.lat for p in points])
    lon = np.array([p.lon for p in points])
    s = great_circle_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    keep = (s >= min_m) & (m.durations > 0)
    np.fill_diagonal(keep, False)
    return Pairs(s[keep], m.distances[keep].astype(float), m.durations[keep].astype(float))


def errors(p: Pairs, circuity: float, speed_kmh: float) -> tuple[float, float]:
    """Mean and 90th-percentile relative error of travel time for a fallback."""
    pred = p.straight_m * circuity / (speed_kmh / 3.6)
    rel = np.abs(pred - p.road_s) / p.road_s
    return float(rel.mean()), float(np.percentile(rel, 90))


def _fit_time(p: Pairs) -> float:
    """Seconds per straight-line metre ``k`` minimising mean |k*s - t| / t.

    That sum is sum_i |k - r_i| / r_i with r_i = t_i / s_i: a weighted median
    of the r_i with weights 1 / r_i."""
    r = p.road_s / p.straight_m
    order = np.argsort(r)
    r, w = r[order], 1.0 / r[order]
    c = np.cumsum(w)
    return float(r[np.searchsorted(c, c[-1] / 2.0)])


def fit(p: Pairs) -> Calibration:
    if p.straight_m.shape[0] == 0:
        raise ValueError("no pairs to calibrate on: points too close together or unreachable")
    circuity = max(1.0, float(np.median(p.road_m / p.straight_m)))
    k = _fit_time(p)
    speed = circuity / k * 3.6
    mean, p90 = errors(p, circuity, speed)
    return Calibration(circuity, speed, mean, p90, int(p.straight_m.shape[0]))


def calibrate(provider: MatrixProvider, points: Sequence[LatLon], min_m: float = 250.0) -> Calibration:
    """Fit circuity and speed of the straight-line fallback to ``provider`` on ``points``."""
    return fit(pairs(provider, points, min_m))
