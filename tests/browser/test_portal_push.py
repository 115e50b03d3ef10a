"""The tracking page subscribes the customer's browser to web push (real Chromium): the
page registers its service worker (/t/push-sw.js, scope /t/), asks for permission and
hands the subscription to POST /notifications/push/subscriptions with its tracking
token. Headless Chromium has no push service to talk to offline, so only
``PushManager.subscribe`` is replaced (it answers the subscription a push service
would); everything else -- the worker, the permission, the page, the endpoint and the
stored row -- is real."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from .test_portal import PHONE, ZONE, seed
from .conftest import open_page

FAKE_SUBSCRIBE = """
PushManager.prototype.subscribe = async function (opts) {
  window.__pushKeyLength = opts.applicationServerKey.byteLength;
  const sub = { endpoint: "http://127.0.0.1:9/push/send/abcdef0123456789",
                toJSON() { return { endpoint: this.endpoint,
                  keys: { p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                          auth: "tBHItJI5svbpez7KI4CCXg" } }; } };
  return sub;
};
PushManager.prototype.getSubscription = async function () { return null; };
"""


def _b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


@pytest.fixture
def vapid_on(live):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    before = (live.settings.vapid_private_key, live.settings.vapid_public_key)
    live.settings.vapid_private_key, live.settings.vapid_public_key = SecretStr(_b64u(raw)), _b64u(public)
    yield
    live.settings.vapid_private_key, live.settings.vapid_public_key = before


def test_the_tracking_page_subscribes_the_browser_to_web_push(browser, live, vapid_on, blocked, page_errors,
                                                              screenshot):
    from sqlalchemy import select

    from lastmile.notifications.models import PushSubscription

    w = seed(live, language="en")
    context = browser.new_context(base_url=live.url, viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US",
                                  timezone_id=ZONE)
    context.grant_permissions(["notifications"], origin=live.url)
    context.add_init_script(FAKE_SUBSCRIBE)
    page = open_page(context, blocked, page_errors)
    try:
        page.goto(f"/t/{w['tokens'][0]}")
        page.wait_for_selector("#push-enable:not([hidden])")
        page.click("#push-enable")
        page.wait_for_selector("body[data-push='on']")
        assert page.inner_text("#push-status") == "We will notify you on this phone."
        assert page.evaluate("window.__pushKeyLength") == 65  # the server's VAPID key, decoded
        scope = page.evaluate("navigator.serviceWorker.getRegistration('/t/').then(r => r && r.scope)")
        assert scope == f"{live.url}/t/"
        screenshot(page, "portal-push-en-360")
    finally:
        context.close()
    with live.db.session() as s:
        rows = list(s.scalars(select(PushSubscription).where(PushSubscription.order_id == w["orders"][0])))
    assert [r.endpoint for r in rows] == ["http://127.0.0.1:9/push/send/abcdef0123456789"]
    assert not page_errors, page_errors
