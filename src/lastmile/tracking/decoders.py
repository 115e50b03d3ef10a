"""Protocol decoders: every source becomes the same :class:`Fix`.

* the driver app: JSON ``{"positions": [{"lat","lon","at",...}]}`` (speed in m/s);
* OsmAnd / Traccar Client: HTTP query or form parameters ``id, lat, lon, timestamp,
  speed, bearing, altitude, accuracy, batt``; ``speed`` is in **knots** in this
  protocol (as Traccar's OsmAnd decoder converts it), ``timestamp`` is Unix seconds,
  milliseconds (above 2^31-1), ISO 8601 or ``yyyy-MM-dd HH:mm:ss`` (UTC);
* OwnTracks: JSON ``{"_type":"location","lat","lon","tst",...}`` with ``vel`` in
  **km/h**, ``acc``/``alt`` in metres, ``cog`` degrees, ``batt`` percent.

A decoder raises :class:`Malformed` for input it cannot read at all (the sender gets
a 400/422 and the rejection is counted); whether a readable fix is *plausible* is the
filter handler's job (pipeline.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

KNOT_MPS = 1852.0 / 3600.0
KMH_MPS = 1000.0 / 3600.0


@dataclass(slots=True)
class Fix:
    """One normalized position: degrees, metres, metres per second, UTC."""

    lat: float
    lon: float
    at: datetime
    source: str  # app | osmand | owntracks
    accuracy: float | None = None
    speed_mps: float | None = None
    bearing: float | None = None
    altitude: float | None = None
    battery: float | None = None  # percent
    index: int = 0  # its place in the request or batch it came in


class Malformed(ValueError):
    """Input that is not a position at all; ``reason`` is counted, ``field`` named."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason, self.message, self.field = reason, message, field


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise Malformed("malformed", f"{field} must be a number", field)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise Malformed("malformed", f"{field} must be a number", field) from None
    if not math.isfinite(out):
        raise Malformed("malformed", f"{field} must be a finite number", field)
    return out


def _optional(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    return _number(value, field)


def _epoch(value: float, field: str) -> datetime:
    if value > 2**31 - 1:  # milliseconds (as Traccar reads OsmAnd timestamps)
        value /= 1000.0
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise Malformed("malformed", f"{field} is not a valid time", field) from None


def parse_time(value: Any, field: str) -> datetime:
    """Unix seconds or milliseconds, ISO 8601 (a missing zone means UTC), or
    ``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch(_number(value, field), field)
    if not isinstance(value, str) or not value.strip():
        raise Malformed("malformed", f"{field} must be a time", field)
    text = value.strip()
    try:
        return _epoch(_number(text, field), field)
    except Malformed:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Malformed("malformed", f"{field} is not a valid time", field) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def decode_app(items: list[Mapping[str, Any]]) -> list[Fix | Malformed]:
    """The driver app's positions (already shaped by the request schema); per item a
    Fix, or the reason it cannot be read (reported back with its index)."""
    out: list[Fix | Malformed] = []
    for i, p in enumerate(items):
        try:
            fix = Fix(
                lat=_number(p.get("lat"), "lat"), lon=_number(p.get("lon"), "lon"), at=parse_time(p.get("at"), "at"),
                source="app", accuracy=_optional(p.get("accuracy"), "accuracy"),
                speed_mps=_optional(p.get("speed"), "speed"), bearing=_optional(p.get("bearing"), "bearing"),
                altitude=_optional(p.get("altitude"), "altitude"), battery=_optional(p.get("battery"), "battery"),
                index=i)
        except Malformed as e:
            e.field = f"positions[{i}].{e.field}" if e.field else f"positions[{i}]"
            out.append(e)
            continue
        out.append(fix)
    return out


def osmand_device_id(params: Mapping[str, str]) -> str | None:
    return params.get("id") or params.get("deviceid") or None


def decode_osmand(params: Mapping[str, str], now: datetime) -> Fix:
    """One OsmAnd / Traccar Client report (query or form parameters)."""
    if "lat" in params or "lon" in params:
        lat, lon = _number(params.get("lat"), "lat"), _number(params.get("lon"), "lon")
    elif "location" in params:
        parts = params["location"].split(",")
        if len(parts) != 2:
            raise Malformed("malformed", "location must be lat,lon", "location")
        lat, lon = _number(parts[0], "location"), _number(parts[1], "location")
    else:
        raise Malformed("malformed", "lat and lon are required", "lat")
    ts = params.get("timestamp")
    at = parse_time(ts, "timestamp") if ts not in (None, "") else now
    speed_kn = _optional(params.get("speed"), "speed")
    bearing = params.get("bearing", params.get("heading"))
    return Fix(
        lat=lat, lon=lon, at=at, source="osmand", accuracy=_optional(params.get("accuracy"), "accuracy"),
        speed_mps=None if speed_kn is None else speed_kn * KNOT_MPS, bearing=_optional(bearing, "bearing"),
        altitude=_optional(params.get("altitude"), "altitude"), battery=_optional(params.get("batt"), "batt"))


def decode_owntracks(payload: Mapping[str, Any]) -> Fix | None:
    """One OwnTracks message; None for message types that carry no position
    (``lwt``, ``transition``, ``card``, ...)."""
    if not isinstance(payload, Mapping):
        raise Malformed("malformed", "an OwnTracks message is a JSON object")
    if payload.get("_type") != "location":
        return None
    if "tst" not in payload:
        raise Malformed("malformed", "tst is required", "tst")
    tst = _number(payload["tst"], "tst")
    vel = _optional(payload.get("vel"), "vel")
    return Fix(
        lat=_number(payload.get("lat"), "lat"), lon=_number(payload.get("lon"), "lon"), at=_epoch(tst, "tst"),
        source="owntracks", accuracy=_optional(payload.get("acc"), "acc"),
        speed_mps=None if vel is None else vel * KMH_MPS, bearing=_optional(payload.get("cog"), "cog"),
        altitude=_optional(payload.get("alt"), "alt"), battery=_optional(payload.get("batt"), "batt"))


def owntracks_topic(topic: str) -> str | None:
    """``owntracks/<user>/<device>`` (the location topic) or None for any other topic."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "owntracks" or not parts[1] or not parts[2]:
        return None
    return topic
