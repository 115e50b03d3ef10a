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
    ev = Event(
        id=new_id("evt"),  # known now: no flush needed to name it in outbox rows
        organization_id=organization_id,
        at=utcnow(),
        type=type,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        data=data or {},
    )
    session.add(ev)
    if shipper_id is not None:
        from ..webhooks.service import write_outbox

        body = json.dumps(
            {"type": type, "timestamp": ev.at.isoformat().replace("+00:00", "Z"), "data": data or {}},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        write_outbox(session, shipper_id, ev.id, type, body)
    _notify(session, ev)
    return ev


def has_event(session: Session, subject_id: str, type: str) -> bool:
    q = select(Event.id).where(Event.subject_id == subject_id, Event.type == type).limit(1)
    return session.scalar(q) is not None
