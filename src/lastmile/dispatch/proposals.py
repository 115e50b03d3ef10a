"""Dynamic re-optimization: what to change in the live routes when the day changes.

Triggers (see listeners.py and the endpoints): a new order for a day with live routes
(cheapest feasible insertion; applied at once when the organization's policy says so
and nothing becomes late), a cancellation (the stop comes off, the route is re-timed,
a re-sequence is proposed if it saves time), a failed attempt (a reattempt later today
if a route can take it, else the next service day), a driver unavailable (the
remaining stops spread over other routes, showing which would be late), a driver
falling behind (``on_late``, called by the ETA work: move late stops to routes that
can take them on time).

A proposal stores the new sequences of the routes it changes and each route's version
when proposed; applying it after any of them changed is refused (409). Summaries in
Spanish and English. Every new or decided proposal is broadcast on ``org:``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..errors import Conflict
from ..fleet.models import Driver
from ..kit.broadcast import publish_after_commit
from ..kit.time import utcnow
from ..orders.models import Order
from ..routing import domain as d
from ..routing.insertion import LivePlan, RouteState
from . import live, moves
from .models import STOP_FINAL, DispatchPolicy, Proposal, Route, RouteStop
from .moves import LiveDay, apply_sequences, current_stop, day_routes, delta_of, load_day, write_route

log = logging.getLogger("lastmile.dispatch.proposals")
REATTEMPT_AFTER_S = 3600  # a reattempt today comes at least an hour after the failure
MIN_SAVING_S = 120  # propose a re-sequence only if it saves at least this
INLINE_MAX_STOPS = 200  # bigger days propose new-order insertions from a job


def policy_for(session: Session, organization_id: str) -> DispatchPolicy:
    """The organization's policy; defaults (nothing automatic) when none is stored."""
    pol = session.get(DispatchPolicy, organization_id)
    if pol is None:
        pol = DispatchPolicy(organization_id=organization_id, auto_apply_insertions=False, allow_next_stop=False,
                             slot_template={})
    return pol


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def to_json(p: Proposal) -> dict[str, Any]:
    return {"id": p.id, "kind": p.kind, "trigger": p.trigger, "subject_id": p.subject_id,
            "date": p.date.isoformat(), "created_at": _iso(p.created_at), "status": p.status,
            "summary": p.summary, "delta": p.delta, "changes": p.changes, "versions": p.versions,
            "decided_at": _iso(p.decided_at), "decided_by": p.decided_by}


def _broadcast(session: Session, p: Proposal) -> None:
    publish_after_commit(session, f"org:{p.organization_id}", {"type": "proposal", **to_json(p)})


def _who(session: Session, route: Route) -> str:
    drv = session.get(Driver, route.driver_id) if route.driver_id else None
    return drv.name if drv is not None else route.id


def _ref(o: Order) -> str:
    return o.reference or o.id


def _fmt(delta: dict[str, Any]) -> tuple[str, str]:
    mins = round(delta["duration_s"] / 60)
    km = delta["distance_m"] / 1000
    return f"{mins:+d} min, {km:+.1f} km", f"{mins:+d} min, {km:+.1f} km"


def create(session: Session, ld: LiveDay, *, kind: str, trigger: str, subject_id: str,
           new: dict[str, tuple[str, ...]], en: str, es: str, extra: dict[str, Any] | None = None,
           auto: bool = False, actor: str = "system") -> Proposal:
    delta, timings = delta_of(ld, new)
    late = sorted({x.stop_id for rid in new for x in timings[rid].late})
    delta = {**delta, "late_order_ids": late, **(extra or {})}
    # what each route looked like when proposed: apply() accepts a route that has only
    # progressed since (stops reached or done), not one that was changed (see _rebase)
    delta["base"] = {rid: {"seq": list(ld.routes[rid].seq), "locked": sorted(ld.routes[rid].locked)}
                     for rid in new if rid in ld.routes}
    prop = Proposal(organization_id=ld.routes[next(iter(new))].route.organization_id if new else "",
                    date=ld.day, kind=kind, trigger=trigger, subject_id=subject_id, status="open",
                    summary={"en": en, "es": es}, delta=delta,
                    changes=[{"route_id": rid, "order_ids": list(seq)} for rid, seq in new.items()],
                    versions={rid: ld.routes[rid].route.version for rid in new}, decided_by="")
    session.add(prop)
    session.flush()
    if auto:
        apply_sequences(session, ld, new, at=moves.clock(), actor=actor, reason=kind)
        prop.status, prop.decided_at, prop.decided_by = "applied", utcnow(), "policy"
        session.flush()
    _broadcast(session, prop)
    return prop


def _open_exists(session: Session, organization_id: str, kind: str, subject_id: str) -> bool:
    return session.scalar(select(Proposal.id).where(
        Proposal.organization_id == organization_id, Proposal.kind == kind, Proposal.subject_id == subject_id,
        Proposal.status == "open").limit(1)) is not None


# --- triggers --------------------------------------------------------------------


def on_new_order(session: Session, order: Order, *, now: datetime | None = None, inline: bool | None = None
                 ) -> Proposal | None:
    """A new order for a day with live routes: the cheapest feasible insertion. On a big
    day (more than INLINE_MAX_STOPS live stops) the work goes to a job after commit, so
    that creating or importing orders stays fast."""
    if order.status != "pending" or current_stop(session, order.id) is not None:
        return None
    routes = [r for r in day_routes(session, order.organization_id, order.date) if r.depot_id == order.depot_id]
    if not routes:
        return None
    if inline is None:
        from sqlalchemy import func

        n = session.scalar(select(func.count()).select_from(RouteStop).where(
            RouteStop.route_id.in_([r.id for r in routes]), RouteStop.status.not_in(STOP_FINAL))) or 0
        if n > INLINE_MAX_STOPS:
            from ..jobs.queue import after_commit, db_ref
            from .tasks import propose_new_order_task

            url = session.get_bind().url.render_as_string(hide_password=False)
            after_commit(session, propose_new_order_task, order.id, db_ref(url))
            return None
    ld = load_day(session, order.organization_id, order.date, now=now, extra=[order], routes=routes)
    choice = ld.plan.insert(order.id)
    if choice is None:
        log.info("order %s fits no live route", order.id)
        return None
    seq = list(ld.routes[choice.vehicle_id].seq)
    seq.insert(choice.position, order.id)
    new = {choice.vehicle_id: tuple(seq)}
    route = ld.routes[choice.vehicle_id].route
    who, stop_no = _who(session, route), choice.position + 1 + _head(ld, choice.vehicle_id)
    delta, _ = delta_of(ld, new)
    en_d, es_d = _fmt(delta)
    auto = policy_for(session, order.organization_id).auto_apply_insertions and delta["late_stops"] <= 0
    return create(session, ld, kind="insert", trigger="order.created", subject_id=order.id, new=new,
                  en=f"Insert new order {_ref(order)} into {who}'s route as stop {stop_no}: {en_d}",
                  es=f"Insertar el pedido nuevo {_ref(order)} en la ruta de {who} como parada {stop_no}: {es_d}",
                  auto=auto)


def _head(ld: LiveDay, route_id: str) -> int:
    return sum(1 for s in ld.routes[route_id].stops if s.status in STOP_FINAL or s.status == "arrived")


def on_cancelled(session: Session, order: Order, *, actor: str = "system", now: datetime | None = None
                 ) -> Proposal | None:
    """Take a cancelled order's stop off its live route, re-time it, and propose a
    re-sequence of the rest if that saves time."""
    stop = current_stop(session, order.id)
    if stop is None:
        return None
    now = now or moves.clock()
    route = session.get(Route, stop.route_id)
    assert route is not None
    live.mark_stop(session, stop, "skipped", at=now, actor=actor, reason="cancelled")
    session.flush()
    ld = load_day(session, order.organization_id, order.date, now=now, routes=[route])
    rl = ld.routes[route.id]
    write_route(session, ld, route.id, rl.seq)
    better = improve(ld, route.id)
    if better is None:
        return None
    new = {route.id: better}
    delta, _ = delta_of(ld, new)
    if -delta["duration_s"] < MIN_SAVING_S:
        return None
    en_d, es_d = _fmt(delta)
    who = _who(session, route)
    return create(session, ld, kind="resequence", trigger="order.cancelled", subject_id=route.id, new=new,
                  en=f"Order {_ref(order)} was cancelled: re-sequence {who}'s remaining stops ({en_d})",
                  es=f"Se canceló el pedido {_ref(order)}: reordenar las paradas restantes de {who} ({es_d})")


def improve(ld: LiveDay, route_id: str, rounds: int = 2) -> tuple[str, ...] | None:
    """Relocate each movable stop to its best place on the same route (fixed next stop
    and locked stops stay put); None when nothing improves."""
    rl = ld.routes[route_id]
    seq = list(rl.seq)
    best_t = ld.timing(route_id, seq)
    if not best_t.ok:
        return None
    best_cost = ld.cost(route_id, best_t)
    changed = False
    for _ in range(rounds):
        moved = False
        for oid in list(seq):
            i = seq.index(oid)
            if oid in rl.locked or i < rl.min_position:
                continue
            rest = seq[:i] + seq[i + 1:]
            locked_pos = {x: k for k, x in enumerate(rest) if x in rl.locked}
            st = RouteState(ld.ctx, route_id, rest, depart=rl.depart, min_position=rl.min_position,
                            objective=ld.objective)
            choice = LivePlan(ld.ctx, {route_id: st}).insert(oid)
            if choice is None or choice.position == i:
                continue
            trial = rest[:choice.position] + [oid] + rest[choice.position:]
            if any(trial.index(x) != seq.index(x) for x in locked_pos):
                continue
            if choice.timing.ok and ld.cost(route_id, choice.timing) < best_cost - 1:
                seq, best_cost, moved, changed = trial, ld.cost(route_id, choice.timing), True, True
        if not moved:
            break
    return tuple(seq) if changed else None


def on_failed(session: Session, order: Order, route_id: str | None = None, *, now: datetime | None = None
              ) -> Proposal | None:
    """A failed attempt: a reattempt later today if a live route can take it, else the
    reattempt policy (the next service day)."""
    if order.status != "failed":
        return None
    now = now or moves.clock()
    routes = [r for r in day_routes(session, order.organization_id, order.date) if r.depot_id == order.depot_id]
    if routes:
        ld = load_day(session, order.organization_id, order.date, now=now, routes=routes, extra=[order])
        s = ld.ctx.stops[order.id]
        earliest = ld.now_s + REATTEMPT_AFTER_S
        windows = tuple(d.TimeWindow(max(w.start, earliest), w.end) for w in s.windows if w.end >= earliest)
        if windows or not s.windows:
            later = windows or (d.TimeWindow(earliest, 10**7),)
            ld = load_day(session, order.organization_id, order.date, now=now, routes=routes,
                          extra_stops=(d.Stop(order.id, s.location, s.service_s, s.demand, later, s.kind, s.skills),))
            choice = ld.plan.insert(order.id)
            if choice is not None:
                seq = list(ld.routes[choice.vehicle_id].seq)
                seq.insert(choice.position, order.id)
                new = {choice.vehicle_id: tuple(seq)}
                route = ld.routes[choice.vehicle_id].route
                at = choice.timing.route.visits
                eta = next((v.arrival for v in at if v.ref == order.id), None)
                when = ld.at(eta).astimezone(ZoneInfo(ld.zone)).strftime("%H:%M") if eta else ""
                who = _who(session, route)
                delta, _ = delta_of(ld, new)
                en_d, es_d = _fmt(delta)
                return create(session, ld, kind="reattempt", trigger="stop.failed", subject_id=order.id, new=new,
                              en=f"Reattempt order {_ref(order)} today around {when} with {who} ({en_d})",
                              es=f"Reintentar el pedido {_ref(order)} hoy hacia las {when} con {who} ({es_d})",
                              extra={"reattempt": "today", "order_id": order.id})
    nxt = next_service_day(order.date)
    prop = Proposal(organization_id=order.organization_id, date=order.date, kind="reattempt", trigger="stop.failed",
                    subject_id=order.id, status="open",
                    summary={"en": f"No route can reattempt order {_ref(order)} today: reschedule it for {nxt.isoformat()}",
                             "es": f"Ninguna ruta puede reintentar el pedido {_ref(order)} hoy: reprogramarlo para el {nxt.isoformat()}"},
                    delta={"duration_s": 0, "distance_m": 0, "late_stops": 0, "cost": 0, "late_order_ids": [],
                           "reattempt": "next_day", "order_id": order.id, "date": nxt.isoformat()},
                    changes=[], versions={}, decided_by="")
    session.add(prop)
    session.flush()
    _broadcast(session, prop)
    return prop


def next_service_day(day: date) -> date:
    from ..orders.service import next_service_day as nxt  # one rule for every reattempt (no Sunday service)

    return nxt(day)


def redistribute(session: Session, route: Route, *, now: datetime | None = None, trigger: str = "route.unavailable"
                 ) -> Proposal | None:
    """The driver is unavailable: spread the route's remaining stops over the other live
    routes of the day (cheapest feasible insertion each); stops no route can take on
    time go where they would be least late, and are listed as late."""
    now = now or moves.clock()
    plan_date = _route_date(session, route)
    routes = [r for r in day_routes(session, route.organization_id, plan_date)]
    if route not in routes:
        routes.append(route)
    ld = load_day(session, route.organization_id, plan_date, now=now, routes=routes)
    rl = ld.routes[route.id]
    todo = [oid for oid in rl.seq if oid not in rl.locked]  # locked stops stay for the dispatcher
    kept = tuple(oid for oid in rl.seq if oid in rl.locked)
    if not todo:
        return None
    others = {rid: r.seq for rid, r in ld.routes.items() if rid != route.id}
    if not others:
        return None
    plan = LivePlan.of(ld.ctx, others, departs={rid: ld.routes[rid].depart for rid in others},
                       min_positions={rid: ld.routes[rid].min_position for rid in others}, objective=ld.objective)
    late: list[str] = []
    for oid in todo:
        choice = plan.insert(oid)
        if choice is not None:
            seq = list(plan.states[choice.vehicle_id].seq)
            seq.insert(choice.position, oid)
            plan.update(choice.vehicle_id, seq, timing=choice.timing)
            continue
        # nobody can take it on time: the route where it would be least late (at the end)
        best = None
        for rid, st in plan.states.items():
            if not ld.ctx.can_serve(st.vehicle, ld.ctx.stops[oid]):
                continue
            trial = tuple(st.seq) + (oid,)
            tm = ld.timing(rid, trial)
            score = (len(tm.late), sum(x.late_s for x in tm.late) + max(0, tm.overtime_s))
            if best is None or score < best[0]:
                best = (score, rid, trial)
        if best is None:
            late.append(oid)
            continue
        plan.update(best[1], best[2])
        late.append(oid)
    new = {rid: st.seq for rid, st in plan.states.items() if st.seq != ld.routes[rid].seq}
    new[route.id] = kept
    who = _who(session, route)
    n_late = len(late)
    en = f"{who} is unavailable: move {len(todo)} remaining stops to {len(new) - 1} other routes"
    es = f"{who} no está disponible: pasar {len(todo)} paradas restantes a {len(new) - 1} rutas"
    if n_late:
        en += f"; {n_late} would be late or unserved"
        es += f"; {n_late} llegarían tarde o sin servicio"
    if kept:
        en += f"; {len(kept)} locked stops stay on the route"
        es += f"; {len(kept)} paradas fijadas se quedan en la ruta"
    return create(session, ld, kind="redistribute", trigger=trigger, subject_id=route.id, new=new, en=en, es=es,
                  extra={"unplaced_order_ids": late, "kept_locked_order_ids": list(kept)})


def on_late(session: Session, route: Route, late_stops: list[str], *, now: datetime | None = None) -> Proposal | None:
    """The driver is falling behind (the ETA work predicts ``late_stops``, order ids or
    route stop ids): propose moving late stops to routes that can take them on time."""
    if _open_exists(session, route.organization_id, "behind", route.id):
        return None
    now = now or moves.clock()
    plan_date = _route_date(session, route)
    routes = day_routes(session, route.organization_id, plan_date)
    if route not in routes:
        return None
    ld = load_day(session, route.organization_id, plan_date, now=now, routes=routes)
    rl = ld.routes[route.id]
    ids = {s.id: s.order_id for s in rl.stops}
    wanted = [ids.get(x, x) for x in late_stops]
    movable = [oid for oid in wanted if oid in rl.seq and oid not in rl.locked
               and not (rl.min_position and rl.seq and rl.seq[0] == oid)]
    if not movable:
        return None
    others = {rid: r.seq for rid, r in ld.routes.items() if rid != route.id}
    plan = LivePlan.of(ld.ctx, others, departs={rid: ld.routes[rid].depart for rid in others},
                       min_positions={rid: ld.routes[rid].min_position for rid in others}, objective=ld.objective)
    moved = []
    for oid in movable:
        choice = plan.insert(oid)
        if choice is None:
            continue
        seq = list(plan.states[choice.vehicle_id].seq)
        seq.insert(choice.position, oid)
        plan.update(choice.vehicle_id, seq, timing=choice.timing)
        moved.append(oid)
    if not moved:
        return None
    new = {rid: st.seq for rid, st in plan.states.items() if st.seq != ld.routes[rid].seq}
    new[route.id] = tuple(x for x in rl.seq if x not in moved)
    who = _who(session, route)
    refs = ", ".join(_ref(ld.orders[x]) for x in moved[:5])
    return create(session, ld, kind="behind", trigger="eta.late", subject_id=route.id, new=new,
                  en=f"{who} is running late: hand over {len(moved)} stops ({refs}) to other drivers",
                  es=f"{who} va retrasado: pasar {len(moved)} paradas ({refs}) a otros choferes",
                  extra={"moved_order_ids": moved})


def _route_date(session: Session, route: Route) -> date:
    from .models import Plan

    plan = session.get(Plan, route.plan_id)
    assert plan is not None
    return plan.date


# --- decisions ---------------------------------------------------------------------


def apply(session: Session, p: Principal, prop: Proposal, *, now: datetime | None = None) -> Proposal:
    if prop.status != "open":
        raise Conflict(f"this proposal is {prop.status}", field="status")
    now = now or moves.clock()
    routes, drifted = [], []
    for rid, version in (prop.versions or {}).items():
        r = session.get(Route, rid, with_for_update=True)
        if r is None or not r.published or r.status == "finished":
            raise Conflict(ROUTES_CHANGED, field="version")
        if r.version != version:
            drifted.append(rid)
        routes.append(r)
    if prop.kind == "reattempt" and prop.delta.get("reattempt") == "next_day":
        from ..orders.service import reattempt_on

        order = session.get(Order, prop.subject_id, with_for_update=True)
        if order is None or order.status != "failed":
            raise Conflict("the order is no longer failed; the proposal is stale", field="status")
        reattempt_on(session, p, order, date.fromisoformat(prop.delta["date"]), "reattempt next service day")
    elif routes:
        placed = {oid for ch in prop.changes for oid in ch["order_ids"]}
        base = (prop.delta or {}).get("base") or {}  # the drifted routes as proposed
        if drifted:  # stops reached or done meanwhile on a drifted route: _rebase checks and drops them
            was_on = {o for rid in drifted for o in (base.get(rid) or {}).get("seq", [])}
            placed -= set(session.scalars(select(RouteStop.order_id).where(
                RouteStop.route_id.in_(drifted), RouteStop.order_id.in_(list(placed & was_on)),
                RouteStop.status.in_(PROGRESS))))
        extra = []
        for oid in placed:
            if current_stop(session, oid) is None:
                o = session.get(Order, oid, with_for_update=True)
                if o is None:
                    raise Conflict("an order of this proposal is gone", field="changes")
                if o.date != prop.date:  # rescheduled meanwhile (e.g. the next-day reattempt policy)
                    raise Conflict(f"order {oid} was rescheduled to {o.date.isoformat()}; the proposal is stale",
                                   field="changes")
                if o.status == "failed":
                    from ..orders.service import transition

                    transition(session, p, o, "rescheduled", "reattempt today")
                if o.status != "pending":
                    raise Conflict(f"order {oid} is {o.status}; the proposal is stale", field="changes")
                extra.append(o)
        ld = load_day(session, prop.organization_id, prop.date, now=now, routes=routes, extra=extra)
        new = {ch["route_id"]: tuple(ch["order_ids"]) for ch in prop.changes}
        if drifted:
            new = _rebase(base, ld, new, drifted)
        apply_sequences(session, ld, new, at=now, actor=p, reason=prop.kind)
    prop.status, prop.decided_at, prop.decided_by = "applied", now, p.actor
    session.flush()
    from ..auth.service import record_audit

    record_audit(session, p, "proposal.apply", "proposal", prop.id, {"status": "open"}, {"status": "applied"})
    _broadcast(session, prop)
    return prop


ROUTES_CHANGED = "the routes changed since this was proposed; it is stale"
PROGRESS = ("arrived", "done", "failed")  # what a driver does to a stop (skipped is a dispatcher's move)


def _rebase(base: dict[str, Any], ld: LiveDay, new: dict[str, tuple[str, ...]], drifted: list[str]
            ) -> dict[str, tuple[str, ...]]:
    """Routes whose version moved on since the proposal: accept them when they only
    progressed -- the stops they lost were reached or finished by their driver, nothing
    was added, reordered, locked or unlocked -- and drop those stops from the proposed
    sequences. Anything else is a change the dispatcher has not seen: stale (409).
    Without this every proposal went stale at its driver's next stop."""
    stale = Conflict(ROUTES_CHANGED, field="version")
    gone_all: set[str] = set()
    for rid in drifted:
        b, rl = base.get(rid), ld.routes.get(rid)
        if b is None or rl is None:
            raise stale
        cur = tuple(rl.seq)
        if tuple(o for o in b["seq"] if o in cur) != cur or set(b["locked"]) != set(rl.locked):
            raise stale
        for o in b["seq"]:
            if o in cur:
                continue
            st = next((x for x in reversed(rl.stops) if x.order_id == o), None)
            if st is None or st.status not in PROGRESS:
                raise stale  # it left the route some other way (moved elsewhere: skipped; unassigned)
            gone_all.add(o)
    out = {rid: tuple(o for o in seq if o not in gone_all) for rid, seq in new.items()}
    for rid in drifted:  # the driver's next stop stays next
        rl = ld.routes[rid]
        if rid in out and rl.min_position and out[rid][:rl.min_position] != tuple(rl.seq)[:rl.min_position]:
            raise stale
    return out


def reject(session: Session, p: Principal, prop: Proposal) -> Proposal:
    if prop.status != "open":
        raise Conflict(f"this proposal is {prop.status}", field="status")
    prop.status, prop.decided_at, prop.decided_by = "rejected", utcnow(), p.actor
    session.flush()
    from ..auth.service import record_audit

    record_audit(session, p, "proposal.reject", "proposal", prop.id, {"status": "open"}, {"status": "rejected"})
    _broadcast(session, prop)
    return prop
