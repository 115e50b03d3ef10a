"""The OR-Tools backend: the only module that imports ortools.

Chosen with ``backend="ortools"``. Its strength is constraints PyVRP models
only indirectly: driver breaks are native break intervals, skills are allowed
vehicles per stop, and workload balance is a global span cost. PyVRP stays the
default because it finds better routes faster on our benchmarks.

Modelling notes:

* Time: one dimension; slack is waiting; each node's cumul must fall inside one
  of the stop's windows (range plus removed gaps).
* Load: deliveries are loaded at the depot and pickups come aboard, so what is
  on board at any point is ``start - delivered + picked``. Per capacity
  dimension, an ``onboard`` dimension (start free in ``[0, capacity]``,
  ``-delivery`` / ``+pickup`` transits, never below zero) and, when pickups
  exist, a ``picked`` dimension with ``onboard_end >= picked_end``, which forces
  the start load to cover every delivery.
* Every stop is in a disjunction: dropping a required stop costs far more than
  any route, dropping an optional one costs its penalty.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from .costs import cost_terms
from .domain import Problem, StopKind
from .ports import LocationIndex, SolverInput, SolverOutput

BIG_PENALTY = 10_000_000_000
HORIZON = 3 * 86400


class ORToolsBackend:
    name = "ortools"

    def solve(self, problem: Problem, durations: np.ndarray, distances: np.ndarray, index: LocationIndex,
              inp: SolverInput) -> SolverOutput:
        t0 = time.perf_counter()
        stops = {s.id: s for s in problem.stops}
        vehicles = list(problem.vehicles)
        nv = len(vehicles)
        # Nodes: depots, then candidate stops; ``rows`` maps a node to its matrix row.
        depot_ids = [d.id for d in problem.depots]
        cand = list(inp.stop_ids)
        rows = [index.depot_row[d] for d in depot_ids] + [index.stop_row[s] for s in cand]
        node_of_depot = {d: k for k, d in enumerate(depot_ids)}
        first_stop = len(depot_ids)
        starts = [node_of_depot[v.start_depot] for v in vehicles]
        ends = [node_of_depot[v.end] for v in vehicles]
        manager = pywrapcp.RoutingIndexManager(len(rows), nv, starts, ends)
        routing = pywrapcp.RoutingModel(manager)
        r = np.asarray(rows)
        dist = distances[np.ix_(r, r)].astype(np.int64)
        dur = durations[np.ix_(r, r)].astype(np.int64)
        service = np.zeros(len(rows), dtype=np.int64)
        for k, sid in enumerate(cand):
            service[first_stop + k] = stops[sid].service_s
        dist_l, dur_l, service_l = dist.tolist(), dur.tolist(), service.tolist()

        def time_cb(i: int, j: int) -> int:
            a, b = manager.IndexToNode(i), manager.IndexToNode(j)
            return service_l[a] + dur_l[a][b]

        time_idx = routing.RegisterTransitCallback(time_cb)

        # Arc costs per vehicle, in milli-cents like the PyVRP adapter.
        cost_cbs: dict[tuple[int, int], int] = {}
        for vi, v in enumerate(vehicles):
            per_m, per_s, fixed = cost_terms(v, inp.objective)
            key = (per_m, per_s)
            if key not in cost_cbs:
                def cost_cb(i: int, j: int, pm: int = per_m, ps: int = per_s) -> int:
                    a, b = manager.IndexToNode(i), manager.IndexToNode(j)
                    return pm * dist_l[a][b] + ps * (service_l[a] + dur_l[a][b])

                cost_cbs[key] = routing.RegisterTransitCallback(cost_cb)
            routing.SetArcCostEvaluatorOfVehicle(cost_cbs[key], vi)
            routing.SetFixedCostOfVehicle(fixed, vi)

        routing.AddDimension(time_idx, HORIZON, HORIZON, False, "time")
        tdim = routing.GetDimensionOrDie("time")
        for vi, v in enumerate(vehicles):
            end_limit = v.shift.end - inp.shift_cut.get(v.id, 0)
            tdim.CumulVar(routing.Start(vi)).SetRange(v.shift.start, max(v.shift.start, end_limit))
            tdim.CumulVar(routing.End(vi)).SetRange(v.shift.start, max(v.shift.start, end_limit))
            if v.max_work_s is not None:
                tdim.SetSpanUpperBoundForVehicle(v.max_work_s, vi)
            if v.breaks:
                solver = routing.solver()
                intervals = [solver.FixedDurationIntervalVar(b.window.start, b.window.end, b.duration_s, False,
                                                             f"{v.id}-{b.id}") for b in v.breaks]
                tdim.SetBreakIntervalsOfVehicle(intervals, vi, service_l)
        if inp.balance > 0:
            tdim.SetGlobalSpanCostCoefficient(max(1, int(300 * inp.balance)))
        for k, sid in enumerate(cand):
            s = stops[sid]
            idx = manager.NodeToIndex(first_stop + k)
            cut = inp.window_end_cut.get(sid, 0)
            if s.windows:
                ws = [(w.start, max(w.start, w.end - cut)) for w in s.windows]
                var = tdim.CumulVar(idx)
                var.SetRange(ws[0][0], ws[-1][1])
                for (a0, a1), (b0, _) in zip(ws, ws[1:]):
                    if b0 - 1 >= a1 + 1:
                        var.RemoveInterval(a1 + 1, b0 - 1)
            allowed = inp.allowed.get(sid)
            if allowed is not None and len(allowed) < nv:
                # -1: the stop may also be dropped (its disjunction).
                routing.VehicleVar(idx).SetValues([-1] + [vi for vi, v in enumerate(vehicles) if v.id in allowed])
            penalty = BIG_PENALTY * (100 + s.priority) // 100 if s.required else max(s.penalty * 1000, 1)
            routing.AddDisjunction([idx], penalty)

        self._capacity(routing, manager, problem, vehicles, cand, first_stop, stops)

        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        if inp.iterations:
            # Guided local search never stops by itself, so a solution budget alone
            # could run for the whole time cap; a plain descent ends at its local
            # optimum: bounded and repeatable.
            params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
            params.solution_limit = max(1, inp.iterations)
        # With an iteration (solution) budget the clock must not decide: a generous cap only.
        seconds = max(60.0, inp.time_limit_s) if inp.iterations else inp.time_limit_s
        params.time_limit.FromMilliseconds(max(50, int(seconds * 1000)))
        if inp.progress is not None:
            def tick() -> None:
                inp.progress(min((time.perf_counter() - t0) / max(inp.time_limit_s, 1e-3), 0.99), "optimizing routes")

            routing.AddAtSolutionCallback(tick)
        routing.CloseModelWithParameters(params)
        assignment = None
        if inp.initial:
            where = {v.id: vi for vi, v in enumerate(vehicles)}
            node_of_stop = {sid: first_stop + k for k, sid in enumerate(cand)}
            init_routes = [[] for _ in vehicles]
            for vid, seq in inp.initial.items():
                if vid in where:
                    init_routes[where[vid]] = [node_of_stop[s] for s in seq if s in node_of_stop]
            start = routing.ReadAssignmentFromRoutes(init_routes, True)
            if start is not None:
                assignment = routing.SolveFromAssignmentWithParameters(start, params)
        if assignment is None:
            assignment = routing.SolveWithParameters(params)

        sequences: dict[str, tuple[str, ...]] = {}
        if assignment is not None:
            for vi, v in enumerate(vehicles):
                seq = []
                i = routing.Start(vi)
                while not routing.IsEnd(i):
                    node = manager.IndexToNode(i)
                    if node >= first_stop:
                        seq.append(cand[node - first_stop])
                    i = assignment.Value(routing.NextVar(i))
                if seq:
                    sequences[v.id] = tuple(seq)
        served = {s for seq in sequences.values() for s in seq}
        return SolverOutput(sequences, tuple(s for s in cand if s not in served), time.perf_counter() - t0)

    @staticmethod
    def _capacity(routing, manager, problem: Problem, vehicles, cand, first_stop, stops) -> None:
        nd = len(problem.dimensions)
        if not any(v.capacity for v in vehicles):
            return
        n = first_stop + len(cand)
        deliver = [[0] * n for _ in range(nd)]
        pick = [[0] * n for _ in range(nd)]
        for k, sid in enumerate(cand):
            s = stops[sid]
            if not s.demand:
                continue
            for d in range(nd):
                (deliver if s.kind is StopKind.DELIVERY else pick)[d][first_stop + k] = s.demand[d]
        big = 1 << 40
        caps = [[(v.capacity[d] if v.capacity else big) for v in vehicles] for d in range(nd)]
        for d, name in enumerate(problem.dimensions):
            if not any(deliver[d]) and not any(pick[d]):
                continue
            dl, pl = deliver[d], pick[d]
            if not any(pl):
                cb = routing.RegisterUnaryTransitCallback(lambda i, dl=dl: dl[manager.IndexToNode(i)])
                routing.AddDimensionWithVehicleCapacity(cb, 0, caps[d], True, f"load-{name}")
                continue
            onboard = routing.RegisterUnaryTransitCallback(
                lambda i, dl=dl, pl=pl: pl[manager.IndexToNode(i)] - dl[manager.IndexToNode(i)])
            routing.AddDimensionWithVehicleCapacity(onboard, 0, caps[d], False, f"onboard-{name}")
            picked = routing.RegisterUnaryTransitCallback(lambda i, pl=pl: pl[manager.IndexToNode(i)])
            routing.AddDimensionWithVehicleCapacity(picked, 0, caps[d], True, f"picked-{name}")
            ob = routing.GetDimensionOrDie(f"onboard-{name}")
            pk = routing.GetDimensionOrDie(f"picked-{name}")
            solver = routing.solver()
            for vi in range(len(vehicles)):
                solver.Add(ob.CumulVar(routing.End(vi)) >= pk.CumulVar(routing.End(vi)))
