"""Scale: a generated Laredo / Nuevo Laredo day of 5,000 stops and 100 vehicles.

    .venv/bin/python bench/scale.py                      # 5,000 stops, 60 s budget
    .venv/bin/python bench/scale.py --growth 500,1000,2000,5000 --time 60
    .venv/bin/python bench/scale.py --stops 1000 --profile   # cProfile top functions

Windows on ~40 % of stops (2-4 h), ~5 % need "refrigerated" (held by ~10 % of
vehicles), three capacity dimensions, shifts 07:00-19:00-ish with a 30-min break
in 11:00-14:00, three depots (two in Laredo, one in Nuevo Laredo), the Laredo
weekday traffic profile on a straight-line (haversine) matrix.

Each size runs in a fresh child process so its peak RSS (``ru_maxrss``) is its own.
Reported per size: time to the backend's first feasible solution (from ``solve()``
entry), total solve time, time per phase, peak RSS, cost, distance, unassigned,
and violations found by the independent validator (must be 0).
Not part of the test run; timings on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np

from lastmile.routing.domain import (
    Break,
    Depot,
    LatLon,
    Options,
    Problem,
    Stop,
    TimeWindow,
    Vehicle,
)

BBOX = (27.40, 27.65, -99.58, -99.42)  # lat min, lat max, lon min, lon max
CENTRE = (27.515, -99.495)
# Neighbourhood centres (lat, lon, spread in degrees, weight): where orders cluster.
CLUSTERS = [
    (27.5065, -99.5070, 0.006, 8), (27.5030, -99.4975, 0.004, 4), (27.5215, -99.4985, 0.007, 8),
    (27.5560, -99.4900, 0.010, 10), (27.5780, -99.4700, 0.010, 9), (27.5500, -99.4700, 0.008, 6),
    (27.5950, -99.4450, 0.012, 9), (27.5230, -99.4650, 0.010, 7), (27.4880, -99.4800, 0.009, 7),
    (27.6050, -99.5250, 0.010, 4), (27.4780, -99.5080, 0.005, 6), (27.4700, -99.5200, 0.006, 5),
    (27.4690, -99.4960, 0.006, 4), (27.4580, -99.5300, 0.007, 4), (27.4530, -99.5120, 0.006, 3),
]
DEPOTS = [  # id, lat, lon, share of the fleet
    ("LRD-N", 27.5930, -99.5050, 0.40),  # Mines Rd, Laredo
    ("LRD-S", 27.4950, -99.4650, 0.35),  # Zapata Hwy, Laredo
    ("NLD", 27.4600, -99.5050, 0.25),  # Av. Reforma, Nuevo Laredo
]
# kind: (share, capacity kg/litres/parcels, fixed cents, cents per km, cents per hour)
FLEET = {
    "van": (0.60, (1000, 8000, 160), 4000, 25, 2000),
    "truck": (0.25, (2000, 16000, 250), 7000, 45, 2500),
    "car": (0.15, (400, 2000, 70), 2000, 15, 1800),
}
SHIFTS = [("07:00", "16:00"), ("07:00", "19:00"), ("08:00", "17:00"), ("09:00", "19:00"), ("07:30", "18:00")]


def hm(s: str) -> int:
    h, m = s.split(":")
    return int(h) * 3600 + int(m) * 60


def generate(n_stops: int, n_vehicles: int, seed: int = 7) -> Problem:
    rng = np.random.default_rng(seed)
    lat0, lat1, lon0, lon1 = BBOX
    # 70 % in neighbourhood clusters, 30 % around the centre with a wide spread.
    w = np.array([c[3] for c in CLUSTERS], float)
    which = rng.choice(len(CLUSTERS), size=n_stops, p=w / w.sum())
    lat = np.array([CLUSTERS[k][0] for k in which]) + rng.normal(0, 1, n_stops) * np.array([CLUSTERS[k][2] for k in which])
    lon = np.array([CLUSTERS[k][1] for k in which]) + rng.normal(0, 1, n_stops) * np.array([CLUSTERS[k][2] for k in which])
    wide = rng.random(n_stops) < 0.30
    lat[wide] = CENTRE[0] + rng.normal(0, 0.05, wide.sum())
    lon[wide] = CENTRE[1] + rng.normal(0, 0.04, wide.sum())
    lat, lon = np.clip(lat, lat0, lat1), np.clip(lon, lon0, lon1)

    stops = []
    for k in range(n_stops):
        windows: tuple[TimeWindow, ...] = ()
        if rng.random() < 0.40:
            length = int(rng.choice([2, 3, 4])) * 3600
            start = int(rng.integers(hm("08:00") // 900, (hm("19:00") - length) // 900 + 1)) * 900
            windows = (TimeWindow(start, start + length),)
        skills = frozenset({"refrigerated"}) if rng.random() < 0.05 else frozenset()
        demand = (int(rng.integers(1, 26)), int(rng.integers(5, 81)), int(rng.integers(1, 4)))
        stops.append(Stop(f"s{k:05d}", LatLon(float(lat[k]), float(lon[k])), service_s=int(rng.integers(120, 421)),
                          demand=demand, windows=windows, skills=skills))

    depots = tuple(Depot(d, LatLon(la, lo), hours=TimeWindow(hm("06:00"), hm("21:00"))) for d, la, lo, _ in DEPOTS)
    kinds = list(FLEET)
    vehicles = []
    for k in range(n_vehicles):
        depot = DEPOTS[int(rng.choice(len(DEPOTS), p=[d[3] for d in DEPOTS]))][0]
        kind = kinds[int(rng.choice(len(kinds), p=[FLEET[x][0] for x in kinds]))]
        _, cap, fixed, per_km, per_h = FLEET[kind]
        s0, s1 = SHIFTS[int(rng.integers(len(SHIFTS)))]
        skills = frozenset({"refrigerated"}) if k % 10 == 0 else frozenset()
        if k % 7 == 3:  # ~15 % may cross the Rio Grande (permits, bilingual driver)
            skills |= {"cross-border"}
        vehicles.append(Vehicle(f"{kind}-{k:03d}", depot, capacity=cap, shift=TimeWindow(hm(s0), hm(s1)),
                                breaks=(Break(TimeWindow(hm("11:00"), hm("14:00")), 1800),),
                                skills=skills, fixed_cost=fixed, cost_per_km=per_km, cost_per_hour=per_h))
    return Problem(tuple(stops), tuple(vehicles), depots, weekday=1, name=f"laredo-{n_stops}")


class Phases:
    """Wall time per engine phase, by wrapping module attributes (no src edits)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.first_feasible: float | None = None
        self.iterations = 0
        self.t0 = 0.0

    def log(self, msg: str) -> None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"#   [{time.perf_counter() - self.t0:6.1f} s, peak {rss} MiB] {msg}", file=sys.stderr, flush=True)

    def wrap(self, owner, attr: str, label: str) -> None:
        fn = getattr(owner, attr)

        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds[label] += time.perf_counter() - t
                self.calls[label] += 1
                if label == "re-insertion" and self.calls[label] % 250 == 0:
                    self.log(f"{self.calls[label]} stops offered to best_insertion so far")

        setattr(owner, attr, timed)

    def install(self) -> None:
        from lastmile.routing import pyvrp_backend as pb
        from lastmile.routing import solve as sv
        from lastmile.routing.matrix import timedep

        self.wrap(sv, "build_model", "matrix+model")
        self.wrap(sv, "eligibility", "eligibility")
        self.wrap(timedep.TimeDependentModel, "static_durations", "static_durations")
        self.wrap(pb, "_build", "pyvrp ProblemData build")
        self.wrap(pb.pyvrp, "solve", "pyvrp search")
        self.wrap(sv, "_repair", "repair")
        self.wrap(sv, "best_insertion", "re-insertion")
        self.wrap(sv, "schedule", "schedule (solve loop)")
        phases = self
        orig_call = pb._Progress.__call__

        def call(prog, best_cost: float) -> bool:
            # PyVRP passes the best solution's cost; an infeasible one costs INT64_MAX.
            if phases.first_feasible is None and best_cost < 1e18:
                phases.first_feasible = time.perf_counter() - phases.t0
                phases.log("backend holds its first feasible solution")
            return orig_call(prog, best_cost)

        pb._Progress.__call__ = call
        orig_solve = pb.PyVRPBackend.solve

        def backend_solve(self_, *a, **kw):
            out = orig_solve(self_, *a, **kw)
            phases.iterations += out.iterations
            phases.calls["backend rounds"] += 1
            served = sum(len(q) for q in out.sequences.values())
            phases.log(f"backend round {phases.calls['backend rounds']}: {len(out.sequences)} routes, {served} stops "
                       f"sequenced, {len(out.dropped)} dropped, {out.iterations} iterations")
            return out

        pb.PyVRPBackend.solve = backend_solve


# --- prototypes of engine changes (monkeypatched here; src/ is not ours) ------------------

def install_prototype(parts: set[str]) -> None:
    """What ``--prototype`` changes in the engine, to measure the effect:

    1. PyVRP routing profiles from *what a vehicle may serve* (skills, border) only. ``pyvrp_backend._build`` keys a
       profile on the set of stops a vehicle may not serve, taken from
       ``eligibility`` -- which also encodes time reachability per (depot, shift)
       group, so a Laredo day gets ~10 profiles, each two full n x n copies in numpy
       and two more inside PyVRP. Time reachability is already enforced by windows.
    2. A warm start for the first round: a sweep per depot (angle order, chunks
       filled to capacity, each chunk ordered by window), so ``pyvrp.solve`` skips its
       exhaustive local search from a random solution (minutes at 5,000 stops, and
       it ignores the stopping criterion). The prize-mode retry gets it too.
    4. ("prize") In prize mode, PyVRP's ``max_penalty`` raised to ``BIG_PRIZE`` so that
       time warp / overload can outweigh dropping a stop, and prize mode from the start.
    5. ("dims") Who may serve which stop (skills, border) as extra PyVRP load
       dimensions instead of routing profiles: one duration/distance matrix in total.
    6. ("deadline") PyVRP's stopping clock starts when the run starts, not after
       its initial exhaustive local search.
    3. A repair round whose backend run ends infeasible keeps the previous round's
       sequences instead of returning none (``solve.py`` would then re-insert every
       stop one by one with ``best_insertion``).
    """
    from lastmile.routing import pyvrp_backend as pb
    from lastmile.routing.ports import SolverOutput

    state: dict = {}
    orig_solve = pb.PyVRPBackend.solve
    orig_run = pb._run

    from lastmile.routing import solve as sv
    from lastmile.routing.feasibility import Eligibility

    orig_elig = sv.eligibility

    def eligibility(ctx):
        el = orig_elig(ctx)
        can = getattr(ctx, "can_serve", lambda v, s: s.skills <= v.skills)
        allowed = {sid: frozenset(v.id for v in ctx.problem.vehicles if can(v, ctx.stops[sid])) for sid in el.allowed}
        return Eligibility(allowed, el.unassigned)

    if "profiles" in parts:
        sv.eligibility = eligibility


    def backend_solve(self_, problem, durations, distances, index, inp):
        if inp.initial is None and "sweep" in parts:
            state["initial"] = sweep(problem, durations, index, inp)
        out = orig_solve(self_, problem, durations, distances, index, inp)
        if not out.sequences and inp.initial and "fallback" in parts:
            served = {x for seq in inp.initial.values() for x in seq}
            return SolverOutput(dict(inp.initial), tuple(x for x in inp.stop_ids if x not in served),
                                out.runtime_s, out.iterations)
        return out

    if "deadline" in parts:
        # MaxRuntime starts its clock at its first call, i.e. after pyvrp.solve's
        # exhaustive local search of a random start (~40 s at 5,000 stops): count from
        # when the run is started instead.
        orig_init = pb._Progress.__init__

        def progress_init(self_, seconds, t0, budget, inp):
            orig_init(self_, seconds, t0, budget, inp)
            if not inp.iterations:
                deadline = time.perf_counter() + max(seconds, 0.01)
                self_._stop = lambda best_cost: time.perf_counter() >= deadline

        pb._Progress.__init__ = progress_init
    if "dims" in parts:
        orig_build = pb._build

        def build_dims(problem, durations, distances, index, inp, prize_mode, balance_target=None):
            """Who-may-serve-whom as extra load dimensions, one routing profile: a stop of
            class c carries 1 unit of dimension c; vehicles allowed for c carry plenty,
            the others 0. Same constraint, no n x n copy per profile."""
            import dataclasses as dc

            everyone = frozenset(v.id for v in problem.vehicles)
            used = set(inp.stop_ids)
            classes = sorted({a for sid, a in inp.allowed.items() if sid in used and a != everyone}, key=sorted)
            if not classes:
                return orig_build(problem, durations, distances, index, inp, prize_mode, balance_target=balance_target)
            nd = len(problem.dimensions)
            stops = tuple(dc.replace(x, demand=(tuple(x.demand) if x.demand else (0,) * nd)
                                     + tuple(int(inp.allowed.get(x.id) == c) for c in classes)) for x in problem.stops)
            vehicles = tuple(dc.replace(v, capacity=(tuple(v.capacity) if v.capacity else (pb.UNLIMITED,) * nd)
                                        + tuple((1 << 30) if v.id in c else 0 for c in classes))
                             for v in problem.vehicles)
            p2 = dc.replace(problem, stops=stops, vehicles=vehicles,
                            dimensions=problem.dimensions + tuple(f"may-serve-{k}" for k in range(len(classes))))
            inp2 = dc.replace(inp, allowed={sid: everyone for sid in inp.allowed})
            return orig_build(p2, durations, distances, index, inp2, prize_mode, balance_target=balance_target)

        pb._build = build_dims
    if "prize" in parts:
        # Always prize-collecting: required stops carry BIG_PRIZE, so they are still
        # served whenever they fit, and the first run can no longer end infeasible.
        pb._obviously_short = lambda problem, inp: True

    def run(built, inp, seconds, t0, budget, initial, prize_mode):
        initial = initial or state.get("initial")
        if not (prize_mode and "prize" in parts):
            return orig_run(built, inp, seconds, t0, budget, initial, prize_mode)
        # A dropped required stop costs BIG_PRIZE (1e10 milli-cents) but PyVRP caps its
        # penalty per unit of time warp / excess load at 1e5: dropping never pays, and
        # prize mode ends as infeasible as the first run. Let the penalty reach the prize.
        from pyvrp import PenaltyParams
        from pyvrp.solve import SolveParams

        real = pb.pyvrp.solve

        def with_params(*a, **kw):
            kw.setdefault("params", SolveParams(penalty=PenaltyParams(max_penalty=float(pb.BIG_PRIZE))))
            return real(*a, **kw)

        pb.pyvrp.solve = with_params
        try:
            return orig_run(built, inp, seconds, t0, budget, initial, prize_mode)
        finally:
            pb.pyvrp.solve = real

    pb.PyVRPBackend.solve = backend_solve
    pb._run = run


def sweep(problem: Problem, durations: np.ndarray, index, inp) -> dict[str, tuple[str, ...]]:
    import math

    stops = {s.id: s for s in problem.stops}
    by_depot: dict[str, list] = defaultdict(list)
    for v in problem.vehicles:
        by_depot[v.start_depot].append(v)
    out: dict[str, tuple[str, ...]] = {}
    groups: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for sid in inp.stop_ids:
        s = stops[sid]
        ok = inp.allowed.get(sid, frozenset())
        need = bool(s.skills)
        options = [d for d, vs in by_depot.items() if any(v.id in ok for v in vs)]
        if not options:
            continue
        d = min(options, key=lambda d: durations[index.depot_row[d], index.stop_row[sid]])
        groups[(d, need)].append(sid)
    for (d, need), sids in groups.items():
        vs = [v for v in by_depot[d] if all(v.id in inp.allowed.get(x, ()) for x in sids)
              and (("refrigerated" in v.skills) == need)] or \
             [v for v in by_depot[d] if all(v.id in inp.allowed.get(x, ()) for x in sids)]
        if not vs:
            continue
        dep = problem.depot(d).location
        sids.sort(key=lambda x: math.atan2(stops[x].location.lat - dep.lat, stops[x].location.lon - dep.lon))
        per = math.ceil(len(sids) / len(vs))
        k = 0
        for v in vs:
            chunk, load = [], [0] * len(problem.dimensions)
            while k < len(sids) and len(chunk) < per:
                dem = stops[sids[k]].demand or (0,) * len(load)
                if v.capacity and any(a + b > c for a, b, c in zip(load, dem, v.capacity)):
                    break
                load = [a + b for a, b in zip(load, dem)]
                chunk.append(sids[k])
                k += 1
            span = v.shift.end - v.shift.start

            def key(x: str, _c=chunk, _v=v, _span=span) -> float:
                w = stops[x].windows
                return (w[0].start + w[0].end) / 2 if w else _v.shift.start + _span * (_c.index(x) + 0.5) / len(_c)

            if chunk:
                out[v.id] = tuple(sorted(chunk, key=key))
        # Whatever did not fit is left out of the warm start; the search inserts it.
    return out


def run_size(n_stops: int, n_vehicles: int, seconds: float, seed: int, profile: bool, prototype: str = "") -> dict:
    from lastmile.routing.matrix.haversine import HaversineProvider
    from lastmile.routing.matrix.profiles import laredo
    from lastmile.routing.solve import build_model, solve
    from lastmile.routing.validate import validate

    problem = generate(n_stops, n_vehicles, seed)
    if prototype:
        install_prototype(set(prototype.split(",")))
    phases = Phases()
    phases.install()
    traffic = laredo()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    phases.t0 = t0 = time.perf_counter()
    phases.log(f"solve: {n_stops} stops, {n_vehicles} vehicles, budget {seconds:.0f} s")
    plan = solve(problem, Options(time_limit_s=seconds, seed=seed), provider=HaversineProvider(), traffic=traffic)
    total = time.perf_counter() - t0
    if prof is not None:
        prof.disable()
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
        print(buf.getvalue(), file=sys.stderr)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    index, model = build_model(problem, HaversineProvider(), traffic=traffic)
    tv = time.perf_counter()
    violations = validate(plan, problem, model, index)
    validate_s = time.perf_counter() - tv
    reasons: dict[str, int] = defaultdict(int)
    for u in plan.unassigned:
        reasons[u.code] += 1
    return dict(
        stops=n_stops, vehicles=n_vehicles, budget_s=seconds, first_feasible_s=phases.first_feasible,
        total_s=round(total, 2), peak_rss_mib=round(peak_kib / 1024), baseline_rss_mib=round(rss0 / 1024),
        cost=plan.stats.cost, distance_km=round(plan.stats.distance_m / 1000, 1), routes=plan.stats.routes,
        assigned=plan.stats.assigned, unassigned=plan.stats.unassigned, unassigned_by=dict(reasons),
        violations=len(violations), violation_sample=[str(v) for v in violations[:5]],
        iterations=phases.iterations, backend_rounds=phases.calls.get("backend rounds", 0),
        phases={k: round(v, 2) for k, v in sorted(phases.seconds.items(), key=lambda kv: -kv[1])},
        phase_calls=dict(phases.calls), validate_s=round(validate_s, 2), notes=list(plan.notes),
    )


def child(n: int, seconds: float, seed: int, profile: bool, prototype: str, timeout: float) -> dict:
    vehicles = max(2, round(n / 50))
    cmd = [sys.executable, __file__, "--child", "--stops", str(n), "--vehicles", str(vehicles), "--time", str(seconds),
           "--seed", str(seed)] + (["--profile"] if profile else []) + (["--prototype", prototype] if prototype else [])
    t = time.perf_counter()
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout)  # progress: stderr, live
    except subprocess.TimeoutExpired:
        return dict(stops=n, vehicles=vehicles, error=f"did not finish within {timeout:.0f} s", wall_s=timeout)
    if out.returncode != 0:
        return dict(stops=n, vehicles=vehicles, error=f"exit {out.returncode} {out.stdout[-500:]}",
                    wall_s=time.perf_counter() - t)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stops", type=int, default=5000)
    ap.add_argument("--vehicles", type=int, default=0, help="default: stops / 50")
    ap.add_argument("--growth", default="", help="comma-separated sizes, e.g. 500,1000,2000,5000")
    ap.add_argument("--time", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="cProfile the solve (to stderr)")
    ap.add_argument("--prototype", default="", help="engine changes prototyped here, comma-separated: "
                    "profiles,dims,fallback,prize,deadline,sweep (see install_prototype)")
    ap.add_argument("--timeout", type=float, default=900.0, help="give up on a size after this many seconds")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        res = run_size(args.stops, args.vehicles or max(2, round(args.stops / 50)), args.time, args.seed, args.profile,
                       args.prototype)
        print(json.dumps(res))
        return 0

    sizes = [int(s) for s in args.growth.split(",") if s.strip()] or [args.stops]
    print(f"# Laredo generated day, seed {args.seed}, budget {args.time:.0f} s, haversine matrix + Laredo weekday "
          f"traffic; each size in a fresh process; shared 2-core machine (noisy)"
          f"{f'; WITH PROTOTYPED ENGINE CHANGES {args.prototype} (see install_prototype)' if args.prototype else ''}")
    print(f"{'stops':>6} {'veh':>4} {'1st feas s':>10} {'total s':>8} {'peak MiB':>8} {'cost':>10} {'km':>8} "
          f"{'routes':>6} {'unassigned':>10} {'violations':>10} {'iters':>6}", flush=True)
    results = []
    for n in sizes:
        r = child(n, args.time, args.seed, args.profile, args.prototype, args.timeout)
        results.append(r)
        if "error" in r:
            print(f"{n:>6} {r['vehicles']:>4}  FAILED: {r['error']}", flush=True)
            continue
        ff = f"{r['first_feasible_s']:.1f}" if r["first_feasible_s"] is not None else "never"
        print(f"{r['stops']:>6} {r['vehicles']:>4} {ff:>10} {r['total_s']:>8.1f} {r['peak_rss_mib']:>8} "
              f"{r['cost']:>10} {r['distance_km']:>8.1f} {r['routes']:>6} {r['unassigned']:>10} "
              f"{r['violations']:>10} {r['iterations']:>6}", flush=True)
        print(f"#   phases (s): {r['phases']}  calls: {r['phase_calls']}", flush=True)
        if r["unassigned"]:
            print(f"#   unassigned by reason: {r['unassigned_by']}", flush=True)
        if r["violations"]:
            print(f"#   violations: {r['violation_sample']}", flush=True)
    ok = [r for r in results if "error" not in r]
    if len(ok) >= 2:
        a, b = ok[0], ok[-1]
        print(f"# growth {a['stops']} -> {b['stops']} stops (x{b['stops'] / a['stops']:.0f}): total time "
              f"x{b['total_s'] / a['total_s']:.2f}, peak RSS x{b['peak_rss_mib'] / a['peak_rss_mib']:.2f}")
    last = ok[-1] if ok else None
    if last is None:
        print("scale: FAILED")
        return 1
    feas = last["first_feasible_s"]
    print(f"scale {last['stops']} stops/{last['vehicles']} veh: first feasible "
          f"{'never' if feas is None else f'{feas:.1f} s'}, total {last['total_s']:.1f} s "
          f"(budget {last['budget_s']:.0f} s), peak {last['peak_rss_mib'] / 1024:.2f} GiB (target <= 4), "
          f"unassigned {last['unassigned']}, violations {last['violations']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
