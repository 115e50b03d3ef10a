"""Read the drivable road network out of an OpenStreetMap ``.osm.pbf`` file.

This is the engine's only module that imports pyosmium (``osmium`` on PyPI). It
turns highway ways into flat numpy arrays: one row per way node reference,
plus per-way speeds in each direction (0 = not allowed that way). The graph
itself (intersections, segments, components) is built in ``road_graph``.

The car profile, in short:

* drivable ``highway`` classes with urban free-flow speeds (``SPEEDS_KMH``);
  ``maxspeed`` (km/h, ``mph``, ``knots``) replaces the class speed, scaled by
  ``MAXSPEED_FACTOR`` because nobody drives a city street at the posted limit;
* one-ways: ``oneway=yes|true|1`` and ``-1|reverse``; ``junction=roundabout``
  and ``circular``; ``highway=motorway`` (and its links) are one-way unless
  tagged otherwise; ``oneway=reversible|alternating`` ways are left out;
* access: ``access``/``vehicle``/``motor_vehicle``/``motorcar`` of ``no``,
  ``private``, ``agricultural``, ``forestry`` or ``emergency`` leave a way out
  (the most specific tag wins); ``destination``/``delivery``/``customers``
  are allowed — delivering is what we do;
* ``area=yes`` highways, ``construction``, ``proposed``, ``abandoned`` and
  non-motor classes (footway, path, cycleway, steps, pedestrian, track,
  bridleway) are not driven;
* each ``highway=traffic_signals`` node costs ``SIGNAL_PENALTY_S`` seconds.

Data © OpenStreetMap contributors (ODbL 1.0).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ATTRIBUTION = "© OpenStreetMap contributors"

# Urban free-flow speeds in km/h. Lower than posted limits on purpose: these are
# what a delivery van averages along a block, including the slowing at corners.
SPEEDS_KMH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 45.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 45.0,
    "secondary_link": 30.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 25.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 25.0,
    "busway": 0.0,  # buses only
}
SERVICE_SPEEDS_KMH = {"parking_aisle": 10.0, "driveway": 10.0, "alley": 12.0, "drive-through": 8.0}
MAXSPEED_FACTOR = 0.8
SIGNAL_PENALTY_S = 5.0
IMPLIED_ONEWAY = frozenset({"motorway", "motorway_link"})
_DENY = frozenset({"no", "private", "agricultural", "forestry", "emergency", "military", "use_sidepath"})
_ACCESS_KEYS = ("access", "vehicle", "motor_vehicle", "motorcar")
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$")


class RoadDataError(Exception):
    """An extract that cannot be read or holds no drivable roads. The message
    names the file."""


def parse_maxspeed(value: str | None) -> float | None:
    """``"50"`` -> 50.0, ``"30 mph"`` -> 48.28, ``"none"``/``"signals"``/``"US:urban"`` -> None.
    With several values (``"50;30"``) the first counts."""
    if not value:
        return None
    m = _MAXSPEED.match(value.split(";")[0])
    if not m:
        return None
    v = float(m.group(1))
    unit = m.group(2)
    if unit == "mph":
        v *= 1.609344
    elif unit == "knots":
        v *= 1.852
    return v if v > 0 else None


def way_speeds(tags: dict[str, str]) -> tuple[float, float] | None:
    """(forward, backward) km/h for a way's tags; 0 means not that way; None
    means the way is not drivable at all."""
    hw = tags.get("highway", "")
    base = SPEEDS_KMH.get(hw)
    if not base:
        return None
    if tags.get("area") == "yes":
        return None
    access = None
    for k in _ACCESS_KEYS:  # most specific last, so it wins
        if k in tags:
            access = tags[k]
    if access in _DENY:
        return None
    if hw == "service":
        base = SERVICE_SPEEDS_KMH.get(tags.get("service", ""), base)
    speed = base
    posted = parse_maxspeed(tags.get("maxspeed"))
    if posted is not None:
        speed = max(5.0, posted * MAXSPEED_FACTOR)
    oneway = tags.get("oneway", "")
    if oneway in ("reversible", "alternating"):
        return None
    if oneway in ("yes", "true", "1"):
        return speed, 0.0
    if oneway in ("-1", "reverse"):
        return 0.0, speed
    if oneway in ("no", "false", "0"):
        return speed, speed
    if tags.get("junction") in ("roundabout", "circular") or hw in IMPLIED_ONEWAY:
        return speed, 0.0
    return speed, speed


@dataclass(frozen=True)
class RawWays:
    """Drivable ways as flat arrays. ``ptr[k]:ptr[k+1]`` are way ``k``'s node refs."""

    ptr: np.ndarray  # int64, len = ways + 1
    node_ids: np.ndarray  # int64, one per ref
    lat: np.ndarray  # float64, one per ref
    lon: np.ndarray
    speed_fwd: np.ndarray  # float64 km/h per way, 0 = not allowed
    speed_bwd: np.ndarray
    signal_ids: np.ndarray  # int64 node ids tagged highway=traffic_signals
    ways_seen: int  # highway ways in the file, drivable or not


Progress = Callable[[float, str], None]


def read_ways(path: str | Path, progress: Progress | None = None) -> RawWays:
    """Stream ``path`` once and return its drivable ways. Raises ``RoadDataError``
    naming the file when it is missing, not an OSM file, or has no drivable road."""
    path = Path(path)
    if not path.is_file():
        raise RoadDataError(f"{path}: no such file")
    try:
        import osmium
        import osmium.filter as ofilter
        from osmium.osm import NODE, WAY
    except ImportError as e:  # pragma: no cover - declared dependency
        raise RoadDataError("reading .osm.pbf needs pyosmium: pip install osmium") from e

    size = max(1, path.stat().st_size)
    ptr: list[int] = [0]
    ids: list[int] = []
    lats: list[float] = []
    lons: list[float] = []
    fwd: list[float] = []
    bwd: list[float] = []
    signals: list[int] = []
    seen = 0
    try:
        fp = (
            osmium.FileProcessor(osmium.io.File(str(path), _format_of(path)), NODE | WAY)
            .with_locations()
            .with_filter(ofilter.KeyFilter("highway"))
        )
        for obj in fp:
            if obj.is_node():
                if obj.tags.get("highway") == "traffic_signals":
                    signals.append(obj.id)
                continue
            seen += 1
            sp = way_speeds(dict(obj.tags))
            if sp is None or len(obj.nodes) < 2:
                continue
            refs = [(n.ref, n.lat, n.lon) for n in obj.nodes if n.location.valid()]
            if len(refs) < 2:
                continue
            for r, la, lo in refs:
                ids.append(r)
                lats.append(la)
                lons.append(lo)
            ptr.append(len(ids))
            fwd.append(sp[0])
            bwd.append(sp[1])
            if progress is not None and seen % 20000 == 0:
                progress(min(0.99, len(ids) * 40 / size), f"read {seen:,} highway ways")
    except RoadDataError:
        raise
    except Exception as e:  # osmium raises RuntimeError for corrupt or foreign files
        raise RoadDataError(f"{path}: not a readable OpenStreetMap extract ({e})") from None
    if not fwd:
        what = "no highway ways at all" if not seen else f"{seen:,} highway ways but none drivable"
        raise RoadDataError(f"{path}: no drivable roads in this extract ({what})")
    if progress is not None:
        progress(1.0, f"read {seen:,} highway ways")
    return RawWays(
        ptr=np.asarray(ptr, dtype=np.int64),
        node_ids=np.asarray(ids, dtype=np.int64),
        lat=np.asarray(lats, dtype=np.float64),
        lon=np.asarray(lons, dtype=np.float64),
        speed_fwd=np.asarray(fwd, dtype=np.float64),
        speed_bwd=np.asarray(bwd, dtype=np.float64),
        signal_ids=np.unique(np.asarray(signals, dtype=np.int64)),
        ways_seen=seen,
    )


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for suffix, fmt in ((".osm.pbf", "pbf"), (".pbf", "pbf"), (".osm.bz2", "osm.bz2"),
                        (".osm.gz", "osm.gz"), (".osm", "osm"), (".xml", "osm")):
        if name.endswith(suffix):
            return fmt
    return "pbf"
