"""Dispatch policies a simulated day is executed under (``execute.run_day``).

Both see only what a dispatcher sees -- the orders as shippers sent them, the
drivers, where each driver is and when they are free -- and plan on the
planner's own travel model (``Planner``: the engine's ``build_model`` with the
static ``laredo`` profile), never on ``sim.truth``. The only thing they learn
from the truth is what a customer *answers* to a notification.

* ``LastmilePolicy``: the engine's plan (``routing.solve``); every customer is
  told their expected arrival, and those who will be out answer with a new time
  (``Truth.reply``) and are re-inserted (``insertion.LivePlan``) -- or, if they
  ask for another day, taken off; the rest get an "approaching" message
  (``notified``). Orders arriving during the day, the stops of the driver who
  falls ill and orders that fitted nowhere are inserted live by cheapest
  feasible insertion from where each driver is. Every half hour it re-times each
  route from where its driver is; a route falling behind (a stop that will be
  late, a shift overrun) has its late stops moved wherever they fit without
  making anything late, its own route included; and a driver about to set off
  for a door that opens only long after they would get there has that stop moved. ``service_scale`` multiplies the
  nominal service times it plans with: what a previous day's dwell times say
  (``history_service_scale``: another seed's day played by the naive dispatcher,
  actual over nominal time at the door) -- the one thing it learns from history.
* ``NaivePolicy``: ``routing.naive.naive_plan`` in the morning (first come, the
  nearest driver with room, stops in the order assigned, leaves at the shift
  start); a new order, and each stop of the ill driver, goes to the nearest
  driver (from their last assigned stop) who may serve it, has room and, by the
  planner's estimate, still gets back inside the shift -- appended to the end.
  No re-sequencing, no notifications.
* ``SortedNaivePolicy`` (``"naive-sorted"``): the same, but each driver drives
  their stops in window order -- a kinder baseline, for perspective.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from ..routing import domain as d
from ..routing.domain import Options
from ..routing.insertion import LivePlan
from ..routing.matrix.profiles import laredo
from ..routing.matrix.timedep import TrafficProfile
from ..routing.naive import naive_plan
from ..routing.ports import LocationIndex, MatrixProvider
from ..routing.schedule import Context, schedule
from ..routing.solve import build_model, solve
from .execute import FAILED, DayState, DriverState
from .world import World, to_problem, to_stop, to_vehicle

__all__ = ["LastmilePolicy", "NaivePolicy", "Planner", "Policy", "SortedNaivePolicy", "make_policy", "service_scale_from",
           "history_service_scale"]


class Policy(Protocol):
    name: str

    def morning(self, day: DayState) -> None: ...

    def new_order(self, day: DayState, order_id: str) -> None: ...

    def driver_ill(self, day: DayState, driver_id: str, stops: list[str]) -> None: ...

    def check(self, day: DayState) -> None: ...

    def before_leg(self, day: DayState, ds: DriverState) -> None: ...


def make_policy(name: str, **kw: Any) -> Policy:
    """``"lastmile"`` (keywords of ``LastmilePolicy``) or ``"naive"`` (only
    ``traffic`` and ``provider`` apply)."""
    if name == "lastmile":
        return LastmilePolicy(**kw)
    if name == "naive":
        return NaivePolicy(kw.get("traffic"), kw.get("provider"))
    if name == "naive-sorted":
        return SortedNaivePolicy(kw.get("traffic"), kw.get("provider"))
    raise ValueError(f"unknown policy {name!r}: lastmile, naive or naive-sorted")


class Planner:
    """The planner's travel model over every place of the day (depots and all
    orders), built once. Each order's place doubles as a depot ``@<order id>`` so a
    live route can start where its driver is."""

    def __init__(self, world: World, traffic: TrafficProfile | None = None, service_scale: float = 1.0,
                 provider: MatrixProvider | None = None) -> None:
        self.world = world
        self.provider = provider
        self.traffic = traffic or laredo()
        self.service_scale = service_scale
        full = to_problem(world, orders=world.orders)
        self.depots = full.depots
        self.index, self.model = build_model(full, provider, traffic=self.traffic)
        depot_row = dict(self.index.depot_row)
        depot_row.update({"@" + oid: row for oid, row in self.index.stop_row.items()})
        self.live_index = LocationIndex(depot_row, dict(self.index.stop_row), self.index.locations)

    def stop(self, order_id: str, windows: tuple[d.TimeWindow, ...] | None = None) -> d.Stop:
        """The engine's stop, its service time scaled by what history says doors take."""
        s = to_stop(self.world.order(order_id), windows=windows)
        return s if self.service_scale == 1.0 else replace(s, service_s=round(s.service_s * self.service_scale))

    def problem(self) -> d.Problem:
        """The morning's problem (orders known at planning time)."""
        p = to_problem(self.world)
        return replace(p, stops=tuple(self.stop(s.id) for s in p.stops))

    def context(self, stops: list[d.Stop], vehicles: list[d.Vehicle]) -> Context:
        here = sorted({v.start_depot for v in vehicles if v.start_depot.startswith("@")})
        depots = self.depots + tuple(d.Depot(x, self.world.order(x[1:]).location) for x in here)
        problem = d.Problem(stops=tuple(stops), vehicles=tuple(vehicles), depots=depots, weekday=self.world.weekday)
        return Context(problem, self.live_index, self.model)

    def live(self, day: DayState, *, extra: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
             ) -> tuple[Context, dict[str, list[str]], dict[str, int | None]]:
        """The day from now: a vehicle per driver still working (starting where the
        driver is, when they are free), the stops on their queues plus ``extra``."""
        world, now = day.world, day.now
        vehicles, seqs, departs = [], {}, {}
        ids: list[str] = list(extra)
        for ds in day.drivers.values():
            dr = ds.driver
            if ds.ill or ds.done or ds.id in exclude or now >= dr.shift_end - 900:
                continue
            base = to_vehicle(world, dr)
            cap = base.capacity
            if ds.carried:  # failed deliveries and collected returns take room
                carried = day.load_on_board(ds, queued=False)
                cap = tuple(max(0, c - x) for c, x in zip(cap, carried))
            breaks = () if ds.break_done else base.breaks
            if ds.departed:
                depart: int | None = max(ds.free_at, now)
                start = ds.driver.depot_id if ds.at_depot else "@" + ds.place
                shift = d.TimeWindow(min(dr.shift_start, depart), max(dr.shift_end, depart))
            else:
                depart = None
                start = dr.depot_id
                s0 = max(dr.shift_start, now)
                shift = d.TimeWindow(min(s0, dr.shift_end), dr.shift_end)
            vehicles.append(replace(base, start_depot=start, end_depot=dr.depot_id, capacity=cap, shift=shift,
                                    breaks=breaks, max_work_s=None))
            seqs[ds.id] = list(ds.queue)
            departs[ds.id] = depart
            ids.extend(ds.queue)
        stops = [self.stop(o, day.windows[o]) for o in dict.fromkeys(ids)]
        return self.context(stops, vehicles), seqs, departs


def _apply(day: DayState, seqs: dict[str, tuple[str, ...] | list[str]], lp: LivePlan | None = None) -> None:
    """Hand the new sequences to the drivers; a driver who has not left yet leaves
    when the re-timed route says."""
    for vid, seq in seqs.items():
        ds = day.drivers[vid]
        if list(seq) == ds.queue:
            continue
        ds.queue = list(seq)
        if lp is not None and not ds.departed and vid in lp.states:
            tm = lp.states[vid].timing
            if tm is not None:
                ds.depart_s = max(tm.route.depart, day.now)
        day.wake(vid)


class LastmilePolicy:
    name = "lastmile"

    def __init__(self, *, time_limit_s: float = 20.0, seed: int = 0, iterations: int | None = None,
                 traffic: TrafficProfile | None = None, service_scale: float = 1.0,
                 provider: MatrixProvider | None = None) -> None:
        self.options = Options(time_limit_s=time_limit_s, seed=seed, iterations=iterations)
        self.traffic = traffic
        self.provider = provider
        self.service_scale = service_scale
        self.planner: Planner | None = None

    # --- the morning ---

    def morning(self, day: DayState) -> None:
        world = day.world
        self.planner = pl = Planner(world, self.traffic, self.service_scale, self.provider)
        plan = solve(pl.problem(), self.options, provider=self.provider, traffic=pl.traffic)
        for r in plan.routes:
            ds = day.drivers[r.vehicle_id]
            ds.queue = list(r.stop_ids)
            ds.depart_s = r.depart
        for u in plan.unassigned:
            day.pending[u.stop_id] = f"not planned: {u.reason}"
        # Everyone planned hears when to expect us; those who will be out answer.
        moved: list[str] = []
        for r in plan.routes:
            for v in r.visits:
                if v.kind is d.VisitKind.STOP:
                    moved += self._notify(day, v.ref, v.arrival)
        for ds in day.drivers.values():
            ds.queue = [o for o in ds.queue if o not in moved and o not in day.records]
        self._insert_all(day, moved, "the customer's new time fits no route")
        ctx, seqs, departs = pl.live(day)
        for vid, seq in seqs.items():
            if seq:
                day.drivers[vid].depart_s = schedule(ctx, ctx.vehicles[vid], seq).route.depart

    def _notify(self, day: DayState, oid: str, eta: int) -> list[str]:
        """Tell the customer; returns ``[oid]`` if they asked for a new time today."""
        day.notified.add(oid)
        reply = day.truth.reply(oid, eta)
        if reply is None:
            return []
        if reply.window is None:
            day.records[oid] = _failed(day, oid, "the customer asked for another day")
            day.log.append((day.now, f"{oid}: customer asked for another day"))
            return [oid]
        day.windows[oid] = (reply.window,)
        day.log.append((day.now, f"{oid}: customer chose {reply.window.start // 3600:02d}:{reply.window.start % 3600 // 60:02d}"))
        return [oid]

    # --- live insertion ---

    def _insert_all(self, day: DayState, order_ids: list[str], why: str | None,
                    exclude: tuple[str, ...] = ()) -> list[str]:
        """Insert each order where it costs least; those that fit nowhere wait in
        ``day.pending`` with ``why`` (None: the reason they already had)."""
        todo = [o for o in order_ids if o not in day.records]
        if not todo:
            return []
        assert self.planner is not None
        todo.sort(key=lambda o: (day.windows[o][-1].end, o))
        ctx, seqs, departs = self.planner.live(day, extra=tuple(todo), exclude=exclude)
        lp = LivePlan.of(ctx, seqs, departs=departs)
        left = []
        for oid in todo:
            choice = lp.insert(oid)
            if choice is None:
                left.append(oid)
                day.pending[oid] = why or day.pending.get(oid) or "no route can fit it"
                continue
            day.pending.pop(oid, None)
            day.log.append((day.now, f"{oid}: inserted into {choice.vehicle_id}'s route (stop {choice.position + 1}, "
                                     f"+{choice.added_duration_s // 60} min)"))
            seq = list(lp.states[choice.vehicle_id].seq)
            seq.insert(choice.position, oid)
            lp.update(choice.vehicle_id, seq, timing=choice.timing)
        _apply(day, {vid: st.seq for vid, st in lp.states.items()}, lp)
        return left

    def new_order(self, day: DayState, order_id: str) -> None:
        self._insert_all(day, [order_id], "no driver could take it")
        ds = next((x for x in day.drivers.values() if order_id in x.queue), None)
        if ds is None:
            return
        eta = self._eta(day, ds.id, order_id)
        if eta is not None and self._notify(day, order_id, eta):
            ds.queue.remove(order_id)
            self._insert_all(day, [order_id], "the customer's new time fits no route")

    def _eta(self, day: DayState, vid: str, oid: str) -> int | None:
        assert self.planner is not None
        ctx, seqs, departs = self.planner.live(day)
        if vid not in seqs:
            return None
        tm = schedule(ctx, ctx.vehicles[vid], seqs[vid], departs[vid])
        return next((v.arrival for v in tm.route.visits if v.ref == oid and v.kind is d.VisitKind.STOP), None)

    def driver_ill(self, day: DayState, driver_id: str, stops: list[str]) -> None:
        self._insert_all(day, stops, f"driver {day.drivers[driver_id].driver.name} fell ill; no other route could take it",
                         exclude=(driver_id,))

    # --- every half hour ---

    def check(self, day: DayState) -> None:
        assert self.planner is not None
        waiting = [o for o in day.pending if o in day.known and o not in day.records]
        if waiting:
            self._insert_all(day, waiting, None)
        self._repair(day, None)

    def before_leg(self, day: DayState, ds: DriverState) -> None:
        """The driver is about to set off: if the next door only opens long after they
        would get there (a window missed, the next one hours away), move that stop
        first. Lateness is left to the half-hourly check: repairing on every leg
        moved stops back and forth for a few minutes and drove ~8 % more."""
        assert self.planner is not None
        if not ds.queue:
            return
        ctx, seqs, departs = self.planner.live(day)
        if ds.id not in seqs:
            return
        tm = schedule(ctx, ctx.vehicles[ds.id], seqs[ds.id], departs[ds.id])
        if _long_wait(tm):
            self._repair(day, (ds.id,), (ctx, seqs, departs))

    def _repair(self, day: DayState, only: tuple[str, ...] | None, live: Any = None) -> None:
        """Move the stops that make a route late, overrun its shift, or wait long at
        the first door to wherever they fit without making anything late."""
        assert self.planner is not None
        ctx, seqs, departs = live or self.planner.live(day)
        lp = LivePlan.of(ctx, seqs, departs=departs)
        moved = False
        for vid in list(lp.states) if only is None else [v for v in only if v in lp.states]:
            st = lp.states[vid]
            tm = st.timing
            if tm is None or (tm.ok and not _long_wait(tm)):
                continue
            behind = [x.stop_id for x in sorted(tm.late, key=lambda x: -x.late_s)]
            if tm.overtime_s > 0 and st.seq and st.seq[-1] not in behind:
                behind.append(st.seq[-1])
            if _long_wait(tm) and st.seq[0] not in behind:
                behind.insert(0, st.seq[0])
            for sid in behind[:4]:
                cur = lp.states[vid]
                if sid not in cur.seq:
                    continue
                lp.update(vid, [x for x in cur.seq if x != sid])
                choice = lp.insert(sid)
                if choice is None:
                    lp.update(vid, list(cur.seq), timing=cur.timing)
                    continue
                seq = list(lp.states[choice.vehicle_id].seq)
                seq.insert(choice.position, sid)
                if choice.vehicle_id == vid and tuple(seq) == cur.seq:  # nowhere better: leave it
                    lp.update(vid, list(cur.seq), timing=cur.timing)
                    continue
                lp.update(choice.vehicle_id, seq, timing=choice.timing)
                moved = True
                day.log.append((day.now, f"{sid}: {vid} is behind; moved to {choice.vehicle_id} (stop {choice.position + 1})"))
        if moved:
            _apply(day, {vid: st.seq for vid, st in lp.states.items()}, lp)


def _long_wait(tm: Any, limit_s: int = 1800) -> bool:
    """The first stop of a live route only opens ``limit_s`` or more after arrival."""
    first = next((v for v in tm.route.visits if v.kind is d.VisitKind.STOP), None)
    return first is not None and first.wait_s >= limit_s and len(tm.route.visits) > 1


class NaivePolicy:
    name = "naive"

    def __init__(self, traffic: TrafficProfile | None = None, provider: MatrixProvider | None = None) -> None:
        self.traffic = traffic
        self.provider = provider
        self.planner: Planner | None = None

    def morning(self, day: DayState) -> None:
        world = day.world
        self.planner = pl = Planner(world, self.traffic, provider=self.provider)
        plan = naive_plan(to_problem(world), provider=self.provider, traffic=pl.traffic)
        for r in plan.routes:
            ds = day.drivers[r.vehicle_id]
            ds.queue = list(r.stop_ids)
        for ds in day.drivers.values():
            ds.depart_s = ds.driver.shift_start
        for u in plan.unassigned:
            day.pending[u.stop_id] = f"not planned: {u.reason}"

    def _assign(self, day: DayState, oid: str, exclude: tuple[str, ...] = (), live: Any = None) -> bool:
        assert self.planner is not None
        pl = self.planner
        ctx, seqs, departs = live or pl.live(day, extra=(oid,), exclude=exclude)
        stop = ctx.stops[oid]
        options = []
        for v in ctx.problem.vehicles:
            if not ctx.can_serve(v, stop):
                continue
            ds = day.drivers[v.id]
            if not _room(day, ds, oid):
                continue
            options.append((self._distance(ctx, v, seqs[v.id], oid), v.id))
        for _, vid in sorted(options):
            v = ctx.vehicles[vid]
            seq = self._with(ctx, seqs[vid], oid)
            tm = schedule(ctx, v, seq, departs[vid] if departs[vid] is not None else v.shift.start)
            if tm.overtime_s <= 0 and not tm.overload:
                day.drivers[vid].queue = list(seq)
                seqs[vid] = list(seq)
                day.pending.pop(oid, None)
                day.wake(vid)
                return True
        return False

    def _distance(self, ctx: Context, v: d.Vehicle, seq: list[str], oid: str) -> int:
        """How far the driver will be: from their last assigned stop (or where they are)."""
        here = ctx.row(seq[-1]) if seq else ctx.depot_row(v.start_depot)
        return ctx.model.distance(here, ctx.row(oid))

    def _with(self, ctx: Context, seq: list[str], oid: str) -> list[str]:
        return [*seq, oid]  # stops in the order assigned

    def new_order(self, day: DayState, order_id: str) -> None:
        if not self._assign(day, order_id):
            day.pending[order_id] = "no driver with room"

    def driver_ill(self, day: DayState, driver_id: str, stops: list[str]) -> None:
        name = day.drivers[driver_id].driver.name
        for oid in stops:
            if not self._assign(day, oid, exclude=(driver_id,)):
                day.pending[oid] = f"driver {name} fell ill; no driver with room"

    def check(self, day: DayState) -> None:
        return None  # no re-planning

    def before_leg(self, day: DayState, ds: DriverState) -> None:
        return None  # stops are driven in the order assigned


class SortedNaivePolicy(NaivePolicy):
    """A kinder baseline than the issue's: the same first-come dispatcher, but each
    driver drives their stops by window (earliest window first, as a sensible
    driver would), and "nearest" means nearest to any stop they already have.
    Still no optimization, re-planning or notifications. Not the target baseline;
    printed beside it so the gap is not mistaken for the baseline's weakness alone."""

    name = "naive-sorted"

    def morning(self, day: DayState) -> None:
        world = day.world
        self.planner = pl = Planner(world, self.traffic, provider=self.provider)
        for ds in day.drivers.values():
            ds.depart_s = ds.driver.shift_start
        orders = [o.id for o in world.morning_orders()]
        live = pl.live(day, extra=tuple(orders))
        for oid in orders:  # the order they came in
            if not self._assign(day, oid, live=live):
                day.pending[oid] = "not planned: no driver with room"

    def _distance(self, ctx: Context, v: d.Vehicle, seq: list[str], oid: str) -> int:
        rows = [ctx.row(x) for x in seq] or [ctx.depot_row(v.start_depot)]
        return min(ctx.model.distance(r, ctx.row(oid)) for r in rows)

    def _with(self, ctx: Context, seq: list[str], oid: str) -> list[str]:
        def key(x: str) -> tuple[int, int]:
            ws = ctx.stops[x].windows
            return (ws[0].start, ws[-1].end) if ws else (0, 24 * 3600)

        return sorted([*seq, oid], key=key)  # stable: ties keep the order assigned


def _room(day: DayState, ds: DriverState, oid: str) -> bool:
    """Capacity: everything of the order's kind on the van or still to collect, plus it."""
    o = day.world.order(oid)
    used = list(o.demand)
    ids = [x for x in ds.queue if day.world.order(x).kind is o.kind] + list(ds.carried)
    for x in ids:
        used = [a + b for a, b in zip(used, day.world.order(x).demand)]
    return all(u <= c for u, c in zip(used, ds.capacity))


def _failed(day: DayState, oid: str, reason: str):  # type: ignore[no-untyped-def]
    from .execute import StopRecord

    return StopRecord(oid, None, FAILED, reason, window=day.windows[oid][-1], notified=oid in day.notified)



def service_scale_from(world: World, records: Any) -> float:
    """What history says about the nominal service times: total time actually spent
    at the doors of delivered orders over the nominal total (one global factor --
    the simplest service-time model there is; ``lastmile.learn`` fits a real one)."""
    actual = nominal = 0
    for r in records.values():
        if r.outcome == "delivered" and r.start_s is not None and r.departure_s is not None:
            actual += r.departure_s - r.start_s
            nominal += world.order(r.order_id).service_s
    return round(actual / nominal, 3) if nominal else 1.0


def history_service_scale(world: World, *, days_back: int = 1, seed_offset: int = 1000,
                          provider: MatrixProvider | None = None) -> float:
    """The service-time factor lastmile would have learned from a previous day in the
    same city: another seed's day (other customers, same kinds of buildings), played
    by the naive dispatcher (its records are as good as any for dwell times)."""
    from datetime import timedelta

    from .execute import run_day
    from .truth import Truth
    from .world import make_world

    past = make_world(world.seed + seed_offset, orders=len(world.orders), drivers=len(world.drivers),
                      day=world.day - timedelta(days=days_back))
    result = run_day(past, NaivePolicy(provider=provider), truth=Truth(past, provider=provider))
    return service_scale_from(past, result.records)
