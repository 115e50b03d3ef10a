"""Tamper evidence: each POD record is canonical JSON hashed with SHA-256 and names
the hash of the route's previous record, so editing, removing or reordering any
record (or any file it names) breaks the chain from there on. The hash is also
written to the append-only event log (``pod.recorded``) as a second witness."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..events.models import Event
from ..events.service import emit
from ..kit.ids import new_id
from .files import StorageBackend, sha256_hex
from .models import PodRecord

GENESIS = "0" * 64


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def append(session: Session, *, organization_id: str, route_id: str, kind: str, order_id: str | None,
           stop_id: str | None, server_time: datetime, body: dict[str, Any], actor: str) -> PodRecord:
    """Add the route's next record. The caller holds the route's row lock (one
    writer per route), so ``seq`` and ``prev_hash`` cannot race."""
    last = session.execute(
        select(PodRecord.seq, PodRecord.record_hash).where(PodRecord.route_id == route_id)
        .order_by(PodRecord.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    rec = PodRecord(id=new_id("pod"), organization_id=organization_id, route_id=route_id, seq=seq, kind=kind, order_id=order_id,
                    stop_id=stop_id, server_time=server_time, prev_hash=prev)
    payload = {**body, "v": 1, "id": rec.id, "route_id": route_id, "seq": seq, "kind": kind, "order_id": order_id,
               "stop_id": stop_id, "server_time": iso(server_time), "prev_hash": prev}
    rec.payload = canonical(payload)
    rec.record_hash = digest(rec.payload)
    session.add(rec)
    emit(session, organization_id, "pod.recorded", "pod_record", rec.id, actor,
         {"route_id": route_id, "seq": seq, "order_id": order_id, "kind": kind, "hash": rec.record_hash})
    return rec


@dataclass
class Report:
    route_id: str
    records: int = 0
    files: int = 0
    broken: str | None = None  # the first broken link, in words

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify(session: Session, storage: StorageBackend, route_id: str) -> Report:
    """Recompute the route's chain and every file hash; stop at the first break."""
    report = Report(route_id)
    witnesses = dict(session.execute(
        select(Event.subject_id, Event.data).where(Event.type == "pod.recorded", Event.subject_type == "pod_record")
        .where(Event.subject_id.in_(select(PodRecord.id).where(PodRecord.route_id == route_id)))
    ).all())
    prev = GENESIS
    expected_seq = 1
    for rec in session.scalars(select(PodRecord).where(PodRecord.route_id == route_id).order_by(PodRecord.seq)):
        where = f"record {rec.seq} ({rec.id}, {rec.kind}"
        where += f", order {rec.order_id})" if rec.order_id else ")"
        problem = _check(rec, prev, expected_seq, witnesses.get(rec.id), storage, report)
        if problem:
            report.broken = f"{where}: {problem}"
            return report
        report.records += 1
        prev, expected_seq = rec.record_hash, expected_seq + 1
    return report


def _check(rec: PodRecord, prev: str, seq: int, witness: dict[str, Any] | None, storage: StorageBackend,
           report: Report) -> str | None:
    if rec.seq != seq:
        return f"sequence jumps from {seq - 1} to {rec.seq} (a record was removed)"
    if digest(rec.payload) != rec.record_hash:
        return "its content does not match its hash (the record was edited)"
    if rec.prev_hash != prev:
        return "it does not follow the previous record (prev_hash differs: a record before it was changed)"
    try:
        body = json.loads(rec.payload)
    except ValueError:
        return "its content is not JSON"
    for key in ("id", "route_id", "seq", "kind", "order_id", "stop_id", "prev_hash"):
        if body.get(key) != getattr(rec, key):
            return f"its {key} column differs from the hashed content"
    if body.get("server_time") != iso(rec.server_time):
        return "its server_time column differs from the hashed content"
    if witness is None or witness.get("hash") != rec.record_hash:
        return "its hash differs from the one written to the event log when it was made"
    for f in body.get("files", []):
        data = storage.get(f["sha256"])
        if data is None:
            return f"file {f['sha256']} ({f.get('role')}) is missing"
        if sha256_hex(data) != f["sha256"]:
            return f"file {f['sha256']} ({f.get('role')}) was changed (its content has another hash)"
        report.files += 1
    return None
