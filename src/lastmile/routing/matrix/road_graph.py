"""Travel on real roads from a local OpenStreetMap extract, with no server.

``RoadGraph.from_pbf(path)`` reads the drivable ways (``osm_read``), contracts
them into segments between intersections, finds the largest strongly connected
part (the network you can both leave and come back to) and caches the result
as an ``.npz`` file keyed by the extract's SHA-256, so a second start only
loads arrays. ``RoadGraphProvider`` answers duration/distance matrices with
one Dijkstra (scipy.sparse.csgraph) per distinct snapped source, and route
lines along the roads for maps (``road_route``, ``geojson``).

Each stop snaps to the nearest point of a drivable road in the main network:
the point becomes a temporary vertex splitting that road, so a stop half-way
along a one-way block leaves the way the traffic goes. Stops farther than
``max_snap_m`` from any such road (outside the extract, in a river, on a
private estate) are reported by id — an ``OffNetworkError`` by default, or,
with ``off_network="connect"``, joined to the road by a straight-line leg and
listed in ``last_snap.warnings``. A stop whose nearest road is a piece cut off
from the main network (a one-way stub, a fenced compound) is listed as such.

Times are free-flow (see ``osm_read`` for the speed profile); the
time-of-day model in ``timedep`` scales them like any other ``Matrix``.
One Dijkstra gives both figures at once: an edge weighs
``deciseconds * 2**26 + decimetres``, exact in float64, so the fastest path
is found and its length read off the same sum (ties go to the shorter path).

Data © OpenStreetMap contributors (ODbL 1.0): anything drawn from these
graphs must carry ``ATTRIBUTION``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from ..domain import LatLon
from ..ports import Matrix
from .haversine import great_circle_m
from .osm_read import ATTRIBUTION, Progress, RawWays, RoadDataError, read_ways
from .road_snap import OffNetworkError, SnapIndex, SnapReport, StopSnap
from .route_line import RoadRoute, encode_polyline

__all__ = [
    "ATTRIBUTION", "GRAPH_VERSION", "OffNetworkError", "RoadDataError", "RoadGraph",
    "RoadGraphProvider", "RoadRoute", "SnapReport", "StopSnap", "encode_polyline", "sha256_of",
]

GRAPH_VERSION = 1  # bump when the profile or the cached arrays change
_SHIFT = float(2**26)  # weight = deciseconds * 2**26 + decimetres
_CHUNK_BYTES = 256 * 2**20


def sha256_of(path: str | Path, block: int = 2**20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


def extract_name(path: str | Path) -> str:
    """``monaco-latest.osm.pbf`` -> ``monaco-latest``."""
    name = Path(path).name
    for suffix in (".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz", ".osm", ".xml"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "extract"
    return name or "extract"


def default_cache_dir() -> Path:
    import platformdirs

    return Path(os.environ.get("LASTMILE_CACHE_DIR") or platformdirs.user_cache_dir("lastmile")) / "roads"


@dataclass
class RoadGraph:
    """Segments between intersections, with their shape. Arrays only, so it
    saves to and loads from one ``.npz``.

    ``ref_lat/ref_lon`` hold every way node in way order; segment ``s`` runs
    along refs ``seg_start[s]..seg_end[s]`` from vertex ``seg_u[s]`` to
    ``seg_v[s]``; ``ref_cum`` is the distance along the ways (metres) so that
    an offset along a segment is ``ref_cum[k] - ref_cum[seg_start[s]]``.
    ``seg_time_fwd/bwd`` are seconds, ``0`` where that direction is closed.
    """

    name: str
    sha256: str
    vert_lat: np.ndarray
    vert_lon: np.ndarray
    ref_lat: np.ndarray
    ref_lon: np.ndarray
    ref_cum: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray
    seg_u: np.ndarray
    seg_v: np.ndarray
    seg_len: np.ndarray
    seg_time_fwd: np.ndarray
    seg_time_bwd: np.ndarray
    seg_main: np.ndarray
    components: int  # strongly connected components with at least one road
    ways: int
    build_s: float = 0.0
    loaded_from_cache: bool = False
    cache_path: Path | None = None

    _ARRAYS = ("vert_lat", "vert_lon", "ref_lat", "ref_lon", "ref_cum", "seg_start", "seg_end",
               "seg_u", "seg_v", "seg_len", "seg_time_fwd", "seg_time_bwd", "seg_main")

    @property
    def vertices(self) -> int:
        return int(self.vert_lat.shape[0])

    @property
    def segments(self) -> int:
        return int(self.seg_u.shape[0])

    @property
    def edges(self) -> int:
        """Directed edges (a two-way segment counts twice)."""
        return int((self.seg_time_fwd > 0).sum() + (self.seg_time_bwd > 0).sum())

    @property
    def main_share(self) -> float:
        """Share of road length in the main (largest strongly connected) network."""
        total = float(self.seg_len.sum())
        return float(self.seg_len[self.seg_main].sum()) / total if total else 0.0

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat)."""
        return (float(self.ref_lon.min()), float(self.ref_lat.min()),
                float(self.ref_lon.max()), float(self.ref_lat.max()))

    # --- building and caching ---

    @classmethod
    def from_pbf(cls, path: str | Path, cache_dir: str | Path | None = None, *,
                 use_cache: bool = True, rebuild: bool = False,
                 progress: Progress | None = None) -> RoadGraph:
        """The graph of ``path``, from the cache when it holds one for this exact file.
        ``rebuild`` ignores a cached graph but writes the new one; ``use_cache=False``
        neither reads nor writes the cache."""
        path = Path(path)
        if not path.is_file():
            raise RoadDataError(f"{path}: no such file")
        sha = sha256_of(path)
        name = extract_name(path)
        cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        cpath = cdir / f"{name}-{sha[:16]}-v{GRAPH_VERSION}.npz"
        if use_cache and not rebuild and cpath.is_file():
            try:
                g = cls.load(cpath)
                if g.sha256 == sha:
                    return g
            except Exception:  # a damaged cache file is rebuilt, never trusted
                pass
        t0 = time.perf_counter()
        raw = read_ways(path, progress)
        g = build_graph(raw, name, sha)
        g.build_s = time.perf_counter() - t0
        if use_cache:
            try:
                g.save(cpath)
            except OSError:
                pass  # a read-only cache only costs speed
        return g

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(fd)
        meta = np.array([self.name, self.sha256, str(GRAPH_VERSION), str(self.components), str(self.ways)])
        np.savez(tmp, meta=meta, **{k: getattr(self, k) for k in self._ARRAYS})
        os.replace(tmp, path)
        self.cache_path = path

    @classmethod
    def load(cls, path: str | Path) -> RoadGraph:
        with np.load(path, allow_pickle=False) as z:
            meta = [str(x) for x in z["meta"]]
            if meta[2] != str(GRAPH_VERSION):
                raise RoadDataError(f"{path}: cached graph of another version")
            arrays = {k: z[k] for k in cls._ARRAYS}
        return cls(name=meta[0], sha256=meta[1], components=int(meta[3]), ways=int(meta[4]),
                   loaded_from_cache=True, cache_path=Path(path), **arrays)

    # --- geometry helpers ---

    def piece(self, seg: int, a: float, b: float) -> list[tuple[float, float]]:
        """(lat, lon) points along segment ``seg`` from offset ``a`` to ``b`` metres
        (reversed when ``b < a``)."""
        lo, hi = (a, b) if a <= b else (b, a)
        s, e = int(self.seg_start[seg]), int(self.seg_end[seg])
        cum = self.ref_cum[s:e + 1] - self.ref_cum[s]
        lat, lon = self.ref_lat[s:e + 1], self.ref_lon[s:e + 1]
        pts = [(float(np.interp(lo, cum, lat)), float(np.interp(lo, cum, lon)))]
        inner = np.flatnonzero((cum > lo) & (cum < hi))
        pts.extend((float(lat[k]), float(lon[k])) for k in inner)
        pts.append((float(np.interp(hi, cum, lat)), float(np.interp(hi, cum, lon))))
        return pts if a <= b else pts[::-1]


def build_graph(raw: RawWays, name: str, sha: str) -> RoadGraph:
    """Contract ways into segments between intersections and label the main network."""
    t0 = time.perf_counter()
    ptr = raw.ptr
    nref = raw.node_ids.shape[0]
    first = np.zeros(nref, dtype=bool)
    first[ptr[:-1]] = True
    last = np.zeros(nref, dtype=bool)
    last[ptr[1:] - 1] = True
    uniq, inv, counts = np.unique(raw.node_ids, return_inverse=True, return_counts=True)
    is_vertex = (counts[inv] >= 2) | first | last
    vert_of_uniq = np.full(uniq.shape[0], -1, dtype=np.int64)
    vnodes = np.unique(inv[is_vertex])
    vert_of_uniq[vnodes] = np.arange(vnodes.shape[0])
    vid = vert_of_uniq[inv]  # per ref, -1 for shape points
    vert_lat = np.zeros(vnodes.shape[0])
    vert_lon = np.zeros(vnodes.shape[0])
    vert_lat[vid[is_vertex]] = raw.lat[is_vertex]
    vert_lon[vid[is_vertex]] = raw.lon[is_vertex]

    sub = great_circle_m(raw.lat[:-1], raw.lon[:-1], raw.lat[1:], raw.lon[1:])
    sub[last[:-1]] = 0.0  # no length between the end of one way and the start of the next
    cum = np.concatenate(([0.0], np.cumsum(sub)))

    vpos = np.flatnonzero(is_vertex)
    starts = np.flatnonzero(is_vertex & ~last)
    ends = vpos[np.searchsorted(vpos, starts) + 1]
    way_of_ref = np.repeat(np.arange(ptr.shape[0] - 1), np.diff(ptr))
    way = way_of_ref[starts]
    length = cum[ends] - cum[starts]
    signal = np.isin(raw.node_ids, raw.signal_ids).astype(np.int64)
    csig = np.concatenate(([0], np.cumsum(signal)))
    n_signals = csig[ends + 1] - csig[starts + 1]  # signals after the start, up to the end
    from .osm_read import SIGNAL_PENALTY_S

    def seconds(speed_kmh: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(speed_kmh > 0, length / (speed_kmh / 3.6) + n_signals * SIGNAL_PENALTY_S, 0.0)
        return np.where(speed_kmh > 0, np.maximum(t, 0.1), 0.0)

    t_fwd = seconds(raw.speed_fwd[way])
    t_bwd = seconds(raw.speed_bwd[way])
    u, v = vid[starts], vid[ends]

    # The main network: the largest strongly connected component.
    nv = vnodes.shape[0]
    eu = np.concatenate((u[t_fwd > 0], v[t_bwd > 0]))
    ev = np.concatenate((v[t_fwd > 0], u[t_bwd > 0]))
    adj = csr_matrix((np.ones(eu.shape[0]), (eu, ev)), shape=(nv, nv))
    _, label = connected_components(adj, directed=True, connection="strong")
    sizes = np.bincount(label)
    main = int(np.argmax(sizes))
    seg_main = (label[u] == main) & (label[v] == main)
    used = np.unique(np.concatenate((label[u], label[v])))
    g = RoadGraph(
        name=name, sha256=sha, vert_lat=vert_lat, vert_lon=vert_lon, ref_lat=raw.lat, ref_lon=raw.lon,
        ref_cum=cum, seg_start=starts, seg_end=ends, seg_u=u, seg_v=v, seg_len=length,
        seg_time_fwd=t_fwd, seg_time_bwd=t_bwd, seg_main=seg_main, components=int(used.shape[0]),
        ways=int(ptr.shape[0] - 1),
    )
    g.build_s = time.perf_counter() - t0
    return g


@dataclass
class _Query:
    """The main network with the snapped locations spliced in as vertices."""

    graph: csr_matrix
    keys: np.ndarray  # u * n + v of each kept edge, sorted
    seg: np.ndarray
    off_from: np.ndarray
    off_to: np.ndarray
    vertex_of: np.ndarray  # per location
    n: int


@dataclass
class RoadGraphProvider:
    """``MatrixProvider`` over a ``RoadGraph``: free-flow seconds and metres on roads.

    ``off_network``: ``"error"`` raises ``OffNetworkError`` naming every stop
    farther than ``max_snap_m`` from the main network; ``"connect"`` joins such
    stops with a straight leg (x ``connector_circuity`` at ``connector_kmh``)
    and lists them in ``last_snap.warnings``.
    """

    road: RoadGraph
    max_snap_m: float = 500.0
    off_network: str = "error"
    connector_kmh: float = 20.0
    connector_circuity: float = 1.3
    last_snap: SnapReport | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.off_network not in ("error", "connect"):
            raise ValueError("off_network must be 'error' or 'connect'")
        self.name = f"road-graph:{self.road.name}"
        self.snapper = SnapIndex(self.road)
        g = self.road
        m = g.seg_main
        fw = m & (g.seg_time_fwd > 0)
        bw = m & (g.seg_time_bwd > 0)
        segs = np.arange(g.segments)
        self._base = (
            np.concatenate((g.seg_u[fw], g.seg_v[bw])),
            np.concatenate((g.seg_v[fw], g.seg_u[bw])),
            np.concatenate((_weight(g.seg_time_fwd[fw], g.seg_len[fw]), _weight(g.seg_time_bwd[bw], g.seg_len[bw]))),
            np.concatenate((segs[fw], segs[bw])),
            np.concatenate((np.zeros(fw.sum()), g.seg_len[bw])),
            np.concatenate((g.seg_len[fw], np.zeros(bw.sum()))),
        )

    @classmethod
    def from_pbf(cls, path: str | Path, cache_dir: str | Path | None = None, *,
                 progress: Progress | None = None, **kwargs) -> RoadGraphProvider:
        return cls(RoadGraph.from_pbf(path, cache_dir, progress=progress), **kwargs)

    # --- snapping ---

    def snap(self, locations: Sequence[LatLon], ids: Sequence[str] | None = None) -> SnapReport:
        report = self.snapper.snap(locations, ids, self.max_snap_m)
        self.last_snap = report
        if report.off_network and self.off_network == "error":
            raise OffNetworkError(report, self.road.name, self.max_snap_m)
        return report

    # --- matrices ---

    def matrix(self, locations: Sequence[LatLon], ids: Sequence[str] | None = None) -> Matrix:
        n = len(locations)
        if n == 0:
            z = np.zeros((0, 0), dtype=np.int64)
            return Matrix(z, z.copy(), self.name)
        report = self.snap(locations, ids)
        q = self._query(report)
        verts, row_of = np.unique(q.vertex_of, return_inverse=True)
        w = np.empty((verts.shape[0], verts.shape[0]))
        step = max(1, int(_CHUNK_BYTES // (8 * q.n)))
        for a in range(0, verts.shape[0], step):
            w[a:a + step] = dijkstra(q.graph, directed=True, indices=verts[a:a + step])[:, verts]
        if not np.isfinite(w).all():  # cannot happen inside one strongly connected part
            raise RoadDataError(f"{self.road.name}: some snapped stops cannot reach each other")
        full = w[np.ix_(row_of, row_of)]
        ds = np.floor(full / _SHIFT)
        dur = np.rint(ds / 10.0)
        dist = np.rint((full - ds * _SHIFT) / 10.0)
        c = self._connectors(report)
        if c is not None:
            dist = dist + c[0][:, None] + c[0][None, :]
            dur = dur + c[1][:, None] + c[1][None, :]
        dist = dist.astype(np.int64)
        dur = dur.astype(np.int64)
        np.fill_diagonal(dist, 0)
        np.fill_diagonal(dur, 0)
        return Matrix(dist, dur, self.name)

    def _connectors(self, report: SnapReport) -> tuple[np.ndarray, np.ndarray] | None:
        far = np.array([s.off_network for s in report.stops])
        if not far.any():
            return None
        d = np.array([s.distance_m if s.off_network else 0.0 for s in report.stops]) * self.connector_circuity
        return np.rint(d), np.rint(d / (self.connector_kmh / 3.6))

    def _query(self, report: SnapReport) -> _Query:
        g = self.road
        nv = g.vertices
        seg = np.array([s.segment for s in report.stops], dtype=np.int64)
        off = np.array([s.offset_m for s in report.stops])
        length = g.seg_len[seg]
        vertex_of = np.where(off <= 0.5, g.seg_u[seg], g.seg_v[seg]).astype(np.int64)
        inner = (off > 0.5) & (off < length - 0.5)
        eu, ev, ew, es, ef, et = (list(x) for x in ([], [], [], [], [], []))
        if inner.any():
            idx = np.flatnonzero(inner)
            key = np.stack((seg[idx], np.rint(off[idx] * 10).astype(np.int64)))
            uk, back = np.unique(key, axis=1, return_inverse=True)
            vertex_of[idx] = nv + back.ravel()
            new_ids = nv + np.arange(uk.shape[1])
            # splice each segment's new points in, in order along it
            bounds = np.flatnonzero(np.diff(uk[0])) + 1
            for grp in np.split(np.arange(uk.shape[1]), bounds):
                s = int(uk[0, grp[0]])
                offs = [0.0, *(uk[1, grp] / 10.0), float(g.seg_len[s])]
                nodes = [int(g.seg_u[s]), *new_ids[grp], int(g.seg_v[s])]
                for k in range(len(nodes) - 1):
                    frac = (offs[k + 1] - offs[k]) / max(g.seg_len[s], 1e-9)
                    piece = offs[k + 1] - offs[k]
                    if g.seg_time_fwd[s] > 0:
                        eu.append(nodes[k]); ev.append(nodes[k + 1]); es.append(s)
                        ef.append(offs[k]); et.append(offs[k + 1])
                        ew.append(_weight(np.array([g.seg_time_fwd[s] * frac]), np.array([piece]))[0])
                    if g.seg_time_bwd[s] > 0:
                        eu.append(nodes[k + 1]); ev.append(nodes[k]); es.append(s)
                        ef.append(offs[k + 1]); et.append(offs[k])
                        ew.append(_weight(np.array([g.seg_time_bwd[s] * frac]), np.array([piece]))[0])
            n = nv + uk.shape[1]
        else:
            n = nv
        bu, bv, bw, bs, bf, bt = self._base
        u = np.concatenate((bu, np.asarray(eu, dtype=np.int64)))
        v = np.concatenate((bv, np.asarray(ev, dtype=np.int64)))
        w = np.concatenate((bw, np.asarray(ew, dtype=np.float64)))
        keys = u * n + v
        order = np.lexsort((w, keys))
        keys = keys[order]
        keep = np.ones(keys.shape[0], dtype=bool)
        keep[1:] = keys[1:] != keys[:-1]  # parallel edges: the cheapest only
        order = order[keep]
        keys = keys[keep]
        uu, vv = u[order], v[order]
        indptr = np.searchsorted(uu, np.arange(n + 1))
        graph = csr_matrix((w[order], vv, indptr), shape=(n, n))
        sg = np.concatenate((bs, np.asarray(es, dtype=np.int64)))[order]
        of = np.concatenate((bf, np.asarray(ef, dtype=np.float64)))[order]
        ot = np.concatenate((bt, np.asarray(et, dtype=np.float64)))[order]
        return _Query(graph, keys, sg, of, ot, vertex_of, n)

    # --- route lines ---

    def road_route(self, locations: Sequence[LatLon], ids: Sequence[str] | None = None) -> RoadRoute:
        """The fastest drivable line visiting ``locations`` in order."""
        if len(locations) < 2:
            raise ValueError("a route needs at least two locations")
        report = self.snap(locations, ids)
        q = self._query(report)
        verts = np.unique(q.vertex_of)
        w, pred = dijkstra(q.graph, directed=True, indices=verts, return_predecessors=True)
        row = {int(x): k for k, x in enumerate(verts)}
        conn = self._connectors(report)
        pts: list[tuple[float, float]] = []
        legs: list[tuple[int, int]] = []
        for i in range(len(locations) - 1):
            a, b = int(q.vertex_of[i]), int(q.vertex_of[i + 1])
            r = row[a]
            path = [b]
            while path[-1] != a:
                path.append(int(pred[r, path[-1]]))
            path.reverse()
            leg: list[tuple[float, float]] = [(locations[i].lat, locations[i].lon)]
            for x, y in zip(path, path[1:]):
                k = int(np.searchsorted(q.keys, x * q.n + y))
                leg.extend(self.road.piece(int(q.seg[k]), float(q.off_from[k]), float(q.off_to[k])))
            leg.append((locations[i + 1].lat, locations[i + 1].lon))
            for p in leg:
                if not pts or abs(pts[-1][0] - p[0]) + abs(pts[-1][1] - p[1]) > 1e-9:
                    pts.append(p)
            ds = np.floor(w[r, b] / _SHIFT)
            dist, dur = (w[r, b] - ds * _SHIFT) / 10.0, ds / 10.0
            if conn is not None:
                dist += conn[0][i] + conn[0][i + 1]
                dur += conn[1][i] + conn[1][i + 1]
            legs.append((int(round(dist)), int(round(dur))))
        return RoadRoute(tuple(LatLon(la, lo) for la, lo in pts), sum(x for x, _ in legs),
                         sum(y for _, y in legs), tuple(legs), self.name)

    def geojson(self, locations: Sequence[LatLon], ids: Sequence[str] | None = None) -> dict:
        """A GeoJSON Feature (LineString along the roads) with the attribution."""
        return self.road_route(locations, ids).geojson()


def _weight(seconds: np.ndarray, metres: np.ndarray) -> np.ndarray:
    """Lexicographic edge weight: whole deciseconds (at least 1) then decimetres."""
    ds = np.maximum(np.rint(np.asarray(seconds) * 10.0), 1.0)
    dm = np.rint(np.asarray(metres) * 10.0)
    return ds * _SHIFT + dm
