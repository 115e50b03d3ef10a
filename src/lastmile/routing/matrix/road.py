"""Travel matrices from a road-routing service over HTTP.

* ``OSRMProvider``: any OSRM-compatible ``/table/v1/{profile}/{lon,lat;...}``
  service (OSRM itself, or anything that speaks its table API) asked for
  ``annotations=duration,distance``;
* ``ValhallaProvider``: a Valhalla-compatible ``/sources_to_targets`` service
  (the classic nested answer and the flat ``verbose: false`` one).

Large matrices are asked for in blocks of at most ``chunk`` sources by
``chunk`` destinations (OSRM's default ``--max-table-size`` is 100) and put
back together. Anything wrong — the service down, a timeout, an HTTP error,
an answer that is not the expected JSON, pairs with no route — raises
``RoadServiceError`` with a message saying what and where; nothing here
returns a half-filled matrix.

This is the only module of the engine that does I/O, and only when a caller
builds one of these providers; the rest of ``routing/`` stays pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx
import numpy as np

from ..domain import LatLon
from ..ports import Matrix

__all__ = ["OSRMProvider", "RoadServiceError", "ValhallaProvider"]


class RoadServiceError(RuntimeError):
    """The road service could not give a matrix; the message says why."""


class _HTTPProvider:
    kind = "road"

    def __init__(self, base_url: str, *, chunk: int = 100, timeout: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        if not base_url or not urlsplit(base_url).scheme.startswith("http"):
            raise ValueError(f"road service URL must start with http:// or https://, got {base_url!r}")
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.chunk = chunk
        self._client = client or httpx.Client(timeout=timeout)
        self.requests = 0
        self.name = f"{self.kind}:{urlsplit(self.base_url).netloc}"

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def matrix(self, locations: Sequence[LatLon]) -> Matrix:
        n = len(locations)
        dist = np.zeros((n, n), dtype=np.float64)
        dur = np.zeros((n, n), dtype=np.float64)
        blocks = [list(range(a, min(n, a + self.chunk))) for a in range(0, n, self.chunk)]
        for src in blocks:
            for dst in blocks:
                d, t = self._block(locations, src, dst)
                missing = ~(np.isfinite(d) & np.isfinite(t))
                if missing.any():
                    i, j = np.argwhere(missing)[0]
                    raise RoadServiceError(
                        f"{self.name}: no route between {int(missing.sum())} pair(s) of locations, "
                        f"e.g. from #{src[i]} ({_fmt(locations[src[i]])}) to #{dst[j]} ({_fmt(locations[dst[j]])})"
                    )
                dist[np.ix_(src, dst)] = d
                dur[np.ix_(src, dst)] = t
        out_d = np.rint(dist).astype(np.int64)
        out_t = np.rint(dur).astype(np.int64)
        np.fill_diagonal(out_d, 0)
        np.fill_diagonal(out_t, 0)
        return Matrix(out_d, out_t, self.name)

    def _block(self, locations, src, dst) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def _call(self, method: str, url: str, **kw) -> dict:
        self.requests += 1
        try:
            r = self._client.request(method, url, **kw)
        except httpx.TimeoutException:
            raise RoadServiceError(f"{self.name}: the road service at {self.base_url} did not answer in time") from None
        except httpx.HTTPError as e:
            raise RoadServiceError(f"{self.name}: cannot reach the road service at {self.base_url} ({e})") from None
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code != 200:
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("message") or body.get("error") or body.get("code") or "")
            raise RoadServiceError(
                f"{self.name}: the road service answered HTTP {r.status_code}" + (f": {detail}" if detail else "")
            )
        if not isinstance(body, dict):
            raise RoadServiceError(f"{self.name}: the road service answered something that is not JSON")
        return body


class OSRMProvider(_HTTPProvider):
    """An OSRM-compatible table service, e.g. ``OSRMProvider("http://127.0.0.1:5000")``."""

    kind = "osrm"

    def __init__(self, base_url: str, profile: str = "driving", **kw) -> None:
        super().__init__(base_url, **kw)
        self.profile = profile

    def _block(self, locations, src, dst):
        coords = list(src) if src == dst else list(src) + list(dst)
        text = ";".join(f"{locations[k].lon:.6f},{locations[k].lat:.6f}" for k in coords)
        s_idx = range(len(src))
        d_idx = range(len(dst)) if src == dst else range(len(src), len(src) + len(dst))
        url = f"{self.base_url}/table/v1/{self.profile}/{text}"
        params = {"annotations": "duration,distance",
                  "sources": ";".join(map(str, s_idx)), "destinations": ";".join(map(str, d_idx))}
        body = self._call("GET", url, params=params)
        if body.get("code") != "Ok":
            raise RoadServiceError(f"{self.name}: {body.get('code', 'no code')}: {body.get('message', 'no table')}")
        if "distances" not in body:
            raise RoadServiceError(f"{self.name}: the service gave no distances (OSRM 5.17 or later is needed)")
        return (_grid(body.get("distances"), len(src), len(dst), self.name, "distances"),
                _grid(body.get("durations"), len(src), len(dst), self.name, "durations"))


class ValhallaProvider(_HTTPProvider):
    """A Valhalla-compatible ``sources_to_targets`` service (``costing`` e.g. ``auto``)."""

    kind = "valhalla"

    def __init__(self, base_url: str, costing: str = "auto", chunk: int = 50, **kw) -> None:
        super().__init__(base_url, chunk=chunk, **kw)
        self.costing = costing

    def _block(self, locations, src, dst):
        payload = {
            "sources": [{"lat": locations[k].lat, "lon": locations[k].lon} for k in src],
            "targets": [{"lat": locations[k].lat, "lon": locations[k].lon} for k in dst],
            "costing": self.costing,
            "units": "kilometers",
        }
        body = self._call("POST", f"{self.base_url}/sources_to_targets", json=payload)
        km = 1000.0 if body.get("units", "kilometers") in ("kilometers", "km") else 1609.344
        table = body.get("sources_to_targets")
        if isinstance(table, dict):  # verbose=false: flat arrays
            d = _grid(table.get("distances"), len(src), len(dst), self.name, "distances") * km
            t = _grid(table.get("durations"), len(src), len(dst), self.name, "durations")
            return d, t
        if not isinstance(table, list) or len(table) != len(src):
            raise RoadServiceError(f"{self.name}: the answer has no sources_to_targets table of {len(src)} rows")
        d = np.full((len(src), len(dst)), np.nan)
        t = np.full((len(src), len(dst)), np.nan)
        for i, row in enumerate(table):
            if not isinstance(row, list) or len(row) != len(dst):
                raise RoadServiceError(f"{self.name}: row {i} of sources_to_targets is not {len(dst)} long")
            for j, cell in enumerate(row):
                if not isinstance(cell, dict):
                    raise RoadServiceError(f"{self.name}: cell ({i}, {j}) of sources_to_targets is not an object")
                j = int(cell.get("to_index", j))
                d[i, j] = _num(cell.get("distance")) * km
                t[i, j] = _num(cell.get("time"))
        return d, t


def _num(x) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


def _grid(rows, n: int, m: int, who: str, what: str) -> np.ndarray:
    if not isinstance(rows, list) or len(rows) != n or any(not isinstance(r, list) or len(r) != m for r in rows):
        raise RoadServiceError(f"{who}: {what} in the answer are not a {n} x {m} table")
    return np.array([[_num(x) for x in r] for r in rows], dtype=np.float64).reshape(n, m)


def _fmt(p: LatLon) -> str:
    return f"{p.lat:.5f},{p.lon:.5f}"
