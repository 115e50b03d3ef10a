"""A matrix that carries extra places -- waypoints such as the border bridges --
beside the engine's depots and stops, computed by one provider call.

The engine's rows stay ``0..n-1`` (``size`` is ``n``); the legs to and from the
waypoints ride along so ``TimeDependentModel`` can route a crossing leg via a
bridge on the same roads as everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..domain import LatLon
from ..ports import Matrix, MatrixProvider

if TYPE_CHECKING:
    from .timedep import TrafficProfile


@dataclass(frozen=True)
class WaypointMatrix(Matrix):
    """A ``Matrix`` over the engine's places (``size``, ``durations``,
    ``distances`` are theirs) that also carries the legs to and from some
    waypoints -- the bridges -- computed by the same provider in the same call.
    ``to_*[w, i]`` is place ``i`` -> waypoint ``w``; ``from_*[w, j]`` waypoint -> ``j``."""

    waypoints: tuple[LatLon, ...] = ()
    to_durations: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    from_durations: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    to_distances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))
    from_distances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    @classmethod
    def split(cls, full: Matrix, waypoints: Sequence[LatLon]) -> Matrix:
        """``full`` covers the places then ``waypoints``; keep the places' square and
        the waypoint rows and columns beside it."""
        k = len(waypoints)
        if not k:
            return full
        n = full.size - k
        if n < 0:
            raise ValueError("matrix smaller than its waypoints")
        d, t = full.distances, full.durations
        return cls(np.ascontiguousarray(d[:n, :n]), np.ascontiguousarray(t[:n, :n]), full.provider,
                   tuple(waypoints), np.ascontiguousarray(t[:n, n:].T), np.ascontiguousarray(t[n:, :n]),
                   np.ascontiguousarray(d[:n, n:].T), np.ascontiguousarray(d[n:, :n]))


def matrix_with_bridges(provider: MatrixProvider, locations: Sequence[LatLon], profile: TrafficProfile | None,
                        ids: Sequence[str] | None = None) -> Matrix:
    """One provider call for the places and, when some leg crosses the border, the
    bridges the border's vehicles may use (a ``WaypointMatrix``), so bridge legs are
    on the same roads as the rest. A road-graph provider is asked only for bridges
    on its network; the others are estimated geometrically by the model."""
    border = profile.border if profile else None
    bridges = border.waypoints() if border is not None else ()
    if bridges and len(locations) > 1:
        lat = np.fromiter((p.lat for p in locations), dtype=np.float64, count=len(locations))
        lon = np.fromiter((p.lon for p in locations), dtype=np.float64, count=len(locations))
        side = border.side(lat, lon)
        if side.min() == side.max():
            bridges = ()
    else:
        bridges = ()
    snapper = getattr(provider, "snapper", None)
    if bridges and snapper is not None:  # a local road graph: only bridges it covers
        report = snapper.snap(bridges, None, getattr(provider, "max_snap_m", 500.0))
        bridges = tuple(b for b, s in zip(bridges, report.stops) if not s.off_network)
    names = [b.name for b in border.usable() if b.location in bridges] if bridges else []
    if ids is not None and snapper is not None:
        full = provider.matrix(list(locations) + list(bridges), list(ids) + names)  # type: ignore[call-arg]
    else:
        full = provider.matrix(list(locations) + list(bridges))
    return WaypointMatrix.split(full, bridges)
