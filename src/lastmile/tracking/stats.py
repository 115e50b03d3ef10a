"""Ingest counters: fixes accepted and rejected per organization, source and reason.

Counted in memory (every request and MQTT batch adds to it) and added to the
``tracking_counters`` table by a background thread every ``FLUSH_S`` seconds in a
short transaction of its own -- never inside an ingest transaction, where one
counter row updated by every concurrent request would serialize them all. So a
count may be up to ``FLUSH_S`` late, and a crash loses at most that much counting
(never a position). ``GET /tracking/stats`` flushes its own process first.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from ..kit.time import utcnow
from .models import IngestCounter

log = logging.getLogger("lastmile.tracking.stats")
FLUSH_S = 2.0


class Counters:
    def __init__(self, db: Any) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # a reader's flush waits for one under way
        self._pending: dict[tuple[str, str, str], int] = defaultdict(int)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, organization_id: str | None, source: str, reason: str, n: int = 1) -> None:
        with self._lock:
            self._pending[(organization_id or "", source, reason[:40])] += n
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="tracking-counters", daemon=True)
                self._thread.start()

    def add_many(self, counts: dict[tuple[str, str, str], int]) -> None:
        for (org, source, reason), n in counts.items():
            self.add(org, source, reason, n)

    def _loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_S)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the database is away: keep the counts for the next try
                log.warning("could not save tracking counters", exc_info=True)

    def flush(self) -> None:
        with self._flush_lock:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(int)
        if not pending:
            return
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        C = IngestCounter
        ins = sqlite_insert if self.db.is_sqlite else pg_insert
        try:
            with self.db.session() as s:
                for (org, source, reason), n in sorted(pending.items()):
                    stmt = ins(C).values(organization_id=org, source=source, reason=reason, count=n, updated_at=utcnow())
                    s.execute(stmt.on_conflict_do_update(
                        index_elements=[C.organization_id, C.source, C.reason],
                        set_={"count": C.count + n, "updated_at": utcnow()}))
                s.commit()
        except Exception:
            with self._lock:
                for k, n in pending.items():
                    self._pending[k] += n
            raise


_counters: dict[int, Counters] = {}
_counters_lock = threading.Lock()


def counters_for(db: Any) -> Counters:
    """The process's counters for this database."""
    with _counters_lock:
        c = _counters.get(id(db))
        if c is None or c.db is not db:
            c = _counters[id(db)] = Counters(db)
        return c


def read(session: Any, organization_id: str) -> dict[str, Any]:
    """Totals for an organization, plus rejections of senders that were never
    identified (unknown devices, wrong topics, unreadable messages)."""
    rows = session.execute(
        select(IngestCounter.organization_id, IngestCounter.source, IngestCounter.reason, IngestCounter.count)
        .where(IngestCounter.organization_id.in_([organization_id, ""]))
    ).all()
    accepted: dict[str, int] = defaultdict(int)
    rejected: dict[str, int] = defaultdict(int)
    ignored = 0
    by_source: dict[str, dict[str, int]] = defaultdict(dict)
    for org, source, reason, n in rows:
        if reason == "accepted":
            accepted[source] += n
        elif reason.startswith("ignored"):  # no position in it (OwnTracks lwt, /event, ...)
            ignored += n
        else:
            rejected[reason] += n
        by_source[source][reason] = by_source[source].get(reason, 0) + n
    return {"accepted": sum(accepted.values()), "rejected": sum(rejected.values()), "ignored": ignored,
            "rejected_by_reason": dict(sorted(rejected.items())),
            "by_source": {k: dict(sorted(v.items())) for k, v in sorted(by_source.items())}}
