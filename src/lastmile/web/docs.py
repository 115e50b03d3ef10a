"""The interactive API docs at ``/docs`` (Swagger UI), loading Swagger UI from our own
server (``/static/vendor/swagger-ui-dist/…``, npm's swagger-ui-dist) instead of a CDN,
so they work offline and on a locked-down network. ReDoc is not offered (no second
renderer to pin); ``/openapi.json`` is the machine-readable contract."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from .vendor import installed, not_installed_message, vendor_url

DOCS = "/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def register_docs(app: FastAPI) -> None:
    """Call with an app created with ``docs_url=None, redoc_url=None``."""
    js = vendor_url("swagger-ui-dist", "swagger-ui-bundle.js")
    css = vendor_url("swagger-ui-dist", "swagger-ui.css")
    icon = vendor_url("swagger-ui-dist", "favicon-32x32.png")

    async def swagger_ui(request: Request) -> HTMLResponse:
        if not installed():
            from html import escape

            return HTMLResponse(f"<!doctype html><title>lastmile API docs</title><h1>API docs unavailable</h1>"
                                f"<p>{escape(not_installed_message())}.</p>"
                                f"<p>The API itself works; its description is at <a href=\"{app.openapi_url}\">"
                                f"{app.openapi_url}</a>.</p>", status_code=503)
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=root + (app.openapi_url or "/openapi.json"),
                                   title=f"{app.title} API", swagger_js_url=root + js, swagger_css_url=root + css,
                                   swagger_favicon_url=root + icon, oauth2_redirect_url=root + OAUTH2_REDIRECT,
                                   init_oauth=app.swagger_ui_init_oauth,
                                   swagger_ui_parameters=app.swagger_ui_parameters)

    async def oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    # plain Starlette routes, like FastAPI's own docs routes (not API operations)
    app.router.add_route(DOCS, swagger_ui, methods=["GET", "HEAD"], include_in_schema=False)
    app.router.add_route(OAUTH2_REDIRECT, oauth2_redirect, methods=["GET", "HEAD"], include_in_schema=False)
