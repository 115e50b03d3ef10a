from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from lastmile.auth.models import AuditEntry, ShipperApiKey, User
from lastmile.kit.time import utcnow
from lastmile.orders.models import Order, TrackingToken

from .conftest import bearer, order_body


def test_password_is_argon2_and_token_login_works(client, world, db):
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == "dispatcher@example.com"))
        assert user.password_hash.startswith("$argon2id$")
    r = client.post("/auth/token", json={"email": "Dispatcher@example.com", "password": "correct horse battery"})
    assert r.status_code == 200
    token = r.json()["access_token"]
    assert token.startswith("lm_at_")
    me = client.get("/auth/me", headers=bearer(token)).json()
    assert me["role"] == "dispatcher"
    r = client.post("/auth/token", json={"email": "dispatcher@example.com", "password": "wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = client.post("/auth/token", json={"email": "nobody@example.com", "password": "x"})
    assert r.status_code == 401
    # logout revokes
    assert client.post("/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/auth/me", headers=bearer(token)).status_code == 401


def test_browser_session_cookie_is_secure_and_csrf_protected(client, world):
    r = client.post("/auth/login", data={"email": "admin@example.com", "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    set_cookie = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("lastmile_session="))
    assert "HttpOnly" in session_cookie and "Secure" in session_cookie and "samesite=lax" in session_cookie.lower()
    csrf = r.json()["csrf_token"]
    assert client.get("/auth/me").json()["role"] == "admin"  # cookie carries the session
    body = {"name": "Tienda", "contact_email": "t@example.com"}
    assert client.post("/shippers", json=body).status_code == 403  # no CSRF token
    r = client.post("/shippers", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = client.post("/shippers", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201


def test_shipper_api_keys_are_hashed_and_revocable(client, world, db):
    r = client.post(f"/shippers/{world.ids['shipper']}/api-keys", json={"name": "prod"},
                    headers=world.headers["admin"])
    assert r.status_code == 201
    key = r.json()["key"]
    assert key.startswith("lm_sk_") and len(key) > 40
    with db.session() as s:
        stored = s.get(ShipperApiKey, r.json()["id"])
        assert key not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    assert client.get("/auth/me", headers=bearer(key)).json()["shipper_id"] == world.ids["shipper"]
    # only admins manage keys
    assert client.post(f"/shippers/{world.ids['shipper']}/api-keys", json={},
                       headers=world.headers["shipper"]).status_code == 403
    r2 = client.delete(f"/shippers/{world.ids['shipper']}/api-keys/{r.json()['id']}", headers=world.headers["admin"])
    assert r2.status_code == 204
    assert client.get("/auth/me", headers=bearer(key)).status_code == 401


def test_tracking_token_is_random_scoped_and_expires(client, world, db, settings):
    h = world.headers["shipper"]
    a = client.post("/orders", json=order_body(world), headers=h).json()
    b = client.post("/orders", json=order_body(world, address="other"), headers=h).json()
    r = client.post(f"/orders/{a['id']}/tracking-token", headers=h)
    assert r.status_code == 201
    token = r.json()["token"]
    assert len(token) >= 32  # 192 bits, url-safe
    view = client.get(f"/track/{token}")
    assert view.status_code == 200 and view.json()["address"] == a["address"]
    assert "contact" not in view.json() and "cod" not in view.json()
    assert client.get(f"/track/{'A' * 32}").status_code == 404
    with db.session() as s:  # stored hashed, bound to one order
        rows = list(s.scalars(select(TrackingToken)))
        assert [t.order_id for t in rows] == [a["id"]] and token not in rows[0].token_hash
    assert b["id"] not in view.text
    # completed long ago -> expired
    with db.session() as s:
        s.execute(update(Order).where(Order.id == a["id"]).values(
            status="delivered", completed_at=utcnow() - timedelta(seconds=settings.tracking_token_ttl_s + 5)))
        s.commit()
    assert client.get(f"/track/{token}").status_code == 404
    # another shipper cannot mint links for my order
    assert client.post(f"/orders/{a['id']}/tracking-token", headers=world.headers["shipper2"]).status_code == 404


def test_audit_log_records_who_what_when_before_after(client, world, db):
    d = world.headers["dispatcher"]
    o = client.post("/orders", json=order_body(world), headers=d).json()
    client.patch(f"/orders/{o['id']}", json={"instructions": "gate code 1234"}, headers=d)
    entries = client.get("/audit", params={"object_id": o["id"]}, headers=world.headers["admin"]).json()["items"]
    assert [e["action"] for e in entries] == ["order.create", "order.update"]
    upd = entries[1]
    assert upd["actor_id"] == world.ids["user_dispatcher"] and upd["actor_role"] == "dispatcher"
    assert upd["before"]["instructions"] == "leave with the neighbour at 14"
    assert upd["after"]["instructions"] == "gate code 1234"
    assert client.get("/audit", headers=d).status_code == 403
    # shipper actions are not staff actions
    client.post("/orders", json=order_body(world), headers=world.headers["shipper"])
    with db.session() as s:
        assert all(a.actor_role in ("admin", "dispatcher") for a in s.scalars(select(AuditEntry)))


def test_user_create_command(db, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from lastmile import config, server_cli

    monkeypatch.setenv("LASTMILE_DATABASE_URL", db.url)
    monkeypatch.setenv("LASTMILE_DATA_DIR", str(tmp_path))
    config.get_settings.cache_clear()
    import typer

    app = typer.Typer()
    server_cli.register(app)
    try:
        r = CliRunner().invoke(app, ["user", "create", "--email", "marisol@example.com", "--role", "dispatcher",
                                     "--password", "una contraseña larga"])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(app, ["user", "create", "--email", "bad@example.com", "--password", "short"])
        assert r.exit_code == 2 and "password" in r.output
    finally:
        config.get_settings.cache_clear()
    with db.session() as s:
        assert s.scalar(select(User.role).where(User.email == "marisol@example.com")) == "dispatcher"


def test_login_is_throttled_after_repeated_failures(client, world, settings):
    # counts live in the database (or Redis), fresh per test; more in test_security.py
    for _ in range(settings.login_max_failures):
        assert client.post("/auth/token", json={"email": "admin@example.com", "password": "guess"}).status_code == 401
    r = client.post("/auth/token", json={"email": "admin@example.com", "password": "correct horse battery"})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"
    assert int(r.headers["retry-after"]) >= 1


def test_oversized_bodies_are_refused(client, world):
    r = client.post("/orders", content=b"x" * (13 * 1024 * 1024), headers={**world.headers["shipper"],
                                                                           "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
