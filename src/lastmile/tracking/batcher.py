"""Group commit for the HTTP ingest: the fixes of concurrent requests in one process
go through the pipeline together, in one transaction.

A phone's request hands its decoded fixes to the process's batcher and waits for
the answer. One thread takes everything that is waiting (up to ``max_fixes``), runs
it through ``pipeline.ingest`` as one batch -- one positions insert, one driver_live
upsert, one ETA pass per route, one commit -- and answers every request with its own
per-fix outcome. Under light load a batch is one request (nothing waits longer than
it would alone); under heavy load batches grow by themselves and the cost per fix
falls, instead of each ping paying for a transaction and its round trips.

If a combined batch fails, each request of it is run again on its own, so one bad
request cannot fail the others. The answer still follows the commit: a 200 means
stored.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from . import pipeline
from .config import TrackingSettings
from .decoders import Fix

log = logging.getLogger("lastmile.tracking.batcher")
IDLE_EXIT_S = 30.0  # the thread ends after this long without work (and starts again on demand)


@dataclass
class _Job:
    items: list[tuple[pipeline.Sender, Fix]]
    cfg: TrackingSettings
    future: Future[pipeline.Outcome] = field(default_factory=Future)


class IngestBatcher:
    def __init__(self, db: Any, counters: Any, *, max_fixes: int = 2000) -> None:
        self.db, self.counters, self.max_fixes = db, counters, max_fixes
        self._jobs: list[_Job] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.batches = 0  # transactions run
        self.requests = 0  # requests answered

    def run(self, items: list[tuple[pipeline.Sender, Fix]], cfg: TrackingSettings,
            timeout: float | None = 120.0) -> pipeline.Outcome:
        """Ingest ``items`` (blocking until committed); the outcome of these items only."""
        return self.submit(items, cfg).result(timeout)

    def submit(self, items: list[tuple[pipeline.Sender, Fix]], cfg: TrackingSettings) -> Future[pipeline.Outcome]:
        job = _Job(items, cfg)
        with self._cond:
            self._jobs.append(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="ingest-batcher", daemon=True)
                self._thread.start()
            self._cond.notify()
        return job.future

    def _take(self) -> list[_Job] | None:
        with self._cond:
            if not self._jobs and not self._cond.wait_for(lambda: bool(self._jobs), IDLE_EXIT_S):
                self._thread = None
                return None
            cfg = self._jobs[0].cfg
            take, n = [], 0
            for job in self._jobs:
                if job.cfg is not cfg or (take and n + len(job.items) > self.max_fixes):
                    break
                take.append(job)
                n += len(job.items)
            del self._jobs[:len(take)]
            return take

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                return
            try:
                self._run(jobs)
            except Exception:  # never let the thread die with requests waiting
                log.exception("ingest batch failed")

    def _run(self, jobs: list[_Job]) -> None:
        try:
            outs = self._ingest(jobs)
        except Exception as exc:
            if len(jobs) == 1:
                jobs[0].future.set_exception(exc)
                return
            log.warning("a batch of %d requests failed (%s); running them one by one", len(jobs), exc)
            for job in jobs:
                self._run([job])
            return
        for job, out in zip(jobs, outs):
            job.future.set_result(out)

    def _ingest(self, jobs: list[_Job]) -> list[pipeline.Outcome]:
        items = [it for job in jobs for it in job.items]
        with self.db.session() as session:
            out = pipeline.ingest(session, items, cfg=jobs[0].cfg)
            session.commit()
        self.batches += 1
        self.requests += len(jobs)
        self.counters.add_many(out.counts)
        outs, k = [], 0
        for job in jobs:
            outs.append(pipeline.Outcome(out.reasons[k:k + len(job.items)]))
            k += len(job.items)
        return outs
