"""Time-of-day travel: rush hours, school zones, the international bridges.

A free-flow ``Matrix`` says how long a leg takes on an empty road. A
``TrafficProfile`` says where and when roads are slower: each ``Zone`` has a
soft footprint (a circle or a corridor along a polyline) and ``Slowdown``s
(weekdays, hours, a factor on travel time). A ``Border`` adds the wait at an
international bridge, by hour and direction, to every leg that crosses.

``TimeDependentModel`` combines them. A leg's exposure to a zone is the mean of
its two ends' memberships; its slowdown at time ``t`` is
``1 + sum_z exposure_z * (factor_z(t) - 1)``. Travel time integrates the
free-flow seconds through the piecewise-constant slowdown (leaving later never
arrives earlier: the model is FIFO), so a leg that starts at 06:50 is only
partly slowed by a 07:00 rush hour.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..domain import DAY, LatLon
from ..ports import Matrix
from .haversine import great_circle_m

WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def hm(text: str) -> int:
    """``"07:30"`` -> seconds since midnight."""
    h, m = text.split(":")
    return int(h) * 3600 + int(m) * 60


@dataclass(frozen=True)
class Slowdown:
    start: int
    end: int
    factor: float  # travel takes factor x free-flow time
    weekdays: frozenset[int] = WEEKDAYS

    def __post_init__(self) -> None:
        if self.factor < 1.0:
            raise ValueError("a slowdown factor is >= 1")
        if not 0 <= self.start < self.end <= DAY:
            raise ValueError("slowdown hours must be within one day and end after they start")


@dataclass(frozen=True)
class Zone:
    """Where a slowdown applies. ``path`` of one point is a circle of ``radius_m``;
    of several points, a corridor ``radius_m`` either side. Membership fades
    linearly to zero over a further ``radius_m``. ``path`` empty: everywhere."""

    name: str
    slowdowns: tuple[Slowdown, ...]
    path: tuple[LatLon, ...] = ()
    radius_m: float = 500.0

    def membership(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        if not self.path:
            return np.ones_like(lat)
        d = _distance_to_path_m(lat, lon, self.path)
        return np.clip(2.0 - d / self.radius_m, 0.0, 1.0)


@dataclass(frozen=True)
class Border:
    """A river (polyline) between two countries; crossing it costs a bridge wait.

    Points on the left of the line walking along ``river`` are ``left_name``.
    Waits are ``(start, end, seconds)`` per direction; outside them, ``base_wait_s``.
    """

    river: tuple[LatLon, ...]
    left_name: str
    right_name: str
    into_left: tuple[tuple[int, int, int], ...] = ()
    into_right: tuple[tuple[int, int, int], ...] = ()
    base_wait_s: int = 600

    def side(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """1 for the left side, 0 for the right."""
        return _left_of_path(lat, lon, self.river).astype(np.int8)

    def wait(self, into_left: bool, t: int) -> int:
        tod = t % DAY
        for start, end, seconds in self.into_left if into_left else self.into_right:
            if start <= tod < end:
                return seconds
        return self.base_wait_s


@dataclass(frozen=True)
class TrafficProfile:
    zones: tuple[Zone, ...] = ()
    border: Border | None = None
    name: str = "free-flow"

    def factors_at(self, weekday: int, t: int) -> np.ndarray:
        """Each zone's slowdown factor at time ``t`` (max of active slowdowns)."""
        tod = t % DAY
        out = np.ones(len(self.zones))
        for k, z in enumerate(self.zones):
            for s in z.slowdowns:
                if weekday in s.weekdays and s.start <= tod < s.end:
                    out[k] = max(out[k], s.factor)
        return out


@dataclass
class TimeDependentModel:
    """Implements ``TravelTimeModel`` for one set of locations on one weekday."""

    base: Matrix
    locations: Sequence[LatLon]
    profile: TrafficProfile = field(default_factory=TrafficProfile)
    weekday: int = 0

    def __post_init__(self) -> None:
        n = len(self.locations)
        if n != self.base.size:
            raise ValueError("matrix and locations differ in size")
        lat = np.fromiter((p.lat for p in self.locations), dtype=np.float64, count=n)
        lon = np.fromiter((p.lon for p in self.locations), dtype=np.float64, count=n)
        zs = self.profile.zones
        self._member = np.stack([z.membership(lat, lon) for z in zs], axis=1) if zs else np.zeros((n, 0))
        self._side = self.profile.border.side(lat, lon) if self.profile.border else np.zeros(n, np.int8)
        # Breakpoints of the piecewise-constant slowdown for this weekday, and the
        # per-zone factor vector on each piece.
        cuts = {0, DAY}
        for z in zs:
            for s in z.slowdowns:
                if self.weekday in s.weekdays:
                    cuts.update((s.start, s.end))
        self._cuts = sorted(cuts)
        self._piece_factors = [self.profile.factors_at(self.weekday, c) for c in self._cuts[:-1]]
        self._dur = self.base.durations
        self._dist = self.base.distances

    @property
    def provider(self) -> str:
        return self.base.provider

    @property
    def size(self) -> int:
        return self.base.size

    def crosses(self, i: int, j: int) -> bool:
        return bool(self._side[i] != self._side[j])

    def distance(self, i: int, j: int) -> int:
        return int(self._dist[i, j])

    def free_flow(self, i: int, j: int) -> int:
        return int(self._dur[i, j])

    def _leg_excess(self, i: int, j: int, piece: int) -> float:
        if not self._member.shape[1]:
            return 0.0
        e = (self._member[i] + self._member[j]) * 0.5
        return float(e @ (self._piece_factors[piece] - 1.0))

    def travel(self, i: int, j: int, depart: int) -> int:
        if i == j:
            return 0
        t = float(depart)
        if self.profile.border is not None and self._side[i] != self._side[j]:
            t += self.profile.border.wait(bool(self._side[j]), depart)
        remaining = float(self._dur[i, j])
        day0 = math.floor(t / DAY) * DAY
        while remaining > 1e-9:
            tod = t - day0
            if tod >= DAY:
                day0 += DAY
                continue
            piece = bisect.bisect_right(self._cuts, tod) - 1
            factor = 1.0 + self._leg_excess(i, j, piece)
            span = self._cuts[piece + 1] - tod
            if span * 1.0 / factor >= remaining:
                t += remaining * factor
                break
            remaining -= span / factor
            t = day0 + self._cuts[piece + 1]
        return int(math.ceil(t - depart - 1e-9))

    def static_durations(self, depart_by_origin: np.ndarray) -> np.ndarray:
        """Durations where each row's legs leave at that row's given time, using the
        slowdown at departure (an approximation for static solvers; ETAs and
        feasibility always use ``travel``)."""
        n = self.size
        dur = self._dur.astype(np.float64)
        if self._member.shape[1]:
            excess = np.stack([self.profile.factors_at(self.weekday, int(t)) - 1.0 for t in depart_by_origin])
            a = np.einsum("iz,iz->i", self._member, excess)  # origin's share
            b = excess @ self._member.T  # destination's share, with the origin's clock
            dur *= 1.0 + (a[:, None] + b) * 0.5
        if self.profile.border is not None:
            side = self._side.astype(bool)
            cross = side[:, None] != side[None, :]
            if cross.any():
                into_left = np.broadcast_to(side[None, :], (n, n))
                waits_l = np.array([self.profile.border.wait(True, int(t)) for t in depart_by_origin])
                waits_r = np.array([self.profile.border.wait(False, int(t)) for t in depart_by_origin])
                wait = np.where(into_left, waits_l[:, None], waits_r[:, None])
                dur += np.where(cross, wait, 0)
        out = np.ceil(dur).astype(np.int64)
        np.fill_diagonal(out, 0)
        return out


def free_flow_model(matrix: Matrix, locations: Sequence[LatLon], weekday: int = 0) -> TimeDependentModel:
    return TimeDependentModel(matrix, locations, TrafficProfile(), weekday)


# --- geometry helpers (local equirectangular projection; fine at city scale) ---

def _project(lat: np.ndarray, lon: np.ndarray, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    k = math.pi / 180 * 6_371_008.8
    return (lon * math.cos(math.radians(lat0)) * k, lat * k)


def _distance_to_path_m(lat: np.ndarray, lon: np.ndarray, path: tuple[LatLon, ...]) -> np.ndarray:
    if len(path) == 1:
        return great_circle_m(lat, lon, np.float64(path[0].lat), np.float64(path[0].lon))
    lat0 = path[0].lat
    x, y = _project(lat, lon, lat0)
    best = np.full(lat.shape, np.inf)
    for a, b in zip(path, path[1:]):
        ax, ay = _project(np.float64(a.lat), np.float64(a.lon), lat0)
        bx, by = _project(np.float64(b.lat), np.float64(b.lon), lat0)
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        u = np.clip(((x - ax) * dx + (y - ay) * dy) / seg2, 0.0, 1.0) if seg2 > 0 else 0.0
        px, py = ax + u * dx, ay + u * dy
        best = np.minimum(best, np.hypot(x - px, y - py))
    return best


def _left_of_path(lat: np.ndarray, lon: np.ndarray, path: tuple[LatLon, ...]) -> np.ndarray:
    """Which side of the polyline each point is on, judged by its nearest segment;
    beyond the ends, the end segments are extended."""
    lat0 = path[0].lat
    x, y = _project(lat, lon, lat0)
    best = np.full(lat.shape, np.inf)
    left = np.zeros(lat.shape, dtype=bool)
    for k, (a, b) in enumerate(zip(path, path[1:])):
        ax, ay = _project(np.float64(a.lat), np.float64(a.lon), lat0)
        bx, by = _project(np.float64(b.lat), np.float64(b.lon), lat0)
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        u = ((x - ax) * dx + (y - ay) * dy) / seg2
        lo = -np.inf if k == 0 else 0.0
        hi = np.inf if k == len(path) - 2 else 1.0
        u = np.clip(u, lo, hi)
        d = np.hypot(x - (ax + u * dx), y - (ay + u * dy))
        cross = dx * (y - ay) - dy * (x - ax)
        closer = d < best
        best = np.where(closer, d, best)
        left = np.where(closer, cross > 0, left)
    return left
