from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lastmile.config import ConfigError, Settings

from .conftest import order_body


def test_production_refuses_default_secret(tmp_path):
    with pytest.raises(ConfigError):
        Settings(env="production", data_dir=tmp_path).check()
    with pytest.raises(ConfigError):
        Settings(env="production", data_dir=tmp_path, secret_key="short").check()
    Settings(env="production", data_dir=tmp_path, secret_key="x" * 48).check()


def test_production_app_refuses_to_start(tmp_path):
    from lastmile.app import create_app

    with pytest.raises(ConfigError):
        create_app(Settings(env="production", data_dir=tmp_path))


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path):
    from alembic.script import ScriptDirectory

    from lastmile.app import create_app
    from lastmile.db import Database, alembic_config

    s = Settings(data_dir=tmp_path / "d")
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'd' / 'lastmile.db'}"
    db = Database(s.effective_database_url)
    create_app(s, database=db)  # migrates on first start
    assert (tmp_path / "d" / "lastmile.db").exists()
    with db.engine.connect() as c:
        heads = ScriptDirectory.from_config(alembic_config(s.effective_database_url)).get_heads()
        assert {r[0] for r in c.execute(text("select version_num from alembic_version"))} == set(heads)
    db.dispose()


def test_postgres_url_gets_psycopg3():
    assert Settings(database_url="postgres://u@h/db").effective_database_url == "postgresql+psycopg://u@h/db"


def test_error_shape_for_unknown_route_and_method(client):
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put("/orders")
    assert r.status_code == 405 and set(r.json()["error"]) >= {"code", "message"}


def test_unauthenticated_is_401_in_our_shape(client):
    r = client.get("/orders")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    r = client.get("/orders", headers={"Authorization": "Bearer lm_at_forged"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "change, field",
    [
        ({"surprise": 1}, "surprise"),
        ({"lat": "north"}, "lat"),
        ({"lat": True}, "lat"),
        ({"service_s": "300"}, "service_s"),
        ({"demand": {"kg": True, "litres": 0, "parcels": 1}}, "demand.kg"),
        ({"lat": 91.0}, "lat"),
        ({"lon": -181}, "lon"),
        ({"windows": [{"start": "2026-11-25T12:00:00-06:00", "end": "2026-11-25T09:00:00-06:00"}]}, "windows[0].end"),
        ({"demand": {"kg": -1, "litres": 0, "parcels": 1}}, "demand.kg"),
        ({"cod": {"amount": 100, "currency": "EUR"}}, "cod.currency"),
        ({"language": "fr"}, "language"),
        ({"depot_id": "dep_nope"}, "depot_id"),
        ({"contact": {"name": "x", "email": "not-an-email"}}, "contact.email"),
    ],
)
def test_bad_order_input_is_422_naming_the_field(client, world, change, field):
    r = client.post("/orders", json=order_body(world, **change), headers=world.headers["dispatcher"])
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert err["field"] == field, err
    assert "Traceback" not in r.text


def test_unknown_depot_is_422_on_depot_id(client, world):
    r = client.post("/orders", json=order_body(world, depot_id="dep_01JD0000000000000000000000"),
                    headers=world.headers["dispatcher"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "depot_id"


def test_nul_and_malformed_json_are_422(client, world):
    r = client.post("/orders", json=order_body(world, address="a\x00b"), headers=world.headers["dispatcher"])
    assert r.status_code == 422
    r = client.post("/orders", content=b"{not json", headers={**world.headers["dispatcher"],
                                                               "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_unhandled_errors_are_500_without_internals(app, world):
    from fastapi.testclient import TestClient

    @app.get("/boom", include_in_schema=False)
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal", "message": "internal server error"}}


def test_event_log_is_append_only(db, world):
    from lastmile.events.service import emit

    with db.session() as s:
        ev = emit(s, world.org, "test.event", "order", "ord_x", "system", {"a": 1})
        s.commit()
        with pytest.raises(DBAPIError):
            s.execute(text("UPDATE events SET type = 'x' WHERE id = :id"), {"id": ev.id})
            s.commit()
        s.rollback()
        with pytest.raises(DBAPIError):
            s.execute(text("DELETE FROM events WHERE id = :id"), {"id": ev.id})
            s.commit()


def test_models_match_migrations(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from lastmile.db import import_models

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), import_models())
    assert diff == []


def test_times_are_stored_utc(db, world, client):
    r = client.post("/orders", json=order_body(world), headers=world.headers["dispatcher"])
    assert r.status_code == 201
    w = r.json()["windows"][0]
    assert w["start"].startswith("2026-11-25T15:00:00")  # 09:00 CST


def test_security_headers(client, world):
    r = client.get("/auth/me", headers=world.headers["admin"])
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"


def test_integers_are_fine_where_numbers_are_expected(client, world):
    r = client.post("/orders", json=order_body(world, lat=27, lon=-99), headers=world.headers["dispatcher"])
    assert r.status_code == 201 and r.json()["lat"] == 27.0


def test_numbers_too_big_for_the_database_are_422(client, world):
    r = client.post("/vehicles", json={"depot_id": world.ids["depot"], "name": "Van", "fixed_cost": 2**40},
                    headers=world.headers["dispatcher"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "fixed_cost"
