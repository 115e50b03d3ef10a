"""The simulation clock: "now" for every process that shares LASTMILE_SIM_CLOCK,
stepped by hand in one process, refused in production."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from lastmile.kit import time as clock_mod
from lastmile.kit.time import SimClock, SimClockRefused, use_clock, utcnow

START = datetime(2026, 11, 25, 13, 40, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _real_time_after():
    yield
    use_clock(None)


def test_running_clock_goes_speed_times_faster():
    c = SimClock(START, real_start=time.time() - 10, speed=30)
    now = c.now()
    assert START + timedelta(seconds=299) <= now <= START + timedelta(seconds=330)


def test_stepped_clock_moves_only_when_told_and_is_everyones_now():
    c = use_clock(SimClock(START, speed=30))
    c.set(START)
    time.sleep(0.05)
    assert utcnow() == START
    c.advance(90)
    assert utcnow() == START + timedelta(seconds=90)
    c.run(speed=0)  # running at speed 0 stands still at the instant it was let go
    assert utcnow() == START + timedelta(seconds=90)


def test_env_value_round_trips_and_real_time_without_it():
    c = SimClock(START, real_start=1764100000.0, speed=30)
    again = SimClock.parse(c.env_value())
    assert (again.start, again.real_start, again.speed) == (START, 1764100000.0, 30)
    with pytest.raises(ValueError, match="LASTMILE_SIM_CLOCK"):
        SimClock.parse("yesterday")
    use_clock(None)
    assert abs((utcnow() - datetime.now(UTC)).total_seconds()) < 2


def _child_now(env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    code = "from lastmile.kit.time import utcnow; print(utcnow().isoformat())"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_another_process_agrees_through_the_environment():
    c = SimClock(START, speed=60)
    out = _child_now({"LASTMILE_SIM_CLOCK": c.env_value(), "LASTMILE_ENV": "development"})
    assert out.returncode == 0, out.stderr
    theirs = datetime.fromisoformat(out.stdout.strip())
    assert abs((theirs - c.now()).total_seconds()) < 60 * 5  # a few real seconds at most, at 60x


def test_refused_in_production():
    value = SimClock(START).env_value()
    out = _child_now({"LASTMILE_SIM_CLOCK": value, "LASTMILE_ENV": "production"})
    assert out.returncode != 0 and "refused in production" in out.stderr
    from lastmile.config import ConfigError, Settings

    os.environ["LASTMILE_SIM_CLOCK"] = value
    try:
        with pytest.raises(ConfigError, match="LASTMILE_SIM_CLOCK"):
            Settings(env="production", secret_key="x" * 40).check()
    finally:
        del os.environ["LASTMILE_SIM_CLOCK"]
    os.environ["LASTMILE_ENV"], before = "production", os.environ.get("LASTMILE_ENV")
    try:
        with pytest.raises(SimClockRefused):
            use_clock(SimClock(START))
    finally:
        if before is None:
            del os.environ["LASTMILE_ENV"]
        else:
            os.environ["LASTMILE_ENV"] = before
    assert clock_mod.sim_clock() is None


def test_a_clock_file_moves_every_process_that_reads_it(tmp_path):
    from lastmile.kit.time import FileClock, write_clock_file

    path = tmp_path / "clock"
    fc = use_clock(FileClock(path))
    assert abs((utcnow() - datetime.now(UTC)).total_seconds()) < 2  # no file yet: real time
    write_clock_file(path, SimClock(START, speed=0))  # held at START
    time.sleep(FileClock.CHECK_S + 0.05)
    assert utcnow() == START
    out = _child_now({"LASTMILE_SIM_CLOCK": fc.env_value(), "LASTMILE_ENV": "development"})
    assert out.returncode == 0, out.stderr
    assert datetime.fromisoformat(out.stdout.strip()) == START
    later = START + timedelta(hours=2)
    write_clock_file(path, SimClock(later, speed=30))  # moved on, and running
    time.sleep(FileClock.CHECK_S + 0.05)
    assert later <= utcnow() <= later + timedelta(seconds=60)


def test_every_answer_tells_the_servers_now():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from lastmile.kit.time import ServerTimeHeader

    app = FastAPI()

    @app.get("/x")
    def x() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(ServerTimeHeader)
    use_clock(SimClock(START, speed=0)).set(START + timedelta(minutes=5))
    r = TestClient(app).get("/x")
    assert r.status_code == 200
    assert r.headers["x-server-time"] == "2026-11-25T13:45:00Z"
