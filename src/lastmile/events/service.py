"""Append to the event log; for shipper-facing order events, write the webhook
outbox rows in the same transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..kit.ids import new_id
from ..kit.time import utcnow
from .models import Event


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
    return ev


def has_event(session: Session, subject_id: str, type: str) -> bool:
    q = select(Event.id).where(Event.subject_id == subject_id, Event.type == type).limit(1)
    return session.scalar(q) is not None
