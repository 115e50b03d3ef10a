"""The fast insertion path (LivePlan) against brute force: every answer is exactly
timed and feasible, it honours frozen positions, capacity and skills, and it finds
(nearly) the cheapest position."""

from __future__ import annotations

import random

import pytest

from lastmile.routing.domain import Break, Depot, LatLon, Problem, Stop, TimeWindow, Vehicle
from lastmile.routing.insertion import LivePlan, RouteState, exact_insertion
from lastmile.routing.matrix.profiles import laredo
from lastmile.routing.schedule import Context, schedule
from lastmile.routing.solve import build_model

H = 3600


def world(n_stops=60, n_new=40, seed=3):
    rng = random.Random(seed)
    depot = Depot("d", LatLon(27.53, -99.49))
    stops = []
    for k in range(n_stops + n_new):
        lat, lon = 27.53 + rng.uniform(-0.04, 0.04), -99.49 + rng.uniform(-0.04, 0.04)
        windows = ()
        if rng.random() < 0.4:
            a = rng.randrange(8, 16) * H
            windows = (TimeWindow(a, a + rng.choice((2, 3)) * H),)
        skills = frozenset({"cold"}) if rng.random() < 0.1 else frozenset()
        stops.append(Stop(f"s{k:03d}", LatLon(lat, lon), service_s=rng.randrange(120, 400),
                          demand=(rng.randrange(1, 20), 0, rng.randrange(1, 4)), windows=windows, skills=skills))
    vehicles = tuple(
        Vehicle(f"v{i}", "d", capacity=(400, 10**9, 40), shift=TimeWindow(8 * H, 18 * H),
                breaks=(Break(TimeWindow(12 * H, 14 * H), 1800),), cost_per_km=50, cost_per_hour=1500,
                skills=frozenset({"cold"}) if i == 0 else frozenset())
        for i in range(4))
    problem = Problem(tuple(stops), vehicles, (depot,), weekday=1)
    index, model = build_model(problem, traffic=laredo())
    ctx = Context(problem, index, model)
    return ctx, [s.id for s in stops[:n_stops]], [s.id for s in stops[n_stops:]]


def brute(ctx, states, sid):
    best = None
    for st in states.values():
        if not ctx.can_serve(st.vehicle, ctx.stops[sid]):
            continue
        for k in range(st.min_position, len(st.seq) + 1):
            c = exact_insertion(ctx, st, sid, k)
            if c is not None and (best is None or c.cost < best.cost):
                best = c
    return best


@pytest.fixture(scope="module")
def plan():
    ctx, first, new = world()
    departs = {v: 8 * H for v in ctx.vehicles}
    live = LivePlan.of(ctx, {v: () for v in ctx.vehicles}, departs=departs)
    for sid in first:  # build a day by brute-force cheapest insertion
        b = brute(ctx, live.states, sid)
        if b is not None:
            seq = list(live.states[b.vehicle_id].seq)
            seq.insert(b.position, sid)
            live.update(b.vehicle_id, seq)
    return ctx, live, new


def test_fast_answers_are_feasible_and_near_the_brute_force_optimum(plan):
    ctx, live, new = plan
    found = missed = 0
    gaps = []
    for sid in new:
        fast = live.insert(sid)
        best = brute(ctx, live.states, sid)
        if fast is not None:
            st = live.states[fast.vehicle_id]
            trial = st.seq[:fast.position] + (sid,) + st.seq[fast.position:]
            tm = schedule(ctx, st.vehicle, trial, st.depart)
            assert tm.ok, (sid, fast)  # never anything infeasible
            assert ctx.can_serve(st.vehicle, ctx.stops[sid])
        if best is None:
            assert fast is None or fast.timing.ok
            continue
        if fast is None:
            missed += 1
            continue
        found += 1
        assert fast.cost >= best.cost - 1e-6  # brute force is the optimum
        gaps.append((fast.cost - best.cost) / max(best.cost, 1.0))
    assert found >= 0.9 * (found + missed)
    assert sum(gaps) / len(gaps) <= 0.05, gaps


def test_frozen_positions_are_never_used(plan):
    ctx, live, new = plan
    frozen = LivePlan.of(ctx, live.sequences(), departs={v: 8 * H for v in ctx.vehicles},
                         min_positions={v: 2 for v in ctx.vehicles})
    for sid in new[:15]:
        c = frozen.insert(sid)
        if c is not None:
            assert c.position >= min(2, len(frozen.states[c.vehicle_id].seq))


def test_skills_capacity_and_windows():
    ctx, first, _ = world(n_stops=0, n_new=0)
    depot = ctx.problem.depots[0]
    cold = Stop("cold", LatLon(27.54, -99.48), service_s=60, demand=(1, 0, 1), skills=frozenset({"cold"}))
    heavy = Stop("heavy", LatLon(27.54, -99.48), service_s=60, demand=(390, 0, 1))
    filler = Stop("filler", LatLon(27.535, -99.485), service_s=60, demand=(20, 0, 1))
    never = Stop("never", LatLon(27.54, -99.48), service_s=60, demand=(1, 0, 1), windows=(TimeWindow(3 * H, 4 * H),))
    problem = Problem((cold, heavy, filler, never), ctx.problem.vehicles[:2], (depot,), weekday=1)
    index, model = build_model(problem, traffic=laredo())
    c2 = Context(problem, index, model)
    live = LivePlan.of(c2, {"v0": (), "v1": ("filler",)}, departs={"v0": 8 * H, "v1": 8 * H})
    assert live.insert("cold").vehicle_id == "v0"  # only v0 has the skill
    assert live.insert("heavy").vehicle_id == "v0"  # 390 + 20 kg does not fit v1 (400 kg)
    assert live.insert("never") is None  # its window closed before any shift starts
    assert live.insert("cold", vehicles=["v1"]) is None


def test_update_keeps_states_consistent(plan):
    ctx, live, new = plan
    st = live.states["v1"]
    again = RouteState(ctx, "v1", st.seq, depart=st.depart)
    assert again.slack == st.slack and again.dep_prev == st.dep_prev
