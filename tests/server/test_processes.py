"""The real thing: `lastmile migrate`, `user create`, `serve` and `worker` as
separate processes on one SQLite file and the embedded SQLite queue. A plan is
optimized by the worker and a webhook reaches a local receiver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .test_webhooks import Receiver, free_port

_SCRIPT = Path(sys.executable).with_name("lastmile")
LASTMILE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "lastmile.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
    env.update(LASTMILE_DATA_DIR=str(tmp_path / "data"), LASTMILE_ENV="development", LASTMILE_COOKIE_SECURE="true")
    env.update(extra)
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([*LASTMILE, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def test_production_refuses_to_serve_with_the_default_secret(tmp_path):
    r = subprocess.run([*LASTMILE, "serve"], env=_env(tmp_path, LASTMILE_ENV="production"), capture_output=True,
                       timeout=60)
    assert r.returncode != 0 and b"LASTMILE_SECRET_KEY" in r.stderr + r.stdout


@pytest.mark.slow
def test_serve_and_worker_processes_end_to_end(tmp_path):
    env = _env(tmp_path)
    run = lambda *a: subprocess.run([*LASTMILE, *a], env=env, capture_output=True, timeout=120)  # noqa: E731
    assert run("migrate").returncode == 0
    r = run("user", "create", "--email", "marisol@example.com", "--role", "admin", "--password", "una clave muy larga")
    assert r.returncode == 0, r.stderr
    port = free_port()
    server = _start(["serve", "--port", str(port), "--workers", "2"], env, tmp_path / "serve.log")
    worker = _start(["worker"], env, tmp_path / "worker.log")
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail((tmp_path / "serve.log").read_text()[-2000:])
        c = httpx.Client(base_url=base, timeout=30)
        assert c.get("/docs").status_code == 200
        tok = c.post("/auth/token", json={"email": "marisol@example.com", "password": "una clave muy larga"}).json()
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        depot = c.post("/depots", json={"name": "North", "lat": 27.563, "lon": -99.487}, headers=h).json()["id"]
        shipper = c.post("/shippers", json={"name": "Farmacia"}, headers=h).json()["id"]
        key = c.post(f"/shippers/{shipper}/api-keys", json={}, headers=h).json()["key"]
        sh = {"Authorization": f"Bearer {key}"}
        veh = c.post("/vehicles", json={"depot_id": depot, "name": "Van 1", "capacity_kg": 500}, headers=h).json()
        drv = c.post("/drivers", json={"name": "Jorge"}, headers=h).json()
        r = c.post("/shifts", json={"driver_id": drv["id"], "vehicle_id": veh["id"], "depot_id": depot,
                                    "date": "2026-11-25", "start_at": "2026-11-25T08:00:00-06:00",
                                    "end_at": "2026-11-25T17:00:00-06:00"}, headers=h)
        assert r.status_code == 201, r.text
        rport = free_port()
        sub = c.post("/webhooks/subscriptions", json={"url": f"http://127.0.0.1:{rport}/h",
                                                       "events": ["order.created", "order.assigned"]}, headers=sh).json()
        rec = Receiver(rport, sub["secret"])
        rec.start()
        try:
            for i, (lat, lon) in enumerate([(27.53, -99.48), (27.50, -99.50), (27.55, -99.46)]):
                r = c.post("/orders", json={"depot_id": depot, "date": "2026-11-25", "lat": lat, "lon": lon,
                                            "reference": f"E{i}"}, headers={**sh, "Idempotency-Key": f"e{i}"})
                assert r.status_code == 201, r.text
            plan = c.post("/plans", json={"date": "2026-11-25", "depot_ids": [depot],
                                          "options": {"time_limit_s": 1}}, headers=h).json()
            for _ in range(300):
                plan = c.get(f"/plans/{plan['id']}", headers=h).json()
                if plan["status"] in ("done", "failed"):
                    break
                time.sleep(0.2)
            assert plan["status"] == "done", (plan, (tmp_path / "worker.log").read_text()[-3000:])
            assert sum(len(rt["stops"]) for rt in plan["routes"]) == 3
            assert c.post(f"/plans/{plan['id']}/publish", headers=h).json()["status"] == "published"
            for _ in range(150):
                if len(rec.received) >= 6:
                    break
                time.sleep(0.2)
        finally:
            rec.stop()
        types = sorted(b["type"] for _, b in rec.received)
        assert types == ["order.assigned"] * 3 + ["order.created"] * 3, (tmp_path / "worker.log").read_text()[-3000:]
        assert len({mid for mid, _ in rec.received}) == 6
    finally:
        _stop(server)
        _stop(worker)
