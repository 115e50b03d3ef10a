"""Front-end libraries from npm, served from ``node_modules`` at ``/static/vendor/``.

There is no bundler: ``npm ci`` (run by ``./run`` and ``.ci/run``) installs the exact
versions pinned in ``package-lock.json`` and this module serves a short allow-list of
their files, under the package's own layout, e.g.
``/static/vendor/leaflet/dist/leaflet.css`` (whose relative ``images/…`` URLs then
resolve too). Anything not on the list is a 404, so nothing else in ``node_modules``
(sources, package metadata, other packages) is reachable.

Where ``node_modules`` is: ``LASTMILE_NODE_MODULES`` if set, else beside the source
checkout's ``package.json``. Without it the server still starts (the API does not need
it), logs a warning, and every vendor URL answers 503 saying to run ``npm ci``.
"""

from __future__ import annotations

import logging
import os
from fnmatch import fnmatchcase
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ..errors import error_body

log = logging.getLogger("lastmile.web")

PREFIX = "/static/vendor"
# package -> files (a `*` matches within one path segment); keep to what pages load.
ALLOWED: dict[str, tuple[str, ...]] = {
    "swagger-ui-dist": ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"),
    "leaflet": ("dist/leaflet.js", "dist/leaflet.css", "dist/images/*.png"),
    "signature_pad": ("dist/signature_pad.umd.min.js",),
    "@zxing/library": ("umd/index.min.js",),  # the UMD build of @zxing/browser needs it first
    "@zxing/browser": ("umd/zxing-browser.min.js",),
    "chart.js": ("dist/chart.umd.min.js",),
}
CACHE = "public, max-age=86400"


def node_modules_dir() -> Path:
    env = os.environ.get("LASTMILE_NODE_MODULES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "node_modules"  # src/lastmile/web/ -> checkout root


def installed(root: Path | None = None) -> bool:
    root = root or node_modules_dir()
    return all((root / pkg / "package.json").is_file() for pkg in ALLOWED)


def not_installed_message(root: Path | None = None) -> str:
    root = root or node_modules_dir()
    return (f"front-end libraries are not installed in {root}: run `npm ci` in {root.parent} "
            "(./run does it), or set LASTMILE_NODE_MODULES")


def vendor_url(package: str, file: str) -> str:
    """The URL of an allowed file; raises if it is not on the list (catches typos at start-up)."""
    if _allowed(package, file) is None:
        raise KeyError(f"{package}/{file} is not in lastmile.web.vendor.ALLOWED")
    return f"{PREFIX}/{package}/{file}"


def _allowed(package: str, file: str) -> str | None:
    parts = file.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    for pattern in ALLOWED.get(package, ()):
        pat = pattern.split("/")
        if len(pat) == len(parts) and all(fnmatchcase(a, b) for a, b in zip(parts, pat, strict=True)):
            return file
    return None


def _split(path: str) -> tuple[str, str] | None:
    """'@zxing/browser/umd/x.js' -> ('@zxing/browser', 'umd/x.js')."""
    parts = path.split("/")
    n = 2 if parts and parts[0].startswith("@") else 1
    if len(parts) <= n:
        return None
    return "/".join(parts[:n]), "/".join(parts[n:])


async def serve_vendor(request: Request) -> Response:
    split = _split(request.path_params["path"])
    file = _allowed(*split) if split else None
    if split is None or file is None:
        return JSONResponse(error_body("not_found", "no such front-end file"), status_code=404)
    root = node_modules_dir()
    target = root / split[0] / file
    if not target.is_file():
        if not installed(root):
            return JSONResponse(error_body("assets_not_installed", not_installed_message(root)), status_code=503)
        return JSONResponse(error_body("not_found", "no such front-end file"), status_code=404)
    return FileResponse(target, headers={"cache-control": CACHE})


def register_vendor(app: FastAPI) -> None:
    # a plain Starlette route: not an API operation (no schema, no authz matrix entry)
    app.router.add_route(PREFIX + "/{path:path}", serve_vendor, methods=["GET", "HEAD"], include_in_schema=False)
    if not installed():
        log.warning("%s; pages that use them (/docs, the console) will not work", not_installed_message())
