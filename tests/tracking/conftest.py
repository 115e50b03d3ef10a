"""Tracking tests reuse the server fixtures (SQLite + PostgreSQL ``db``, ``world``,
``published_day``) and add the real Mosquitto and Redis."""

from __future__ import annotations

import socket
from datetime import datetime

import pytest

from tests.server.conftest import (  # noqa: F401  (fixtures)
    TODAY,
    app,
    bearer,
    client,
    db,
    pg_database,
    published_day,
    settings,
    sqlite_template,
    utc,
    world,
)

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
REDIS_URL = "redis://127.0.0.1:6379/0"
# the fixture day's mid-morning in Laredo (16:00 UTC = 10:00 CST): the ingest clock in tests
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 16, 0, tzinfo=utc(2026, 1, 1).tzinfo)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def mosquitto() -> tuple[str, int]:
    if not _reachable(MQTT_HOST, MQTT_PORT):
        pytest.skip("Mosquitto is not reachable on 127.0.0.1:1883")
    return MQTT_HOST, MQTT_PORT


@pytest.fixture
def redis_url() -> str:
    if not _reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture
def clock(monkeypatch):
    """Freeze the ingest clock on the fixture day; returns a setter to move it."""
    from lastmile.tracking import pipeline

    state = {"now": NOW}
    monkeypatch.setattr(pipeline, "now", lambda: state["now"])

    def move(to: datetime) -> datetime:
        state["now"] = to
        return to

    move.now = lambda: state["now"]  # type: ignore[attr-defined]
    return move
