"""Travel times corrected by a model learned from history, FIFO by construction.

A ``TravelFactors`` (``lastmile.learn`` trains one from recorded pings; the engine
stays free of any ML library) says, for legs described by plain columns
(:data:`LEG_COLUMNS`), by how much the static time-of-day model is off: actual
seconds = factor x static seconds. ``LearnedTravelModel`` wraps the static
``TimeDependentModel`` with it and is a ``TravelTimeModel`` itself.

FIFO: scaling a FIFO travel function by a time-varying factor is not FIFO in
general (a factor that falls at 08:00 would let a driver leaving at 08:01 arrive
before one leaving at 07:59). So the learned leg time ``L`` is computed on a grid
of departure times (every ``grid_s``), made FIFO there by
``L(g_k) <- min(L(g_k), L(g_k+1) + (g_k+1 - g_k))`` from the last point backwards
("leaving later and arriving earlier" is replaced by waiting), and interpolated
linearly in between: arrival ``t + L(t)`` then never decreases. Before the first
and after the last grid point the edge value holds.

With no factors (``None``) or a predictor that fails, callers keep the static
model: ``with_learned(static, None)`` returns ``static`` itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .domain import DAY, LatLon
from .matrix.haversine import great_circle_m

log = logging.getLogger("lastmile.routing.learned")

# What a predictor is told about each leg (one row per leg and departure time).
LEG_COLUMNS = ("olat", "olon", "dlat", "dlon", "tod_h", "weekday", "straight_m", "static_s", "cross", "oside")
FACTOR_MIN, FACTOR_MAX = 0.5, 3.0


@runtime_checkable
class TravelFactors(Protocol):
    """Learned correction of the static model: one factor per leg row."""

    version: int

    def factors(self, cols: dict[str, np.ndarray]) -> np.ndarray: ...


def leg_columns(olat: np.ndarray, olon: np.ndarray, dlat: np.ndarray, dlon: np.ndarray, depart_s: np.ndarray,
                weekday: np.ndarray | int, static_s: np.ndarray, cross: np.ndarray,
                oside: np.ndarray) -> dict[str, np.ndarray]:
    """The columns of :data:`LEG_COLUMNS` for legs given as arrays (broadcast to one shape).
    ``depart_s`` is seconds since local midnight; the same function builds training
    rows (``lastmile.learn``) and the rows the engine asks about, so they agree."""
    arrs = np.broadcast_arrays(np.asarray(olat, np.float64), np.asarray(olon, np.float64),
                               np.asarray(dlat, np.float64), np.asarray(dlon, np.float64),
                               np.asarray(depart_s, np.float64), np.asarray(weekday, np.float64),
                               np.asarray(static_s, np.float64), np.asarray(cross, np.float64),
                               np.asarray(oside, np.float64))
    olat, olon, dlat, dlon, dep, wd, st, cr, side = (a.ravel() for a in arrs)
    return {
        "olat": olat, "olon": olon, "dlat": dlat, "dlon": dlon,
        "tod_h": np.mod(dep, DAY) / 3600.0, "weekday": wd,
        "straight_m": great_circle_m(olat, olon, dlat, dlon), "static_s": st, "cross": cr, "oside": side,
    }


class LearnedTravelModel:
    """A ``TimeDependentModel`` whose leg times are corrected by ``factors``.

    Everything but ``travel`` and ``static_durations`` (distances, the free-flow
    ``base`` matrix, the profile, border sides) is the static model's. The learned
    grid is computed on first use for every leg at once (one batch for the
    predictor), between ``start`` and ``end`` seconds since midnight."""

    def __init__(self, static, factors: TravelFactors, *, weekday: int | None = None, start: int = 5 * 3600,
                 end: int = 23 * 3600, grid_s: int = 900, factor_every: int = 2) -> None:
        if grid_s <= 0 or end <= start or factor_every < 1:
            raise ValueError("grid_s and factor_every must be positive and end after start")
        # the predictor is asked every ``factor_every`` grid points (it is the costly
        # part: one row per leg and time); factors are linear in between
        self.factor_every = factor_every
        self.static = static
        self.factors = factors
        self.weekday = static.weekday if weekday is None else weekday
        self.grid = np.arange(start, end + grid_s, grid_s, dtype=np.int64)
        self.grid_s = grid_s
        self._table: np.ndarray | None = None  # grid points x n x n, learned seconds (FIFO)
        self._base = None

    def __getattr__(self, name: str):
        # base, profile, provider, size, crosses, distance, free_flow, bridge_for ...
        if name in ("static", "factors", "_table", "_base"):
            raise AttributeError(name)
        return getattr(self.static, name)

    @property
    def base(self):
        """The static free-flow matrix, with each leg's duration lowered to the least the
        learned model ever predicts for it: the engine prunes with ``base`` as a lower bound."""
        if self._base is None:
            from .ports import Matrix

            b = self.static.base
            floor = np.floor(self.table().min(axis=0)).astype(np.int64)
            self._base = Matrix(b.distances, np.minimum(b.durations, floor), b.provider)
        return self._base

    @property
    def learned_version(self) -> int:
        return int(getattr(self.factors, "version", 0))

    def distance(self, i: int, j: int) -> int:
        return self.static.distance(i, j)

    # --- the learned grid ---

    def table(self) -> np.ndarray:
        if self._table is None:
            self._table = self._build()
        return self._table

    def _build(self) -> np.ndarray:
        st = self.static
        n = st.size
        locs: Sequence[LatLon] = st.locations
        lat = np.fromiter((p.lat for p in locs), np.float64, n)
        lon = np.fromiter((p.lon for p in locs), np.float64, n)
        side = np.asarray(getattr(st, "_side", np.zeros(n)), np.float64)[:n]
        cross = (side[:, None] != side[None, :]).astype(np.float64)
        g = len(self.grid)
        static = np.stack([st.static_durations(np.full(n, t, dtype=np.int64)) for t in self.grid]).astype(np.float64)
        asked = np.unique(np.r_[np.arange(0, g, self.factor_every), g - 1])  # grid points the predictor sees
        cols = leg_columns(lat[None, :, None], lon[None, :, None], lat[None, None, :], lon[None, None, :],
                           self.grid[asked][:, None, None], self.weekday, static[asked], cross[None],
                           side[None, :, None])
        fa = np.asarray(self.factors.factors(cols), np.float64).reshape(len(asked), n, n)
        fa = np.clip(np.nan_to_num(fa, nan=1.0, posinf=FACTOR_MAX, neginf=FACTOR_MIN), FACTOR_MIN, FACTOR_MAX)
        f = np.empty((g, n, n))
        for a, b, fa0, fa1 in zip(asked[:-1], asked[1:], fa[:-1], fa[1:]):
            for k in range(a, b + 1):
                w = (k - a) / (b - a)
                f[k] = fa0 * (1.0 - w) + fa1 * w
        if len(asked) == 1:
            f[:] = fa[0]
        learned = static * f
        for k in range(g - 2, -1, -1):  # FIFO: never better to leave later
            np.minimum(learned[k], learned[k + 1] + float(self.grid[k + 1] - self.grid[k]), out=learned[k])
        idx = np.arange(n)
        learned[:, idx, idx] = 0.0
        return learned

    def _at(self, depart: float) -> tuple[int, float]:
        """(grid piece, fraction into it) for a departure, clamped to the grid (the edge
        values hold outside it: still FIFO)."""
        t = float(depart)
        if t <= self.grid[0]:
            return 0, 0.0
        if t >= self.grid[-1]:
            return len(self.grid) - 2, 1.0
        k = int((t - self.grid[0]) // self.grid_s)
        return k, (t - float(self.grid[k])) / self.grid_s

    # --- the TravelTimeModel ---

    def travel(self, i: int, j: int, depart: int) -> int:
        if i == j:
            return 0
        tab = self.table()
        if len(self.grid) == 1:
            return int(math.ceil(tab[0, i, j]))
        k, frac = self._at(depart)
        v = tab[k, i, j] * (1.0 - frac) + tab[k + 1, i, j] * frac
        return int(math.ceil(v - 1e-9))

    def static_durations(self, depart_by_origin: np.ndarray) -> np.ndarray:
        tab = self.table()
        n = tab.shape[1]
        out = np.empty((n, n), np.float64)
        for i, t in enumerate(np.asarray(depart_by_origin, np.float64)):
            k, frac = self._at(float(t))
            out[i] = tab[k, i] * (1.0 - frac) + tab[min(k + 1, len(self.grid) - 1), i] * frac
        res = np.ceil(out - 1e-9).astype(np.int64)
        np.fill_diagonal(res, 0)
        return res


def with_learned(static, factors: TravelFactors | None, **kw):
    """``static`` corrected by ``factors``; ``static`` itself when there are none."""
    if factors is None:
        return static
    return LearnedTravelModel(static, factors, **kw)


__all__ = ["FACTOR_MAX", "FACTOR_MIN", "LEG_COLUMNS", "LearnedTravelModel", "TravelFactors", "leg_columns",
           "with_learned"]
