"""Time-of-day travel: rush hours, school zones, the international bridges.

A free-flow ``Matrix`` says how long a leg takes on an empty road. A
``TrafficProfile`` says where and when roads are slower: each ``Zone`` has a
soft footprint (a circle or a corridor along a polyline) and ``Slowdown``s
(weekdays, hours, a factor on travel time). A ``Border`` is a river that legs
cross only at its ``Bridge``s (``bridges.py``): open at some hours, each with a
wait by hour, weekday and direction.

``TimeDependentModel`` combines them. A leg's exposure to a zone is the mean of
its two ends' memberships; its slowdown at time ``t`` is
``1 + sum_z exposure_z * (factor_z(t) - 1)``. Travel time integrates the
free-flow seconds through the piecewise-constant slowdown (leaving later never
arrives earlier: the model is FIFO), so a leg that starts at 06:50 is only
partly slowed by a 07:00 rush hour. A leg that crosses the border is the best,
over the usable bridges, of (to the bridge) + (its FIFO queue when you get
there) + (on from the bridge); composing and taking the minimum of FIFO legs
keeps it FIFO. The legs to and from the bridges come from the same provider as
the rest when the matrix carries them (``matrix_with_bridges``), else from
straight lines at the matrix's own pace.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..domain import DAY, LatLon
from ..ports import Matrix
from .bridges import EVERY_DAY, Bridge
from .haversine import great_circle_m
from .waypoints import WaypointMatrix, matrix_with_bridges

WEEKDAYS = frozenset(range(5))
__all__ = ["EVERY_DAY", "WEEKDAYS", "Border", "Bridge", "Slowdown", "TimeDependentModel", "TrafficProfile",
           "WaypointMatrix", "Zone", "free_flow_model", "hm", "matrix_with_bridges"]


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
    """A river (polyline) between two countries; a leg that crosses it goes over a bridge.

    Points on the left of the line walking along ``river`` are ``left_name``.
    With ``bridges``, a crossing leg ``i -> j`` takes the best of the open
    bridges that serve ``vehicle_class`` (``None``: every bridge): travel to the
    bridge, the bridge's wait when you get there (by hour, weekday and
    direction), travel on from it. Without bridges (the older, simpler form) it
    waits ``into_left`` / ``into_right`` ``(start, end, seconds)`` at departure,
    ``base_wait_s`` outside them, and goes straight.
    """

    river: tuple[LatLon, ...]
    left_name: str
    right_name: str
    into_left: tuple[tuple[int, int, int], ...] = ()
    into_right: tuple[tuple[int, int, int], ...] = ()
    base_wait_s: int = 600
    bridges: tuple[Bridge, ...] = ()
    vehicle_class: str | None = None

    def side(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """1 for the left side, 0 for the right."""
        return _left_of_path(lat, lon, self.river).astype(np.int8)

    def wait(self, into_left: bool, t: int) -> int:
        """The bridge-less wait (used only when there are no ``bridges``)."""
        tod = t % DAY
        for start, end, seconds in self.into_left if into_left else self.into_right:
            if start <= tod < end:
                return seconds
        return self.base_wait_s

    def usable(self) -> tuple[Bridge, ...]:
        """The bridges this border's vehicles may use."""
        if self.vehicle_class is None:
            return self.bridges
        return tuple(b for b in self.bridges if self.vehicle_class in b.serves)

    def waypoints(self) -> tuple[LatLon, ...]:
        """Where the usable bridges are: extra rows a matrix provider can be asked for."""
        return tuple(b.location for b in self.usable())


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
    """Implements ``TravelTimeModel`` for one set of locations on one weekday.

    ``base`` covers ``locations`` -- and, optionally, ``waypoints`` after them
    (rows and columns ``n..n+k-1``), or is a ``WaypointMatrix`` that carries them.
    Waypoints at a bridge's location give that bridge's legs on the provider's
    roads; bridges without one are reached geometrically (straight line x the
    base matrix's own circuity and pace). Rows ``0..n-1`` are the engine's;
    ``size`` is ``n``. With bridges, ``base``, ``free_flow`` and ``distance`` of
    a crossing leg go via the bridge that is best on a typical day.
    """

    base: Matrix
    locations: Sequence[LatLon]
    profile: TrafficProfile = field(default_factory=TrafficProfile)
    weekday: int = 0
    waypoints: Sequence[LatLon] = ()

    def __post_init__(self) -> None:
        n = len(self.locations)
        legs = self._split_waypoints(n)
        if n != self.base.size:
            raise ValueError("matrix and locations differ in size")
        lat = np.fromiter((p.lat for p in self.locations), dtype=np.float64, count=n)
        lon = np.fromiter((p.lon for p in self.locations), dtype=np.float64, count=n)
        zs = self.profile.zones
        self._member = np.stack([z.membership(lat, lon) for z in zs], axis=1) if zs else np.zeros((n, 0))
        border = self.profile.border
        self._side = border.side(lat, lon) if border else np.zeros(n, np.int8)
        # Breakpoints of the piecewise-constant slowdown for this weekday, and the
        # per-zone excess (factor - 1) on each piece.
        cuts = {0, DAY}
        for z in zs:
            for s in z.slowdowns:
                if self.weekday in s.weekdays:
                    cuts.update((s.start, s.end))
        self._cuts = sorted(cuts)
        self._cuts_arr = np.asarray(self._cuts, dtype=np.float64)
        self._piece_factors = [self.profile.factors_at(self.weekday, c) for c in self._cuts[:-1]]
        self._piece_excess = (np.stack(self._piece_factors) - 1.0) if zs else np.zeros((len(self._cuts) - 1, 0))
        # Per place and piece, its share of the slowdown: a leg's excess on piece p
        # is the mean of its two ends' (plain floats: this is the hot path).
        self._loc_excess = (self._member @ self._piece_excess.T).tolist() if zs else None
        self._bloc_excess: list | None = None
        self._memo: dict[tuple[int, int, int], int] = {}
        self._dur = self.base.durations
        self._dist = self.base.distances
        self._bridges: tuple[Bridge, ...] = ()
        crossing = bool(border is not None and n and self._side.min() != self._side.max())
        if border is not None and border.bridges and crossing:
            self._setup_bridges(border, lat, lon, legs)

    # --- set-up ---

    def _split_waypoints(self, n: int) -> dict[LatLon, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Waypoint legs by location: (to seconds, from seconds, to metres, from metres)."""
        b = self.base
        if isinstance(b, WaypointMatrix):
            wps, td, fd, tm, fm = b.waypoints, b.to_durations, b.from_durations, b.to_distances, b.from_distances
        elif self.waypoints:
            if b.size != n + len(self.waypoints):
                raise ValueError(f"matrix has {b.size} rows; expected {n} places + {len(self.waypoints)} waypoints")
            split = WaypointMatrix.split(b, tuple(self.waypoints))
            assert isinstance(split, WaypointMatrix)
            self.base = Matrix(split.distances, split.durations, b.provider)
            wps, td, fd, tm, fm = (split.waypoints, split.to_durations, split.from_durations,
                                   split.to_distances, split.from_distances)
        else:
            return {}
        return {p: (td[k], fd[k], tm[k], fm[k]) for k, p in enumerate(wps)}

    def _setup_bridges(self, border: Border, lat: np.ndarray, lon: np.ndarray, legs: dict) -> None:
        bridges = border.usable()
        n = len(lat)
        pace = None
        to_t, from_t, to_d, from_d = (np.zeros((len(bridges), n)) for _ in range(4))
        for k, br in enumerate(bridges):
            if br.location in legs:
                to_t[k], from_t[k], to_d[k], from_d[k] = legs[br.location]
                continue
            if pace is None:
                pace = _pace(self.base, lat, lon)
            gc = great_circle_m(lat, lon, np.float64(br.location.lat), np.float64(br.location.lon))
            to_t[k] = from_t[k] = gc * pace[0]
            to_d[k] = from_d[k] = gc * pace[1]
        self._bridges = bridges
        self._to_t, self._from_t, self._to_d, self._from_d = to_t, from_t, to_d, from_d
        blat = np.array([b.location.lat for b in bridges])
        blon = np.array([b.location.lon for b in bridges])
        zs = self.profile.zones
        self._bmember = np.stack([z.membership(blat, blon) for z in zs], axis=1) if zs else np.zeros((len(bridges), 0))
        self._bloc_excess = (self._bmember @ self._piece_excess.T).tolist() if zs else None
        # exit tables: [bridge][into_left]
        self._exit = [(b.exit_table(False, self.weekday), b.exit_table(True, self.weekday)) for b in bridges]
        # Free-flow legs and distances of crossing pairs go via the bridge that is best
        # with a typical wait (the clock-free choice; ``travel`` picks by the clock).
        dur = np.array(self._dur, dtype=np.int64, copy=True)
        dist = np.array(self._dist, dtype=np.int64, copy=True)
        for rows, cols, into_left in self._blocks():
            if not (rows.size and cols.size):
                continue
            score = t_block = d_block = None
            for k in range(len(bridges)):
                t = to_t[k, rows][:, None] + from_t[k, cols][None, :]
                d = to_d[k, rows][:, None] + from_d[k, cols][None, :]
                s = t + self._exit[k][into_left].typical_wait_s
                if score is None:
                    score, t_block, d_block = s, t, d
                    continue
                better = s < score
                np.copyto(score, s, where=better)
                np.copyto(t_block, t, where=better)
                np.copyto(d_block, d, where=better)
            ix = np.ix_(rows, cols)
            dur[ix] = np.rint(t_block)
            dist[ix] = np.rint(d_block)
        self._dur, self._dist = dur, dist
        self.base = Matrix(dist, dur, self.base.provider)

    def _blocks(self):
        """(origin rows, destination rows, into_left) for each crossing direction."""
        left = np.flatnonzero(self._side == 1)
        right = np.flatnonzero(self._side == 0)
        return ((left, right, False), (right, left, True))

    # --- the TravelTimeModel ---

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

    def bridge_for(self, i: int, j: int, depart: int) -> str | None:
        """The bridge a crossing leg leaving at ``depart`` takes (None if it does not cross)."""
        if not self._bridges or not self.crosses(i, j):
            return None
        return self._bridges[self._best_bridge(i, j, float(depart))[1]].name

    def travel(self, i: int, j: int, depart: int) -> int:
        if i == j:
            return 0
        key = (i, j, depart)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        border = self.profile.border
        le = self._loc_excess
        if border is not None and self._side[i] != self._side[j]:
            if self._bridges:
                arrive = self._best_bridge(i, j, float(depart))[0]
            else:
                t = float(depart) + border.wait(bool(self._side[j]), depart)
                arrive = self._integrate(t, float(self._dur[i, j]), le and le[i], le and le[j])
        else:
            arrive = self._integrate(float(depart), float(self._dur[i, j]), le and le[i], le and le[j])
        out = math.ceil(arrive - depart - 1e-9)
        if len(self._memo) > 2_000_000:
            self._memo.clear()
        self._memo[key] = out
        return out

    def _best_bridge(self, i: int, j: int, depart: float) -> tuple[float, int]:
        into_left = bool(self._side[j])
        le, be = self._loc_excess, self._bloc_excess
        best, pick = math.inf, 0
        for k in range(len(self._bridges)):
            at = self._integrate(depart, float(self._to_t[k, i]), le and le[i], be and be[k])
            leave = float(self._exit[k][into_left].at(at))
            arrive = self._integrate(leave, float(self._from_t[k, j]), be and be[k], le and le[j])
            if arrive < best:
                best, pick = arrive, k
        return best, pick

    def _integrate(self, t: float, seconds: float, ea: list[float] | None, eb: list[float] | None) -> float:
        """When a leg of ``seconds`` free-flow that starts at ``t`` ends, through the
        piecewise-constant slowdown (FIFO). ``ea``/``eb``: each end's excess per piece."""
        if ea is None or eb is None:
            return t + seconds
        cuts = self._cuts
        remaining = seconds
        day0 = math.floor(t / DAY) * DAY
        while remaining > 1e-9:
            tod = t - day0
            if tod >= DAY:
                day0 += DAY
                continue
            piece = bisect.bisect_right(cuts, tod) - 1
            factor = 1.0 + 0.5 * (ea[piece] + eb[piece])
            span = cuts[piece + 1] - tod
            if span / factor >= remaining:
                t += remaining * factor
                break
            remaining -= span / factor
            t = day0 + cuts[piece + 1]
        return t

    def _excess_at(self, t: np.ndarray) -> np.ndarray:
        """Per-zone excess (factor - 1) at each time in ``t``: ``len(t) x zones``."""
        tod = np.mod(np.asarray(t, dtype=np.float64), DAY)
        piece = np.clip(np.searchsorted(self._cuts_arr, tod, side="right") - 1, 0, len(self._cuts) - 2)
        return self._piece_excess[piece]

    def static_durations(self, depart_by_origin: np.ndarray) -> np.ndarray:
        """Durations where each row's legs leave at that row's given time, using the
        slowdown at departure (an approximation for static solvers; ETAs and
        feasibility always use ``travel``). A crossing leg takes its best bridge:
        to the bridge at the departure's slowdown, the bridge's wait when it gets
        there, on from the bridge at the slowdown of the time it leaves it."""
        n = self.size
        departs = np.asarray(depart_by_origin, dtype=np.float64)
        dur = self._dur.astype(np.float64)
        zoned = self._member.shape[1] > 0
        excess = self._excess_at(departs) if zoned else None
        if zoned:
            a = np.einsum("iz,iz->i", self._member, excess)  # origin's share
            b = excess @ self._member.T  # destination's share, with the origin's clock
            dur *= 1.0 + (a[:, None] + b) * 0.5
        border = self.profile.border
        if border is not None and self._bridges:
            for rows, cols, into_left in self._blocks():
                if rows.size and cols.size:
                    dur[np.ix_(rows, cols)] = self._via_bridges(rows, cols, into_left, departs, excess)
        elif border is not None:
            side = self._side.astype(bool)
            cross = side[:, None] != side[None, :]
            if cross.any():
                into_left = np.broadcast_to(side[None, :], (n, n))
                waits_l = np.array([border.wait(True, int(t)) for t in depart_by_origin])
                waits_r = np.array([border.wait(False, int(t)) for t in depart_by_origin])
                wait = np.where(into_left, waits_l[:, None], waits_r[:, None])
                dur += np.where(cross, wait, 0)
        out = np.ceil(dur - 1e-9).astype(np.int64)
        np.fill_diagonal(out, 0)
        return out

    def _via_bridges(self, rows: np.ndarray, cols: np.ndarray, into_left: bool, departs: np.ndarray,
                     excess: np.ndarray | None) -> np.ndarray:
        t0 = departs[rows]
        best = np.full((rows.size, cols.size), np.inf)
        for k in range(len(self._bridges)):
            to = self._to_t[k, rows]
            if excess is not None:
                to = to * (1.0 + (0.5 * (self._member[rows] + self._bmember[k]) * excess[rows]).sum(axis=1))
            leave = self._exit[k][into_left].at(t0 + to)
            on = np.broadcast_to(self._from_t[k, cols][None, :], best.shape)
            if excess is not None:
                ex2 = self._excess_at(leave)
                on = on * (1.0 + 0.5 * ((ex2 @ self._bmember[k])[:, None] + ex2 @ self._member[cols].T))
            np.minimum(best, (leave - t0)[:, None] + on, out=best)
        return best


def free_flow_model(matrix: Matrix, locations: Sequence[LatLon], weekday: int = 0) -> TimeDependentModel:
    return TimeDependentModel(matrix, locations, TrafficProfile(), weekday)


def _pace(base: Matrix, lat: np.ndarray, lon: np.ndarray) -> tuple[float, float]:
    """(seconds, metres) of the base matrix per straight-line metre, from a sample of
    its rows; the straight-line provider's defaults if it has too few legs."""
    n = base.size
    rows = np.unique(np.linspace(0, n - 1, min(n, 64)).astype(np.int64)) if n else np.zeros(0, np.int64)
    gc = great_circle_m(lat[rows][:, None], lon[rows][:, None], lat[None, :], lon[None, :])
    ok = gc > 50.0
    total = float(gc[ok].sum())
    if total < 1000.0:
        return 1.5 / (40.0 / 3.6), 1.5
    return float(base.durations[rows][ok].sum()) / total, float(base.distances[rows][ok].sum()) / total


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
