"""The demo day, end to end: ``lastmile demo --headless`` on a small day (seeded,
planned, driven and closed through the real API) and ``lastmile demo`` coming up as a
live server. Each runs as its own process, as a user would start it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

FINAL = re.compile(r"^(delivered|returned|failed: \w+|not planned)$")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
    env["COLUMNS"] = "200"  # the links on one line each
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def headless_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    data, result = out / "data", out / "outcome.json"
    run = subprocess.run(
        [sys.executable, "-m", "lastmile.cli", "demo", "--headless", "--orders", "40", "--drivers", "4", "--seed", "3",
         "--time-limit", "2", "--data-dir", str(data), "--json", str(result)],
        env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout, json.loads(result.read_text()), data


def test_every_order_ends_delivered_failed_with_a_reason_or_returned(headless_day):
    stdout, o, _ = headless_day
    assert o["orders"] == len(o["per_order"]) >= 40  # the morning's orders and those that came in during the day
    unfinished = {oid: what for oid, what in o["per_order"].items() if not FINAL.match(what)}
    assert not unfinished
    assert o["result"].get("delivered", 0) >= 0.7 * o["orders"]
    assert o["simulation"]["new_orders"] >= 1  # orders came in through the shipper API during the day
    assert not o["simulation"]["rejected_actions"]
    assert o["notifications_sent"].get("approaching", 0) > 0  # from the live ETAs on the simulated positions
    assert o["simulation"]["positions"].get("osmand", 0) > 0 and o["simulation"]["positions"].get("app", 0) > 0
    for line in ("delivered", "on time", "first attempt", "deliveries per driver-hour", "notifications sent",
                 "proposals made / applied"):
        assert line in stdout


def test_pod_chains_verify_and_no_event_is_recorded_twice(headless_day):
    _, o, data = headless_day
    from sqlalchemy import select

    from lastmile.db import Database
    from lastmile.demo.outcome import duplicate_events
    from lastmile.dispatch.models import Route
    from lastmile.pod.chain import verify
    from lastmile.pod.files import DiskStorage
    from lastmile.pod.models import PodRecord

    db = Database(f"sqlite:///{data / 'lastmile.db'}")
    try:
        with db.session() as s:
            routes = list(s.scalars(select(Route.id).where(Route.published.is_(True))))
            assert routes
            storage = DiskStorage(data / "pod-files")
            reports = [verify(s, storage, r) for r in routes]
            assert all(r.ok for r in reports), [r.broken for r in reports if not r.ok]
            assert sum(r.records for r in reports) == s.query(PodRecord).count() > 0
            assert sum(r.files for r in reports) > 0  # signatures and door photos, hashed in the chain
            org = s.scalar(select(Route.organization_id).limit(1))
            assert duplicate_events(s, org) == []
    finally:
        db.dispose()
    assert o["pod"]["broken"] == {} and o["duplicate_events"] == []


def test_lastmile_demo_comes_up_and_prints_its_links(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lastmile.cli", "demo", "--orders", "20", "--drivers", "2", "--time-limit", "1",
         "--speed", "120", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "API docs" in line:
                break
        text = "".join(lines)
        assert "is up in" in text, text[-3000:]
        links = dict(re.findall(r"^\s+(Dispatch console|Driver app|Customer tracking|Analytics|Notifications outbox)"
                                r"\s+(http://\S+)", text, re.M))
        assert set(links) == {"Dispatch console", "Driver app", "Customer tracking", "Analytics",
                              "Notifications outbox"}, text
        assert links["Dispatch console"] == f"http://127.0.0.1:{port}/console"
        for name in ("Dispatch console", "Driver app", "Customer tracking", "Analytics"):
            r = httpx.get(links[name], timeout=30)
            assert r.status_code == 200, (name, r.status_code, r.text[:300])
        login = re.search(r"Dispatch console\s+\S+\s+(\S+) / (\S+)", text)
        assert login is not None
        tok = httpx.post(f"http://127.0.0.1:{port}/auth/token", json={"email": login[1], "password": login[2]},
                         timeout=30).json()["access_token"]
        outbox = httpx.get(links["Notifications outbox"], headers={"Authorization": f"Bearer {tok}"}, timeout=30)
        assert outbox.status_code == 200 and "<html" in outbox.text.lower()
        day = httpx.get(f"http://127.0.0.1:{port}/routes", headers={"Authorization": f"Bearer {tok}"}, timeout=30)
        assert day.status_code == 200 and len(day.json()) >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    with pytest.raises(httpx.HTTPError):  # the server it started is gone with it
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
