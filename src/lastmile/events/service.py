"""Append to the event log; for shipper-facing order events, write the webhook
outbox rows in the same transaction; then run the listeners other domains registered
for the event's type (notifications, proposals ...), also in the same transaction."""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kit.ids import new_id
from ..kit.time import utcnow
from .models import Event

log = logging.getLogger("lastmile.events")
Listener = Callable[[Session, Event], None]
_listeners: list[tuple[str, Listener]] = []
_loaded = False
_load_lock = threading.Lock()


def on(prefix: str) -> Callable[[Listener], Listener]:
    """Register ``fn(session, event)`` for every event whose type starts with ``prefix``.
    Listeners run inside the emitting transaction: they may add rows (outbox, proposals)
    and enqueue jobs with ``jobs.queue.after_commit``; they must not commit."""

    def register(fn: Listener) -> Listener:
        _listeners.append((prefix, fn))
        return fn

    return register


def _load_listeners() -> None:
    """Import every ``lastmile.<domain>.listeners`` module found on disk (once)."""
    global _loaded
    with _load_lock:
        if _loaded:
            return
        root = Path(__file__).resolve().parents[1]
        for path in sorted(root.glob("*/listeners.py")):
            importlib.import_module(f"lastmile.{path.parent.name}.listeners")
        _loaded = True


def _notify(session: Session, ev: Event) -> None:
    if not _loaded:
        _load_listeners()
    for prefix, fn in list(_listeners):
        if ev.type.startswith(prefix):
            try:
                fn(session, ev)
            except Exception:  # a listener's bug must not lose the change that emitted the event
                log.exception("listener %s failed on %s %s", getattr(fn, "__qualname__", fn), ev.type, ev.id)


def new_event(
    organization_id: str,
    type: str,
    subject_type: str,
    subject_id: str,
    actor: str,
    data: dict[str, Any] | None = None,
) -> Event:
    """An event, not yet written (its id is known now: outbox rows can name it)."""
    return Event(id=new_id("evt"), organization_id=organization_id, at=utcnow(), type=type,
                 subject_type=subject_type, subject_id=subject_id, actor=actor, data=data or {})


EVENT_COLUMNS = tuple(Event.__table__.c.keys())


def event_row(ev: Event) -> dict[str, Any]:
    """``ev`` as column values, for ``kit.rows.insert_rows`` (hot paths write it that way)."""
    return {k: getattr(ev, k) for k in EVENT_COLUMNS}


def emit(
    session: Session,
    organization_id: str,
    type: str,
    subject_type: str,
    subject_id: str,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    shipper_id: str | None = None,
) -> Event:
    ev = new_event(organization_id, type, subject_type, subject_id, actor, data)
    session.add(ev)
    announce(session, ev, shipper_id=shipper_id)
    return ev


def announce(session: Session, ev: Event, *, shipper_id: str | None = None) -> None:
    """What follows an event in its transaction: the webhook outbox rows (for
    shipper-facing events) and the listeners. ``emit`` calls it; a hot path that
    wrote the event row itself (``event_row``) calls it after the write."""
    if shipper_id is not None:
        from ..webhooks.service import write_outbox

        body = json.dumps(
            {"type": ev.type, "timestamp": ev.at.isoformat().replace("+00:00", "Z"), "data": ev.data},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        write_outbox(session, shipper_id, ev.id, ev.type, body)
    _notify(session, ev)


def has_event(session: Session, subject_id: str, type: str) -> bool:
    q = select(Event.id).where(Event.subject_id == subject_id, Event.type == type).limit(1)
    return session.scalar(q) is not None
