"""A day's live routes as the engine sees them, and moving an order between them.

``load_day`` turns the published (or, for a later day, planned) routes of a date into
the engine's problem: every route a vehicle of its own (engine id = route id) that
leaves from where the driver is now -- the stop in progress, the last stop finished,
or the depot -- at the later of now and when it was due to leave. Stops done, failed,
skipped or in progress are off the sequence (never moved); a started route's next
stop stays first unless the organization's policy allows displacing it.

``move`` previews or applies one order's move: re-times the affected routes exactly
(schedule.py), reports feasibility with reasons and the delta, and, when applied,
writes the new stop order and times, bumps the routes and audit-logs. A preview runs
the same code inside a savepoint that is rolled back.

The same moves edit a draft plan (optimized, not yet published: ``plan_id``): there a
stop taken off a route is deleted (no driver has seen it), its order stays pending and
joins the plan's unassigned list, and changes are told to the consoles only; publishing
then sends the edited routes. Splitting and merging routes (reshape.py) use the same
machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..depots.models import Depot
from ..errors import Conflict, Invalid, NotFound
from ..fleet.models import Driver, Shift, Vehicle
from ..kit.time import at_seconds, seconds_since_midnight, utcnow
from ..orders.models import Order
from ..routing import domain as d
from ..routing.costs import cost_terms
from ..routing.insertion import LivePlan
from ..routing.schedule import Context, Timing, schedule
from ..routing.solve import build_model
from . import live
from .models import STOP_FINAL, Plan, Route, RouteEtaState, RouteStop
from .problem import BIG

DAY_S = 24 * 3600


def clock() -> datetime:
    """Now; tests replace it to replay a day."""
    return utcnow()
LIVE_ORDER = ("pending", "assigned", "out_for_delivery")


def engine_stop(o: Order, day: date, zone: str) -> d.Stop:
    windows = []
    for w in o.windows or []:
        a = seconds_since_midnight(datetime.fromisoformat(w["start"]), day, zone)
        b = seconds_since_midnight(datetime.fromisoformat(w["end"]), day, zone)
        if b >= a:
            windows.append(d.TimeWindow(a, b))
    return d.Stop(id=o.id, location=d.LatLon(o.lat, o.lon), service_s=o.service_s,
                  demand=(o.demand_kg, o.demand_litres, o.demand_parcels), windows=tuple(windows),
                  kind=d.StopKind(o.kind), skills=frozenset(o.skills or ()), priority=o.priority)


@dataclass
class RouteLive:
    route: Route
    stops: list[RouteStop]  # every stop of the route, in seq order
    seq: tuple[str, ...]  # order ids still to visit, movable part included (engine sequence)
    depart: int  # engine seconds: when the remaining route leaves its origin
    min_position: int  # positions before this are fixed (the driver's next stop)
    locked: frozenset[str]  # order ids of locked stops

    def stop_of(self, order_id: str) -> RouteStop | None:
        for s in self.stops:
            if s.order_id == order_id and s.status not in STOP_FINAL:
                return s
        return None


@dataclass
class LiveDay:
    day: date
    zone: str
    ctx: Context
    routes: dict[str, RouteLive]
    orders: dict[str, Order]
    now_s: int
    objective: str = "cost"
    _plan: LivePlan | None = field(default=None, repr=False)

    def at(self, s: int) -> datetime:
        return at_seconds(self.day, self.zone, s).astimezone(UTC)

    def secs(self, dt: datetime) -> int:
        return seconds_since_midnight(dt, self.day, self.zone)

    def timing(self, route_id: str, seq: tuple[str, ...] | list[str]) -> Timing:
        r = self.routes[route_id]
        return schedule(self.ctx, self.ctx.vehicles[route_id], tuple(seq), r.depart)

    def cost(self, route_id: str, tm: Timing) -> float:
        per_m, per_s, _ = cost_terms(self.ctx.vehicles[route_id], self.objective)
        return per_m * tm.route.distance_m + per_s * tm.route.duration_s if tm.route.visits else 0.0

    @property
    def plan(self) -> LivePlan:
        if self._plan is None:
            self._plan = LivePlan.of(
                self.ctx, {rid: r.seq for rid, r in self.routes.items()},
                departs={rid: r.depart for rid, r in self.routes.items()},
                min_positions={rid: r.min_position for rid, r in self.routes.items()}, objective=self.objective)
        return self._plan


def allow_next_stop(session: Session, organization_id: str) -> bool:
    from .proposals import policy_for

    return policy_for(session, organization_id).allow_next_stop


def day_routes(session: Session, organization_id: str, day: date, *, planned: bool = False) -> list[Route]:
    """Published routes of the day; with ``planned``, a day without published routes
    falls back to its newest finished plan (slots for a later day)."""
    q = (select(Route).join(Plan, Plan.id == Route.plan_id)
         .where(Route.organization_id == organization_id, Plan.date == day, Route.published.is_(True),
                Route.status != "finished").order_by(Route.id))
    routes = list(session.scalars(q))
    if routes or not planned:
        return routes
    plan_id = session.scalar(select(Plan.id).where(Plan.organization_id == organization_id, Plan.date == day,
                                                   Plan.status == "done").order_by(Plan.created_at.desc()).limit(1))
    if plan_id is None:
        return []
    return list(session.scalars(select(Route).where(Route.plan_id == plan_id).order_by(Route.id)))


def draft_plan(session: Session, organization_id: str, plan_id: str) -> Plan:
    """A plan that may be edited before publishing: optimized (``done``), not published."""
    plan = session.get(Plan, plan_id)
    if plan is None or plan.organization_id != organization_id:
        raise NotFound("plan not found", field="plan_id")
    if plan.status != "done":
        raise Conflict(f"only a draft plan (optimized, not published) can be edited; this one is {plan.status}",
                       field="plan_id")
    if plan.published_at is not None:  # published once, then replaced by a newer plan: its routes are history
        raise Conflict("this plan was published and then replaced by a newer one; only a draft can be edited",
                       field="plan_id")
    return plan


def plan_routes(session: Session, plan_id: str) -> list[Route]:
    return list(session.scalars(select(Route).where(Route.plan_id == plan_id).order_by(Route.id)))


def load_day(session: Session, organization_id: str, day: date, *, now: datetime | None = None,
             extra: list[Order] | tuple[Order, ...] = (), extra_stops: tuple[d.Stop, ...] = (),
             routes: list[Route] | None = None, planned: bool = False,
             allow_next: bool | None = None) -> LiveDay:
    now = now or clock()
    routes = day_routes(session, organization_id, day, planned=planned) if routes is None else routes
    depot_ids = sorted({r.depot_id for r in routes} | {o.depot_id for o in extra})
    depots = {x.id: x for x in session.scalars(select(Depot).where(Depot.id.in_(depot_ids)))} if depot_ids else {}
    zone = next(iter(depots.values())).timezone if depots else "America/Chicago"
    now_s = seconds_since_midnight(now, day, zone)
    if allow_next is None:
        allow_next = allow_next_stop(session, organization_id)
    route_ids = [r.id for r in routes]
    stops_by: dict[str, list[RouteStop]] = {rid: [] for rid in route_ids}
    orders: dict[str, Order] = {}
    if route_ids:
        for st, o in session.execute(select(RouteStop, Order).join(Order, Order.id == RouteStop.order_id)
                                     .where(RouteStop.route_id.in_(route_ids)).order_by(RouteStop.route_id, RouteStop.seq)):
            stops_by[st.route_id].append(st)
            orders[o.id] = o
    for o in extra:
        orders[o.id] = o
    shift_ids = [r.shift_id for r in routes if r.shift_id]
    shifts = {s.id: s for s in session.scalars(select(Shift).where(Shift.id.in_(shift_ids)))} if shift_ids else {}
    vehicles = {v.id: v for v in session.scalars(select(Vehicle).where(Vehicle.id.in_([r.vehicle_id for r in routes])))} if routes else {}
    drv_ids = [r.driver_id for r in routes if r.driver_id]
    drivers = {x.id: x for x in session.scalars(select(Driver).where(Driver.id.in_(drv_ids)))} if drv_ids else {}
    # the shift's planned break, once the driver has taken it, is no longer owed (an
    # unplanned break does not count: pod/ tells the ETA state only about the planned one)
    break_taken = set(session.scalars(select(RouteEtaState.route_id).where(
        RouteEtaState.route_id.in_(route_ids), RouteEtaState.break_taken.is_(True)))) if route_ids else set()

    def secs(dt: datetime) -> int:
        return seconds_since_midnight(dt, day, zone)

    eng_depots = [d.Depot(x.id, d.LatLon(x.lat, x.lon), name=x.name) for x in depots.values()]
    eng_vehicles: list[d.Vehicle] = []
    stops: dict[str, d.Stop] = {}
    lives: dict[str, RouteLive] = {}
    for r in routes:
        rstops = stops_by[r.id]
        todo = [s for s in rstops if s.status not in STOP_FINAL]
        for s in rstops:
            if s.status not in STOP_FINAL or s.order_id in {x.order_id for x in todo}:
                stops[s.order_id] = engine_stop(orders[s.order_id], day, zone)
        origin = r.depot_id
        depart = secs(r.depart_at)
        started = r.status == "started"
        in_progress = [s for s in todo if s.status == "arrived"]
        done = [s for s in rstops if s.status in ("done", "failed")]
        if in_progress or (started and done):
            here = in_progress[-1] if in_progress else max(done, key=lambda s: (s.completed_at or s.end_at, s.seq))
            o = orders[here.order_id]
            origin = f"@{r.id}"
            eng_depots.append(d.Depot(origin, d.LatLon(o.lat, o.lon)))
            if in_progress:
                free = secs(here.arrived_at or here.start_at) + o.service_s
            else:
                free = secs(here.completed_at or here.end_at)
            depart = max(free, now_s)
        elif started:
            depart = max(depart, now_s)
        elif day == now.astimezone(UTC).date() or depart < now_s:
            depart = max(depart, min(now_s, DAY_S - 1)) if depart < now_s else depart
        seq = tuple(s.order_id for s in todo if s.status != "arrived")
        sh = shifts.get(r.shift_id or "")
        veh = vehicles.get(r.vehicle_id)
        drv = drivers.get(r.driver_id or "")
        caps = (veh.capacity_kg, veh.capacity_litres, veh.capacity_parcels) if veh else (None, None, None)
        capacity = () if all(c is None for c in caps) else tuple(BIG if c is None else c for c in caps)
        if capacity:  # what is already off the van no longer takes room (done deliveries)
            pass
        shift_start = secs(sh.start_at) if sh else min(depart, secs(r.depart_at))
        shift_end = secs(sh.end_at) if sh else max(secs(r.arrive_at), DAY_S - 1)
        shift_end = max(shift_end, shift_start)
        breaks: tuple[d.Break, ...] = ()
        if sh and sh.break_s and sh.break_start_at and sh.break_end_at:
            bw = d.TimeWindow(secs(sh.break_start_at), secs(sh.break_end_at))
            if not (started and bw.end < depart) and r.id not in break_taken:
                breaks = (d.Break(bw, sh.break_s),)
        max_work = sh.max_work_s if sh else None
        if max_work is not None and started and r.started_at is not None:
            max_work = max(0, max_work - max(0, depart - secs(r.started_at)))
        skills = frozenset(veh.skills if veh else ()) | frozenset(drv.skills if drv else ())
        eng_vehicles.append(d.Vehicle(
            id=r.id, start_depot=origin, end_depot=r.depot_id, capacity=capacity,
            shift=d.TimeWindow(min(shift_start, depart), max(shift_end, depart)), breaks=breaks,
            max_work_s=max_work, skills=skills,
            fixed_cost=0, cost_per_km=veh.cost_per_km if veh else 0, cost_per_hour=veh.cost_per_hour if veh else 0,
            name=veh.name if veh else "", driver=drv.name if drv else ""))
        next_fixed = 1 if (started and seq and not allow_next) else 0
        lives[r.id] = RouteLive(r, rstops, seq, depart, next_fixed,
                                frozenset(s.order_id for s in todo if s.locked))
    for o in extra:
        stops[o.id] = engine_stop(o, day, zone)
    for s in extra_stops:
        stops[s.id] = s
    problem = d.Problem(stops=tuple(stops.values()), vehicles=tuple(eng_vehicles), depots=tuple(eng_depots),
                        weekday=day.weekday(), name=f"live-{day.isoformat()}")
    index, model = build_model(problem)
    ctx = Context(problem, index, model)
    return LiveDay(day, zone, ctx, lives, orders, now_s)


# --- writing a re-timed route back -------------------------------------------


def write_route(session: Session, ld: LiveDay, route_id: str, seq: tuple[str, ...] | list[str],
                new_stops: dict[str, RouteStop] | None = None) -> Timing:
    """Store ``seq`` (the remaining stops, in order) on the route: numbers, times, legs.
    Stops already finished or in progress keep their place at the front."""
    rl = ld.routes[route_id]
    route = rl.route
    tm = ld.timing(route_id, seq)
    by_order = {s.order_id: s for s in rl.stops if s.status not in STOP_FINAL}
    by_order.update(new_stops or {})
    head = [s for s in rl.stops if s.status in STOP_FINAL or s.status == "arrived"]
    n = 0
    for s in head:
        n += 1
        s.seq = n
    visits = {v.ref: v for v in tm.route.visits if v.kind is d.VisitKind.STOP}
    for oid in seq:
        st = by_order[oid]
        n += 1
        st.seq = n
        v = visits[oid]
        st.arrival_at, st.start_at, st.end_at = ld.at(v.arrival), ld.at(v.start), ld.at(v.end)
        st.travel_s, st.distance_m = v.travel_s, v.distance_m
    if seq:
        route.arrive_at = ld.at(tm.route.arrive)
    done_m = sum(s.distance_m for s in head)
    route.distance_m = int(done_m + tm.route.distance_m)
    route.duration_s = max(0, int((route.arrive_at - route.depart_at).total_seconds()))
    rl.seq = tuple(seq)
    rl.stops = sorted(head + [by_order[o] for o in seq], key=lambda s: s.seq) + \
        [s for s in rl.stops if s.status in STOP_FINAL and s not in head]
    return tm


# --- moves ---------------------------------------------------------------------


def _reasons(ld: LiveDay, tm: Timing, route_id: str) -> list[dict[str, Any]]:
    out = []
    for late in tm.late:
        out.append({"code": "late", "order_id": late.stop_id, "late_s": late.late_s,
                    "message": f"order {late.stop_id} would be {late.late_s // 60} min late",
                    "message_es": f"el pedido {late.stop_id} llegaría {late.late_s // 60} min tarde"})
    if tm.overtime_s > 0:
        out.append({"code": "shift", "route_id": route_id, "over_s": tm.overtime_s,
                    "message": f"route ends {tm.overtime_s // 60} min after the shift or hours allow",
                    "message_es": f"la ruta termina {tm.overtime_s // 60} min después del turno o de las horas permitidas"})
    for b in tm.missed_breaks:
        out.append({"code": "break", "route_id": route_id, "message": f"the driver would miss the {b}",
                    "message_es": "el chofer perdería su descanso"})
    for dim in tm.overload:
        out.append({"code": "capacity", "route_id": route_id, "dimension": dim,
                    "message": f"the vehicle would be over capacity ({dim})",
                    "message_es": f"el vehículo excedería su capacidad ({dim})"})
    return out


def _refuse(code: str, en: str, es: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": en, "message_es": es, **extra}


@dataclass
class MoveResult:
    feasible: bool
    reasons: list[dict[str, Any]]
    delta: dict[str, Any]
    route_ids: list[str]
    changes: list[dict[str, Any]] = field(default_factory=list)


def current_stop(session: Session, order_id: str, plan_id: str | None = None) -> RouteStop | None:
    """The order's stop on a live (published, not finished) route, if any; with
    ``plan_id``, its stop on that (draft) plan's routes."""
    q = select(RouteStop).join(Route, Route.id == RouteStop.route_id).where(
        RouteStop.order_id == order_id, Route.status != "finished", RouteStop.status.not_in(STOP_FINAL))
    q = q.where(Route.plan_id == plan_id) if plan_id else q.where(Route.published.is_(True))
    return session.scalar(q.order_by(RouteStop.id.desc()).limit(1))


def plan_move(session: Session, ld: LiveDay, order: Order, to_route_id: str | None,
              position: int | None, plan_id: str | None = None) -> tuple[MoveResult, dict[str, tuple[str, ...]]]:
    """Work out a move without writing: the result and the new sequences per route."""
    stop = current_stop(session, order.id, plan_id)
    from_id = stop.route_id if stop is not None and stop.route_id in ld.routes else None
    reasons: list[dict[str, Any]] = []
    if stop is not None and stop.status == "arrived":
        reasons.append(_refuse("in_progress", "the driver is at this stop", "el chofer está en esta parada"))
    if stop is not None and stop.locked:
        reasons.append(_refuse("locked", "this stop is locked", "esta parada está bloqueada"))
    if from_id is not None:
        rl = ld.routes[from_id]
        if rl.min_position and rl.seq and rl.seq[0] == order.id and to_route_id != from_id:
            reasons.append(_refuse("next_stop", "the driver is already heading to this stop",
                                   "el chofer ya va en camino a esta parada"))
    if order.status not in LIVE_ORDER:
        reasons.append(_refuse("order_status", f"an order that is {order.status} cannot be moved",
                               f"un pedido en estado {order.status} no se puede mover"))
    new: dict[str, tuple[str, ...]] = {}
    if from_id is not None:
        new[from_id] = tuple(x for x in ld.routes[from_id].seq if x != order.id)
    if to_route_id is not None:
        target = ld.routes[to_route_id]
        base = list(new.get(to_route_id, target.seq))
        v = ld.ctx.vehicles[to_route_id]
        if not ld.ctx.can_serve(v, ld.ctx.stops[order.id]):
            reasons.append(_refuse("skill", "this vehicle or driver lacks a skill the order needs",
                                   "este vehículo o chofer no tiene una habilidad que el pedido requiere"))
        if position is None:
            k = _best_position(ld, to_route_id, tuple(base), order.id)
            if k is None:
                k = len(base)
                reasons.append(_refuse("no_position", "no position on this route keeps every stop on time",
                                       "ninguna posición en esta ruta mantiene todas las paradas a tiempo"))
        else:
            k = _index_for_position(ld, to_route_id, tuple(base), position)
            if k < target.min_position:
                reasons.append(_refuse("next_stop", "the driver's next stop cannot be displaced",
                                       "no se puede desplazar la siguiente parada del chofer"))
                k = target.min_position
        base.insert(k, order.id)
        new[to_route_id] = tuple(base)
    delta, timings = delta_of(ld, new)
    if to_route_id is not None:
        # what the move breaks: stops late that were not, or later than they were
        was = ld.timing(to_route_id, ld.routes[to_route_id].seq)
        before = {x.stop_id: x.late_s for x in was.late}
        after = timings[to_route_id]
        worse = tuple(x for x in after.late if x.late_s > before.get(x.stop_id, 0))
        over = after.overtime_s if after.overtime_s > max(was.overtime_s, 0) else 0
        missed = tuple(b for b in after.missed_breaks if b not in was.missed_breaks)
        overload = tuple(x for x in after.overload if x not in was.overload)
        reasons += _reasons(ld, Timing(after.route, worse, over, missed, overload), to_route_id)
    changes = [{"route_id": rid, "order_ids": list(seq)} for rid, seq in new.items()]
    return MoveResult(not reasons, reasons, delta, list(new), changes), new


def delta_of(ld: LiveDay, new: dict[str, tuple[str, ...]]) -> tuple[dict[str, Any], dict[str, Timing]]:
    """The change in working time, distance, late stops and cost (minor units) if the
    routes in ``new`` took those sequences; and each new exact timing."""
    old_cost = new_cost = 0.0
    old_dur = new_dur = old_dist = new_dist = old_late = new_late = 0
    timings: dict[str, Timing] = {}
    for rid, seq in new.items():
        cur = ld.routes[rid].seq
        before, after = ld.timing(rid, cur), ld.timing(rid, seq)
        timings[rid] = after
        old_cost += ld.cost(rid, before) if cur else 0.0
        new_cost += ld.cost(rid, after) if seq else 0.0
        old_dur += before.route.duration_s if cur else 0
        new_dur += after.route.duration_s if seq else 0
        old_dist += before.route.distance_m if cur else 0
        new_dist += after.route.distance_m if seq else 0
        old_late, new_late = old_late + len(before.late), new_late + len(after.late)
    delta = {"duration_s": int(new_dur - old_dur), "distance_m": int(new_dist - old_dist),
             "late_stops": int(new_late - old_late), "cost": round((new_cost - old_cost) / 1000)}
    return delta, timings


def _best_position(ld: LiveDay, route_id: str, seq: tuple[str, ...], order_id: str) -> int | None:
    from ..routing.insertion import RouteState

    rl = ld.routes[route_id]
    st = RouteState(ld.ctx, route_id, seq, depart=rl.depart, min_position=rl.min_position, objective=ld.objective)
    plan = LivePlan(ld.ctx, {route_id: st})
    choice = plan.insert(order_id)
    return None if choice is None else choice.position


def _index_for_position(ld: LiveDay, route_id: str, seq: tuple[str, ...], position: int) -> int:
    """1-based ``position`` in the route's list of stops (as route_view shows them, the
    finished ones included) -> index in the remaining sequence."""
    rl = ld.routes[route_id]
    head = sum(1 for s in rl.stops if s.status in STOP_FINAL or s.status == "arrived")
    return max(0, min(len(seq), position - 1 - head))


def apply_sequences(session: Session, ld: LiveDay, new: dict[str, tuple[str, ...]], *, at: datetime,
                    actor: Principal | str, reason: str = "moved") -> None:
    """Write new sequences: stops that left a route are skipped there (live.mark_stop),
    stops that joined get a new row; every changed route is re-timed and bumped."""
    placed: dict[str, str] = {}
    for rid, seq in new.items():
        for oid in seq:
            placed[oid] = rid
    dropped: list[str] = []
    for rid, seq in new.items():
        rl = ld.routes[rid]
        for oid in rl.seq:
            if oid not in seq:
                st = rl.stop_of(oid)
                if st is None:
                    continue
                if rl.route.published:
                    live.mark_stop(session, st, "skipped", at=at, actor=actor, reason=reason)
                    o = ld.orders.get(oid) or session.get(Order, oid)
                    if oid not in placed and o is not None:  # off every route: waiting to be planned again
                        from ..orders.service import unassign

                        unassign(session, actor, o, f"taken off the route ({reason})")
                else:  # a draft: no driver has seen it, the row just goes
                    rl.stops.remove(st)
                    session.delete(st)
                    if oid not in placed:
                        dropped.append(oid)
    for rid, seq in new.items():
        rl = ld.routes[rid]
        fresh: dict[str, RouteStop] = {}
        for oid in seq:
            if rl.stop_of(oid) is None:
                st = RouteStop(route_id=rid, order_id=oid, seq=0, arrival_at=at, start_at=at, end_at=at)
                session.add(st)
                fresh[oid] = st
                o = ld.orders.get(oid) or session.get(Order, oid)
                if o is not None and o.status == "pending" and rl.route.published:
                    from ..orders.service import transition

                    transition(session, actor, o, "assigned")
                if o is not None and o.status == "assigned" and rl.route.status == "started":
                    from ..orders.service import transition

                    transition(session, actor, o, "out_for_delivery")
        write_route(session, ld, rid, seq, fresh)
        session.flush()
        if rl.route.published:
            live.bump(session, rl.route, {"reason": reason})
        else:
            draft_bump(session, rl.route, reason)
    drafts = {ld.routes[rid].route.plan_id for rid in new if not ld.routes[rid].route.published}
    for plan_id in drafts:
        note_unassigned(session, plan_id, dropped, placed)


def draft_bump(session: Session, route: Route, reason: str) -> None:
    """A draft route changed: version + 1, told to the organization's consoles only
    (its driver hears of it when the plan is published)."""
    from ..kit.broadcast import publish_after_commit

    route.version = (route.version or 0) + 1
    publish_after_commit(session, [f"org:{route.organization_id}"],
                         {"type": "route", "route_id": route.id, "plan_id": route.plan_id, "status": route.status,
                          "version": route.version, "draft": True, "reason": reason})


def note_unassigned(session: Session, plan_id: str, dropped: list[str], placed: dict[str, str]) -> None:
    """Keep a draft plan's unassigned list and counts true after an edit."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        return
    items = [u for u in (plan.unassigned or []) if u.get("order_id") not in placed]
    known = {u.get("order_id") for u in items}
    items += [{"order_id": oid, "reason": "taken off by a dispatcher", "code": "manual"}
              for oid in dropped if oid not in known]
    plan.unassigned = items
    n_stops = session.scalar(select(func.count(RouteStop.id)).join(Route, Route.id == RouteStop.route_id)
                             .where(Route.plan_id == plan_id, RouteStop.status.not_in(STOP_FINAL))) or 0
    n_routes = session.scalar(select(func.count(func.distinct(RouteStop.route_id))).join(
        Route, Route.id == RouteStop.route_id).where(Route.plan_id == plan_id, RouteStop.status.not_in(STOP_FINAL))) or 0
    plan.stats = {**(plan.stats or {}), "assigned": int(n_stops), "unassigned": len(items), "routes": int(n_routes)}


def move(session: Session, p: Principal, body: dict[str, Any], *, apply: bool, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock()
    order = session.get(Order, str(body.get("order_id") or ""))
    if order is None or order.organization_id != p.organization_id:
        raise NotFound("order not found", field="order_id")
    to_route_id = body.get("to_route_id")
    plan_id = body.get("plan_id")
    if plan_id is not None:
        plan = draft_plan(session, p.organization_id, plan_id)
        if plan.date != order.date:
            raise Conflict("the order is for another day than the plan", field="order_id")
        routes = plan_routes(session, plan.id)
    else:
        routes = day_routes(session, p.organization_id, order.date)
    if to_route_id is not None and to_route_id not in {r.id for r in routes}:
        r = session.get(Route, to_route_id)
        if r is None or r.organization_id != p.organization_id:
            raise NotFound("route not found", field="to_route_id")
        raise Conflict("that route is not in the draft plan" if plan_id else "that route is not live on the order's date",
                       field="to_route_id")
    stop = current_stop(session, order.id, plan_id)
    extra = [] if stop is not None else [order]
    if stop is None and to_route_id is None:
        raise Conflict("the order is not on a live route", field="order_id")
    if stop is None and order.status != "pending":
        raise Conflict(f"an order that is {order.status} cannot be moved", field="order_id")
    ld = load_day(session, p.organization_id, order.date, now=now, extra=extra, routes=routes)
    result, new = plan_move(session, ld, order, to_route_id, body.get("position"), plan_id)
    force = bool(body.get("force"))
    if apply:
        if not result.feasible and not force:
            codes = ", ".join(r["code"] for r in result.reasons)
            raise Conflict(f"the move is not feasible ({codes}); send force: true to apply it anyway", field="to_route_id")
        before = {rid: [s.order_id for s in ld.routes[rid].stops if s.status not in STOP_FINAL] for rid in new}
        apply_sequences(session, ld, new, at=now, actor=p, reason="moved")
        from ..auth.service import record_audit

        record_audit(session, p, "route.move", "order", order.id, {"routes": before},
                     {"routes": {rid: list(seq) for rid, seq in new.items()}, "forced": force and not result.feasible,
                      **({"plan_id": plan_id} if plan_id else {})})
        views = [live.route_view(session, ld.routes[rid].route) for rid in result.route_ids]
    else:
        sp = session.begin_nested()
        try:
            apply_sequences(session, ld, new, at=now, actor=p, reason="moved")
            views = [live.route_view(session, ld.routes[rid].route) for rid in result.route_ids]
        finally:
            sp.rollback()
            session.expire_all()
    return {"feasible": result.feasible, "reasons": result.reasons, "delta": result.delta, "routes": views}


def set_lock(session: Session, p: Principal, stop: RouteStop, locked: bool) -> dict[str, Any]:
    route = session.get(Route, stop.route_id)
    if route is None or route.organization_id != p.organization_id:
        raise NotFound("stop not found")
    if stop.locked != locked:
        from ..auth.service import record_audit

        stop.locked = locked
        session.flush()
        record_audit(session, p, "route_stop.lock" if locked else "route_stop.unlock", "route_stop", stop.id,
                     {"locked": not locked}, {"locked": locked})
        if route.published:
            live.bump(session, route, {"type": "stop", "stop_id": stop.id, "locked": locked})
        else:
            draft_bump(session, route, "lock")
    return {"id": stop.id, "route_id": stop.route_id, "order_id": stop.order_id, "locked": stop.locked,
            "version": route.version}


def check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("a JSON object is required")
    return body
