"""Webhook jobs: deliver after commit, and sweep due retries every minute."""

from __future__ import annotations

from huey import crontab

from ..config import get_settings
from ..jobs.queue import database_from_ref, huey


@huey.task(context=False)
def deliver_webhooks_task(db: str | None = None) -> dict[str, int]:
    from .service import deliver_due

    return deliver_due(database_from_ref(db), get_settings())


@huey.periodic_task(crontab(minute="*"), context=False)
def sweep_webhooks_task() -> dict[str, int]:
    """Retries come due over hours and days; this picks them up."""
    from .service import deliver_due

    return deliver_due(database_from_ref(None), get_settings())
