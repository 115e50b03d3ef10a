"""The customer's tracking page, ``/t/<token>``: a server-rendered shell holding the
order's current state (so the first paint needs no second request), and a small ES
module (``static/portal/tracking.js``) that keeps it live over ``/t/<token>/stream``
and talks to the portal API (``lastmile.portal.endpoints``).

Strings live once, in ``static/portal/i18n.json`` (Spanish and English): the server
renders the first paint in the order's language and hands both dictionaries to the
page, where the switch (remembered) changes language without a reload. Unknown and
expired links get a friendly page in both languages with a 404 and no detail.

Map tiles come from ``LASTMILE_MAP_TILES_URL`` (as for the driver app); without it the
map still shows the driver and the destination on a plain background.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path as PathParam, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from ..auth.access import public
from ..errors import NotFound, TooManyRequests
from ..kit.web import get_session
from .vendor import vendor_url

TEMPLATES = Path(__file__).parent / "templates"
I18N = Path(__file__).parent / "static" / "portal" / "i18n.json"
VENDOR = {"leaflet_js": vendor_url("leaflet", "dist/leaflet.js"),
          "leaflet_css": vendor_url("leaflet", "dist/leaflet.css")}
HEADERS = {"cache-control": "no-store", "x-robots-tag": "noindex"}

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _env():  # type: ignore[no-untyped-def]
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


@lru_cache(maxsize=1)
def strings() -> dict[str, dict[str, str]]:
    return json.loads(I18N.read_text(encoding="utf-8"))


def tiles(settings: Any) -> dict[str, str]:
    url = getattr(settings, "map_tiles_url", None) or os.environ.get("LASTMILE_MAP_TILES_URL", "")
    return {"url": url or "",
            "attribution": os.environ.get("LASTMILE_MAP_TILES_ATTRIBUTION", "© OpenStreetMap contributors")}


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no '</script>' or '<!--' break-out)."""
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def not_found_page(status: int = 404) -> HTMLResponse:
    html = _env().get_template("portal/not_found.html").render(t=strings())
    return HTMLResponse(html, status_code=status, headers=HEADERS)


@router.get("/t/{token}", response_class=HTMLResponse, dependencies=[Depends(public)])
def tracking_page(
    request: Request,
    token: Annotated[str, PathParam(max_length=200)],
    session: Annotated[Session, Depends(get_session)],
) -> HTMLResponse:
    from ..portal.endpoints import find_order
    from ..portal.service import state as portal_state

    settings = request.app.state.settings
    if not (20 <= len(token) <= 100) or not token.replace("-", "").replace("_", "").isalnum():
        return not_found_page()
    try:
        order = find_order(request, session, settings, token)
    except NotFound:
        return not_found_page()
    except TooManyRequests:
        return not_found_page(429)
    st = portal_state(session, order)
    lang = st["language"]
    config = {"token": token, "state": st, "i18n": strings(), "tiles": tiles(settings)}
    html = _env().get_template("portal/track.html").render(
        t=strings()[lang], lang=lang, vendor=VENDOR, config=_script_json(config), st=st)
    return HTMLResponse(html, headers=HEADERS)
