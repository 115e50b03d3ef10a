"""Splitting and merging routes, live or draft, with the moves' machinery (moves.py).

``split`` hands some of a route's remaining stops to another driver: the tail from a
position, or a chosen set of orders, to another route of the same day (or of the same
draft plan), or to a driver on shift who has no route yet (a new route is made from
their shift). ``merge`` is the special case where one driver takes all of another's
remaining stops.

A stop the driver is at is never moved; a locked stop and a started route's next stop
(unless the organization allows displacing it) stay where they are: named explicitly
they make the change infeasible, taken implicitly (a tail, a merge) they are kept and
listed under ``kept``. Stops joining a route that already has stops go each to its
cheapest position; a route that had none takes them in their old order.

Like ``moves.move``, the preview runs the same code in a savepoint that is rolled back,
so it shows the routes exactly as they would be (feasibility with reasons, the change
in time, km, late stops and cost); applying writes them, audit-logs the change and
bumps every changed route (its driver's phone hears of it; a draft's only the consoles).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..errors import Conflict, Invalid, NotFound
from ..fleet.models import Shift
from ..routing.insertion import LivePlan, RouteState
from ..routing.schedule import Timing
from . import live, moves
from .models import Plan, Route

KEEP = ("locked", "next_stop")


def _route(session: Session, p: Principal, route_id: Any, field: str) -> Route:
    r = session.get(Route, str(route_id or ""))
    if r is None or r.organization_id != p.organization_id:
        raise NotFound("route not found", field=field)
    return r


def _scope(session: Session, p: Principal, src: Route, field: str) -> tuple[Plan, list[Route]]:
    """The routes the change may touch: the day's live routes for a published route,
    the plan's routes for a draft one."""
    plan = session.get(Plan, src.plan_id)
    assert plan is not None
    if src.status == "finished":
        raise Conflict("this route is finished", field=field)
    if src.published:
        return plan, moves.day_routes(session, p.organization_id, plan.date)
    moves.draft_plan(session, p.organization_id, plan.id)
    return plan, moves.plan_routes(session, plan.id)


def _new_route(session: Session, p: Principal, plan: Plan, src: Route, scope: list[Route],
               shift_id: Any) -> Route:
    """A route for a driver on shift who has none yet in this day (or draft)."""
    shift = session.get(Shift, str(shift_id or ""))
    if shift is None or shift.organization_id != p.organization_id:
        raise NotFound("shift not found", field="to_shift_id")
    if shift.date != plan.date:
        raise Conflict("that shift is on another day", field="to_shift_id")
    if not shift.available:
        raise Conflict("that driver is marked unavailable", field="to_shift_id")
    for r in scope:
        if r.driver_id == shift.driver_id or r.vehicle_id == shift.vehicle_id or r.shift_id == shift.id:
            raise Conflict("that driver or vehicle already has a route: split to that route", field="to_shift_id")
    route = Route(plan_id=plan.id, organization_id=p.organization_id, vehicle_id=shift.vehicle_id,
                  driver_id=shift.driver_id, shift_id=shift.id, depot_id=src.depot_id, depart_at=shift.start_at,
                  arrive_at=shift.start_at, distance_m=0, duration_s=0, published=src.published, status="planned",
                  version=0)
    session.add(route)
    session.flush()
    return route


def _reason(code: str, en: str, es: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": en, "message_es": es, **extra}


def _place(ld: moves.LiveDay, target_id: str, base: tuple[str, ...], moving: list[str],
           reasons: list[dict[str, Any]]) -> tuple[str, ...]:
    """The target's new sequence: ``moving`` in order on an empty route, else each
    stop at its cheapest position (the end when none keeps everyone on time)."""
    if not base:
        return tuple(moving)
    seq = list(base)
    rl = ld.routes[target_id]
    for oid in moving:
        st = RouteState(ld.ctx, target_id, tuple(seq), depart=rl.depart, min_position=rl.min_position,
                        objective=ld.objective)
        choice = LivePlan(ld.ctx, {target_id: st}).insert(oid)
        if choice is None:
            seq.append(oid)
            reasons.append(_reason("no_position", f"order {oid}: no position keeps every stop on time",
                                   f"pedido {oid}: ninguna posición mantiene todas las paradas a tiempo",
                                   order_id=oid))
        else:
            seq.insert(choice.position, oid)
    return tuple(seq)


def _worse(before: Timing, after: Timing) -> Timing:
    """What the change breaks on a route: stops late that were not (or later), more
    overtime, breaks missed, capacity exceeded."""
    was = {x.stop_id: x.late_s for x in before.late}
    late = tuple(x for x in after.late if x.late_s > was.get(x.stop_id, 0))
    over = after.overtime_s if after.overtime_s > max(before.overtime_s, 0) else 0
    missed = tuple(b for b in after.missed_breaks if b not in before.missed_breaks)
    overload = tuple(x for x in after.overload if x not in before.overload)
    return Timing(after.route, late, over, missed, overload)


def _run(session: Session, p: Principal, kind: str, body: dict[str, Any], *, apply: bool,
         now: datetime) -> dict[str, Any]:
    if kind == "merge":
        taker = _route(session, p, body.get("route_id"), "route_id")
        src = _route(session, p, body.get("from_route_id"), "from_route_id")
        if taker.id == src.id:
            raise Invalid("a route cannot be merged into itself", field="from_route_id")
    else:
        src = _route(session, p, body.get("route_id"), "route_id")
        taker = None
    plan, scope = _scope(session, p, src, "route_id")
    ids = {r.id for r in scope}
    if src.id not in ids:
        raise Conflict("that route is not live", field="route_id")
    if kind == "split":
        if (body.get("to_route_id") is None) == (body.get("to_shift_id") is None):
            raise Invalid("give either to_route_id or to_shift_id", field="to_route_id")
        if body.get("to_route_id") is not None:
            taker = _route(session, p, body["to_route_id"], "to_route_id")
            if taker.id == src.id:
                raise Invalid("a route cannot be split into itself", field="to_route_id")
        else:
            taker = _new_route(session, p, plan, src, scope, body.get("to_shift_id"))
            scope = [*scope, taker]
            ids.add(taker.id)
    assert taker is not None
    if taker.id not in ids:
        raise Conflict("both routes must be live on the same day, or of the same draft plan",
                       field="to_route_id" if kind == "split" else "route_id")
    ld = moves.load_day(session, p.organization_id, plan.date, now=now, routes=scope)
    rl, tl = ld.routes[src.id], ld.routes[taker.id]
    reasons: list[dict[str, Any]] = []
    kept: list[str] = []
    fixed = set(rl.seq[:rl.min_position])
    # which stops go
    explicit = kind == "split" and body.get("order_ids") is not None
    if kind == "split" and (body.get("order_ids") is None) == (body.get("from_position") is None):
        raise Invalid("give either order_ids or from_position", field="order_ids")
    if explicit:
        wanted = list(dict.fromkeys(str(x) for x in body["order_ids"]))
        on_route = set(rl.seq)
        for oid in wanted:
            if oid not in on_route:
                st = rl.stop_of(oid)
                if st is not None and st.status == "arrived":
                    raise Conflict(f"the driver is at the stop of order {oid}", field="order_ids")
                raise Invalid(f"order {oid} is not among the route's remaining stops", field="order_ids")
        candidates = [oid for oid in rl.seq if oid in set(wanted)]
    elif kind == "split":
        head = sum(1 for s in rl.stops if s.status in moves.STOP_FINAL or s.status == "arrived")
        start = max(0, int(body["from_position"]) - 1 - head)
        candidates = list(rl.seq[start:])
    else:
        candidates = list(rl.seq)
    moving: list[str] = []
    for oid in candidates:
        why = "locked" if oid in rl.locked else "next_stop" if oid in fixed else None
        if why is None:
            moving.append(oid)
        elif explicit:
            reasons.append(_reason(why, f"order {oid}: " + ("the stop is locked" if why == "locked"
                                                             else "the driver is already heading there"),
                                   f"pedido {oid}: " + ("la parada está fijada" if why == "locked"
                                                        else "el chofer ya va en camino"), order_id=oid))
        else:
            kept.append(oid)
    if not moving and not reasons:
        raise Conflict("no stop of that route can move", field="route_id")
    veh = ld.ctx.vehicles[taker.id]
    for oid in moving:
        if not ld.ctx.can_serve(veh, ld.ctx.stops[oid]):
            reasons.append(_reason("skill", f"order {oid} needs a skill the other vehicle or driver lacks",
                                   f"el pedido {oid} requiere una habilidad que el otro vehículo o chofer no tiene",
                                   order_id=oid))
    new = {src.id: tuple(x for x in rl.seq if x not in set(moving)),
           taker.id: _place(ld, taker.id, tl.seq, moving, reasons)}
    delta, timings = moves.delta_of(ld, new)
    reasons += moves._reasons(ld, _worse(ld.timing(taker.id, tl.seq), timings[taker.id]), taker.id)
    feasible = not reasons
    force = bool(body.get("force"))
    out: dict[str, Any] = {"feasible": feasible, "reasons": reasons, "delta": delta, "moved": moving, "kept": kept,
                           "route_ids": [src.id, taker.id], "draft": not src.published}
    if apply and not feasible and not force:
        codes = ", ".join(sorted({r["code"] for r in reasons}))
        raise Conflict(f"the {kind} is not feasible ({codes}); send force: true to apply it anyway",
                       field="route_id")
    before = {rid: list(ld.routes[rid].seq) for rid in new}
    moves.apply_sequences(session, ld, new, at=now, actor=p, reason=kind)
    if apply:
        from ..auth.service import record_audit

        record_audit(session, p, f"route.{kind}", "route", src.id, {"routes": before},
                     {"routes": {rid: list(seq) for rid, seq in new.items()}, "forced": force and not feasible,
                      **({"new_route_id": taker.id} if body.get("to_shift_id") else {})})
        if body.get("to_shift_id"):
            out["new_route_id"] = taker.id
    out["routes"] = [live.route_view(session, ld.routes[rid].route) for rid in new]
    return out


def reshape(session: Session, p: Principal, kind: str, body: dict[str, Any], *, apply: bool,
            now: datetime | None = None) -> dict[str, Any]:
    """Preview (nothing stored) or apply a split or a merge."""
    now = now or moves.clock()
    if apply:
        return _run(session, p, kind, body, apply=True, now=now)
    sp = session.begin_nested()
    try:
        return _run(session, p, kind, body, apply=False, now=now)
    finally:
        sp.rollback()
        session.expire_all()


def shifts_free(session: Session, organization_id: str, day: Any, plan_id: str | None = None) -> list[dict[str, Any]]:
    """Drivers on shift that day (and available) with no live route yet -- or, with
    ``plan_id``, no route in that draft plan: who a route can be split to."""
    from ..fleet.models import Driver, Vehicle

    q = select(Route.shift_id, Route.driver_id).join(Plan, Plan.id == Route.plan_id).where(
        Route.organization_id == organization_id, Plan.date == day, Route.status != "finished")
    q = q.where(Route.plan_id == plan_id) if plan_id else q.where(Route.published.is_(True))
    rows_taken = session.execute(q).all()
    taken = {x for x, _ in rows_taken if x} | {d for _, d in rows_taken if d}
    rows = session.execute(
        select(Shift, Driver.name, Vehicle.name).join(Driver, Driver.id == Shift.driver_id)
        .join(Vehicle, Vehicle.id == Shift.vehicle_id)
        .where(Shift.organization_id == organization_id, Shift.date == day, Shift.available.is_(True))
        .order_by(Shift.start_at, Shift.id)).all()
    return [{"shift_id": sh.id, "driver_id": sh.driver_id, "driver_name": dn, "vehicle_id": sh.vehicle_id,
             "vehicle_name": vn, "depot_id": sh.depot_id, "start_at": moves.live._iso(sh.start_at),
             "end_at": moves.live._iso(sh.end_at)} for sh, dn, vn in rows
            if sh.id not in taken and sh.driver_id not in taken]
