"""The engine end to end on small instances built by hand, and a property test:
every plan the engine returns passes the independent validator."""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.routing.domain import (Break, Depot, LatLon, Options, Problem, Stop, StopKind, TimeWindow, Vehicle,
                                     VisitKind)
from lastmile.routing.matrix.profiles import laredo
from lastmile.routing.matrix.timedep import hm
from lastmile.routing.solve import build_model, solve
from lastmile.routing.validate import validate

DEPOT = Depot("N", LatLon(27.5930, -99.5050), "north")
FAST = Options(iterations=300, seed=3)
BACKENDS = [Options(iterations=300, seed=3), Options(time_limit_s=1.0, seed=3, backend="ortools")]
both_backends = pytest.mark.parametrize("opts", BACKENDS, ids=["pyvrp", "ortools"])


def stop(i: int, lat: float, lon: float, **kw) -> Stop:
    return Stop(f"s{i}", LatLon(lat, lon), service_s=kw.pop("service_s", 300), **kw)


def van(i: int, **kw) -> Vehicle:
    kw.setdefault("shift", TimeWindow(hm("07:00"), hm("18:00")))
    kw.setdefault("capacity", (500, 2000, 50))
    return Vehicle(f"v{i}", "N", **kw)


def check(plan, problem, traffic=None):
    index, model = build_model(problem, traffic=traffic)
    violations = validate(plan, problem, model, index)
    assert violations == [], [str(v) for v in violations]


@both_backends
def test_every_stop_is_routed_in_its_window(opts):
    stops = tuple(stop(i, 27.52 + 0.01 * (i % 7), -99.49 + 0.01 * (i // 7),
                       windows=(TimeWindow(hm("09:00"), hm("12:00")),) if i % 2 else ()) for i in range(20))
    p = Problem(stops, (van(1), van(2)), (DEPOT,), weekday=2)
    plan = solve(p, opts, traffic=laredo())
    assert plan.stats.assigned == 20 and not plan.unassigned
    check(plan, p, laredo())
    for r in plan.routes:
        for v in r.visits:
            s = next((x for x in stops if x.id == v.ref), None)
            if s is not None and s.windows:
                assert s.windows[0].start <= v.start <= s.windows[0].end


@both_backends
def test_unassigned_stops_come_with_reasons_a_dispatcher_understands(opts):
    stops = (
        stop(1, 27.55, -99.50),
        stop(2, 27.56, -99.49, skills=frozenset({"heavy-lift"})),
        stop(3, 27.57, -99.48, demand=(900, 1, 1)),
        stop(4, 27.40, -99.40, windows=(TimeWindow(hm("07:00"), hm("07:02")),)),
    )
    p = Problem(stops, (van(1),), (DEPOT,), weekday=2)
    plan = solve(p, opts)
    reasons = {u.stop_id: u.reason for u in plan.unassigned}
    assert reasons["s2"] == "no vehicle with skill heavy-lift is on shift"
    assert "exceeds every suitable vehicle's capacity" in reasons["s3"] and "900 kg" in reasons["s3"]
    assert reasons["s4"].startswith("window closes 07:02, earliest arrival 07:")
    assert plan.route_of("v1").stop_ids == ("s1",)
    check(plan, p)


@both_backends
def test_skills_only_go_to_vehicles_that_have_them(opts):
    cold = frozenset({"refrigerated"})
    stops = tuple(stop(i, 27.50 + 0.005 * i, -99.50, skills=cold if i % 3 == 0 else frozenset()) for i in range(12))
    p = Problem(stops, (van(1, skills=cold), van(2)), (DEPOT,))
    plan = solve(p, opts)
    assert not plan.unassigned
    r2 = plan.route_of("v2")
    assert r2 is None or not any(int(s[1:]) % 3 == 0 for s in r2.stop_ids)
    check(plan, p)


@both_backends
def test_capacity_splits_the_load_and_pickups_come_back(opts):
    stops = tuple(stop(i, 27.50 + 0.004 * i, -99.49, demand=(100, 0, 1),
                       kind=StopKind.PICKUP if i % 4 == 0 else StopKind.DELIVERY) for i in range(10))
    p = Problem(stops, (van(1, capacity=(500, 2000, 50)), van(2, capacity=(500, 2000, 50))), (DEPOT,))
    plan = solve(p, opts)
    assert not plan.unassigned
    assert len(plan.routes) == 2  # 800 kg of deliveries need both vans
    check(plan, p)


@both_backends
def test_second_window_is_used_when_the_first_cannot_be_met(opts):
    far = stop(1, 27.40, -99.45, windows=(TimeWindow(hm("07:00"), hm("07:03")), TimeWindow(hm("15:00"), hm("16:00"))))
    p = Problem((far, stop(2, 27.55, -99.50)), (van(1),), (DEPOT,))
    plan = solve(p, opts)
    assert not plan.unassigned
    visit = next(v for v in plan.routes[0].visits if v.ref == "s1")
    assert hm("15:00") <= visit.start <= hm("16:00")
    check(plan, p)


@both_backends
def test_breaks_are_taken_inside_their_window(opts):
    brk = Break(TimeWindow(hm("11:00"), hm("12:00")), 1800, id="lunch")
    stops = tuple(stop(i, 27.50 + 0.003 * i, -99.50 + 0.002 * i, service_s=900) for i in range(24))
    p = Problem(stops, (van(1, breaks=(brk,), shift=TimeWindow(hm("08:00"), hm("18:00"))),), (DEPOT,), weekday=1)
    plan = solve(p, opts, traffic=laredo())
    r = plan.routes[0]
    breaks = [v for v in r.visits if v.kind is VisitKind.BREAK]
    assert len(breaks) == 1 and hm("11:00") <= breaks[0].start <= hm("12:00") and breaks[0].end - breaks[0].start == 1800
    check(plan, p, laredo())


@both_backends
def test_hours_of_service_limit_leaves_stops_out_with_a_reason(opts):
    stops = tuple(stop(i, 27.45 + 0.01 * i, -99.45, service_s=1800) for i in range(12))
    p = Problem(stops, (van(1, max_work_s=3 * 3600),), (DEPOT,))
    plan = solve(p, opts)
    assert plan.unassigned and plan.routes
    assert plan.routes[0].duration_s <= 3 * 3600
    check(plan, p)


def test_same_input_and_seed_give_the_same_plan():
    stops = tuple(stop(i, 27.45 + 0.013 * (i % 9), -99.55 + 0.011 * (i // 9),
                       windows=(TimeWindow(hm("08:00"), hm("13:00")),) if i % 3 == 0 else ()) for i in range(40))
    p = Problem(stops, (van(1), van(2), van(3)), (DEPOT,), weekday=3)
    for backend in ("pyvrp", "ortools"):
        a = solve(p, Options(iterations=400, seed=11, balance=1.0, backend=backend), traffic=laredo())
        b = solve(p, Options(iterations=400, seed=11, balance=1.0, backend=backend), traffic=laredo())
        assert [(r.vehicle_id, r.stop_ids) for r in a.routes] == [(r.vehicle_id, r.stop_ids) for r in b.routes]
        assert a.stats.distance_m == b.stats.distance_m


def test_validator_catches_a_tampered_plan():
    stops = tuple(stop(i, 27.50 + 0.01 * i, -99.50, windows=(TimeWindow(hm("08:00"), hm("12:00")),),
                       demand=(10, 0, 1)) for i in range(5))
    p = Problem(stops, (van(1, skills=frozenset()),), (DEPOT,))
    plan = solve(p, FAST)
    index, model = build_model(p)
    assert validate(plan, p, model, index) == []
    r = plan.routes[0]
    v0 = r.visits[0]
    # Arrive faster than the road allows.
    fast = replace(r, visits=(replace(v0, arrival=r.depart, start=r.depart, end=r.depart + 300),) + r.visits[1:])
    codes = {v.code for v in validate(replace(plan, routes=(fast,)), p, model, index)}
    assert "travel" in codes
    # A stop served twice, another forgotten.
    dup = replace(r, visits=r.visits + (r.visits[0],))
    codes = {v.code for v in validate(replace(plan, routes=(dup,)), p, model, index)}
    assert "duplicate" in codes
    lost = replace(r, visits=r.visits[1:])
    codes = {v.code for v in validate(replace(plan, routes=(lost,)), p, model, index)}
    assert "missing" in codes
    # Too small a van for the load.
    small = replace(p, vehicles=(van(1, capacity=(20, 2000, 50)),))
    codes = {v.code for v in validate(plan, small, model, index)}
    assert "capacity" in codes
    # A skill the van lacks.
    picky = replace(p, stops=(replace(stops[0], skills=frozenset({"refrigerated"})),) + stops[1:])
    codes = {v.code for v in validate(plan, picky, model, index)}
    assert "skill" in codes
    # A window the visit misses.
    tight = replace(p, stops=tuple(replace(s, windows=(TimeWindow(hm("06:00"), hm("06:30")),)) for s in stops))
    codes = {v.code for v in validate(plan, tight, model, index)}
    assert "window" in codes


# --- property: whatever the instance, the returned plan is valid -----------------

@st.composite
def instances(draw):
    n = draw(st.integers(1, 14))
    m = draw(st.integers(1, 3))
    depots = (DEPOT, Depot("S", LatLon(27.47, -99.51), "south"))
    skills = ["refrigerated", "heavy-lift"]
    stops = []
    for i in range(n):
        lat = draw(st.floats(27.42, 27.62))
        lon = draw(st.floats(-99.56, -99.43))
        k = draw(st.integers(0, 3))
        ws = ()
        if k == 1:
            a = draw(st.integers(hm("07:00"), hm("15:00")))
            ws = (TimeWindow(a, a + draw(st.integers(600, 4 * 3600))),)
        elif k == 2:
            a = draw(st.integers(hm("07:00"), hm("10:00")))
            ws = (TimeWindow(a, a + 3600), TimeWindow(hm("14:00"), hm("17:00")))
        stops.append(Stop(f"s{i}", LatLon(lat, lon), service_s=draw(st.integers(0, 1200)),
                          demand=(draw(st.integers(0, 300)), 0, draw(st.integers(0, 5))), windows=ws,
                          kind=draw(st.sampled_from(list(StopKind))),
                          skills=frozenset(draw(st.lists(st.sampled_from(skills), max_size=1))),
                          priority=draw(st.integers(0, 100)), required=draw(st.booleans()) or True))
    vehicles = []
    for j in range(m):
        s0 = draw(st.integers(hm("06:00"), hm("10:00")))
        brk = ()
        if draw(st.booleans()):
            b0 = draw(st.integers(hm("10:00"), hm("13:00")))
            brk = (Break(TimeWindow(b0, b0 + draw(st.integers(0, 7200))), draw(st.integers(600, 2700)), id="b"),)
        vehicles.append(Vehicle(f"v{j}", draw(st.sampled_from(["N", "S"])), draw(st.sampled_from(["N", "S"])),
                                capacity=(draw(st.integers(100, 1500)), 10**6, draw(st.integers(5, 60))),
                                shift=TimeWindow(s0, s0 + draw(st.integers(3 * 3600, 11 * 3600))), breaks=brk,
                                max_work_s=draw(st.sampled_from([None, 6 * 3600, 9 * 3600])),
                                skills=frozenset(draw(st.lists(st.sampled_from(skills), max_size=2)))))
    return Problem(tuple(stops), tuple(vehicles), depots, weekday=draw(st.integers(0, 6)))


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=instances(), traffic=st.booleans(), seed=st.integers(0, 5))
def test_every_returned_plan_passes_the_validator(problem, traffic, seed):
    prof = laredo() if traffic else None
    plan = solve(problem, Options(iterations=150, seed=seed), traffic=prof)
    check(plan, problem, prof)
    routed = {s for r in plan.routes for s in r.stop_ids}
    assert routed | {u.stop_id for u in plan.unassigned} == {s.id for s in problem.stops}


@both_backends
def test_only_cross_border_vehicles_serve_the_other_side(opts):
    nuevo_laredo = (stop(1, 27.478, -99.508), stop(2, 27.470, -99.520))
    laredo_side = (stop(3, 27.55, -99.49),)
    p = Problem(nuevo_laredo + laredo_side, (van(1), van(2, skills=frozenset({"cross-border"}))), (DEPOT,), weekday=2)
    plan = solve(p, opts, traffic=laredo())
    assert not plan.unassigned
    v1 = plan.route_of("v1")
    assert v1 is None or set(v1.stop_ids) <= {"s3"}
    assert {"s1", "s2"} <= set(plan.route_of("v2").stop_ids)
    check(plan, p, laredo())
    # Without a cross-border vehicle, the reason says so.
    p2 = replace(p, vehicles=(van(1),))
    plan2 = solve(p2, opts, traffic=laredo())
    reasons = {u.stop_id: u.reason for u in plan2.unassigned}
    assert reasons == {"s1": "it is across the border and no vehicle with skill cross-border is on shift",
                       "s2": "it is across the border and no vehicle with skill cross-border is on shift"}
    # The validator flags a plan that sends a domestic van across.
    index, model = build_model(p2, traffic=laredo())
    codes = {v.code for v in validate(plan, replace(p, vehicles=(van(1), van(2))), model, index)}
    assert "border" in codes


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=instances(), traffic=st.booleans())
def test_every_ortools_plan_passes_the_validator(problem, traffic):
    prof = laredo() if traffic else None
    plan = solve(problem, Options(iterations=50, seed=1, backend="ortools"), traffic=prof)
    check(plan, problem, prof)
    routed = {s for r in plan.routes for s in r.stop_ids}
    assert routed | {u.stop_id for u in plan.unassigned} == {s.id for s in problem.stops}
