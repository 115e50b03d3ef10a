"""Order housekeeping jobs."""

from __future__ import annotations

from datetime import timedelta

from huey import crontab
from sqlalchemy import delete

from ..jobs.queue import database_from_ref, huey
from ..kit.time import utcnow
from .models import IdempotencyKey

IDEMPOTENCY_KEEP = timedelta(hours=48)  # retries come within minutes; a day's batch within hours


def purge_idempotency_keys(db, now=None) -> int:  # type: ignore[no-untyped-def]
    now = now or utcnow()
    with db.session() as s:
        n = s.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - IDEMPOTENCY_KEEP)).rowcount
        s.commit()
    return int(n or 0)


@huey.periodic_task(crontab(minute="17"), context=False)
def purge_idempotency_keys_task() -> int:
    return purge_idempotency_keys(database_from_ref(None))
