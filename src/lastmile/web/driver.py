"""The driver app's pages: ``/driver`` (the installable app shell), its web manifest and
its service worker. Everything else the app does goes through the driver API
(``/driver/today``, ``/driver/actions``, ``/driver/files``: pod/), ``/tracking/positions``
and ``/live/stream``; its scripts and styles are plain ES modules under
``static/driver/`` (no bundler), its libraries npm's, from ``/static/vendor/``.

The shell holds no data and needs no login (the app signs in with ``/auth/login``), so
the service worker can keep it for offline starts. The worker lives at
``/driver/sw.js`` and controls ``/driver`` and everything below (``Service-Worker-Allowed:
/driver``, since ``/driver`` itself is not under ``/driver/``). Its cache name carries a
hash of the app's files, so a new release replaces the old copy on the next start.

Map tiles come from the console's setting, ``LASTMILE_MAP_TILE_URL`` (e.g. an own tile
server, ``https://tiles.example.org/{z}/{x}/{y}.png``); without it the in-app map draws
the stops, the route line and the driver's position on a plain background.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .assets import STATIC_DIR
from .vendor import vendor_url

TEMPLATES = Path(__file__).parent / "templates"
APP_DIR = STATIC_DIR / "driver"
SCOPE = "/driver"
VENDOR = {
    "leaflet_js": vendor_url("leaflet", "dist/leaflet.js"),
    "leaflet_css": vendor_url("leaflet", "dist/leaflet.css"),
    "signature_pad": vendor_url("signature_pad", "dist/signature_pad.umd.min.js"),
    "zxing_library": vendor_url("@zxing/library", "umd/index.min.js"),
    "zxing_browser": vendor_url("@zxing/browser", "umd/zxing-browser.min.js"),
}
NO_CACHE = {"cache-control": "no-cache"}


def app_files() -> list[str]:
    """URLs of the app's own files (what the service worker keeps), sorted."""
    return sorted(f"/static/driver/{p.relative_to(APP_DIR).as_posix()}" for p in APP_DIR.rglob("*")
                  if p.is_file() and not p.name.startswith(".") and p.name != "sw.js")


@lru_cache(maxsize=1)
def release() -> str:
    """A short hash of the app's files, its template and the vendor list: the cache version."""
    h = hashlib.sha256()
    for p in sorted([*APP_DIR.rglob("*"), *(TEMPLATES / "driver").rglob("*")]):
        if p.is_file():
            h.update(p.name.encode())
            h.update(p.read_bytes())
    h.update(json.dumps(VENDOR, sort_keys=True).encode())
    return h.hexdigest()[:12]


@lru_cache(maxsize=1)
def _env():  # type: ignore[no-untyped-def]
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def tiles(settings: object) -> dict[str, str]:
    """The map's tiles: the same settings as the console's (``LASTMILE_MAP_TILE_URL``)."""
    return {"url": getattr(settings, "map_tile_url", "") or "",
            "attribution": getattr(settings, "map_tile_attribution", "") or ""}


async def shell(request: Request) -> Response:
    if request.url.path.endswith("/"):
        return RedirectResponse(SCOPE, status_code=308)
    html = _env().get_template("driver/app.html").render(
        vendor=VENDOR, release=release(), tiles=tiles(request.app.state.settings), scope=SCOPE)
    return HTMLResponse(html, headers=NO_CACHE)


async def manifest(_: Request) -> Response:
    body = {
        "name": "lastmile — Conductor / Driver",
        "short_name": "lastmile",
        "description": "Ruta del día, entregas y prueba de entrega / Today's route, deliveries and proof of delivery",
        "id": SCOPE,
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#0b3d91",
        "icons": [
            {"src": "/static/driver/icons/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/driver/icons/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {"src": "/static/driver/icons/icon-512.png", "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json", headers=NO_CACHE)


async def service_worker(_: Request) -> Response:
    shell_files = [SCOPE, f"{SCOPE}/manifest.webmanifest", *app_files(), *VENDOR.values(),
                   vendor_url("leaflet", "dist/images/marker-icon.png")]
    code = (APP_DIR / "sw.js").read_text(encoding="utf-8")
    code = code.replace('"__RELEASE__"', json.dumps(release())).replace("[/*__SHELL__*/]", json.dumps(shell_files))
    return Response(code, media_type="text/javascript; charset=utf-8",
                    headers={**NO_CACHE, "service-worker-allowed": SCOPE})


def register_driver(app: FastAPI) -> None:
    # plain Starlette routes: pages, not API operations (the driver API is pod/'s)
    for path, fn in ((SCOPE, shell), (SCOPE + "/", shell), (SCOPE + "/manifest.webmanifest", manifest),
                     (SCOPE + "/sw.js", service_worker)):
        app.router.add_route(path, fn, methods=["GET", "HEAD"], include_in_schema=False)
