"""Fixtures for the server tests, on SQLite and on the real PostgreSQL.

Every test that uses ``db`` runs twice: once on a SQLite file copied from a
migrated template, once on a PostgreSQL database this run creates from the
migrations (truncated between tests, dropped at the end)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="lastmile-tests-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
os.environ["LASTMILE_DATA_DIR"] = str(_TMP / "data")  # the test queue file lives here
os.environ["LASTMILE_ENV"] = "test"
os.environ.pop("LASTMILE_DATABASE_URL", None)
os.environ.pop("LASTMILE_REDIS_URL", None)

from argon2 import PasswordHasher  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402

from lastmile.auth import passwords  # noqa: E402
from lastmile.config import Settings  # noqa: E402
from lastmile.db import Database, import_models  # noqa: E402

# cheap hashes in tests (argon2 is deliberately slow); the algorithm is the same
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PG_ADMIN_URL = os.environ.get("LASTMILE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TODAY = date(2026, 11, 25)


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    path = _TMP / "template.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database():
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    import psycopg

    name = f"lastmile_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.migrate()
    yield db
    db.dispose()
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "lastmile.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        database = request.getfixturevalue("pg_database")
        yield database
        # faster than TRUNCATE for tiny tables; replica mode skips FK and append-only triggers
        with database.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for t in import_models().tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


class FakeGeocoder:
    """Knows a few Laredo addresses; anything else is not found."""

    known = {"1100 Houston St, Laredo, TX": (27.5036, -99.5076)}

    def geocode(self, address: str):
        return self.known.get(address)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(env="test", data_dir=tmp_path / "data", auto_migrate=False, tracking_token_ttl_s=3600)


@pytest.fixture
def app(db, settings):
    from lastmile.app import create_app

    application = create_app(settings, database=db)
    application.state.geocoder = FakeGeocoder()
    return application


@pytest.fixture
def client(app):
    with TestClient(app, base_url="https://testserver") as c:
        yield c


@dataclass
class World:
    """Two of everything, so every test can try someone else's object."""

    org: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # role -> auth header
    ids: dict[str, str] = field(default_factory=dict)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(db, settings) -> World:
    from lastmile.auth.models import Shipper
    from lastmile.auth.service import create_api_key, create_user, get_or_create_organization, issue_token
    from lastmile.depots.models import Depot
    from lastmile.fleet.models import Driver, Shift, Vehicle
    from lastmile.kit.time import at_seconds

    with db.session() as s:
        org = get_or_create_organization(s, "Laredo Fleet")
        w = World(org=org.id)
        for role in ("admin", "dispatcher", "driver", "driver2"):
            user = create_user(s, org.id, f"{role}@example.com", "correct horse battery", role.rstrip("2"))
            w.ids[f"user_{role}"] = user.id
            token, _ = issue_token(s, settings, user, "bearer")
            w.headers[role] = bearer(token)
        north = Depot(organization_id=org.id, name="Laredo North", lat=27.5630, lon=-99.4870, timezone="America/Chicago")
        nuevo = Depot(organization_id=org.id, name="Nuevo Laredo", lat=27.4760, lon=-99.5160,
                      timezone="America/Matamoros")
        s.add_all([north, nuevo])
        s.flush()
        w.ids.update(depot=north.id, depot2=nuevo.id)
        for who, name in (("shipper", "Farmacia"), ("shipper2", "Muebles")):
            shp = Shipper(organization_id=org.id, name=name)
            s.add(shp)
            s.flush()
            key, _ = create_api_key(s, shp)
            w.ids[who] = shp.id
            w.headers[who] = bearer(key)
        for n, who in ((1, "driver"), (2, "driver2")):
            veh = Vehicle(organization_id=org.id, depot_id=north.id, name=f"Van {n}", capacity_kg=800,
                          capacity_litres=4000, capacity_parcels=60, skills=["refrigerated"] if n == 1 else [])
            drv = Driver(organization_id=org.id, name=who.title(), user_id=w.ids[f"user_{who}"])
            s.add_all([veh, drv])
            s.flush()
            shift = Shift(organization_id=org.id, driver_id=drv.id, vehicle_id=veh.id, depot_id=north.id, date=TODAY,
                          start_at=at_seconds(TODAY, "America/Chicago", 8 * 3600),
                          end_at=at_seconds(TODAY, "America/Chicago", 18 * 3600))
            s.add(shift)
            s.flush()
            w.ids.update({f"vehicle{n}": veh.id, f"driver_id{n}": drv.id, f"shift{n}": shift.id})
        s.commit()
    return w


def order_body(w: World, **over) -> dict:
    body = {
        "depot_id": w.ids["depot"],
        "date": TODAY.isoformat(),
        "address": "1902 E Saunders St, Laredo, TX",
        "lat": 27.5306,
        "lon": -99.4803,
        "contact": {"name": "Mr. Peña", "phone": "+1 956 555 0100", "email": "pena@example.com"},
        "language": "en",
        "windows": [{"start": "2026-11-25T09:00:00-06:00", "end": "2026-11-25T12:00:00-06:00"}],
        "demand": {"kg": 12, "litres": 40, "parcels": 2},
        "items": [{"sku": "RX-1", "description": "insulin", "quantity": 1}],
        "cod": {"amount": 85000, "currency": "MXN"},
        "instructions": "leave with the neighbour at 14",
    }
    body.update(over)
    return body


LIVE_STOPS = [(27.5306, -99.4803), (27.5036, -99.5076), (27.5480, -99.4650), (27.5200, -99.4900), (27.5600, -99.4800),
              (27.5150, -99.4700)]


@pytest.fixture
def published_day(client, world, db) -> dict:
    """Six orders of the pharmacy planned (for real, by the engine) onto the two
    drivers' routes and published: what the live-day tests start from. Returns
    ``{"plan": <plan JSON with routes>, "orders": [ids], "routes": {driver_id: route}}``."""
    from lastmile.dispatch.service import run_plan
    from lastmile.jobs.queue import huey

    d = world.headers["dispatcher"]
    ids = []
    for i, (lat, lon) in enumerate(LIVE_STOPS):
        # 20 parcels each and 60 per van: three stops on each driver's route
        body = order_body(world, lat=lat, lon=lon, reference=f"L{i}", shipper_id=world.ids["shipper"],
                          demand={"kg": 12, "litres": 40, "parcels": 20},
                          cod={"amount": 85000, "currency": "MXN"} if i == 0 else None)
        r = client.post("/orders", json=body, headers=d)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]],
                                    "options": {"time_limit_s": 1, "seed": 1}}, headers=d)
    assert r.status_code == 202, r.text
    huey.flush()
    assert run_plan(db, r.json()["id"]) == "done"
    assert client.post(f"/plans/{r.json()['id']}/publish", headers=d).status_code == 200
    plan = client.get(f"/plans/{r.json()['id']}", headers=d).json()
    assert len(plan["routes"]) == 2 and not plan["unassigned"], plan
    return {"plan": plan, "orders": ids, "routes": {rt["driver_id"]: rt for rt in plan["routes"]}}


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


__all__ = ["World", "order_body", "bearer", "TODAY", "utc", "timedelta", "LIVE_STOPS"]
