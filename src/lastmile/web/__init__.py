"""What a browser loads: the API docs page, front-end libraries from npm, and (to come)
templates/ and static/ for the dispatch console, the driver app and the tracking page.

``register(app)`` adds the browser-facing routes to the application."""

from __future__ import annotations

from fastapi import FastAPI


def register(app: FastAPI) -> None:
    from .docs import register_docs
    from .assets import register_assets
    from .driver import register_driver
    from .vendor import register_vendor

    register_vendor(app)
    register_docs(app)
    register_driver(app)
    register_assets(app)  # after vendor: /static/vendor/ keeps its own allow-list
