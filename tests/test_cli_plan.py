"""`lastmile plan` as a user runs it: a real subprocess, real files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "laredo-day"


def lastmile(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lastmile.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_plan_the_example_day_writes_json_geojson_csv(tmp_path):
    r = lastmile("plan", str(EXAMPLE), "--out", str(tmp_path), "--time-limit", "4", "--date", "2026-11-25")
    assert r.returncode == 0, r.stderr
    assert "Unassigned" in r.stdout and "heavy-lift + refrigerated" in r.stdout
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["stats"]["assigned"] + plan["stats"]["unassigned"] == 150
    assert plan["stats"]["assigned"] >= 140
    assert plan["note"] == "travel times are straight-line estimates (no road data configured)"
    geo = json.loads((tmp_path / "plan.geojson").read_text())
    kinds = [f["properties"]["kind"] for f in geo["features"]]
    assert kinds.count("route") == len(plan["routes"]) and kinds.count("stop") == plan["stats"]["assigned"]
    rows = (tmp_path / "plan.csv").read_text().splitlines()
    assert rows[0].startswith("vehicle,sequence,type,id")
    assert sum(1 for x in rows if ",stop," in x) == plan["stats"]["assigned"]


def test_vroom_json_in_and_vroom_shape_out(tmp_path):
    problem = {
        "vehicles": [{"id": 1, "start": [-99.505, 27.593], "end": [-99.505, 27.593], "capacity": [4],
                      "time_window": [25200, 61200]}],
        "jobs": [{"id": 10 + k, "location": [-99.50 + 0.01 * k, 27.55], "service": 300, "delivery": [1],
                  "time_windows": [[28800, 50400]]} for k in range(5)],
    }
    src = tmp_path / "problem.json"
    src.write_text(json.dumps(problem))
    r = lastmile("plan", str(src), "--out", str(tmp_path), "--format", "vroom", "--iterations", "200")
    assert r.returncode == 0, r.stderr
    sol = json.loads((tmp_path / "vroom-solution.json").read_text())
    assert sol["code"] == 0 and sol["summary"]["routes"] == 1 and sol["summary"]["unassigned"] == 1
    steps = sol["routes"][0]["steps"]
    assert steps[0]["type"] == "start" and steps[-1]["type"] == "end"
    jobs = [s for s in steps if s["type"] == "job"]
    assert len(jobs) == 4 and all(28800 <= s["arrival"] + s["waiting_time"] <= 50400 for s in jobs)
    assert sol["unassigned"][0]["id"] in {10, 11, 12, 13, 14}


@pytest.mark.parametrize("setup, needle", [
    (lambda d: None, "no such file or folder"),
    (lambda d: (d / "stops.csv").write_bytes(b""), "empty"),
    (lambda d: (d / "p.json").write_text("{not json"), "not valid JSON"),
])
def test_bad_input_is_a_clear_message_not_a_traceback(tmp_path, setup, needle):
    setup(tmp_path)
    target = {"no such file or folder": tmp_path / "missing", "empty": tmp_path / "stops.csv",
              "not valid JSON": tmp_path / "p.json"}[needle]
    if needle == "empty":
        (tmp_path / "vehicles.csv").write_text("id,start_depot\nv,N\n")
        (tmp_path / "depots.csv").write_text("id,lat,lon\nN,27.5,-99.5\n")
    r = lastmile("plan", str(target), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_every_bad_row_in_every_file_is_reported(tmp_path):
    (tmp_path / "stops.csv").write_text("id,lat,lon,window_start,window_end\nA,27.5,-99.5,,\nB,95,-99.5,,\n"
                                        "C,27.5,-99.5,10:00,09:00\n")
    (tmp_path / "vehicles.csv").write_text("id,start_depot\nv1,N\nv2,NOPE\n")
    (tmp_path / "depots.csv").write_text("id,lat,lon\nN,27.59,-99.50\n")
    r = lastmile("plan", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "stops.csv line 3, lat" in r.stderr
    assert "stops.csv line 4, window_end" in r.stderr
    assert "vehicles.csv line 3, start_depot: unknown depot 'NOPE'" in r.stderr
