"""Notification jobs: send after commit, and sweep retries and held messages every minute."""

from __future__ import annotations

from huey import crontab

from ..config import get_settings
from ..jobs.queue import database_from_ref, huey


@huey.task(context=False)
def send_notifications_task(db: str | None = None) -> dict[str, int]:
    from .sender import deliver_due

    return deliver_due(database_from_ref(db), get_settings())


@huey.periodic_task(crontab(minute="*"), context=False)
def sweep_notifications_task() -> dict[str, int]:
    """Retries (backoff) and messages held for quiet hours come due later; this sends them."""
    from .sender import deliver_due

    return deliver_due(database_from_ref(None), get_settings())
