"""Jobs for dispatch, on the shared huey queue."""

from __future__ import annotations

from huey import crontab

from ..jobs.queue import database_from_ref, huey


@huey.task(retries=2, retry_delay=10, context=False)
def run_plan_task(plan_id: str, db: str | None = None) -> str:
    from .service import run_plan

    return run_plan(database_from_ref(db), plan_id)


@huey.periodic_task(crontab(minute="*"), context=False)
def requeue_stale_plans_task() -> list[str]:
    from .service import requeue_stale_plans

    return requeue_stale_plans(database_from_ref(None))
