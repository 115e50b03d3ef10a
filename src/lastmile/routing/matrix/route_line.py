"""Route lines along the roads, for maps: GeoJSON LineStrings and encoded
polylines instead of straight segments between stops.

Made from OpenStreetMap data: every line carries ``ATTRIBUTION``
("© OpenStreetMap contributors", ODbL 1.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..domain import LatLon
from .osm_read import ATTRIBUTION

__all__ = ["ATTRIBUTION", "RoadRoute", "encode_polyline"]


@dataclass(frozen=True)
class RoadRoute:
    """A drivable line through a sequence of locations, for maps.

    ``points`` are (lat, lon) along the roads, starting and ending at the given
    locations; ``legs`` are (distance_m, duration_s) between consecutive ones."""

    points: tuple[LatLon, ...]
    distance_m: int
    duration_s: int
    legs: tuple[tuple[int, int], ...]
    provider: str
    attribution: str = ATTRIBUTION

    def coordinates(self) -> list[list[float]]:
        """GeoJSON order: [lon, lat]."""
        return [[round(p.lon, 7), round(p.lat, 7)] for p in self.points]

    def geojson(self) -> dict:
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": self.coordinates()},
            "properties": {"distance_m": self.distance_m, "duration_s": self.duration_s,
                           "provider": self.provider, "attribution": self.attribution},
        }

    def polyline(self, precision: int = 5) -> str:
        return encode_polyline(self.points, precision)


def encode_polyline(points: Sequence[LatLon], precision: int = 5) -> str:
    """The encoded polyline format (precision 5 as Google/OSRM, 6 as Valhalla)."""
    out: list[str] = []
    factor = 10**precision
    plat = plon = 0
    for p in points:
        lat, lon = round(p.lat * factor), round(p.lon * factor)
        for d in (lat - plat, lon - plon):
            d = ~(d << 1) if d < 0 else d << 1
            while d >= 0x20:
                out.append(chr((0x20 | (d & 0x1F)) + 63))
                d >>= 5
            out.append(chr(d + 63))
        plat, plon = lat, lon
    return "".join(out)
