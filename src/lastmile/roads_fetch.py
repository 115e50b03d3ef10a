"""Getting road data: resumable downloads with checksums, and clipping extracts
to a bounding box (pyosmium), for ``lastmile roads fetch``.

Nothing here prints; callers pass a ``progress(done, total, message)`` callable.
Errors are ``FetchError`` with a message fit for a user.

Data © OpenStreetMap contributors (ODbL 1.0).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

# Laredo, TX and Nuevo Laredo, Tamaulipas: the extract straddles two countries.
LAREDO_BBOX = (-99.62, 27.38, -99.36, 27.70)
DEFAULT_URLS = (
    "https://download.geofabrik.de/north-america/us/texas-latest.osm.pbf",
    "https://download.geofabrik.de/north-america/mexico-latest.osm.pbf",
)
Progress = Callable[[int, int | None, str], None]


class FetchError(Exception):
    """A download, checksum or clip that failed; the message says what to do."""


# --- bounding boxes and names ---

def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"min_lon,min_lat,max_lon,max_lat"`` -> floats, checked."""
    try:
        parts = tuple(float(x) for x in text.replace(" ", "").split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise FetchError(f"bbox must be min_lon,min_lat,max_lon,max_lat (four numbers), got {text!r}")
    w, s, e, n = parts
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise FetchError(f"bbox {text!r} is not a box: need -180 <= min_lon < max_lon <= 180 "
                         "and -90 <= min_lat < max_lat <= 90")
    return parts  # type: ignore[return-value]


def bbox_name(bbox: Sequence[float]) -> str:
    """A file name for a clip. Only the Laredo box is called Laredo."""
    if tuple(round(x, 4) for x in bbox) == LAREDO_BBOX:
        return "laredo-nuevo-laredo"
    return "roads_" + "_".join(f"{x:.3f}" for x in bbox).replace("-", "m")


def urls_from(option: Sequence[str] | None) -> list[str]:
    """``--url`` values, else ``LASTMILE_ROADS_URL`` (space or comma separated), else the defaults."""
    if option:
        return list(option)
    env = os.environ.get("LASTMILE_ROADS_URL", "").strip()
    if env:
        return [u for u in re.split(r"[\s,]+", env) if u]
    return list(DEFAULT_URLS)


# --- downloading ---

def _client(timeout: float) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeout, read=max(timeout, 60.0)), follow_redirects=True,
                        headers={"User-Agent": "lastmile-roads/0.1"})


def _no_network(url: str, e: Exception) -> FetchError:
    return FetchError(f"cannot download {url}: no network, or the server is unreachable ({e}). "
                      "Check the connection or pass --url for a server you can reach; "
                      "or use `lastmile roads build FILE.osm.pbf` with a file you already have.")


def checksum_from(url: str, timeout: float = 30.0) -> str:
    """The first SHA-256 (or MD5) hex digest in a checksum file such as ``x.osm.pbf.sha256``."""
    try:
        with _client(timeout) as c:
            r = c.get(url)
    except httpx.HTTPError as e:
        raise _no_network(url, e) from None
    if r.status_code != 200:
        raise FetchError(f"cannot get the checksum {url}: HTTP {r.status_code}")
    m = re.search(r"\b([0-9a-fA-F]{64}|[0-9a-fA-F]{32})\b", r.text)
    if not m:
        raise FetchError(f"{url} holds no SHA-256 (or MD5) checksum")
    return m.group(1).lower()


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            h.update(chunk)
    return h.hexdigest()


def _check(path: Path, expected: str | None) -> bool:
    if not expected:
        return True
    algo = "md5" if len(expected) == 32 else "sha256"
    return file_digest(path, algo) == expected.lower()


def download(url: str, dest: Path, *, checksum: str | None = None, timeout: float = 30.0,
             progress: Progress | None = None) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` with an HTTP Range request.

    ``checksum`` (SHA-256, or MD5 when 32 hex digits) is checked before the file
    takes its final name; a mismatch removes the partial file. A file already at
    ``dest`` with the right checksum is not downloaded again."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and checksum and _check(dest, checksum):
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    done = have
    try:
        with _client(timeout) as c, c.stream("GET", url, headers=headers) as r:
            if r.status_code == 416 and have:  # nothing left to fetch: the part is whole
                total = done
            elif r.status_code in (200, 206):
                if r.status_code == 200 or not r.headers.get("content-range", "").startswith(f"bytes {have}-"):
                    done = 0  # the server sent the whole file: start over
                length = r.headers.get("content-length")
                total = done + int(length) if length and length.isdigit() else None
                with open(part, "ab" if done else "wb") as f:
                    for chunk in r.iter_bytes(2**16):
                        f.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total, dest.name)
            else:
                raise FetchError(f"cannot download {url}: the server answered HTTP {r.status_code}")
    except (httpx.ConnectError, httpx.ConnectTimeout) as e:
        raise _no_network(url, e) from None
    except httpx.HTTPError as e:
        raise FetchError(f"download of {url} interrupted after {done:,} bytes ({e}); "
                         "run the same command again to resume") from None
    if total is not None and done < total:
        raise FetchError(f"download of {url} stopped at {done:,} of {total:,} bytes; "
                         "run the same command again to resume")
    if not _check(part, checksum):
        part.unlink()
        raise FetchError(f"{url}: checksum mismatch (expected {checksum}); the download was removed, "
                         "try again or check the checksum")
    os.replace(part, dest)
    return dest


# --- clipping ---

@dataclass(frozen=True)
class ClipStats:
    ways: int
    nodes: int
    path: Path


def clip_roads(inputs: Sequence[Path], bbox: Sequence[float], out: Path,
               progress: Progress | None = None) -> ClipStats:
    """Write the highway ways of ``inputs`` with a node inside ``bbox`` (whole,
    with all their nodes) into one sorted ``out`` file; merged and de-duplicated
    across inputs (e.g. a Texas and a Mexico extract)."""
    import osmium
    import osmium.filter as ofilter
    from osmium.osm import NODE, WAY

    w, s, e, n = bbox
    wkb = osmium.geom.WKBFactory()
    ways: dict[int, tuple[list[int], dict[str, str]]] = {}
    for k, path in enumerate(inputs):
        try:
            fp = (osmium.FileProcessor(str(path), NODE | WAY).with_locations()
                  .with_filter(ofilter.EntityFilter(WAY)).with_filter(ofilter.KeyFilter("highway")))
            for count, way in enumerate(fp):
                if progress and count % 50000 == 0:
                    progress(k, len(inputs), f"clipping {Path(path).name}: {count:,} highway ways")
                try:
                    xy = _lonlat(wkb.create_linestring(way))
                except Exception:  # fewer than two located nodes
                    continue
                inside = ((xy[0::2] >= w) & (xy[0::2] <= e) & (xy[1::2] >= s) & (xy[1::2] <= n))
                if inside.any() and way.id not in ways:
                    ways[way.id] = ([nd.ref for nd in way.nodes], dict(way.tags))
        except Exception as err:
            raise FetchError(f"{path}: not a readable OpenStreetMap extract ({err})") from None
    if not ways:
        raise FetchError(f"no roads inside bbox {','.join(map(str, bbox))} in "
                         f"{', '.join(Path(p).name for p in inputs)}: does the extract cover that area?")
    need = {r for refs, _ in ways.values() for r in refs}
    nodes: dict[int, tuple[float, float, dict[str, str]]] = {}
    for path in inputs:
        fp = osmium.FileProcessor(str(path), NODE).with_filter(ofilter.IdFilter(need))
        for nd in fp:
            if nd.id not in nodes and nd.location.valid():
                nodes[nd.id] = (nd.location.lon, nd.location.lat, dict(nd.tags))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name.replace(".osm.pbf", "") + ".tmp.osm.pbf")
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(w, s), osmium.osm.Location(e, n)))
    header.set("generator", "lastmile roads fetch")
    with osmium.SimpleWriter(str(tmp), header=header, overwrite=True) as wr:
        for nid in sorted(nodes):
            lon, lat, tags = nodes[nid]
            wr.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=tags, version=1))
        for wid in sorted(ways):
            refs, tags = ways[wid]
            wr.add_way(osmium.osm.mutable.Way(id=wid, nodes=[r for r in refs if r in nodes], tags=tags, version=1))
    os.replace(tmp, out)
    if progress:
        progress(len(inputs), len(inputs), f"clipped {len(ways):,} ways")
    return ClipStats(len(ways), len(nodes), out)


def _lonlat(hexwkb: str):
    import numpy as np

    raw = bytes.fromhex(hexwkb)
    # WKB linestring: byte order (1 = little-endian), uint32 type, uint32 count, then x, y doubles
    return np.frombuffer(raw, dtype="<f8" if raw[0] == 1 else ">f8", offset=9)
