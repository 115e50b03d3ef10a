"""Decoders: every protocol's units and time formats become one Fix (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lastmile.tracking.decoders import Malformed, decode_app, decode_osmand, decode_owntracks, parse_time

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["1795622400", "1795622400000", "2026-11-25T16:00:00Z", "2026-11-25T10:00:00-06:00",
                                   "2026-11-25 16:00:00", 1795622400, 1795622400.0])
def test_times_in_every_spelling(value):
    assert parse_time(value, "timestamp") == NOW


@pytest.mark.parametrize("value", ["", "soon", None, True, "2026-13-45T00:00:00", float("nan")])
def test_unreadable_times(value):
    with pytest.raises(Malformed):
        parse_time(value, "timestamp")


def test_osmand_units_and_aliases():
    fix = decode_osmand({"id": "x", "location": "27.5,-99.5", "speed": "1", "heading": "45", "batt": "50"}, NOW)
    assert (fix.lat, fix.lon, fix.at, fix.bearing, fix.battery) == (27.5, -99.5, NOW, 45, 50)
    assert fix.speed_mps == pytest.approx(0.514444, rel=1e-5)  # one knot
    with pytest.raises(Malformed):
        decode_osmand({"id": "x"}, NOW)
    with pytest.raises(Malformed):
        decode_osmand({"id": "x", "lat": "27.5", "lon": "inf"}, NOW)


def test_owntracks_units_and_types():
    fix = decode_owntracks({"_type": "location", "lat": 27.5, "lon": -99.5, "tst": 1795622400, "vel": 36,
                            "acc": 5, "alt": 130, "cog": 10, "batt": 90})
    assert fix.at == NOW and fix.speed_mps == pytest.approx(10.0) and (fix.accuracy, fix.altitude) == (5, 130)
    assert decode_owntracks({"_type": "lwt", "tst": 1}) is None
    with pytest.raises(Malformed):
        decode_owntracks({"_type": "location", "lat": 27.5, "lon": -99.5})
    with pytest.raises(Malformed):
        decode_owntracks([1, 2])  # type: ignore[arg-type]


def test_app_items_report_their_index():
    out = decode_app([{"lat": 27.5, "lon": -99.5, "at": "2026-11-25T16:00:00Z"}, {"lat": "x", "lon": 1, "at": 1}])
    assert out[0].index == 0 and isinstance(out[1], Malformed) and out[1].field == "positions[1].lat"
