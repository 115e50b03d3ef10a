"""The road graph from real OpenStreetMap extracts (../shared/osm, ODbL)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from lastmile.routing.domain import LatLon
from lastmile.routing.matrix.calibrate import calibrate, sample_points
from lastmile.routing.matrix.haversine import HaversineProvider, great_circle_m
from lastmile.routing.matrix.osm_read import ATTRIBUTION, parse_maxspeed, way_speeds
from lastmile.routing.matrix.road_graph import (
    OffNetworkError,
    RoadDataError,
    RoadGraph,
    RoadGraphProvider,
    encode_polyline,
)
from lastmile.routing.ports import MatrixProvider

OSM = Path(__file__).resolve().parents[2] / ".." / "shared" / "osm"
BALTIMORE = OSM / "baltimore.osm.pbf"
pytestmark = pytest.mark.skipif(not BALTIMORE.is_file(), reason=f"shipped OSM extracts not found in {OSM}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("roads-cache")


@pytest.fixture(scope="module")
def baltimore(cache) -> RoadGraphProvider:
    return RoadGraphProvider.from_pbf(BALTIMORE, cache)


@pytest.fixture(scope="module")
def points(baltimore) -> list[LatLon]:
    return sample_points(baltimore.road, 60, seed=7)


def _straight(points):
    lat = np.array([p.lat for p in points])
    lon = np.array([p.lon for p in points])
    return great_circle_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])


# --- the profile ---

def test_maxspeed_parsing():
    assert parse_maxspeed("50") == 50.0
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("50;30") == 50.0
    assert parse_maxspeed("none") is None
    assert parse_maxspeed("US:urban") is None
    assert parse_maxspeed(None) is None


def test_oneway_and_access_rules():
    assert way_speeds({"highway": "residential"}) == (25.0, 25.0)
    assert way_speeds({"highway": "residential", "oneway": "yes"})[1] == 0
    assert way_speeds({"highway": "residential", "oneway": "-1"})[0] == 0
    assert way_speeds({"highway": "primary", "junction": "roundabout"})[1] == 0
    assert way_speeds({"highway": "motorway"})[1] == 0
    assert way_speeds({"highway": "motorway", "oneway": "no"})[1] > 0
    assert way_speeds({"highway": "primary", "maxspeed": "25 mph"})[0] == pytest.approx(25 * 1.609344 * 0.8)
    for tags in ({"highway": "footway"}, {"highway": "residential", "access": "private"},
                 {"highway": "service", "motor_vehicle": "no"}, {"highway": "primary", "oneway": "reversible"},
                 {"highway": "pedestrian", "area": "yes"}, {"highway": "construction"}):
        assert way_speeds(tags) is None, tags
    assert way_speeds({"highway": "service", "access": "no", "motor_vehicle": "delivery"}) is not None


# --- the graph ---

@pytest.mark.parametrize("name", ["baltimore", "harrisburg", "aguascalientes", "monaco-latest"])
def test_every_shipped_extract_builds(name, cache):
    g = RoadGraph.from_pbf(OSM / f"{name}.osm.pbf", cache)
    assert g.vertices > 500 and g.segments > 500
    assert 0.75 < g.main_share <= 1.0
    assert (g.seg_time_bwd == 0).any(), "one-way streets are kept one-way"


def test_provider_is_a_matrix_provider(baltimore):
    assert isinstance(baltimore, MatrixProvider)
    m = baltimore.matrix([LatLon(39.29, -76.61), LatLon(39.28, -76.60)])
    assert m.provider == "road-graph:baltimore"
    assert m.distances.dtype == np.int64 and m.durations.dtype == np.int64
    assert baltimore.matrix([]).size == 0


def test_one_way_street_gives_asymmetric_times(baltimore):
    g = baltimore.road
    ok = g.seg_main & (g.seg_time_fwd > 0) & (g.seg_time_bwd == 0) & (g.seg_len > 150)
    s = int(np.flatnonzero(ok)[0])
    a = LatLon(*g.piece(s, 0.2 * g.seg_len[s], 0.2 * g.seg_len[s])[0])
    b = LatLon(*g.piece(s, 0.8 * g.seg_len[s], 0.8 * g.seg_len[s])[0])
    m = baltimore.matrix([a, b])
    along = 0.6 * g.seg_len[s]
    assert m.distances[0, 1] == pytest.approx(along, abs=2)  # with the traffic: straight along the block
    assert m.distances[1, 0] > m.distances[0, 1] + 50  # against it: around the block
    assert m.durations[1, 0] > m.durations[0, 1]


def test_road_distance_is_at_least_the_straight_line(baltimore, points):
    m = baltimore.matrix(points)
    assert (m.distances >= np.floor(_straight(points)) - 1).all()
    off = ~np.eye(len(points), dtype=bool)
    assert np.median(m.distances[off] / np.maximum(_straight(points)[off], 1)) > 1.1
    assert (m.durations[off] > 0).all()


def test_triangle_inequality_on_shortest_paths(baltimore, points):
    m = baltimore.matrix(points)
    d, t = m.distances, m.durations
    via_t = t[:, :, None] + t[None, :, :]  # i -> j -> k, indexed [i, j, k]
    assert (t[:, None, :] <= via_t + 2).all()  # rounding of two legs
    # and no path is beaten by a detour in distance either when times tie exactly
    assert (np.diag(d) == 0).all() and (np.diag(t) == 0).all()


def test_duplicate_stops_and_stops_on_one_block(baltimore, points):
    locs = [points[0], points[0], points[1]]
    m = baltimore.matrix(locs)
    assert m.durations[0, 1] == 0 and m.distances[0, 1] == 0
    assert m.durations[0, 2] == m.durations[1, 2]


def test_cache_hit_is_fast_and_gives_the_same_matrix(tmp_path, points):
    first = RoadGraph.from_pbf(BALTIMORE, tmp_path)
    assert not first.loaded_from_cache and first.cache_path and first.cache_path.is_file()
    t0 = time.perf_counter()
    again = RoadGraphProvider(RoadGraph.from_pbf(BALTIMORE, tmp_path))
    elapsed = time.perf_counter() - t0
    assert again.road.loaded_from_cache
    assert elapsed < 1.0
    a, b = RoadGraphProvider(first).matrix(points), again.matrix(points)
    assert (a.durations == b.durations).all() and (a.distances == b.distances).all()


def test_damaged_cache_is_rebuilt(tmp_path):
    g = RoadGraph.from_pbf(OSM / "aguascalientes.osm.pbf", tmp_path)
    g.cache_path.write_bytes(b"not an npz")
    again = RoadGraph.from_pbf(OSM / "aguascalientes.osm.pbf", tmp_path)
    assert not again.loaded_from_cache and again.segments == g.segments


@pytest.mark.parametrize("content", [b"\x00\x01garbage" * 500, b"<html>not found</html>", b""])
def test_corrupt_file_gives_a_clear_error_naming_the_file(tmp_path, content):
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(content)
    with pytest.raises(RoadDataError) as e:
        RoadGraph.from_pbf(bad, tmp_path / "c")
    assert str(bad) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(RoadDataError, match="no such file"):
        RoadGraph.from_pbf(tmp_path / "nowhere.osm.pbf", tmp_path)


def test_stop_far_outside_the_extract_is_reported_by_id(baltimore, points):
    ids = ["home", "far-away", "shop"]
    locs = [points[0], LatLon(27.53, -99.49), points[1]]
    with pytest.raises(OffNetworkError) as e:
        baltimore.matrix(locs, ids)
    assert [s.id for s in e.value.stops] == ["far-away"]
    assert "'far-away'" in str(e.value) and "home" not in str(e.value)


def test_off_network_stops_can_be_connected_instead(baltimore, points):
    p = RoadGraphProvider(baltimore.road, off_network="connect")
    harbour = LatLon(points[0].lat, points[0].lon + 0.5)  # ~43 km east, past the extract
    m = p.matrix([points[0], points[1], harbour], ids=["a", "b", "c"])
    c = p.last_snap.stops[2]
    assert c.off_network and not p.last_snap.stops[0].off_network
    assert any("'c'" in w for w in p.last_snap.warnings)
    assert m.distances[0, 2] >= c.distance_m and m.durations[2, 0] > m.durations[1, 0]


def test_stop_near_a_cut_off_road_is_reported(baltimore):
    g = baltimore.road
    cut = np.flatnonzero(~g.seg_main & (g.seg_len > 60))
    for s in cut:
        lat, lon = g.piece(int(s), g.seg_len[s] / 2, g.seg_len[s] / 2)[0]
        snap = baltimore.snap([LatLon(lat, lon)], ["stub"]).stops[0]
        if snap.on_cut_off_road:
            assert snap.nearest_road_m < 1.0
            assert any("stub" in w and "cut off" in w for w in baltimore.last_snap.warnings)
            return
    pytest.fail("no cut-off road found in Baltimore")


def test_route_line_follows_the_roads(baltimore, points):
    stops = points[:4]
    r = baltimore.road_route(stops, ["a", "b", "c", "d"])
    m = baltimore.matrix(stops)
    assert [leg[0] for leg in r.legs] == [int(m.distances[i, i + 1]) for i in range(3)]
    assert [leg[1] for leg in r.legs] == [int(m.durations[i, i + 1]) for i in range(3)]
    lat = np.array([p.lat for p in r.points])
    lon = np.array([p.lon for p in r.points])
    drawn = great_circle_m(lat[:-1], lon[:-1], lat[1:], lon[1:]).sum()
    assert drawn == pytest.approx(r.distance_m, rel=0.02, abs=10)
    assert r.points[0] == stops[0] and r.points[-1] == stops[-1]
    f = r.geojson()
    assert f["geometry"]["type"] == "LineString" and f["properties"]["attribution"] == ATTRIBUTION
    assert "OpenStreetMap" in ATTRIBUTION
    assert f["geometry"]["coordinates"][0] == [round(stops[0].lon, 7), round(stops[0].lat, 7)]


def test_encoded_polyline_matches_the_reference_example():
    pts = [LatLon(38.5, -120.2), LatLon(40.7, -120.95), LatLon(43.252, -126.453)]
    assert encode_polyline(pts) == "_p~iF~ps|U_ulLnnqC_mqNvxq`@"


def test_calibration_of_the_fallback(baltimore):
    pts = sample_points(baltimore.road, 80, seed=3)
    cal = calibrate(baltimore, pts)
    assert 1.1 < cal.circuity < 2.0 and 15 < cal.speed_kmh < 70
    assert cal.mean_rel_error < 0.4 and cal.p90_rel_error >= cal.mean_rel_error
    # the fitted fallback is no worse than any other speed at that circuity
    from lastmile.routing.matrix.calibrate import errors, pairs

    p = pairs(baltimore, pts)
    for speed in (cal.speed_kmh * 0.8, cal.speed_kmh * 1.25):
        assert errors(p, cal.circuity, speed)[0] >= cal.mean_rel_error - 1e-9
    assert HaversineProvider().matrix(pts).provider == "haversine"


def test_time_of_day_model_runs_on_road_matrices(baltimore, points):
    from lastmile.routing.matrix.timedep import TimeDependentModel, TrafficProfile, Zone, hm, Slowdown

    rush = TrafficProfile((Zone("citywide", (Slowdown(hm("07:00"), hm("09:00"), 1.5),)),))
    m = baltimore.matrix(points[:5])
    td = TimeDependentModel(m, points[:5], rush, weekday=0)
    assert td.provider == "road-graph:baltimore"
    assert td.travel(0, 1, hm("12:00")) == m.durations[0, 1]
    assert td.travel(0, 1, hm("07:30")) >= 1.45 * m.durations[0, 1]
