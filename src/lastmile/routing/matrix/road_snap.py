"""Snap locations to the nearest point of a drivable road, and say which did badly.

Roads are cut into straight pieces between way nodes, in a local metric
projection. A k-d tree (scipy ``cKDTree``) holds sample points every
``SPACING_M`` along them; the pieces behind a location's nearest samples are
then measured exactly, so the snap lands on the true nearest piece (to within a
few metres in pathological cases) at the foot of the perpendicular.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from ..domain import LatLon

if TYPE_CHECKING:
    from .road_graph import RoadGraph

SPACING_M = 20.0
_K = 12
_M_PER_DEG = math.pi / 180.0 * 6_371_008.8


@dataclass(frozen=True)
class StopSnap:
    id: str
    segment: int  # in the main network
    offset_m: float  # along the segment from its start vertex
    distance_m: float  # from the location to the road it snapped to
    off_network: bool  # farther than the threshold from the main network
    nearest_road_m: float  # to any drivable road, main network or not
    lat: float  # the snapped point
    lon: float

    @property
    def on_cut_off_road(self) -> bool:
        """The nearest road is in a piece not connected both ways to the rest."""
        return self.nearest_road_m + 1.0 < self.distance_m


@dataclass(frozen=True)
class SnapReport:
    stops: tuple[StopSnap, ...]
    max_snap_m: float

    @property
    def off_network(self) -> tuple[StopSnap, ...]:
        return tuple(s for s in self.stops if s.off_network)

    @property
    def warnings(self) -> tuple[str, ...]:
        out = []
        for s in self.stops:
            if s.off_network:
                out.append(f"stop {s.id!r} is {s.distance_m:,.0f} m from the nearest drivable road "
                           f"(limit {self.max_snap_m:,.0f} m); joined by a straight line")
            elif s.on_cut_off_road:
                out.append(f"stop {s.id!r}: its nearest road ({s.nearest_road_m:,.0f} m away) is cut off "
                           f"from the road network; using one {s.distance_m:,.0f} m away")
        return tuple(out)


class OffNetworkError(ValueError):
    """Stops too far from any drivable road of the extract. ``stops`` has them all."""

    def __init__(self, report: SnapReport, extract: str, max_snap_m: float) -> None:
        self.report = report
        self.stops = report.off_network
        names = ", ".join(f"{s.id!r} ({_far(s.distance_m)})" for s in self.stops[:10])
        more = f" and {len(self.stops) - 10} more" if len(self.stops) > 10 else ""
        super().__init__(
            f"{len(self.stops)} stop(s) more than {max_snap_m:,.0f} m from any drivable road in the "
            f"road data {extract!r}: {names}{more}. Check their coordinates, or use road data that covers them."
        )


def _far(m: float) -> str:
    return f"{m / 1000:,.1f} km away" if m >= 10_000 else f"{m:,.0f} m away"


class SnapIndex:
    def __init__(self, road: RoadGraph) -> None:
        self.road = road
        self.lat0 = float(np.mean(road.vert_lat)) if road.vertices else 0.0
        self.kx = math.cos(math.radians(self.lat0)) * _M_PER_DEG
        self._main = self._build(road.seg_main)
        self._all = self._build(np.ones_like(road.seg_main)) if not road.seg_main.all() else self._main

    def _xy(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return np.column_stack((lon * self.kx, lat * _M_PER_DEG))

    def _build(self, mask: np.ndarray) -> tuple:
        g = self.road
        segs = np.flatnonzero(mask)
        nsub = g.seg_end[segs] - g.seg_start[segs]
        sub_seg = np.repeat(segs, nsub)
        first = np.repeat(np.cumsum(nsub) - nsub, nsub)
        k = g.seg_start[sub_seg] + (np.arange(sub_seg.shape[0]) - first)
        a = self._xy(g.ref_lat[k], g.ref_lon[k])
        b = self._xy(g.ref_lat[k + 1], g.ref_lon[k + 1])
        ln = np.hypot(*(b - a).T)
        ns = np.maximum(1, np.ceil(ln / SPACING_M)).astype(np.int64)
        owner = np.repeat(np.arange(k.shape[0]), ns)
        j = np.arange(owner.shape[0]) - np.repeat(np.cumsum(ns) - ns, ns)
        t = (j + 0.5) / ns[owner]
        pts = a[owner] + (b[owner] - a[owner]) * t[:, None]
        return cKDTree(pts), owner, sub_seg, k, a, b

    def _nearest(self, index: tuple, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        tree, owner, _, _, a, b = index
        kk = min(_K, tree.n)
        _, cand = tree.query(xy, k=kk)
        cand = owner[np.asarray(cand).reshape(xy.shape[0], kk)]
        pa, pb = a[cand], b[cand]
        d = pb - pa
        l2 = (d**2).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(l2 > 0, ((xy[:, None, :] - pa) * d).sum(-1) / l2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        foot = pa + d * t[..., None]
        dist = np.hypot(*(xy[:, None, :] - foot).transpose(2, 0, 1))
        best = np.argmin(dist, axis=1)
        r = np.arange(xy.shape[0])
        sub = cand[r, best]
        return sub, t[r, best], dist[r, best], foot[r, best]

    def snap(self, locations: Sequence[LatLon], ids: Sequence[str] | None, max_snap_m: float) -> SnapReport:
        if ids is not None and len(ids) != len(locations):
            raise ValueError("ids and locations differ in length")
        names = [str(i) for i in ids] if ids is not None else [f"#{i}" for i in range(len(locations))]
        lat = np.fromiter((p.lat for p in locations), dtype=np.float64, count=len(locations))
        lon = np.fromiter((p.lon for p in locations), dtype=np.float64, count=len(locations))
        xy = self._xy(lat, lon)
        sub, t, dist, foot = self._nearest(self._main, xy)
        _, _, sub_seg, k, _, _ = self._main
        g = self.road
        seg = sub_seg[sub]
        kk = k[sub]
        sublen = g.ref_cum[kk + 1] - g.ref_cum[kk]
        off = g.ref_cum[kk] - g.ref_cum[g.seg_start[seg]] + t * sublen
        off = np.clip(off, 0.0, g.seg_len[seg])
        any_dist = dist if self._all is self._main else np.minimum(self._nearest(self._all, xy)[2], dist)
        flat = foot[:, 1] / _M_PER_DEG
        flon = foot[:, 0] / self.kx
        stops = tuple(
            StopSnap(names[i], int(seg[i]), float(off[i]), float(dist[i]), bool(dist[i] > max_snap_m),
                     float(any_dist[i]), float(flat[i]), float(flon[i]))
            for i in range(len(locations))
        )
        return SnapReport(stops, max_snap_m)
