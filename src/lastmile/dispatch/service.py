"""Plans: create (enqueue the optimization job after commit), run, publish."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..auth.service import record_audit
from ..db import Database
from ..depots.models import Depot
from ..errors import Conflict, Invalid
from ..kit.time import utcnow
from ..kit.web import snapshot
from ..orders.models import Order
from ..orders.service import transition
from .models import Plan, Route, RouteStop
from .problem import build_problem, store_plan
from .schemas import PlanCreate

log = logging.getLogger("lastmile.dispatch")
Solver = Callable[..., Any]


def create_plan(session: Session, p: Principal, body: PlanCreate, database_url: str) -> Plan:
    found = set(session.scalars(select(Depot.id).where(Depot.organization_id == p.organization_id,
                                                       Depot.id.in_(body.depot_ids))))
    missing = [x for x in body.depot_ids if x not in found]
    if missing:
        raise Invalid(f"depot {missing[0]} does not exist", field="depot_ids")
    plan = Plan(
        organization_id=p.organization_id, date=body.date, depot_ids=list(dict.fromkeys(body.depot_ids)),
        options=body.options.model_dump(), created_by=p.id,
    )
    session.add(plan)
    session.flush()
    record_audit(session, p, "plan.create", "plan", plan.id, None, snapshot(plan))
    from ..jobs.queue import after_commit, db_ref
    from .tasks import run_plan_task

    after_commit(session, run_plan_task, plan.id, db_ref(database_url))
    return plan


def run_plan(db: Database, plan_id: str, solver: Solver | None = None) -> str:
    """The job: build the problem, solve with progress, store routes. Returns the final status."""
    from ..routing.domain import Objective, Options

    if solver is None:
        from functools import partial

        from ..config import get_settings
        from ..learn.live import learned_travel
        from ..routing.matrix.profiles import profile_named
        from ..routing.solve import solve

        with db.session() as ls:  # travel times learned from history, when a model exists
            learned = learned_travel(ls)
        # the time-of-day model and the border (bridges, cross-border skill), as ETAs use
        solver = partial(solve, traffic=profile_named(get_settings().traffic_profile), learned=learned)
    with db.session() as s:  # claim it atomically: a duplicate or retried job does nothing
        claimed = s.execute(
            update(Plan).where(Plan.id == plan_id, Plan.status.in_(("queued", "failed")))
            .values(status="running", started_at=utcnow(), progress=0.0, message="starting")
        ).rowcount
        s.commit()
        if claimed != 1:
            return s.scalar(select(Plan.status).where(Plan.id == plan_id)) or "missing"
    try:
        with db.session() as s:
            plan = s.get(Plan, plan_id)
            assert plan is not None
            built = build_problem(s, plan)
            opts = plan.options
            s.rollback()  # release the read transaction during the solve
        last = [0.0]

        def progress(fraction: float, message: str = "") -> None:
            now = time.monotonic()
            if now - last[0] < 0.5 and fraction < 1.0:
                return
            last[0] = now
            with db.session() as ps:
                ps.execute(update(Plan).where(Plan.id == plan_id).values(
                    progress=max(0.0, min(1.0, float(fraction))), message=str(message)[:500]))
                ps.commit()

        options = Options(objective=Objective(opts.get("objective", "cost")), balance=opts.get("balance", 0.0),
                          time_limit_s=opts.get("time_limit_s", 10.0), seed=opts.get("seed", 0))
        if built.problem.stops and built.problem.vehicles:
            result = solver(built.problem, options=options, progress=progress)
        else:
            result = None
        with db.session() as s:
            plan = s.get(Plan, plan_id)
            assert plan is not None
            if result is not None:
                store_plan(s, plan, built, result)
                plan.message = "done"
            else:
                plan.stats = {"routes": 0, "assigned": 0, "unassigned": len(built.problem.stops)}
                plan.unassigned = [{"order_id": st.id, "reason": "no vehicle is on shift", "code": "shift"}
                                   for st in built.problem.stops]
                plan.message = "nothing to plan" if not built.problem.stops else "no vehicle is on shift"
            plan.status, plan.progress, plan.finished_at = "done", 1.0, utcnow()
            s.commit()
        return "done"
    except Exception as e:
        log.exception("plan %s failed", plan_id)
        with db.session() as s:
            s.execute(update(Plan).where(Plan.id == plan_id).values(
                status="failed", finished_at=utcnow(), message=f"optimization failed: {str(e)[:300]}"))
            s.commit()
        return "failed"


def publish_plan(session: Session, p: Principal, plan: Plan) -> Plan:
    if plan.status != "done":
        raise Conflict(f"a plan that is {plan.status} cannot be published", field="status")
    before = snapshot(plan)
    # routes of earlier published plans for the same day and depots stop being live
    others = select(Plan.id).where(Plan.organization_id == plan.organization_id, Plan.date == plan.date,
                                   Plan.id != plan.id, Plan.status == "published")
    for other in session.scalars(select(Plan).where(Plan.id.in_(others))):
        if set(other.depot_ids) & set(plan.depot_ids):
            session.execute(update(Route).where(Route.plan_id == other.id).values(published=False))
            other.status = "done"
    session.execute(update(Route).where(Route.plan_id == plan.id).values(published=True))
    order_ids = session.scalars(
        select(RouteStop.order_id).join(Route, Route.id == RouteStop.route_id).where(Route.plan_id == plan.id)
    )
    for order in session.scalars(select(Order).where(Order.id.in_(list(order_ids))).order_by(Order.id)):
        if order.status in ("pending", "assigned"):
            transition(session, p, order, "assigned")
    plan.status, plan.published_at = "published", utcnow()
    session.flush()
    record_audit(session, p, "plan.publish", "plan", plan.id, before, snapshot(plan))
    return plan


def requeue_stale_plans(db: Database, older_than_s: int = 120) -> list[str]:
    """Plans still queued after a while (their job was lost, e.g. the queue was down
    at commit): enqueue them again. Running the job twice is harmless (see run_plan)."""
    from datetime import timedelta

    from .tasks import run_plan_task

    with db.session() as s:
        ids = list(s.scalars(select(Plan.id).where(
            Plan.status == "queued", Plan.created_at < utcnow() - timedelta(seconds=older_than_s))))
    for plan_id in ids:
        run_plan_task(plan_id)
    return ids
