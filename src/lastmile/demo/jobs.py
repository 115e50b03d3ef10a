"""The job queue, worked at simulated time (headless): the same huey queue and tasks
``lastmile worker`` runs, dequeued and executed in this process after every step of the
day, and the periodic tasks (notification sweeps, stale plans) read at the simulated
minute. Live demos run the real ``lastmile worker`` process instead."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

log = logging.getLogger("lastmile.demo.jobs")


def register_tasks() -> None:
    """Every task module, as ``lastmile worker`` imports them."""
    import lastmile.dispatch.tasks  # noqa: F401
    import lastmile.notifications.tasks  # noqa: F401
    import lastmile.orders.tasks  # noqa: F401
    import lastmile.webhooks.tasks  # noqa: F401


class StepWorker:
    def __init__(self, periodic_every_s: int = 600) -> None:
        register_tasks()
        self.periodic_every_s = periodic_every_s
        from ..jobs.queue import huey

        self.huey = huey
        self.executed = 0
        self.failed = 0
        self._last_minute: datetime | None = None
        self._lock = threading.Lock()

    def drain(self, now: datetime | None = None, limit: int = 10_000) -> int:
        """Run every queued task, and the periodic ones (sweeps) every
        ``periodic_every_s`` simulated seconds -- each minute, as the consumer does in
        real time, would be ~700 sweeps a day at full speed. Returns how many ran."""
        with self._lock:
            ran = 0
            if now is not None:
                minute = now.astimezone(UTC).replace(second=0, microsecond=0, tzinfo=None)
                if self._last_minute is None or (minute - self._last_minute).total_seconds() >= self.periodic_every_s:
                    self._last_minute = minute
                    for task in self.huey.read_periodic(minute):
                        ran += self._run(task)
            while ran < limit:
                task = self.huey.dequeue()
                if task is None:
                    break
                ran += self._run(task)
            return ran

    def _run(self, task: object) -> int:
        try:
            self.huey.execute(task)
        except Exception:  # huey records and retries failures itself; keep the day going
            self.failed += 1
            log.exception("job %s failed", task)
        self.executed += 1
        return 1
