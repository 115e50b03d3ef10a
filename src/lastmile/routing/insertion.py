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

import heapq
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


@dataclass(frozen=True)
class Estimate:
    vehicle_id: str
    position: int
    added_distance_m: int
    added_duration_s: int
    cost: float


class RouteState:
    """One route's sequence, exact timing and per-position slack."""

    def __init__(self, ctx: Context, vehicle_id: str, seq: Sequence[str], *, depart: int | None = None,
                 min_position: int = 0, objective: str = "cost", timing: Timing | None = None) -> None:
        v = ctx.vehicles[vehicle_id]
        self.vehicle = v
        self.seq = tuple(seq)
        self.depart = depart
        self.min_position = min(min_position, len(self.seq))
        self._objective = objective
        self.per_m, self.per_s, self.fixed = cost_terms(v, objective)
        if timing is not None and tuple(timing.route.stop_ids) == self.seq:
            tm: Timing | None = timing  # already re-timed exactly (the chosen insertion)
        else:
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
        # the same per position, as arrays ready to be concatenated across routes
        p = n + 1
        self.arrays = {
            "dep": np.asarray(self.dep_prev, dtype=np.float64), "arr": np.asarray(self.old_arr, dtype=np.float64),
            "gap": np.asarray(self.gap_extra, dtype=np.float64), "slack": np.asarray(self.slack, dtype=np.float64),
            "minpos": np.full(p, float(self.min_position)), "per_m": np.full(p, float(self.per_m)),
            "fixed": np.full(p, float(self.fixed if not self.seq else 0)), "pos": np.arange(p),
            "cap": np.broadcast_to(self.capacity, (p, dims)),
        }


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

    def update(self, vehicle_id: str, seq: Sequence[str], *, min_position: int | None = None,
               timing: Timing | None = None) -> None:
        """Replace a route's sequence (``timing``: its exact timing, if known -- e.g.
        ``Choice.timing`` of the insertion just made)."""
        old = self.states[vehicle_id]
        self.states[vehicle_id] = RouteState(
            self.ctx, vehicle_id, seq, depart=old.depart,
            min_position=old.min_position if min_position is None else min_position,
            objective=_objective_of(old), timing=timing)
        self._dirty = True

    def sequences(self) -> dict[str, tuple[str, ...]]:
        return {vid: st.seq for vid, st in self.states.items()}

    def _build(self) -> None:
        sts = list(self.states.values())
        self._vids = [st.vehicle.id for st in sts]
        dims = len(self.ctx.zero)
        if not sts:
            self._route = np.zeros(0, np.int64)
            return
        cat = np.concatenate
        self._route = np.repeat(np.arange(len(sts)), [st.positions for st in sts])
        self._prev = cat([st.prev_row for st in sts])
        self._next = cat([st.next_row for st in sts])
        a = {k: cat([st.arrays[k] for st in sts]) for k in sts[0].arrays}
        self._pos, self._dep, self._arr, self._gap, self._slack = a["pos"], a["dep"], a["arr"], a["gap"], a["slack"]
        self._minpos, self._per_m, self._fixed, self._cap = a["minpos"], a["per_m"], a["fixed"], a["cap"]
        self._pref = cat([st.prefmax for st in sts]).reshape(-1, dims)
        self._suf = cat([st.sufmax for st in sts]).reshape(-1, dims)
        dist = self.ctx.model.base.distances
        self._base_d = dist[self._prev, self._next].astype(np.float64)
        self._cache: dict = {}
        self._dirty = False

    def insert(self, stop_id: str, *, vehicles: Sequence[str] | None = None, verify: int = 3,
               max_checks: int = 12) -> Choice | None:
        """The cheapest feasible insertion of ``stop_id`` (not yet on any route):
        the ``verify`` best estimates are re-timed exactly; the cheapest that holds wins."""
        est = self._estimates(stop_id, vehicles, verify)
        best: Choice | None = None
        feasible = checks = 0
        for _, j, _t in est:
            if feasible >= verify or (checks >= max_checks and best is not None):
                break
            checks += 1
            st = self.states[self._vids[self._route[j]]]
            choice = self._exact(st, stop_id, int(self._pos[j]))
            if choice is None:
                continue
            feasible += 1
            if best is None or choice.cost < best.cost:
                best = choice
        return best

    def estimate(self, stop_id: str, *, vehicles: Sequence[str] | None = None) -> Estimate | None:
        """The cheapest position by the slack bookkeeping alone (no exact re-timing):
        for quotes, such as delivery slots. Booking goes through ``insert``."""
        est = self._estimates(stop_id, vehicles, 1)
        if not est:
            return None
        cost, j, added_t = est[0]
        st = self.states[self._vids[self._route[j]]]
        k = int(self._pos[j])
        d = self.ctx.model.base.distances
        s = self.ctx.row(stop_id)
        added_d = int(d[st.prev_row[k], s] + d[s, st.next_row[k]] - d[st.prev_row[k], st.next_row[k]])
        return Estimate(st.vehicle.id, k, added_d, int(added_t), float(cost))

    def _estimates(self, stop_id: str, vehicles: Sequence[str] | None, verify: int) -> list[tuple[float, int, int]]:
        """(estimated cost, candidate index, added seconds) of the promising feasible
        positions, cheapest first."""
        if self._dirty:
            self._build()
        ctx = self.ctx
        stop = ctx.stops[stop_id]
        if not len(self._route):
            return []
        s = ctx.row(stop_id)
        model = ctx.model
        dur = model.base.durations
        mask, detour, lb, a_lb, d_out, by_lb = self._shared(stop, s, vehicles)
        mask = mask.copy()  # the shared arrays serve the next stop at this place too
        # free-flow lower bounds on the time the stop pushes the rest of the route
        if stop.windows:
            mask = mask & (a_lb <= stop.windows[-1].end)
            start_lb = np.maximum(a_lb, stop.windows[0].start)
        else:
            start_lb = a_lb
        push_lb = start_lb + stop.service_s + d_out + self._gap - self._arr
        mask &= push_lb <= self._slack
        idx = by_lb[mask[by_lb]]  # feasible candidates, cheapest lower bound first
        if not idx.size:
            return []
        # estimate with the time-of-day model on the two new legs, best lower bounds first
        est: list[tuple[float, int, int]] = []
        top: list[float] = []  # max-heap (negated) of the best ``verify`` estimates
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
            est.append((cost, j, added_t))
            if len(top) < verify:
                heapq.heappush(top, -cost)
            elif cost < -top[0]:
                heapq.heapreplace(top, -cost)
            if len(top) >= verify:
                kth = -top[0]
        est.sort()
        return est

    def _shared(self, stop: Stop, s: int, vehicles: Sequence[str] | None):  # type: ignore[no-untyped-def]
        """What does not depend on the stop's windows -- who may serve it, capacity, the
        detour, lower bounds -- kept for the next stop at the same place (slot quotes)."""
        key = (stop.location, stop.demand, stop.kind, stop.skills, tuple(vehicles) if vehicles is not None else None)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        ctx = self.ctx
        dist = ctx.model.base.distances
        dur = ctx.model.base.durations
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
        detour = dist[self._prev, s].astype(np.float64) + dist[s, self._next] - self._base_d
        lb = self._per_m * detour + self._fixed
        a_lb = self._dep + dur[self._prev, s]
        d_out = dur[s, self._next].astype(np.float64)
        out = (mask, detour, lb, a_lb, d_out, np.argsort(lb, kind="stable"))
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = out
        return out

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
