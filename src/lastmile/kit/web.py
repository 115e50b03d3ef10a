"""FastAPI plumbing shared by every domain: the request's session and settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from ..config import Settings
from ..db import Database


# Trivial dependencies are ``async def`` on purpose: FastAPI runs a plain ``def``
# dependency in the thread pool, a hop that cost more than the work, once per request.
async def get_database(request: Request) -> Database:
    return request.app.state.db


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request. Services never commit; the endpoint does (which
    also hands the connection back to the pool). Anything not committed is rolled
    back when the request ends.

    Async on purpose: setup and teardown then run on the event loop and never wait
    for a worker thread while holding a connection (with SQLite's single writer
    connection that wait could deadlock under load)."""
    db: Database = request.app.state.db
    factory = db.read_sessions if request.method in ("GET", "HEAD", "OPTIONS") else db.sessions
    session = factory()
    try:
        yield session
    finally:
        session.close()


def snapshot(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Column values of an ORM object as JSON-safe data (for audit before/after)."""
    out: dict[str, Any] = {}
    for attr in sa_inspect(obj).mapper.column_attrs:
        if attr.key in exclude or "hash" in attr.key or attr.key == "secret":
            continue
        v = getattr(obj, attr.key)
        out[attr.key] = v.isoformat() if isinstance(v, date | datetime) else v
    return out
