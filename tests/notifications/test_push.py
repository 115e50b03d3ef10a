"""Web push with VAPID against a real local HTTP server playing the browser's push
service: the request carries a VAPID JWT signed with our key, and the payload
decrypts (aes128gcm, RFC 8291) with the subscription's own keys, as a browser would.
What cannot be tested here: delivery through a real vendor push service (FCM,
Mozilla autopush, Apple) and the service worker showing it."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pydantic import SecretStr

from lastmile.notifications.sender import deliver_due

from .helpers import make_order, move, rows


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.status = 201
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("location", f"{outer.url}/msg/{len(outer.received)}")
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def push_service():
    svc = PushService()
    yield svc
    svc.server.shutdown()
    svc.server.server_close()


@pytest.fixture
def vapid(settings):
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    settings.vapid_private_key = SecretStr(b64u(raw))
    settings.vapid_public_key = b64u(public)
    settings.notify_quiet_start = settings.notify_quiet_end = ""
    return key


def browser_keys():
    """What a browser's PushManager.subscribe() makes: a P-256 key pair and an auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key, b64u(public), os.urandom(16)


def test_push_subscription_and_an_encrypted_vapid_signed_message(db, client, world, settings, vapid, push_service):
    import http_ece

    from lastmile.notifications.service import notify
    from lastmile.orders.models import Order
    from lastmile.orders.service import issue_tracking_token

    assert client.get("/notifications/push/key").json() == {"public_key": settings.vapid_public_key}
    oid = make_order(client, world, language="es", reference="P-1")
    move(db, oid, "assigned", "out_for_delivery")  # "approaching" is sent only while on the way
    deliver_due(db, settings)  # those two by email (the log channel here)
    with db.session() as s:
        token = issue_tracking_token(s, s.get(Order, oid))
        s.commit()
    key, p256dh, auth = browser_keys()
    sub = {"endpoint": f"{push_service.url}/push/abc", "keys": {"p256dh": p256dh, "auth": b64u(auth)}}
    r = client.post("/notifications/push/subscriptions", json={"token": token, "subscription": sub})
    assert r.status_code == 201, r.text
    bad = client.post("/notifications/push/subscriptions", json={"token": "x" * 32, "subscription": sub})
    assert bad.status_code == 404
    with db.session() as s:
        notify(s, s.get(Order, oid), "approaching", settings=settings)
        s.commit()
    [email, push] = sorted(rows(db, oid, "approaching"), key=lambda n: n.channel)
    assert (email.channel, push.channel, push.recipient) == ("email", "push", r.json()["id"])
    assert deliver_due(db, settings)["sent"] == 2
    [(headers, body)] = push_service.received
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    # VAPID: "vapid t=<JWT>, k=<our public key>", the JWT signed by our private key for this origin
    scheme, _, params = headers["authorization"].partition(" ")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert scheme == "vapid" and fields["k"] == settings.vapid_public_key
    head, claims, sig = fields["t"].split(".")
    claims = json.loads(unb64u(claims))
    assert claims["aud"] == push_service.url and claims["sub"] == settings.vapid_subject
    raw = unb64u(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    vapid.public_key().verify(der, f"{head}.{fields['t'].split('.')[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    # the browser decrypts the payload with its own keys
    payload = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm"))
    assert payload["title"] == "" and "el repartidor está por llegar" in payload["body"]
    assert payload["url"].startswith("http://127.0.0.1:8000/t/")
    [push] = [n for n in rows(db, oid, "approaching") if n.channel == "push"]
    assert (push.status, push.provider, push.provider_id) == ("sent", "webpush", f"{push_service.url}/msg/1")


def test_a_gone_subscription_is_removed(db, client, world, settings, vapid, push_service):
    from lastmile.notifications.models import PushSubscription
    from lastmile.notifications.service import add_push_subscription, notify
    from lastmile.orders.models import Order

    oid = make_order(client, world, contact={"name": "A", "phone": "", "email": None})
    _, p256dh, auth = browser_keys()
    with db.session() as s:
        add_push_subscription(s, s.get(Order, oid), f"{push_service.url}/push/gone", p256dh, b64u(auth))
        notify(s, s.get(Order, oid), "confirmed", settings=settings)
        s.commit()
    push_service.status = 410
    assert deliver_due(db, settings)["failed"] == 1
    [row] = rows(db, oid)
    assert row.status == "failed" and "410" in row.error
    with db.session() as s:
        assert s.query(PushSubscription).count() == 0
    with db.session() as s:
        assert notify(s, s.get(Order, oid), "out_for_delivery", settings=settings) == []  # nothing left to send to
        s.commit()
    assert len(rows(db, oid)) == 1
