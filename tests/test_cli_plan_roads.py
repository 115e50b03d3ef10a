"""`lastmile plan --roads`: planning on a real road graph, end to end.

The stops are placed on the roads of the shipped Baltimore extract
(../shared/osm, © OpenStreetMap contributors, ODbL). They are Baltimore test
addresses -- there is no Laredo extract offline, and these are not Laredo."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lastmile.routing.domain import LatLon
from lastmile.routing.matrix.calibrate import sample_points
from lastmile.routing.matrix.road_graph import RoadGraph

ROOT = Path(__file__).resolve().parents[1]
BALTIMORE = ROOT / ".." / "shared" / "osm" / "baltimore.osm.pbf"
pytestmark = pytest.mark.skipif(not BALTIMORE.is_file(), reason=f"shipped OSM extract not found: {BALTIMORE}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("roads-cache")


def lastmile(cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LASTMILE_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-m", "lastmile.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def write_problem(folder: Path, stops: list[LatLon], depot: LatLon) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "depots.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "lat", "lon", "open", "close", "timezone"])
        w.writerow(["BAL", "Baltimore test depot", depot.lat, depot.lon, "06:00", "21:00", "America/New_York"])
    with open(folder / "vehicles.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "driver", "start_depot", "end_depot", "shift_start", "shift_end"])
        w.writerow(["van-1", "Van", "A", "BAL", "BAL", "08:00", "17:00"])
        w.writerow(["van-2", "Van", "B", "BAL", "BAL", "08:00", "17:00"])
    with open(folder / "stops.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "address", "lat", "lon", "service_min"])
        for k, p in enumerate(stops):
            w.writerow([f"BAL-{k:02d}", f"Baltimore test stop {k}", "Baltimore, MD (test)", p.lat, p.lon, 4])
    return folder


@pytest.fixture(scope="module")
def baltimore_points() -> list[LatLon]:
    g = RoadGraph.from_pbf(BALTIMORE, use_cache=False)
    return sample_points(g, 21, seed=5)


def test_plan_on_roads_uses_the_road_graph_and_draws_routes_along_the_roads(tmp_path, cache, baltimore_points):
    problem = write_problem(tmp_path / "in", baltimore_points[1:], baltimore_points[0])
    out = tmp_path / "out"
    r = lastmile(cache, "plan", str(problem), "--roads", str(BALTIMORE), "--traffic", "none", "--iterations", "300",
                 "--date", "2026-11-25", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Travel matrix: road-graph:baltimore" in r.stdout
    assert "straight-line" not in r.stdout
    plan = json.loads((out / "plan.json").read_text())
    assert plan["matrix_provider"] == "road-graph:baltimore" and plan["note"] is None
    assert plan["stats"]["assigned"] == 20
    geo = json.loads((out / "plan.geojson").read_text())
    assert geo["attribution"] == "© OpenStreetMap contributors"
    lines = [f for f in geo["features"] if f["properties"]["kind"] == "route"]
    assert lines
    for f in lines:
        p = f["properties"]
        assert p["attribution"] == "© OpenStreetMap contributors"
        assert p["geometry_source"] == "roads (OpenStreetMap)"
        coords = f["geometry"]["coordinates"]
        assert len(coords) > 3 * (p["stops"] + 2)  # along the roads, not stop to stop
        lon, lat = zip(*coords)
        assert -76.62 < min(lon) and max(lon) < -76.51 and 39.24 < min(lat) and max(lat) < 39.32


def test_stops_off_the_road_data_are_named_and_the_run_stops(tmp_path, cache, baltimore_points):
    stops = baltimore_points[1:6] + [LatLon(38.90, -74.20), LatLon(39.29, -76.30)]  # the Atlantic; east of the extract
    problem = write_problem(tmp_path / "in", stops, baltimore_points[0])
    r = lastmile(cache, "plan", str(problem), "--roads", str(BALTIMORE), "--traffic", "none", "--iterations", "50",
                 "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "BAL-05" in r.stderr and "BAL-06" in r.stderr and "BAL-00" not in r.stderr
    assert "from any drivable road" in r.stderr


def test_one_source_of_travel_times_and_a_clear_message_for_bad_road_data(tmp_path, cache, baltimore_points):
    problem = write_problem(tmp_path / "in", baltimore_points[1:4], baltimore_points[0])
    r = lastmile(cache, "plan", str(problem), "--roads", str(BALTIMORE), "--osrm-url", "http://127.0.0.1:9",
                 "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "choose one source of travel times" in r.stderr
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"this is not a protobuf file")
    r = lastmile(cache, "plan", str(problem), "--roads", str(bad), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "road data" in r.stderr and "Traceback" not in r.stderr
    r = lastmile(cache, "plan", str(problem), "--osrm-url", "http://127.0.0.1:9", "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "road service" in r.stderr and "Traceback" not in r.stderr
