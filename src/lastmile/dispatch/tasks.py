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


@huey.task(retries=1, retry_delay=5, context=False)
def propose_new_order_task(order_id: str, db: str | None = None) -> str | None:
    """Insertion proposal for a new order on a big live day (see proposals.on_new_order)."""
    from ..orders.models import Order
    from .proposals import on_new_order

    with database_from_ref(db).session() as s:
        order = s.get(Order, order_id)
        prop = on_new_order(s, order, inline=True) if order is not None else None
        s.commit()
        return prop.id if prop is not None else None
