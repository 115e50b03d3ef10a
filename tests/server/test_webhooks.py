from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from lastmile.jobs.queue import huey
from lastmile.kit.time import utcnow
from lastmile.webhooks.models import WebhookMessage
from lastmile.webhooks.service import deliver_due

from .conftest import order_body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A real HTTP endpoint on localhost that checks Standard Webhooks signatures."""

    def __init__(self, port: int, secret: str, fail_first: int = 0) -> None:
        self.port, self.secret, self.fail_first = port, secret, fail_first
        self.received: list[tuple[str, dict]] = []  # (webhook-id, body) accepted
        self.calls = 0
        self.bad_signatures = 0
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                rec.calls += 1
                msg_id, ts = self.headers["webhook-id"], self.headers["webhook-timestamp"]
                key = base64.b64decode(rec.secret.removeprefix("whsec_"))
                expected = base64.b64encode(
                    hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
                sigs = [s.split(",", 1)[1] for s in self.headers["webhook-signature"].split(" ")]
                if expected not in sigs or abs(time.time() - int(ts)) > 300:
                    rec.bad_signatures += 1
                    self.send_response(401)
                elif rec.calls <= rec.fail_first:
                    self.send_response(500)
                else:
                    rec.received.append((msg_id, json.loads(body)))
                    self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


def _subscribe(client, world, url, events=None) -> dict:
    r = client.post("/webhooks/subscriptions", json={
        "url": url, "events": events or ["order.created", "order.assigned", "order.out_for_delivery",
                                         "order.approaching", "order.delivered", "order.failed", "order.returned"],
    }, headers=world.headers["shipper"])
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["secret"].startswith("whsec_") and len(base64.b64decode(sub["secret"][6:])) >= 24
    return sub


def test_receiver_down_then_up_gets_every_event_once(client, world, db, settings):
    port = free_port()
    sub = _subscribe(client, world, f"http://127.0.0.1:{port}/hooks")
    rec = Receiver(port, sub["secret"], fail_first=1)
    h = world.headers["shipper"]
    created = [client.post("/orders", json=order_body(world, reference=f"W{i}"), headers=h).json() for i in range(4)]
    client.post(f"/orders/{created[0]['id']}/cancel", json={}, headers=h)  # not subscribed: no message
    other = client.post("/orders", json=order_body(world), headers=world.headers["shipper2"]).json()
    with db.session() as s:
        msgs = list(s.scalars(select(WebhookMessage).order_by(WebhookMessage.id)))
    assert len(msgs) == 4 and {m.event_type for m in msgs} == {"order.created"}
    t0 = utcnow()
    # receiver down: everything fails and is scheduled for a retry
    assert deliver_due(db, settings, now=t0) == {"delivered": 0, "retry": 4, "failed": 0}
    rec.start()
    try:
        assert deliver_due(db, settings, now=t0 + timedelta(seconds=1)) == {"delivered": 0, "retry": 0, "failed": 0}
        # up, but the very first call answers 500: that one is retried later
        first = deliver_due(db, settings, now=t0 + timedelta(seconds=10))
        assert first == {"delivered": 3, "retry": 1, "failed": 0}
        deliver_due(db, settings, now=t0 + timedelta(seconds=60))
        # later sweeps send nothing again
        for minutes in (5, 60, 600):
            deliver_due(db, settings, now=t0 + timedelta(minutes=minutes))
    finally:
        rec.stop()
    ids = [mid for mid, _ in rec.received]
    assert sorted(ids) == sorted(m.id for m in msgs)  # every event arrived ...
    assert len(ids) == len(set(ids))  # ... none twice by id
    assert rec.bad_signatures == 0
    refs = sorted(body["data"]["reference"] for _, body in rec.received)
    assert refs == ["W0", "W1", "W2", "W3"] and other["id"] not in json.dumps(rec.received)
    assert all(body["type"] == "order.created" for _, body in rec.received)
    log = client.get(f"/webhooks/subscriptions/{sub['id']}/deliveries", params={"limit": 200}, headers=h).json()
    assert len(log["items"]) == 4 + 1 + 4  # 4 refused, one 500, 4 delivered
    assert sum(1 for a in log["items"] if a["status_code"] == 204) == 4
    messages = client.get(f"/webhooks/subscriptions/{sub['id']}/messages", headers=h).json()["items"]
    assert {m["status"] for m in messages} == {"delivered"}


def test_concurrent_workers_do_not_send_twice(client, world, db, settings):
    port = free_port()
    sub = _subscribe(client, world, f"http://127.0.0.1:{port}/hooks", ["order.created"])
    rec = Receiver(port, sub["secret"])
    rec.start()
    try:
        for i in range(10):
            client.post("/orders", json=order_body(world, reference=f"C{i}"), headers=world.headers["shipper"])
        threads = [threading.Thread(target=deliver_due, args=(db, settings)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        rec.stop()
    ids = [mid for mid, _ in rec.received]
    assert len(ids) == 10 and len(set(ids)) == 10


def test_retries_go_on_for_more_than_a_day_then_stop(client, world, db, settings):
    sub = _subscribe(client, world, f"http://127.0.0.1:{free_port()}/never-up", ["order.created"])
    client.post("/orders", json=order_body(world), headers=world.headers["shipper"])
    with db.session() as s:
        msg = s.scalar(select(WebhookMessage))
        created = msg.created_at
    now = created
    attempts = []
    for _ in range(100):
        res = deliver_due(db, settings, now=now)
        if res["retry"] or res["failed"]:
            attempts.append(now)
        if res["failed"]:
            break
        with db.session() as s:
            now = s.scalar(select(WebhookMessage.next_attempt_at))
    assert res["failed"] == 1
    assert attempts[-1] - created >= timedelta(hours=24)
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[0] < timedelta(seconds=10) and gaps[5] > gaps[1]  # exponential, then capped
    assert len(attempts) <= 20
    assert client.get(f"/webhooks/subscriptions/{sub['id']}/messages",
                      headers=world.headers["shipper"]).json()["items"][0]["status"] == "failed"


def test_outbox_is_enqueued_after_commit_and_dropped_on_rollback(client, world, db, settings):
    port = free_port()
    sub = _subscribe(client, world, f"http://127.0.0.1:{port}/h", ["order.created"])
    huey.flush()
    # a failed request (bad depot) writes no outbox row and enqueues nothing
    client.post("/orders", json=order_body(world, depot_id="dep_01JD0000000000000000000000"),
                headers=world.headers["shipper"])
    assert huey.pending_count() == 0
    client.post("/orders", json=order_body(world), headers=world.headers["shipper"])
    assert huey.pending_count() == 1
    task = huey.dequeue()
    assert task.name.endswith("deliver_webhooks_task")
    rec = Receiver(port, sub["secret"])
    rec.start()
    try:
        huey.execute(task)  # as the worker does
    finally:
        rec.stop()
    assert len(rec.received) == 1


def test_subscriptions_are_per_shipper(client, world):
    sub = _subscribe(client, world, "https://example.com/hook", ["order.delivered"])
    h2 = world.headers["shipper2"]
    assert client.get(f"/webhooks/subscriptions/{sub['id']}", headers=h2).status_code == 404
    assert client.get("/webhooks/subscriptions", headers=h2).json() == []
    assert client.patch(f"/webhooks/subscriptions/{sub['id']}", json={"active": False}, headers=h2).status_code == 404
    assert client.delete(f"/webhooks/subscriptions/{sub['id']}", headers=h2).status_code == 404
    r = client.post("/webhooks/subscriptions", json={"url": "ftp://x", "events": ["order.created"]},
                    headers=world.headers["shipper"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "url"
    r = client.post("/webhooks/subscriptions", json={"url": "https://x.example", "events": ["order.lost"]},
                    headers=world.headers["shipper"])
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("events")
    # admins create for a named shipper
    r = client.post("/webhooks/subscriptions", json={"url": "https://x.example", "events": ["order.created"],
                                                      "shipper_id": world.ids["shipper2"]},
                    headers=world.headers["admin"])
    assert r.status_code == 201 and r.json()["shipper_id"] == world.ids["shipper2"]
    assert client.get("/webhooks/subscriptions", headers=world.headers["dispatcher"]).status_code == 403


@pytest.mark.parametrize("env", ["production"])
def test_production_refuses_private_receivers(env, tmp_path):
    from lastmile.config import Settings

    assert Settings(env=env, data_dir=tmp_path, secret_key="x" * 40).webhooks_may_reach_private is False
    assert Settings(data_dir=tmp_path).webhooks_may_reach_private is True


def test_signing_secret_is_stored_sealed_and_shown_once(client, world, db, settings):
    """The database holds no usable secret; reads never show it; a real delivery is
    signed with exactly the secret shown at creation; rotation shows a new one once."""
    from sqlalchemy import text

    port = free_port()
    sub = _subscribe(client, world, f"http://127.0.0.1:{port}/hooks", events=["order.created"])
    h = world.headers["shipper"]
    with db.engine.connect() as c:
        row = c.execute(text("SELECT * FROM webhook_subscriptions WHERE id = :i"), {"i": sub["id"]}).mappings().one()
    stored = " ".join(str(v) for v in row.values())
    assert sub["secret"] not in stored and sub["secret"].removeprefix("whsec_") not in stored
    assert "secret" not in row.keys()  # the plain column is gone
    # never again in reads, nor in the audit log
    assert "secret" not in client.get(f"/webhooks/subscriptions/{sub['id']}", headers=h).json()
    assert all("secret" not in s for s in client.get("/webhooks/subscriptions", headers=h).json())
    patched = client.patch(f"/webhooks/subscriptions/{sub['id']}", json={"description": "x"},
                           headers=world.headers["admin"]).json()  # staff changes are audited
    assert "secret" not in patched
    audit = client.get("/audit", params={"object_id": sub["id"]}, headers=world.headers["admin"]).json()["items"]
    assert audit and sub["secret"] not in json.dumps(audit) and row["secret_sealed"] not in json.dumps(audit)

    rec = Receiver(port, sub["secret"])
    rec.start()
    try:
        client.post("/orders", json=order_body(world, reference="S1"), headers=h)
        assert deliver_due(db, settings) == {"delivered": 1, "retry": 0, "failed": 0}
        assert rec.bad_signatures == 0 and len(rec.received) == 1
        # rotation: the new secret is shown once and signs from now on; the old one no longer verifies
        rotated = client.post(f"/webhooks/subscriptions/{sub['id']}/rotate-secret", headers=h)
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != sub["secret"]
        client.post("/orders", json=order_body(world, reference="S2"), headers=h)
        deliver_due(db, settings)
        assert rec.bad_signatures == 1  # signed with the new secret, checked with the old
        rec.secret = new
        client.post("/orders", json=order_body(world, reference="S3"), headers=h)
        deliver_due(db, settings)
        assert rec.bad_signatures == 1 and [b["data"]["reference"] for _, b in rec.received] == ["S1", "S3"]
    finally:
        rec.stop()


def test_a_changed_server_key_fails_delivery_clearly_and_the_previous_key_still_opens(client, world, db, settings):
    from pydantic import SecretStr

    port = free_port()
    sub = _subscribe(client, world, f"http://127.0.0.1:{port}/hooks", events=["order.created"])
    client.post("/orders", json=order_body(world), headers=world.headers["shipper"])
    rec = Receiver(port, sub["secret"])
    rec.start()
    try:
        changed = settings.model_copy(update={"secret_key": SecretStr("k" * 48)})
        out = deliver_due(db, changed)
        assert out["delivered"] == 0 and rec.calls == 0
        with db.session() as s:
            assert "cannot be decrypted" in s.scalars(select(WebhookMessage)).one().last_error
        both = changed.model_copy(update={"previous_secret_key": settings.secret_key})
        assert deliver_due(db, both, now=utcnow() + timedelta(minutes=5))["delivered"] == 1
        assert rec.bad_signatures == 0
    finally:
        rec.stop()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migration_0004_seals_existing_plaintext_secrets(dialect, tmp_path, request):
    """A database at 0003 with plaintext secrets: upgrading seals them (same secret,
    signatures unchanged for receivers); downgrading restores the plain column."""
    import uuid

    from sqlalchemy import text

    from lastmile.config import get_settings
    from lastmile.db import Database, migrate
    from lastmile.webhooks.service import open_secret

    if dialect == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        request.getfixturevalue("pg_database")  # skips when PostgreSQL is not there
        import psycopg

        from .conftest import PG_ADMIN_URL

        name = f"lastmile_mig_{uuid.uuid4().hex[:10]}"
        admin = PG_ADMIN_URL.replace("+psycopg", "")
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    db = Database(url)
    try:
        migrate(url, engine=db.engine, revision="0003")
        plain = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()
        with db.engine.begin() as c:
            c.execute(text("INSERT INTO organizations (id, name, created_at) VALUES ('org_1', 'o', :t)"), {"t": utcnow()})
            c.execute(text("INSERT INTO shippers (id, organization_id, name, active, created_at) "
                           "VALUES ('shp_1', 'org_1', 's', true, :t)"), {"t": utcnow()})
            c.execute(text("INSERT INTO webhook_subscriptions (id, organization_id, shipper_id, url, events, secret, "
                           "description, active, created_at) VALUES ('whs_1', 'org_1', 'shp_1', 'https://x.example', "
                           "'[\"order.created\"]', :s, '', true, :t)"), {"s": plain, "t": utcnow()})
        migrate(url, engine=db.engine, revision="0004_webhook_secret_enc")
        with db.engine.connect() as c:
            sealed = c.execute(text("SELECT secret_sealed FROM webhook_subscriptions")).scalar_one()
        assert plain not in sealed and plain[6:] not in sealed
        assert open_secret(get_settings(), sealed) == plain
        from alembic import command

        from lastmile.db import alembic_config

        cfg = alembic_config(url)
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0003")
            conn.commit()
        with db.engine.connect() as c:
            assert c.execute(text("SELECT secret FROM webhook_subscriptions")).scalar_one() == plain
    finally:
        db.dispose()
        if drop:
            drop()
