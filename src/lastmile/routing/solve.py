"""The one entry point: ``Problem -> Plan``, whatever backend.

1. Build the free-flow matrix (any ``MatrixProvider``) and the time-of-day model.
2. Work out which vehicles could serve each stop; stops none can serve get a reason.
3. Ask a backend for sequences on a static matrix whose rows leave at the times
   the stops are expected to be left (time-of-day aware).
4. Time every route with the time-dependent model (``schedule.py``). If traffic
   or breaks made a stop late, tighten that stop's window by the lateness and
   re-solve from the previous plan, with the matrix re-timed from the actual
   schedule; a few rounds converge.
5. Whatever is still late is taken out and offered to other routes by cheapest
   feasible insertion; what fits nowhere is unassigned with its reason.

Every returned plan passes ``validate.validate`` -- the property tests hold us to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
import numpy as np

from ..kit.time import hhmm
from .domain import Options, Plan, PlanStats, Problem, Route, Unassigned
from .feasibility import eligibility
from .balance import rebalance
from .insertion import best_insertion
from .learned import LearnedTravelModel, TravelFactors
from .matrix.haversine import HaversineProvider
from .matrix.timedep import TimeDependentModel, TrafficProfile
from .matrix.waypoints import matrix_with_bridges
from .ports import LocationIndex, Matrix, MatrixProvider, SolverInput, SolverOutput
from .schedule import Context, Timing, schedule

MAX_ROUNDS = 4


def backend_for(name: str, problem: Problem):
    """``auto`` picks PyVRP; OR-Tools on request. Imports stay inside the adapters."""
    if name in ("auto", "pyvrp"):
        from .pyvrp_backend import PyVRPBackend

        return PyVRPBackend()
    if name == "ortools":
        from .ortools_backend import ORToolsBackend

        return ORToolsBackend()
    raise ValueError(f"unknown backend {name!r}; choose auto, pyvrp or ortools")


def build_model(problem: Problem, provider: MatrixProvider | None = None, matrix: Matrix | None = None,
                traffic: TrafficProfile | None = None,
                learned: TravelFactors | None = None) -> tuple[LocationIndex, TimeDependentModel]:
    index = LocationIndex.of(problem)
    if matrix is None:
        # With a border, the provider also measures the legs to and from the bridges.
        matrix = matrix_with_bridges(provider or HaversineProvider(), index.locations, traffic)
    if matrix.size != len(index.locations):
        raise ValueError(f"matrix has {matrix.size} rows; the problem has {len(index.locations)} places "
                         "(depots first, then stops)")
    static = TimeDependentModel(matrix, index.locations, traffic or TrafficProfile(), problem.weekday)
    if learned is None:
        return index, static
    # travel times learned from history (lastmile.learn) over the static model, on a
    # grid covering the shifts (coarser for big problems: one batch of legs x times)
    span = [v.shift for v in problem.vehicles] or [None]
    start = min((w.start for w in span if w is not None), default=5 * 3600)
    end = max((w.end for w in span if w is not None), default=23 * 3600)
    small = len(index.locations) <= 120
    return index, LearnedTravelModel(static, learned, start=max(0, start - 3600), end=end + 2 * 3600,
                                     grid_s=900 if small else 1800,
                                     factor_every=2 if small else 3)  # type: ignore[return-value]


def solve(problem: Problem, options: Options = Options(), *, provider: MatrixProvider | None = None,
          matrix: Matrix | None = None, traffic: TrafficProfile | None = None,
          progress: Callable[[float, str], None] | None = None, learned: TravelFactors | None = None) -> Plan:
    t0 = time.perf_counter()
    report = progress or (lambda f, m: None)
    report(0.0, "building travel matrix")
    index, model = build_model(problem, provider, matrix, traffic, learned)
    if isinstance(model, LearnedTravelModel):  # its grid (one batch for the predictor) is not search time
        t_grid = time.perf_counter()
        model.table()
        t0 += time.perf_counter() - t_grid
    ctx = Context(problem, index, model)
    report(0.02, "checking which vehicles can serve each stop")
    elig = eligibility(ctx)
    candidates = tuple(s.id for s in problem.stops if s.id in elig.allowed)
    # Backends are told only who may serve what (skills, the border); shifts,
    # windows and capacity they model themselves.
    serve = {s.id: frozenset(v.id for v in problem.vehicles if ctx.can_serve(v, s)) for s in problem.stops
             if s.id in elig.allowed}
    backend = backend_for(options.backend, problem)
    timed = bool(model.profile.zones) or model.profile.border is not None or isinstance(model, LearnedTravelModel)

    departs = _expected_departures(ctx)
    cuts: dict[str, int] = {}
    shift_cuts: dict[str, int] = {}
    initial: dict[str, tuple[str, ...]] | None = None
    out: SolverOutput | None = None
    timings: dict[str, Timing] = {}
    best: tuple[int, SolverOutput, dict[str, Timing]] | None = None
    rounds = MAX_ROUNDS if (timed or any(v.breaks for v in problem.vehicles)) else 1
    # The time limit covers the whole solve: most of it searching, the rest for
    # re-homing stops and balancing on real schedules. A static problem without
    # balancing is the backend's alone (nothing to repair).
    static = rounds == 1 and options.balance <= 0
    search_budget = options.time_limit_s * (1.0 if static else 0.8 if options.balance > 0 else 0.88)
    first_share = 0.7 if rounds > 1 else 1.0
    for rnd in range(rounds):
        elapsed = time.perf_counter() - t0
        if rnd == 0:
            limit = max(search_budget - elapsed, 0.05) * first_share  # matrix and checks came out of it
        else:
            limit = max(search_budget - elapsed, 0.0) / (rounds - rnd)
            if limit < 0.05 and options.iterations is None:
                break
        durations = model.static_durations(departs) if timed else model.base.durations

        def sub(f: float, m: str, _r: int = rnd) -> None:
            report(0.05 + 0.85 * min(1.0, (time.perf_counter() - t0) / max(options.time_limit_s, 1e-3)), m)

        out = backend.solve(problem, durations, model.base.distances, index, SolverInput(
            stop_ids=candidates, window_end_cut=dict(cuts), shift_cut=dict(shift_cuts), allowed=serve,
            time_limit_s=limit, seed=options.seed, objective=options.objective.value, balance=options.balance,
            initial=initial, progress=sub, iterations=options.iterations))
        round_timings = {vid: schedule(ctx, ctx.vehicles[vid], seq) for vid, seq in out.sequences.items() if seq}
        score = _quality(ctx, round_timings)
        if best is None or score > best[0]:
            # A round that came back worse (or empty) never replaces a better one.
            best = (score, out, round_timings)
        timings = round_timings
        if round_timings and all(t.ok for t in round_timings.values()):
            break
        for vid, tm in timings.items():
            for late in tm.late:
                cuts[late.stop_id] = cuts.get(late.stop_id, 0) + late.late_s + 60
            if tm.overtime_s > 0 or tm.missed_breaks:
                shift_cuts[vid] = shift_cuts.get(vid, 0) + max(tm.overtime_s, 0) + 300
        departs = _departures_from(ctx, timings, departs)
        initial = out.sequences

    report(0.92, "checking every route against traffic, windows and breaks")
    if best is not None:
        _, out, timings = best
    sequences = {vid: list(t.route.stop_ids) for vid, t in timings.items()}
    removed: list[tuple[str, str, str]] = []
    for vid in list(sequences):
        seq, why = _repair(ctx, vid, sequences[vid])
        sequences[vid] = seq
        removed.extend(why)
    routed = {s for seq in sequences.values() for s in seq}
    removed_ids = {r[0] for r in removed}
    dropped = [(s, "", "") for s in candidates if s not in routed and s not in removed_ids]
    unassigned: list[Unassigned] = list(elig.unassigned)
    # Re-homing stops is worth a bounded share of the budget, not an unbounded tail.
    # With an iteration budget nothing may depend on the clock (same input -> same plan).
    no_clock = options.iterations is not None
    insert_deadline = (float("inf") if no_clock else
                       max(t0 + options.time_limit_s * (0.93 if options.balance > 0 else 1.0), time.perf_counter() + 1.0))
    for sid, reason, code in removed + dropped:
        if time.perf_counter() > insert_deadline:
            unassigned.append(Unassigned(sid, reason or _why_dropped(ctx, sequences, sid), code or "fleet"))
            continue
        spot = best_insertion(ctx, sequences, sid)
        if spot is not None:
            vid, pos = spot.vehicle_id, spot.position
            sequences.setdefault(vid, []).insert(pos, sid)
            continue
        unassigned.append(Unassigned(sid, reason or _why_dropped(ctx, sequences, sid), code or "fleet"))

    if options.balance > 0:
        report(0.95, "balancing work across drivers")
        sequences = rebalance(ctx, sequences, options.balance,
                              float("inf") if no_clock else max(t0 + options.time_limit_s, time.perf_counter() + 0.5))

    routes = []
    for v in problem.vehicles:
        seq = sequences.get(v.id)
        if seq:
            routes.append(schedule(ctx, v, seq).route)
    report(1.0, "done")
    return Plan(tuple(routes), tuple(unassigned), _stats(ctx, routes, unassigned, time.perf_counter() - t0),
                backend=getattr(backend, "name", "?"), matrix_provider=model.provider, seed=options.seed,
                notes=(f"travel times learned from history (model v{model.learned_version})",)
                if isinstance(model, LearnedTravelModel) else ())


def _repair(ctx: Context, vid: str, seq: list[str]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Drop stops until the route keeps every window, the shift and the breaks."""
    v = ctx.vehicles[vid]
    removed: list[tuple[str, str, str]] = []
    for sid in [x for x in seq if not ctx.can_serve(v, ctx.stops[x])]:
        seq.remove(sid)
        removed.append((sid, "", ""))  # re-offered to vehicles that may serve it
    while seq:
        tm = schedule(ctx, v, seq)
        if tm.ok:
            break
        if tm.late:
            worst = max(tm.late, key=lambda x: x.late_s)
            stop = ctx.stops[worst.stop_id]
            visit = next(x for x in tm.route.visits if x.ref == worst.stop_id)
            reason = (f"window closes {hhmm(stop.windows[-1].end)}; with today's traffic no route gets there "
                      f"in time (best {hhmm(visit.start)})")
            seq.remove(worst.stop_id)
            removed.append((worst.stop_id, reason, "window"))
        elif tm.overload:
            # Too much on board at some point: let the biggest load of the overloaded kind go.
            dims = [ctx.problem.dimensions.index(d) for d in tm.overload]
            sid = max(seq, key=lambda x: sum(ctx.demand(ctx.stops[x])[k] for k in dims))
            seq.remove(sid)
            removed.append((sid, "every suitable vehicle is full", "capacity_fleet"))
        else:
            # Overtime or a break that no longer fits: let the last stop go.
            sid = seq.pop()
            removed.append((sid, "no driver has time left in their shift for it", "shift"))
    return seq, removed


def _quality(ctx: Context, timings: dict[str, Timing]) -> int:
    """Stops a round serves without a problem (late, overloaded, wrong vehicle)."""
    score = 0
    for vid, tm in timings.items():
        v = ctx.vehicles[vid]
        late = {x.stop_id for x in tm.late}
        good = sum(1 for s in tm.route.stop_ids if s not in late and ctx.can_serve(v, ctx.stops[s]))
        if tm.overload or tm.overtime_s > 0 or tm.missed_breaks:
            good //= 2
        score += good
    return score


def _why_dropped(ctx: Context, sequences: dict[str, list[str]], sid: str) -> str:
    stop = ctx.stops[sid]
    suitable = [v for v in ctx.problem.vehicles if ctx.can_serve(v, stop)]
    if suitable and not any(ctx.may_fit(v, sequences.get(v.id, []), stop) for v in suitable):
        return "every suitable vehicle is full"
    return "no route can fit it inside its window without making other stops late or running past a shift"


def _expected_departures(ctx: Context) -> np.ndarray:
    """When each place is expected to be left: a stop's window middle plus its
    service; depots at the shift start. Refined from real schedules later."""
    n = ctx.model.size
    shifts = [v.shift for v in ctx.problem.vehicles] or []
    day_mid = int(np.mean([(s.start + s.end) / 2 for s in shifts])) if shifts else 12 * 3600
    out = np.full(n, day_mid, dtype=np.int64)
    for d in ctx.problem.depots:
        starts = [v.shift.start for v in ctx.problem.vehicles if v.start_depot == d.id]
        out[ctx.depot_row(d.id)] = min(starts) if starts else day_mid
    for s in ctx.problem.stops:
        if s.windows:
            w = s.windows[0]
            mid = w.start + min(w.end - w.start, 4 * 3600) // 2
            out[ctx.row(s.id)] = mid + s.service_s
    return out


def _departures_from(ctx: Context, timings: dict[str, Timing], prev: np.ndarray) -> np.ndarray:
    out = prev.copy()
    for tm in timings.values():
        for vis in tm.route.visits:
            if vis.kind.value == "stop":
                out[ctx.row(vis.ref)] = vis.end
    return out


def _stats(ctx: Context, routes: list[Route], unassigned: list[Unassigned], solve_s: float) -> PlanStats:
    cost = 0
    for r in routes:
        v = ctx.vehicles[r.vehicle_id]
        cost += v.fixed_cost + round(r.distance_m / 1000 * v.cost_per_km) + round(r.duration_s / 3600 * v.cost_per_hour)
    return PlanStats(
        cost=cost,
        distance_m=sum(r.distance_m for r in routes),
        duration_s=sum(r.duration_s for r in routes),
        travel_s=sum(r.travel_s for r in routes),
        routes=len(routes),
        assigned=sum(len(r.stop_ids) for r in routes),
        unassigned=len(unassigned),
        solve_s=round(solve_s, 3),
    )
