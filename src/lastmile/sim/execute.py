"""A simulated day, executed against the hidden truth under a dispatch policy.

``run_day(world, "lastmile" | "naive")`` plays the day as a discrete-event
simulation; ``compare(world)`` plays it under both and returns the figures side
by side (bench/day.py, the demo's ROI). The policies (``sim/policies.py``) decide
who drives what; this module only executes, the same way for both:

* A driver leaves the depot at the time the policy set (the plan's departure, or
  the shift start), drives to the next stop on their queue (true travel time,
  ``Truth.travel_s``), waits at the door if early, and is late if late (a late
  stop is still served). At the door the customer is home or not
  (``Truth.at_home``; ``notified`` if the policy told them when to expect it);
  served: the true service time (``Truth.service_s``); not home: a failed
  attempt of ``FAILED_ATTEMPT_S`` (knock, call, photo of the door) and the parcel
  stays on the van.
* The 30-minute break is taken at the first moment the driver is free inside
  (or after) its window; a wait for a customer's window absorbs it when it fits.
* A driver sets off for another stop only before the end of the shift; what is
  left is brought back (``returned``, "not reached before the shift ended").
* Events: orders arriving during the day go to the policy; at ``World.ill`` the
  driver finishes what they are doing, drives back to the depot and the policy
  gets their remaining stops.

Every order ends ``delivered`` (handed over; a return collected), ``failed``
with a reason (never left the depot: not planned, the customer asked for another
day; or a pickup nobody was home for), or ``returned`` with a reason (was on a
van, not handed over: not home, not reached before the shift ended).

Metrics (``metrics``): km driven, driver hours (first departure to last return,
waiting and breaks included), deliveries per driver-hour, on-time % (served
inside the window in force -- the one the customer last chose), first-attempt %
(served at the first attempt at the door / orders attempted; nothing is
attempted twice), cost per delivery (the vehicles' fixed, per-km and per-hour
costs), late minutes, and the share of orders served at all.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any

from ..routing.domain import StopKind, TimeWindow
from ..routing.ports import MatrixProvider
from .truth import Truth
from .world import Driver, World

FAILED_ATTEMPT_S = 180
CHECK_EVERY_S = 1800  # how often a policy may look at the day (falling behind)
DELIVERED, FAILED, RETURNED = "delivered", "failed", "returned"


@dataclass(frozen=True)
class StopRecord:
    order_id: str
    driver_id: str | None
    outcome: str  # delivered | failed | returned
    reason: str = ""  # why not delivered
    arrival_s: int | None = None  # at the door
    start_s: int | None = None  # service start (after any wait for the window)
    departure_s: int | None = None
    window: TimeWindow | None = None  # the window in force
    late_s: int = 0
    attempted: bool = False
    notified: bool = False


@dataclass
class DriverState:
    driver: Driver
    capacity: tuple[int, ...]
    queue: list[str] = field(default_factory=list)
    place: str = ""  # where the driver is (or is heading and will be free at ``free_at``)
    free_at: int = 0
    depart_s: int = 0  # when they (are to) leave the depot
    departed: bool = False
    first_depart: int | None = None
    back_s: int | None = None  # last return to the depot
    break_done: bool = False
    ill: bool = False
    done: bool = False  # ill and back, nothing more today
    km_m: int = 0
    carried: list[str] = field(default_factory=list)  # on board and not for the queue: failed deliveries, pickups
    peak_load: tuple[int, ...] = ()
    costs: tuple[int, int, int] = (0, 0, 0)  # the vehicle's fixed (per day used), per km, per hour; US cents

    @property
    def id(self) -> str:
        return self.driver.id

    @property
    def at_depot(self) -> bool:
        return self.place == self.driver.depot_id


@dataclass
class DayState:
    """What the day looks like at ``now``: shared by the executor and the policies."""

    world: World
    truth: Truth
    now: int = 0
    drivers: dict[str, DriverState] = field(default_factory=dict)
    windows: dict[str, tuple[TimeWindow, ...]] = field(default_factory=dict)  # in force, by order
    notified: set[str] = field(default_factory=set)
    records: dict[str, StopRecord] = field(default_factory=dict)  # final outcomes
    pending: dict[str, str] = field(default_factory=dict)  # known, on no queue: order -> reason
    known: set[str] = field(default_factory=set)
    log: list[tuple[int, str]] = field(default_factory=list)
    visits: list[tuple[str, str]] = field(default_factory=list)  # (order, driver) each time a driver sets off
    _wake: Any = None  # set by the executor: wake(driver_id) after a policy gives work

    def wake(self, driver_id: str) -> None:
        if self._wake is not None:
            self._wake(driver_id)

    def assigned(self) -> set[str]:
        return {o for ds in self.drivers.values() for o in ds.queue}

    def load_on_board(self, ds: DriverState, *, queued: bool = True, carried: bool = True) -> tuple[int, ...]:
        """On the van: deliveries still to hand over (``queued``) and what is carried
        back (``carried``: failed deliveries, collected returns)."""
        load = [0] * len(ds.capacity)
        ids = ([o for o in ds.queue if self.world.order(o).kind is StopKind.DELIVERY] if queued else []) + \
            (ds.carried if carried else [])
        for oid in ids:
            for k, q in enumerate(self.world.order(oid).demand):
                load[k] += q
        return tuple(load)


@dataclass
class DayResult:
    policy: str
    world_seed: int
    records: dict[str, StopRecord]
    drivers: dict[str, DriverState]
    log: list[tuple[int, str]]
    plan_s: float = 0.0  # wall-clock seconds the policy spent planning
    visits: list[tuple[str, str]] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        return metrics(self)

    def per_driver(self) -> list[dict[str, Any]]:
        """Each driver's day: stops attempted and delivered, km, hours (leaving the
        depot to the last return), when they left and came back."""
        out = []
        for ds in self.drivers.values():
            recs = [r for r in self.records.values() if r.driver_id == ds.id and r.attempted]
            back = ds.back_s if ds.back_s is not None else ds.free_at
            hours = max(0, back - ds.first_depart) / 3600 if ds.first_depart is not None else 0.0
            out.append({"driver": ds.id, "name": ds.driver.name, "vehicle": ds.driver.vehicle_id,
                        "attempted": len(recs), "delivered": sum(r.outcome == DELIVERED for r in recs),
                        "late_stops": sum(r.late_s > 0 for r in recs if r.outcome == DELIVERED),
                        "km": round(ds.km_m / 1000, 1), "hours": round(hours, 2), "left_s": ds.first_depart,
                        "back_s": ds.back_s if ds.first_depart is not None else None, "ill": ds.ill})
        return out


def run_day(world: World, policy: Any = "lastmile", *, truth: Truth | None = None, time_limit_s: float = 20.0,
            seed: int = 0, iterations: int | None = None, service_scale: float = 1.0,
            provider: MatrixProvider | None = None) -> DayResult:
    """Execute ``world``'s day under ``policy`` (``"lastmile"``, ``"naive"`` or a
    policy object, see ``policies.Policy``) against ``truth``. ``service_scale``:
    lastmile plans service times x this (``policies.history_service_scale``).
    ``provider``: the base travel matrix for the planners and (if ``truth`` is not
    given) the truth -- e.g. a road graph; default the straight-line estimate."""
    import time

    from .policies import make_policy

    truth = truth or Truth(world, provider=provider)
    if isinstance(policy, str):
        pol = make_policy(policy, time_limit_s=time_limit_s, seed=seed, iterations=iterations,
                          service_scale=service_scale, provider=provider)
    else:
        pol = policy
    day = DayState(world, truth)
    for dr in world.drivers:
        veh = world.vehicle(dr.vehicle_id)
        cap = veh.capacity
        day.drivers[dr.id] = DriverState(dr, cap, place=dr.depot_id, free_at=dr.shift_start, depart_s=dr.shift_start,
                                        peak_load=(0,) * len(cap),
                                        costs=(veh.fixed_cost, veh.cost_per_km, veh.cost_per_hour))
    for o in world.orders:
        day.windows[o.id] = o.windows
    day.known = {o.id for o in world.morning_orders()}
    events: list[tuple[int, int, str, str]] = []
    seq = itertools.count()

    def push(t: int, kind: str, ref: str) -> None:
        heapq.heappush(events, (int(t), next(seq), kind, ref))

    wake_at: dict[str, int] = {}

    def wake(driver_id: str) -> None:
        ds = day.drivers[driver_id]
        if ds.done:
            return
        t = max(ds.free_at, day.now, ds.depart_s if not ds.departed else 0)
        if wake_at.get(driver_id) == t:
            return
        wake_at[driver_id] = t
        push(t, "driver", driver_id)

    day._wake = wake
    day.now = min(d.shift_start for d in world.drivers) - 3600
    t0 = time.perf_counter()
    pol.morning(day)
    plan_s = time.perf_counter() - t0
    for ds in day.drivers.values():
        ds.free_at = ds.depart_s
        wake(ds.id)
    for ev in world.events():
        push(ev.at_s, "ill" if hasattr(ev, "driver_id") else "order", getattr(ev, "driver_id", getattr(ev, "order_id", "")))
    last_shift_end = max(d.shift_end for d in world.drivers)
    for t in range(min(d.shift_start for d in world.drivers) + CHECK_EVERY_S, last_shift_end, CHECK_EVERY_S):
        push(t, "check", "")

    while events:
        t, _, kind, ref = heapq.heappop(events)
        day.now = max(day.now, t)
        if kind == "driver":
            if wake_at.get(ref) != t:
                continue  # superseded
            wake_at.pop(ref, None)
            ds = day.drivers[ref]
            if ds.queue and not ds.ill:
                t1 = time.perf_counter()
                pol.before_leg(day, ds)
                plan_s += time.perf_counter() - t1
                if wake_at.get(ref, t) != t:
                    continue  # the policy moved the driver's start (not yet left)
                wake_at.pop(ref, None)
            _step(day, ds, wake)
        elif kind == "order":
            day.known.add(ref)
            t1 = time.perf_counter()
            pol.new_order(day, ref)
            plan_s += time.perf_counter() - t1
            if ref not in day.assigned() and ref not in day.records:
                day.pending.setdefault(ref, "no driver could take it")
        elif kind == "ill":
            ds = day.drivers[ref]
            ds.ill = True
            left, ds.queue = list(ds.queue), []
            day.log.append((t, f"{ref} falls ill; {len(left)} stops to hand over"))
            t1 = time.perf_counter()
            pol.driver_ill(day, ref, left)
            plan_s += time.perf_counter() - t1
            for oid in left:
                if oid not in day.assigned() and oid not in day.records:
                    day.pending.setdefault(oid, f"driver {ds.driver.name} fell ill; no other driver could take it")
            wake(ref)
        elif kind == "check":
            t1 = time.perf_counter()
            pol.check(day)
            plan_s += time.perf_counter() - t1
    _close(day)
    return DayResult(getattr(pol, "name", str(policy)), world.seed, day.records, day.drivers, day.log, round(plan_s, 2),
                     day.visits)


def _step(day: DayState, ds: DriverState, wake: Any) -> None:
    """The driver is free at ``day.now`` at ``ds.place``: decide and do the next thing."""
    truth, world, now = day.truth, day.world, day.now
    dr = ds.driver
    if ds.done:
        return
    if ds.ill or not ds.queue or now >= dr.shift_end:
        if ds.queue and not ds.ill:
            for oid in ds.queue:
                _end(day, oid, ds.id, RETURNED, "not reached before the shift ended")
            ds.queue = []
        if not ds.at_depot:
            ds.km_m += truth.distance_m(ds.place, dr.depot_id)
            ds.free_at = now + truth.travel_s(ds.place, dr.depot_id, now)
            ds.place = dr.depot_id
            ds.back_s = ds.free_at
        _unload(day, ds)
        if ds.ill:
            ds.done = True
        return
    if not ds.break_done and now >= dr.break_start:
        ds.break_done = True
        ds.free_at = now + dr.break_s
        wake(ds.id)
        return
    load = day.load_on_board(ds)
    ds.peak_load = tuple(max(a, b) for a, b in zip(ds.peak_load, load))
    oid = ds.queue.pop(0)
    day.visits.append((oid, ds.id))
    if oid in day.records:  # never twice: a policy bug would show here (and in the tests)
        day.log.append((now, f"{oid} was already finished; {ds.id} skips it"))
        wake(ds.id)
        return
    if not ds.departed:
        ds.departed = True
        ds.first_depart = now
    o = world.order(oid)
    travel = truth.travel_s(ds.place, oid, now)
    ds.km_m += truth.distance_m(ds.place, oid)
    arrival = now + travel
    windows = day.windows[oid]
    w = next((x for x in windows if arrival <= x.end), None)
    start = max(arrival, w.start) if w else arrival
    if not ds.break_done and max(arrival, dr.break_start) + dr.break_s <= start:
        ds.break_done = True  # the wait at the door absorbs the break
    if not ds.break_done and arrival >= dr.break_end:
        ds.break_done = True  # overdue: taken on arrival, before knocking
        start = max(start, arrival + dr.break_s)
    in_force = w or (windows[-1] if windows else None)
    late = max(0, start - in_force.end) if in_force else 0
    notified = oid in day.notified
    if truth.at_home(oid, start, notified):
        service = truth.service_s(oid, start, first_visit=True)
        rec = StopRecord(oid, ds.id, DELIVERED, "", arrival, start, start + service, in_force, late, True, notified)
        if o.kind is StopKind.PICKUP:
            ds.carried.append(oid)
    else:
        service = FAILED_ATTEMPT_S
        reason = "customer not home"
        rec = StopRecord(oid, ds.id, FAILED if o.kind is StopKind.PICKUP else RETURNED, reason, arrival, start,
                         start + service, in_force, late, True, notified)
        if o.kind is StopKind.DELIVERY:
            ds.carried.append(oid)
    day.records[oid] = rec
    load = day.load_on_board(ds)
    ds.peak_load = tuple(max(a, b) for a, b in zip(ds.peak_load, load))
    ds.place = oid
    ds.free_at = rec.departure_s or start
    wake(ds.id)


def _unload(day: DayState, ds: DriverState) -> None:
    """Back at the depot: failed deliveries are scanned in (returned), pickups dropped."""
    ds.carried = []


def _end(day: DayState, oid: str, driver_id: str | None, outcome: str, reason: str) -> None:
    if oid in day.records:
        return
    day.records[oid] = StopRecord(oid, driver_id, outcome, reason, window=(day.windows.get(oid) or (None,))[-1])


def _close(day: DayState) -> None:
    for ds in day.drivers.values():
        for oid in ds.queue:
            _end(day, oid, ds.id, RETURNED, "not reached before the shift ended")
        ds.queue = []
    for oid, reason in day.pending.items():
        _end(day, oid, None, FAILED, reason)
    for o in day.world.orders:
        _end(day, o.id, None, FAILED, "never planned")


def metrics(result: DayResult, world: World | None = None) -> dict[str, Any]:
    recs = list(result.records.values())
    delivered = [r for r in recs if r.outcome == DELIVERED]
    attempted = [r for r in recs if r.attempted]
    on_time = [r for r in delivered if r.late_s <= 0]
    km = sum(ds.km_m for ds in result.drivers.values()) / 1000
    hours = 0.0
    cost = 0.0
    for ds in result.drivers.values():
        if ds.first_depart is None:
            continue
        back = ds.back_s if ds.back_s is not None else ds.free_at
        h = max(0, back - ds.first_depart) / 3600
        hours += h
        fixed, per_km, per_h = ds.costs
        cost += fixed + per_km * ds.km_m / 1000 + per_h * h
    n = len(delivered)
    return {
        "policy": result.policy,
        "orders": len(recs),
        "delivered": n,
        "failed": sum(r.outcome == FAILED for r in recs),
        "returned": sum(r.outcome == RETURNED for r in recs),
        "attempted": len(attempted),
        "on_time": len(on_time),
        "km": round(km, 1),
        "km_per_delivery": round(km / n, 3) if n else 0.0,
        "driver_hours": round(hours, 2),
        "drivers_used": sum(ds.first_depart is not None for ds in result.drivers.values()),
        "deliveries_per_driver_hour": round(n / hours, 3) if hours else 0.0,
        "on_time_pct": round(100 * len(on_time) / n, 2) if n else 0.0,
        "first_attempt_pct": round(100 * n / len(attempted), 2) if attempted else 0.0,
        "served_pct": round(100 * n / len(recs), 2) if recs else 0.0,
        "cost_usd": round(cost / 100, 2),
        "cost_per_delivery_usd": round(cost / 100 / n, 2) if n else 0.0,
        "late_minutes": round(sum(r.late_s for r in delivered) / 60, 1),
        "late_stops": sum(r.late_s > 0 for r in delivered),
        "plan_s": result.plan_s,
    }


def compare(world: World, *, truth: Truth | None = None, time_limit_s: float = 20.0, seed: int = 0,
            iterations: int | None = None, service_scale: float | None = None,
            provider: MatrixProvider | None = None) -> dict[str, Any]:
    """The day under lastmile and under the naive dispatcher, on the same truth:
    ``{"lastmile": metrics, "naive": metrics, "ratios": {...}, "seed", "service_scale"}``.
    ``service_scale`` None: learned from a previous simulated day
    (``policies.history_service_scale``); 1.0: plan on the nominal service times."""
    from .policies import history_service_scale

    truth = truth or Truth(world, provider=provider)
    scale = history_service_scale(world, provider=provider) if service_scale is None else service_scale
    ours = run_day(world, "lastmile", truth=truth, time_limit_s=time_limit_s, seed=seed, iterations=iterations,
                   service_scale=scale, provider=provider)
    base = run_day(world, "naive", truth=truth, provider=provider)
    a, b = metrics(ours), metrics(base)
    return {"seed": world.seed, "orders": len(world.orders), "drivers": len(world.drivers), "service_scale": scale,
            "lastmile": a, "naive": b, "ratios": ratios(a, b)}


def ratios(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | None]:
    def rel(x: float, y: float) -> float | None:
        return round(x / y - 1, 4) if y else None

    return {
        "km_saved": -rel(a["km"], b["km"]) if b["km"] else None,  # type: ignore[operator]
        "km_per_delivery_saved": (-rel(a["km_per_delivery"], b["km_per_delivery"])  # type: ignore[operator]
                                  if b["km_per_delivery"] else None),
        "deliveries_per_driver_hour_gain": rel(a["deliveries_per_driver_hour"], b["deliveries_per_driver_hour"]),
        "cost_per_delivery_saved": (-rel(a["cost_per_delivery_usd"], b["cost_per_delivery_usd"])  # type: ignore[operator]
                                    if b["cost_per_delivery_usd"] else None),
    }
