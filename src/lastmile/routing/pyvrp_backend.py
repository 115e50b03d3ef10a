"""The PyVRP backend: the only module that imports pyvrp.

How our model maps onto PyVRP's:

* Multiple time windows: one PyVRP client per window at the same location,
  in a mutually exclusive client group (exactly one of them is visited).
* Skills and the border: each distinct set of vehicles allowed to serve a
  stop is an extra load dimension; the stop carries one unit of it, allowed
  vehicles have room for all such stops and the others none. One matrix, however
  many skill combinations (routing profiles would copy the n x n matrix each).
* Breaks: the shift and hours are shortened by the break time so the plan
  leaves room for them; ``schedule.py`` places the breaks, and the solve loop
  re-solves with tighter windows if a break pushes a stop late.
* Balance: a second phase sets each vehicle's nominal shift to the mean route
  duration of the first phase and charges overtime beyond it, which spreads
  the work without a hard cap.
* Costs: PyVRP wants integers; we use milli-cents (cents per km == milli-cents
  per metre).
* Unservable stops: required stops stay required; if no feasible plan exists
  they all become optional with a prize far above any route cost (higher for
  higher priority), so the solver leaves out as few as it must.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pyvrp
from pyvrp.search import NeighbourhoodParams
from pyvrp.stop import MaxIterations

from .costs import cost_terms
from .domain import Problem, StopKind
from .ports import LocationIndex, SolverInput, SolverOutput

UNLIMITED = 1 << 40
BIG_PRIZE = 1_000_000_000  # milli-cents ($10,000): worth more than any stop's share of a route
INFEASIBLE = np.iinfo(np.int64).max  # what PyVRP reports as the cost of an infeasible best
MAX_PENALTY = 10_000_000_000
LARGE, LARGE_NEIGHBOURS = 2000, 20  # per unit of time warp / excess load: infeasibility never pays


@dataclass
class _Built:
    data: pyvrp.ProblemData
    client_stop: list[str]  # PyVRP client index -> stop id
    stop_clients: dict[str, list[int]]
    type_vehicles: list[list[str]]  # vehicle type index -> vehicle ids
    types: list[pyvrp.VehicleType]


class PyVRPBackend:
    name = "pyvrp"

    def solve(self, problem: Problem, durations: np.ndarray, distances: np.ndarray, index: LocationIndex,
              inp: SolverInput) -> SolverOutput:
        t0 = time.perf_counter()
        budget = max(inp.time_limit_s, 0.05)
        prize_mode = _obviously_short(problem, inp, durations, index)
        built = _build(problem, durations, distances, index, inp, prize_mode)
        share = 0.6 if inp.balance > 0 else 1.0
        res = _run(built, inp, budget * share, t0, budget, inp.initial, prize_mode)
        iterations = res.num_iterations
        if not res.best.is_feasible() and not prize_mode:
            prize_mode = True
            built = _build(problem, durations, distances, index, inp, prize_mode)
            left = max(budget - (time.perf_counter() - t0), budget * 0.3)
            res = _run(built, inp, left * (0.6 if inp.balance > 0 else 1.0), t0, budget, None, prize_mode)
            iterations += res.num_iterations
        if inp.balance > 0 and res.best.is_feasible():
            used = [r.duration() for r in res.best.routes()]
            if len(used) >= 1:
                target = int(np.mean(used))
                seqs = _sequences(built, res.best)
                built = _build(problem, durations, distances, index, inp, prize_mode, balance_target=target)
                left = max(budget - (time.perf_counter() - t0), 0.05)
                res2 = _run(built, inp, left, t0, budget, seqs, prize_mode)
                iterations += res2.num_iterations
                if res2.best.is_feasible():
                    res = res2
        # Even an infeasible answer is a good start: the solve loop re-times it and
        # lets go of what does not fit.
        seqs = _sequences(built, res.best)
        served = {s for seq in seqs.values() for s in seq}
        dropped = tuple(s for s in inp.stop_ids if s not in served)
        return SolverOutput(seqs, dropped, time.perf_counter() - t0, iterations)


def _obviously_short(problem: Problem, inp: SolverInput, durations: np.ndarray, index: LocationIndex) -> bool:
    """Start prize-collecting at once when the fleet plainly cannot do it all:
    more demand than capacity, or more work (service plus a nearest-neighbour
    travel estimate) than 90 % of the drivers' hours. Otherwise try to serve
    everything and fall back if that proves infeasible."""
    stops = {s.id: s for s in problem.stops}
    nd = len(problem.dimensions)
    if all(v.capacity for v in problem.vehicles):
        for k in range(nd):
            need = sum(stops[s].demand[k] for s in inp.stop_ids if stops[s].demand)
            if need > sum(v.capacity[k] for v in problem.vehicles):
                return True
    if not inp.stop_ids:
        return False
    rows = np.fromiter((index.stop_row[s] for s in inp.stop_ids), dtype=np.int64)
    sub = durations[np.ix_(rows, rows)].astype(np.float64)
    np.fill_diagonal(sub, np.inf)
    nearest = np.where(np.isfinite(sub.min(axis=1)), sub.min(axis=1), 0.0) if len(rows) > 1 else np.zeros(1)
    work = float(nearest.sum()) + sum(stops[s].service_s for s in inp.stop_ids)
    hours = sum(min(v.shift.end - v.shift.start, v.max_work_s or 10**9) - sum(b.duration_s for b in v.breaks)
                for v in problem.vehicles)
    return work > 0.9 * hours


class _Progress:
    """A stopping criterion that reports progress and stops at the deadline."""

    def __init__(self, seconds: float, t0: float, budget: float, inp: SolverInput, give_up: float | None = None) -> None:
        # An absolute deadline: PyVRP first calls us only after its initial local
        # search, which on thousands of stops takes many seconds.
        self._iters = MaxIterations(inp.iterations) if inp.iterations else None
        self._start = time.perf_counter()
        self._deadline = self._start + max(seconds, 0.01)
        # Serving every stop may be impossible: if nothing feasible has turned up
        # by ``give_up`` of the time, stop so the caller can drop some instead.
        self._give_up = self._start + give_up * max(seconds, 0.01) if give_up else None
        self._t0, self._budget, self._cb = t0, budget, inp.progress
        self._last = 0.0

    def __call__(self, best_cost: float) -> bool:
        now = time.perf_counter()
        if self._cb is not None and now - self._last > 0.25:
            self._last = now
            self._cb(min((now - self._t0) / self._budget, 0.99), "optimizing routes")
        if self._give_up is not None and now >= self._give_up and best_cost >= INFEASIBLE:
            return True
        if self._iters is not None:
            return self._iters(best_cost)
        return now >= self._deadline


def _run(built: _Built, inp: SolverInput, seconds: float, t0: float, budget: float,
         initial: dict[str, tuple[str, ...]] | None, prize_mode: bool) -> pyvrp.Result:
    init = _initial(built, initial) if initial else None
    kw: dict = {}
    if prize_mode:
        kw["penalty"] = pyvrp.PenaltyParams(max_penalty=MAX_PENALTY)
    if built.data.num_clients > LARGE:
        # PyVRP's first (exhaustive) local search grows with the neighbourhood; on
        # thousands of stops a smaller one reaches a first plan in time.
        kw["neighbourhood"] = NeighbourhoodParams(num_neighbours=LARGE_NEIGHBOURS)
    params = pyvrp.SolveParams(**kw)
    give_up = None if prize_mode or inp.iterations else 0.35
    return pyvrp.solve(built.data, _Progress(seconds, t0, budget, inp, give_up), seed=inp.seed,
                       collect_stats=False, display=False, initial_solution=init, params=params)


def _initial(built: _Built, seqs: dict[str, tuple[str, ...]]) -> pyvrp.Solution | None:
    where = {vid: t for t, vids in enumerate(built.type_vehicles) for vid in vids}
    routes = []
    for vid, seq in seqs.items():
        if vid not in where or not seq:
            continue
        visits = [built.stop_clients[s][0] for s in seq if s in built.stop_clients]
        if visits:
            routes.append(pyvrp.Route(built.data, visits, where[vid]))
    per_type: dict[int, int] = defaultdict(int)
    for r in routes:
        per_type[r.vehicle_type()] += 1
    if any(n > built.types[t].num_available for t, n in per_type.items()):
        return None
    try:
        return pyvrp.Solution(built.data, routes)
    except (ValueError, IndexError):
        return None


def _sequences(built: _Built, sol: pyvrp.Solution) -> dict[str, tuple[str, ...]]:
    counters: dict[int, int] = defaultdict(int)
    out: dict[str, tuple[str, ...]] = {}
    for r in sol.routes():
        t = r.vehicle_type()
        vid = built.type_vehicles[t][counters[t]]
        counters[t] += 1
        out[vid] = tuple(built.client_stop[a.idx] for a in r if a.is_client())
    return out


def _build(problem: Problem, durations: np.ndarray, distances: np.ndarray, index: LocationIndex,
           inp: SolverInput, prize_mode: bool, balance_target: int | None = None) -> _Built:
    stops = {s.id: s for s in problem.stops}
    nd = len(problem.dimensions)
    n = len(index.locations)
    locations = [pyvrp.Location(x=p.lon * 1e5, y=p.lat * 1e5) for p in index.locations]
    depot_idx = {d.id: k for k, d in enumerate(problem.depots)}
    depots = [pyvrp.Depot(index.depot_row[d.id], *((d.hours.start, d.hours.end) if d.hours else ()))
              for d in problem.depots]

    # Who may serve a stop (skills, the border) becomes extra load dimensions,
    # not routing profiles: one n x n matrix however many skill combinations.
    # Each distinct set of allowed vehicles is a dimension; its stops carry one
    # unit of it, allowed vehicles have room for all of them, the others none.
    vehicles = list(problem.vehicles)
    all_ids = frozenset(v.id for v in vehicles)
    allowed = inp.allowed
    sets = sorted({allowed.get(s, all_ids) for s in inp.stop_ids} - {all_ids}, key=lambda x: sorted(x))
    set_dim = {a: nd + k for k, a in enumerate(sets)}
    n_extra = len(sets)
    set_size = {a: sum(1 for s in inp.stop_ids if allowed.get(s, all_ids) == a) for a in sets}

    # Breaks are not native to PyVRP: a stop whose window closes after breaks can
    # start will, in reality, be reached up to a break later than PyVRP thinks.
    # Closing such windows a break earlier keeps the plan honest (schedule.py then
    # places the real break, and the solve loop fixes what remains).
    break_starts = [b.window.start for v in vehicles for b in v.breaks]
    break_cut = max((b.duration_s for v in vehicles for b in v.breaks), default=0)
    first_break = min(break_starts, default=UNLIMITED)

    clients: list[pyvrp.Client] = []
    client_stop: list[str] = []
    stop_clients: dict[str, list[int]] = {}
    groups: list[pyvrp.ClientGroup] = []
    for sid in inp.stop_ids:
        s = stops[sid]
        demand = (list(s.demand) if s.demand else [0] * nd) + [0] * n_extra
        zero = [0] * (nd + n_extra)
        delivery, pickup = (demand, list(zero)) if s.kind is StopKind.DELIVERY else (list(zero), demand)
        a = allowed.get(sid, all_ids)
        if a in set_dim:
            delivery[set_dim[a]] = 1
        optional = prize_mode or not s.required
        prize = (BIG_PRIZE * (100 + s.priority) // 100) if (prize_mode and s.required) else s.penalty * 1000
        if not s.required and not prize_mode:
            prize = s.penalty * 1000
        cut = inp.window_end_cut.get(sid, 0)
        windows = [(w.start, max(w.start, w.end - cut - (break_cut if w.end > first_break else 0)))
                   for w in s.windows] or [(0, UNLIMITED)]
        grouped = len(windows) > 1
        gidx = len(groups) if grouped else None
        members = []
        for early, late in windows:
            members.append(len(clients))
            clients.append(pyvrp.Client(
                location=index.stop_row[sid], delivery=delivery, pickup=pickup, service_duration=s.service_s,
                tw_early=early, tw_late=late, prize=prize, required=(not optional) and not grouped,
                group=gidx, name=sid))
            client_stop.append(sid)
        if grouped:
            groups.append(pyvrp.ClientGroup(members, required=not optional))
        stop_clients[sid] = members

    # One vehicle type per distinct set of attributes.
    type_of: dict[tuple, list[str]] = defaultdict(list)
    for v in vehicles:
        breaks = sum(b.duration_s for b in v.breaks)
        shift_end = v.shift.end - inp.shift_cut.get(v.id, 0) - breaks
        per_m, per_s, fixed = cost_terms(v, inp.objective)
        cap = (tuple(v.capacity) if v.capacity else (UNLIMITED,) * nd) + tuple(
            set_size[a] if v.id in a else 0 for a in sets)
        max_work = (v.max_work_s - breaks) if v.max_work_s is not None else None
        key = (depot_idx[v.start_depot], depot_idx[v.end], cap, v.shift.start, max(shift_end, v.shift.start),
               max_work, v.max_distance_m, per_m, per_s, fixed)
        type_of[key].append(v.id)
    types: list[pyvrp.VehicleType] = []
    type_vehicles: list[list[str]] = []
    for key, vids in type_of.items():
        start, end, cap, tw_early, tw_late, max_work, max_dist, per_m, per_s, fixed = key
        kw: dict = {}
        hard = max_work if max_work is not None else UNLIMITED
        if balance_target is not None:
            nominal = min(hard, max(balance_target, 1))
            kw.update(shift_duration=nominal, max_overtime=max(hard - nominal, 0),
                      unit_overtime_cost=max(int(per_s * inp.balance * 4), int(300 * inp.balance), 1))
        elif max_work is not None:
            kw.update(shift_duration=max(max_work, 0))
        types.append(pyvrp.VehicleType(
            num_available=len(vids), capacity=list(cap), start_depot=start, end_depot=end, fixed_cost=fixed,
            tw_early=tw_early, tw_late=tw_late, max_distance=max_dist if max_dist is not None else UNLIMITED,
            unit_distance_cost=per_m, unit_duration_cost=per_s, name=",".join(vids[:3]), **kw))
        type_vehicles.append(vids)
    assert n == len(locations)
    data = pyvrp.ProblemData(locations, clients, depots, types, [distances], [durations], groups=groups)
    return _Built(data, client_stop, stop_clients, type_vehicles, types)
