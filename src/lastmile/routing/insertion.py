"""Cheapest feasible insertion of one stop into existing routes.

Used when a same-day order arrives, when a dispatcher drags a stop, and by the
solve loop to re-home stops a route had to let go. Candidate positions are
ranked by their free-flow detour (cheap, vectorized), then checked in that
order with the full time-dependent schedule and priced at the vehicle's rates
(distance and working time, waiting included); a few feasible positions per
route are priced, and routes whose cheapest detour cannot beat the best found
so far are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .costs import cost_terms
from .domain import Stop, StopKind, TimeWindow, VisitKind
from .schedule import Context, Timing, _service_start, schedule


@dataclass(frozen=True)
class Spot:
    vehicle_id: str
    position: int  # index in the vehicle's stop sequence where the stop goes
    added_distance_m: int
    added_duration_s: int  # change in the route's duration (depart to return)


def best_insertion(ctx: Context, sequences: Mapping[str, Sequence[str]], stop_id: str,
                   vehicles: Sequence[str] | None = None, objective: str = "cost",
                   tries_per_route: int = 4) -> Spot | None:
    """The feasible position that adds the least cost (distance and working time
    at each vehicle's rates; waiting counts, since the driver is paid for it)."""
    stop = ctx.stops[stop_id]
    s = ctx.row(stop_id)
    dist = ctx.model.base.distances
    best: Spot | None = None
    best_cost = float("inf")
    for v in ctx.problem.vehicles:
        if vehicles is not None and v.id not in vehicles:
            continue
        if not ctx.can_serve(v, stop):
            continue
        seq = list(sequences.get(v.id, ()))
        if stop_id in seq:
            continue
        if not ctx.may_fit(v, seq, stop):
            continue
        per_m, per_s, fixed = cost_terms(v, objective)
        rows = [ctx.depot_row(v.start_depot)] + [ctx.row(x) for x in seq] + [ctx.depot_row(v.end)]
        a = np.asarray(rows[:-1])
        b = np.asarray(rows[1:])
        detour = dist[a, s] + dist[s, b] - dist[a, b]
        order = np.argsort(detour, kind="stable")
        # The detour's distance cost is a lower bound on any position's added cost.
        if per_m * float(detour[order[0]]) + (fixed if not seq else 0) >= best_cost:
            continue
        base = schedule(ctx, v, seq) if seq else None
        feasible = 0
        for pos in order:
            if per_m * float(detour[pos]) >= best_cost or feasible >= tries_per_route:
                break
            trial = seq[:pos] + [stop_id] + seq[pos:]
            tm = schedule(ctx, v, trial)
            if not tm.ok:
                continue
            if v.max_distance_m is not None and tm.route.distance_m > v.max_distance_m:
                continue
            feasible += 1
            added_d = tm.route.distance_m - (base.route.distance_m if base else 0)
            added_t = tm.route.duration_s - (base.route.duration_s if base else 0)
            cost = per_m * added_d + per_s * added_t + (fixed if not seq else 0)
            if cost < best_cost:
                best_cost = cost
                best = Spot(v.id, int(pos), int(added_d), int(added_t))
    return best


# --- the fast path: a live plan prepared once, each insertion a query ---------
#
# Savelsbergh-style bookkeeping per route, computed from one exact timing:
# per insertion position (before stop k; k = n: before the end depot) the time
# the driver leaves the previous place, the arrival it would push, and the
# forward slack -- how much later that arrival may become before any later stop
# misses its window, a break its window, or the route its shift end or hours.
# Load prefix/suffix maxima answer capacity in O(1). A query prices every
# position with vectorized free-flow lower bounds, estimates the survivors with
# the time-of-day model on the two new legs, and re-times the few best exactly:
# the answer is always an exactly timed, feasible route.

INF = float("inf")


@dataclass(frozen=True)
class Choice:
    vehicle_id: str
    position: int  # index in the vehicle's stop sequence where the stop goes
    added_distance_m: int
    added_duration_s: int
    cost: float  # milli-cents at the vehicle's rates (see costs.cost_terms)
    timing: Timing  # the route with the stop, exactly re-timed

    @property
    def spot(self) -> Spot:
        return Spot(self.vehicle_id, self.position, self.added_distance_m, self.added_duration_s)


class RouteState:
    """One route's sequence, exact timing and per-position slack."""

    def __init__(self, ctx: Context, vehicle_id: str, seq: Sequence[str], *, depart: int | None = None,
                 min_position: int = 0, objective: str = "cost") -> None:
        v = ctx.vehicles[vehicle_id]
        self.vehicle = v
        self.seq = tuple(seq)
        self.depart = depart
        self.min_position = min(min_position, len(self.seq))
        self._objective = objective
        self.per_m, self.per_s, self.fixed = cost_terms(v, objective)
        tm = schedule(ctx, v, self.seq, depart) if self.seq or depart is not None else None
        self.timing = tm
        n = len(self.seq)
        start_row, end_row = ctx.depot_row(v.start_depot), ctx.depot_row(v.end)
        rows = [start_row] + [ctx.row(x) for x in self.seq] + [end_row]
        self.prev_row = np.asarray(rows[:-1], dtype=np.int64)
        self.next_row = np.asarray(rows[1:], dtype=np.int64)
        dims = len(ctx.zero)
        if tm is None:  # an empty route: leave at the shift start
            t0 = v.shift.start if depart is None else depart
            self.dep_prev = [t0]
            self.old_arr = [t0]
            self.gap_extra = [0]
            latest = v.shift.end if v.max_work_s is None else min(v.shift.end, t0 + v.max_work_s)
            self.slack = [latest - t0]
            self.waits_from = [0]
            loads = np.zeros((1, dims))
            self.distance_m, self.duration_s = 0, 0
            self.ok = True
        else:
            r = tm.route
            self.distance_m, self.duration_s = r.distance_m, r.duration_s
            self.ok = tm.ok
            visits = r.visits
            m = len(visits)
            # backward pass over visits: forward slack on arrival and waiting still ahead
            latest_end = v.shift.end if v.max_work_s is None else min(v.shift.end, r.depart + v.max_work_s)
            fs = [0.0] * (m + 1)
            waits = [0] * (m + 1)
            fs[m] = latest_end - r.arrive
            breaks = {b.id: b for b in v.breaks}
            for i in range(m - 1, -1, -1):
                vis = visits[i]
                w = vis.start - vis.arrival
                if vis.kind is VisitKind.STOP:
                    stop = ctx.stops[vis.ref]
                    win = _window_in_use(stop, vis.start)
                    room = INF if win is None else win.end - vis.start
                else:
                    b = breaks.get(vis.ref)
                    room = INF if b is None else b.window.end - vis.start
                fs[i] = w + min(room, fs[i + 1])
                waits[i] = w + waits[i + 1]
            stop_vi = [i for i, vis in enumerate(visits) if vis.kind is VisitKind.STOP]
            node_vi = stop_vi + [m]
            self.dep_prev, self.old_arr, self.gap_extra, self.slack, self.waits_from = [], [], [], [], []
            prev_end, prev_vi = r.depart, -1
            for k in range(n + 1):
                vi = node_vi[k]
                arr = visits[vi].arrival if vi < m else r.arrive
                travel = sum(visits[j].travel_s for j in range(prev_vi + 1, min(vi + 1, m)))
                if vi == m:
                    travel += r.end_travel_s
                self.dep_prev.append(prev_end)
                self.old_arr.append(arr)
                self.gap_extra.append(max(0, arr - prev_end - travel))
                self.slack.append(fs[vi])
                self.waits_from.append(waits[vi])
                if vi < m:
                    prev_end, prev_vi = visits[vi].end, vi
            start_load = r.start_load or ctx.zero
            loads = np.asarray([start_load] + [visits[i].load or ctx.zero for i in stop_vi], dtype=np.float64)
        loads = loads.reshape(n + 1, dims) if dims else np.zeros((n + 1, 0))
        self.prefmax = np.maximum.accumulate(loads, axis=0)
        self.sufmax = np.maximum.accumulate(loads[::-1], axis=0)[::-1]
        self.capacity = np.asarray(v.capacity, dtype=np.float64) if v.capacity else np.full(dims, INF)
        self.positions = n + 1


def _window_in_use(stop: Stop, start: int) -> TimeWindow | None:
    for w in stop.windows:
        if w.start <= start <= w.end:
            return w
    return stop.windows[-1] if stop.windows else None


class LivePlan:
    """Routes prepared for many quick insertions (``insert``) and updated one route
    at a time (``update``) as stops are placed."""

    def __init__(self, ctx: Context, states: Mapping[str, RouteState]) -> None:
        self.ctx = ctx
        self.states: dict[str, RouteState] = dict(states)
        self._dirty = True

    @classmethod
    def of(cls, ctx: Context, sequences: Mapping[str, Sequence[str]], *, departs: Mapping[str, int | None] | None = None,
           min_positions: Mapping[str, int] | None = None, objective: str = "cost") -> "LivePlan":
        departs, min_positions = departs or {}, min_positions or {}
        states = {vid: RouteState(ctx, vid, seq, depart=departs.get(vid), min_position=min_positions.get(vid, 0),
                                  objective=objective)
                  for vid, seq in sequences.items()}
        return cls(ctx, states)

    def update(self, vehicle_id: str, seq: Sequence[str], *, min_position: int | None = None) -> None:
        old = self.states[vehicle_id]
        self.states[vehicle_id] = RouteState(
            self.ctx, vehicle_id, seq, depart=old.depart,
            min_position=old.min_position if min_position is None else min_position,
            objective=_objective_of(old))
        self._dirty = True

    def sequences(self) -> dict[str, tuple[str, ...]]:
        return {vid: st.seq for vid, st in self.states.items()}

    def _build(self) -> None:
        sts = list(self.states.values())
        self._vids = [st.vehicle.id for st in sts]
        cat = np.concatenate
        self._route = cat([np.full(st.positions, i, dtype=np.int64) for i, st in enumerate(sts)]) if sts else np.zeros(0, np.int64)
        self._pos = cat([np.arange(st.positions) for st in sts]) if sts else np.zeros(0, np.int64)
        self._prev = cat([st.prev_row for st in sts]) if sts else np.zeros(0, np.int64)
        self._next = cat([st.next_row for st in sts]) if sts else np.zeros(0, np.int64)
        f = lambda name: cat([np.asarray(getattr(st, name), dtype=np.float64) for st in sts]) if sts else np.zeros(0)  # noqa: E731
        self._dep, self._arr, self._gap, self._slack = f("dep_prev"), f("old_arr"), f("gap_extra"), f("slack")
        self._minpos = cat([np.full(st.positions, st.min_position) for st in sts]) if sts else np.zeros(0)
        self._per_m = cat([np.full(st.positions, float(st.per_m)) for st in sts]) if sts else np.zeros(0)
        self._fixed = cat([np.full(st.positions, float(st.fixed if not st.seq else 0)) for st in sts]) if sts else np.zeros(0)
        dims = len(self.ctx.zero)
        self._pref = cat([st.prefmax for st in sts]) if sts else np.zeros((0, dims))
        self._suf = cat([st.sufmax for st in sts]) if sts else np.zeros((0, dims))
        self._cap = cat([np.tile(st.capacity, (st.positions, 1)) for st in sts]) if sts else np.zeros((0, dims))
        dist = self.ctx.model.base.distances
        self._base_d = dist[self._prev, self._next].astype(np.float64)
        self._dirty = False

    def insert(self, stop_id: str, *, vehicles: Sequence[str] | None = None, verify: int = 3,
               max_checks: int = 12) -> Choice | None:
        """The cheapest feasible insertion of ``stop_id`` (not yet on any route)."""
        if self._dirty:
            self._build()
        ctx = self.ctx
        stop = ctx.stops[stop_id]
        if not len(self._route):
            return None
        s = ctx.row(stop_id)
        model = ctx.model
        dist = model.base.distances
        dur = model.base.durations
        ok_route = np.zeros(len(self._vids), dtype=bool)
        for i, vid in enumerate(self._vids):
            if vehicles is not None and vid not in vehicles:
                continue
            ok_route[i] = ctx.can_serve(self.states[vid].vehicle, stop)
        mask = ok_route[self._route] & (self._pos >= self._minpos)
        # capacity: deliveries ride from the depot to the stop, pickups from the stop back
        d = np.asarray(ctx.demand(stop), dtype=np.float64)
        if d.size and d.any():
            if stop.kind is StopKind.DELIVERY:
                peak = np.maximum(self._pref + d, self._suf)
            else:
                peak = np.maximum(self._pref, self._suf + d)
            mask &= (peak <= self._cap).all(axis=1)
        d_in = dist[self._prev, s].astype(np.float64)
        d_out = dist[s, self._next].astype(np.float64)
        detour = d_in + d_out - self._base_d
        # free-flow lower bounds on the time the stop pushes the rest of the route
        a_lb = self._dep + dur[self._prev, s]
        if stop.windows:
            mask &= a_lb <= stop.windows[-1].end
            start_lb = np.maximum(a_lb, stop.windows[0].start)
        else:
            start_lb = a_lb
        push_lb = start_lb + stop.service_s + dur[s, self._next] + self._gap - self._arr
        mask &= push_lb <= self._slack
        lb = self._per_m * detour + self._fixed
        idx = np.flatnonzero(mask)
        if not idx.size:
            return None
        idx = idx[np.argsort(lb[idx], kind="stable")]
        # estimate with the time-of-day model on the two new legs, best lower bounds first
        est: list[tuple[float, int]] = []
        kth = INF
        for j in idx.tolist():
            if lb[j] >= kth:
                break
            st = self.states[self._vids[self._route[j]]]
            k = int(self._pos[j])
            t0 = st.dep_prev[k]
            prev, nxt = int(self._prev[j]), int(self._next[j])
            a = t0 + model.travel(prev, s, t0)
            start, late = _service_start(stop, a)
            if late > 0:
                continue
            leave = start + stop.service_s
            a_next = leave + model.travel(s, nxt, leave) + st.gap_extra[k]
            push = a_next - st.old_arr[k]
            if push > st.slack[k]:
                continue
            added_t = max(0, push - st.waits_from[k])
            cost = st.per_m * float(detour[j]) + st.per_s * added_t + float(self._fixed[j])
            est.append((cost, j))
            if len(est) >= verify:
                kth = sorted(c for c, _ in est)[verify - 1]
        est.sort()
        best: Choice | None = None
        feasible = checks = 0
        for _, j in est:
            if feasible >= verify or (checks >= max_checks and best is not None):
                break
            checks += 1
            st = self.states[self._vids[self._route[j]]]
            k = int(self._pos[j])
            choice = self._exact(st, stop_id, k)
            if choice is None:
                continue
            feasible += 1
            if best is None or choice.cost < best.cost:
                best = choice
        return best

    def _exact(self, st: RouteState, stop_id: str, k: int) -> Choice | None:
        return exact_insertion(self.ctx, st, stop_id, k)


def _objective_of(st: RouteState) -> str:
    return getattr(st, "_objective", "cost")


def exact_insertion(ctx: Context, st: RouteState, stop_id: str, k: int) -> Choice | None:
    """Re-time the route with the stop at position ``k``; None if anything breaks."""
    v = st.vehicle
    trial = st.seq[:k] + (stop_id,) + st.seq[k:]
    tm = schedule(ctx, v, trial, st.depart)
    if not tm.ok:
        return None
    if v.max_distance_m is not None and tm.route.distance_m > v.max_distance_m:
        return None
    added_d = tm.route.distance_m - st.distance_m
    added_t = tm.route.duration_s - st.duration_s
    cost = st.per_m * added_d + st.per_s * added_t + (st.fixed if not st.seq else 0)
    return Choice(v.id, k, int(added_d), int(added_t), float(cost), tm)
