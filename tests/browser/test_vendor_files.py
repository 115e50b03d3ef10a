"""/static/vendor/ serves the allow-listed npm files and nothing else (no browser needed)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lastmile.web import vendor


@pytest.fixture
def client(live):
    from lastmile.app import create_app

    with TestClient(create_app(live.settings, database=live.db)) as c:
        yield c


@pytest.mark.parametrize("url, kind", [
    ("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js", "javascript"),
    ("/static/vendor/swagger-ui-dist/swagger-ui.css", "text/css"),
    ("/static/vendor/leaflet/dist/leaflet.js", "javascript"),
    ("/static/vendor/leaflet/dist/leaflet.css", "text/css"),
    ("/static/vendor/leaflet/dist/images/marker-icon.png", "image/png"),
    ("/static/vendor/signature_pad/dist/signature_pad.umd.min.js", "javascript"),
    ("/static/vendor/@zxing/library/umd/index.min.js", "javascript"),
    ("/static/vendor/@zxing/browser/umd/zxing-browser.min.js", "javascript"),
])
def test_allowed_files_are_served(client, url, kind):
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert kind in r.headers["content-type"]
    assert len(r.content) > 1000
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("url", [
    "/static/vendor/leaflet/package.json",
    "/static/vendor/leaflet/dist/leaflet-src.js",
    "/static/vendor/leaflet/dist/images/../leaflet.js",
    "/static/vendor/leaflet/dist/images/%2e%2e/leaflet.js",
    "/static/vendor/leaflet/dist/images/x/../../leaflet.js",
    "/static/vendor/leaflet/dist/images/nothere.png",
    "/static/vendor/@scarf/scarf/report.js",
    "/static/vendor/leaflet",
    "/static/vendor/",
    "/static/vendor/..%2fpackage.json",
])
def test_anything_else_is_not_found(client, url):
    r = client.get(url)
    if r.status_code == 200:  # a client may normalise `..` away; it must then land on an allowed file
        assert r.url.path in {"/static/vendor/leaflet/dist/leaflet.js"}, r.url
        return
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_docs_point_at_our_own_copy(client):
    html = client.get("/docs").text
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/static/vendor/swagger-ui-dist/swagger-ui.css" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_without_npm_ci_the_pages_say_what_to_run(client, tmp_path, monkeypatch):
    monkeypatch.setenv("LASTMILE_NODE_MODULES", str(tmp_path / "node_modules"))
    r = client.get("/static/vendor/leaflet/dist/leaflet.js")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "assets_not_installed" and "npm ci" in r.json()["error"]["message"]
    docs = client.get("/docs")
    assert docs.status_code == 503 and "npm ci" in docs.text and "/openapi.json" in docs.text
    assert client.get("/healthz").status_code == 200  # the API does not need them


def test_vendor_url_refuses_files_off_the_list():
    assert vendor.vendor_url("leaflet", "dist/leaflet.css") == "/static/vendor/leaflet/dist/leaflet.css"
    with pytest.raises(KeyError):
        vendor.vendor_url("leaflet", "dist/leaflet-src.js")


def test_every_allowed_file_exists_in_the_pinned_packages():
    root = vendor.node_modules_dir()
    for package, patterns in vendor.ALLOWED.items():
        for pattern in patterns:
            base, _, name = pattern.rpartition("/")
            assert list((root / package / base).glob(name)), f"{package}/{pattern} missing: package-lock changed?"
