"""Our own front-end files (``src/lastmile/web/static/<app>/…``) at ``/static/<app>/…``.

The npm libraries keep their own route (``/static/vendor/``, :mod:`.vendor`), which is
registered first and so wins for that prefix. Only files with a known type under
``static/`` are served; anything else (``..``, hidden files, unknown suffixes) is a 404.
Answers say ``no-cache``: the browser revalidates (cheap, ETag) so a new release is
picked up at once; the driver app's service worker keeps its own offline copy.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ..errors import error_body

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/static"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
}


def static_file(path: str) -> Path | None:
    """The file under static/ for a URL path below /static/, or None."""
    parts = path.split("/")
    if not parts or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts):
        return None
    target = STATIC_DIR.joinpath(*parts)
    if target.suffix not in TYPES or not target.is_file():
        return None
    try:
        target.resolve().relative_to(STATIC_DIR.resolve())
    except ValueError:
        return None
    return target


async def serve_static(request: Request) -> Response:
    target = static_file(request.path_params["path"])
    if target is None:
        return JSONResponse(error_body("not_found", "no such file"), status_code=404)
    return FileResponse(target, media_type=TYPES[target.suffix], headers={"cache-control": "no-cache"})


def register_assets(app: FastAPI) -> None:
    # a plain Starlette route (not an API operation), after /static/vendor/
    app.router.add_route(PREFIX + "/{path:path}", serve_static, methods=["GET", "HEAD"], include_in_schema=False)
