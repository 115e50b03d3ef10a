"""The time-of-day travel model: slower at rush hour and in school zones, FIFO,
and legs that cross the Rio Grande go over an open bridge and wait there."""

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.routing.domain import LatLon
from lastmile.routing.matrix.bridges import (
    Bridge,
    OpenHours,
    WaitProfile,
    constant_wait,
)
from lastmile.routing.matrix.haversine import HaversineProvider
from lastmile.routing.matrix.profiles import BRIDGES, SCHOOLS, laredo, laredo_bridges
from lastmile.routing.matrix.timedep import (
    Border,
    TimeDependentModel,
    TrafficProfile,
    WaypointMatrix,
    hm,
    matrix_with_bridges,
)

NORTH_LAREDO = LatLon(27.5930, -99.5050)
EAST_LAREDO = LatLon(27.5230, -99.4650)
DOWNTOWN_LAREDO = LatLon(27.5065, -99.5070)
CENTRO_NUEVO_LAREDO = LatLon(27.4780, -99.5080)
NEAR_MARTIN_HS = LatLon(SCHOOLS["Martin HS"][0] + 0.001, SCHOOLS["Martin HS"][1])
NEAR_NIXON_HS = LatLon(SCHOOLS["Nixon HS"][0], SCHOOLS["Nixon HS"][1] + 0.001)

PLACES = [NORTH_LAREDO, EAST_LAREDO, DOWNTOWN_LAREDO, CENTRO_NUEVO_LAREDO, NEAR_MARTIN_HS, NEAR_NIXON_HS]


def model(weekday: int = 2, profile: TrafficProfile | None = None) -> TimeDependentModel:
    m = HaversineProvider().matrix(PLACES)
    return TimeDependentModel(m, PLACES, laredo() if profile is None else profile, weekday)


def test_rush_hour_is_slower_than_the_middle_of_the_night():
    td = model()
    night = td.travel(0, 1, hm("03:00"))
    rush = td.travel(0, 1, hm("07:30"))
    assert night == td.free_flow(0, 1)
    assert rush > night * 1.25


def test_weekend_has_no_weekday_rush():
    sunday = model(weekday=6)
    assert sunday.travel(0, 1, hm("07:30")) == sunday.free_flow(0, 1)


def test_school_zone_slows_legs_between_schools_only_in_school_hours():
    td = model()
    school_time = td.travel(4, 5, hm("14:45"))
    midday = td.travel(4, 5, hm("10:30"))
    assert school_time > midday * 1.3
    # The same leg at 10:30 has only the bridges' all-day slowdown nearby at most.
    assert midday <= td.free_flow(4, 5) * 1.35


def test_leg_starting_just_before_rush_is_partly_slowed():
    td = model()
    before = td.travel(0, 1, hm("06:00"))
    straddling = td.travel(0, 1, hm("07:00") - before // 2)
    inside = td.travel(0, 1, hm("07:30"))
    assert before < straddling < inside


def test_border_sides_and_bridge_wait():
    td = model()
    assert not td.crosses(2, 1)  # downtown Laredo -> east Laredo: same side
    assert td.crosses(2, 3)  # downtown Laredo -> centro Nuevo Laredo
    assert td.crosses(3, 2)
    north_peak = td.travel(3, 2, hm("17:00"))  # into the US at the evening peak
    south_quiet = td.travel(2, 3, hm("11:00"))
    assert north_peak - td.free_flow(3, 2) >= 45 * 60
    assert south_quiet - td.free_flow(2, 3) >= 10 * 60
    # The bridges themselves sit on the river line.
    assert len(BRIDGES) == 4


@settings(max_examples=200, deadline=None)
@given(i=st.integers(0, 5), j=st.integers(0, 5), t=st.integers(0, 86400 - 1), dt=st.integers(1, 7200))
def test_fifo_leaving_later_never_arrives_earlier(i, j, t, dt):
    td = model()
    assert t + td.travel(i, j, t) <= t + dt + td.travel(i, j, t + dt)


def test_free_flow_profile_is_the_matrix():
    td = model(profile=TrafficProfile())
    for i in range(len(PLACES)):
        for j in range(len(PLACES)):
            assert td.travel(i, j, hm("08:00")) == td.free_flow(i, j)


def test_static_matrix_rows_follow_their_departure_times():
    td = model()
    night = td.static_durations(np.full(len(PLACES), hm("03:00")))
    rush = td.static_durations(np.full(len(PLACES), hm("07:30")))
    assert (rush >= night).all()
    assert rush[0, 1] > night[0, 1]
    assert night[2, 3] > td.free_flow(2, 3)  # the bridge wait is in the static matrix too


# --- the bridges ---

WEDNESDAY, SATURDAY, SUNDAY = 2, 5, 6
US, MX = (0, 1, 2, 4, 5), (3,)


def no_zones(profile: TrafficProfile) -> TrafficProfile:
    return dataclasses.replace(profile, zones=())


def bridge_model(profile: TrafficProfile, weekday: int = WEDNESDAY, places=PLACES) -> TimeDependentModel:
    """The bridges' legs on the same (straight-line) provider as the places: the model gets their rows."""
    m = matrix_with_bridges(HaversineProvider(), places, profile)
    assert isinstance(m, WaypointMatrix) and m.size == len(places)
    return TimeDependentModel(m, places, profile, weekday)


def brute_exit(bridge: Bridge, into_left: bool, weekday: int, t: int) -> float:
    """Earliest time across having reached the bridge at ``t``: scan every later minute (FIFO queue)."""
    best = float("inf")
    for k in range(0, 2 * 86400, 60):
        s = t + k
        w = bridge.wait_s(into_left, weekday + s // 86400, s)
        best = min(best, s + w)
    return best


@pytest.mark.parametrize("i, j", [(3, 2), (2, 3), (0, 3), (3, 4)])
@pytest.mark.parametrize("t", ["03:00", "07:40", "11:00", "17:00", "23:50"])
def test_a_crossing_leg_goes_over_its_best_open_bridge_and_never_shorter(i, j, t):
    prof = no_zones(laredo())
    td = bridge_model(prof)
    depart = hm(t)
    into_left = j not in MX  # US is the left bank
    best = float("inf")
    for br in prof.border.usable():
        m = HaversineProvider().matrix([PLACES[i], br.location, PLACES[j]]).durations
        across = brute_exit(br, into_left, WEDNESDAY, depart + int(m[0, 1]))
        best = min(best, across + m[1, 2] - depart)
    assert td.crosses(i, j)
    got = td.travel(i, j, depart)
    assert got >= best - 2  # never shorter than via its best bridge ...
    assert got <= best + 62  # ... and no longer (the queue table is kept per minute)


def test_northbound_at_five_waits_longer_than_southbound_at_eleven():
    td = bridge_model(laredo())
    north = td.travel(3, 2, hm("17:00")) - td.free_flow(3, 2)
    south = td.travel(2, 3, hm("11:00")) - td.free_flow(2, 3)
    assert north >= 45 * 60 and south >= 10 * 60
    assert north > 2 * south
    assert td.bridge_for(3, 2, hm("17:00")) in ("Gateway to the Americas", "Juarez-Lincoln")
    assert td.bridge_for(2, 1, hm("17:00")) is None  # not a crossing


def test_a_closed_bridge_is_not_used_and_an_all_closed_border_waits_for_the_opening():
    near = Bridge("near", BRIDGES["Gateway to the Americas"], constant_wait(5), constant_wait(5),
                  hours=(OpenHours(hm("08:00"), hm("20:00")),))
    far = Bridge("far", BRIDGES["World Trade Bridge"], constant_wait(5), constant_wait(5))
    border = laredo().border
    both = TrafficProfile(border=dataclasses.replace(border, bridges=(near, far), vehicle_class=None))
    td = bridge_model(both)
    assert td.bridge_for(2, 3, hm("12:00")) == "near"
    assert td.bridge_for(2, 3, hm("03:00")) == "far"
    assert td.bridge_for(2, 3, hm("21:00")) == "far"
    # Only the near one: leave at 03:00, cross after it opens at 08:00.
    alone = TrafficProfile(border=dataclasses.replace(border, bridges=(near,), vehicle_class=None))
    td = bridge_model(alone)
    assert hm("03:00") + td.travel(2, 3, hm("03:00")) >= hm("08:05")
    # A bridge that does not take this traffic is never used: trucks do not take Gateway.
    trucks = bridge_model(laredo("commercial"))
    assert {trucks.bridge_for(2, 3, hm(t)) for t in ("06:00", "12:00", "17:00")} <= {"World Trade Bridge",
                                                                                     "Colombia Solidarity"}


def test_weekends_have_their_own_queues():
    wed, sun = bridge_model(laredo(), WEDNESDAY), bridge_model(laredo(), SUNDAY)
    # Sunday evening everyone comes home north; a Wednesday at 19:00 is past the peak.
    assert sun.travel(3, 2, hm("19:00")) > wed.travel(3, 2, hm("19:00")) + 15 * 60
    # Saturday morning is quieter than a weekday commute northbound.
    sat = bridge_model(no_zones(laredo()), SATURDAY)
    wed = bridge_model(no_zones(laredo()), WEDNESDAY)
    assert sat.travel(3, 2, hm("08:00")) < wed.travel(3, 2, hm("08:00")) - 15 * 60
    # The World Trade Bridge closes at 16:00 on Saturdays and all Sunday.
    wtb = next(b for b in laredo_bridges() if b.name == "World Trade Bridge")
    assert wtb.is_open(WEDNESDAY, hm("18:00")) and not wtb.is_open(SATURDAY, hm("18:00"))
    assert not wtb.is_open(SUNDAY, hm("12:00"))


@settings(max_examples=300, deadline=None)
@given(i=st.sampled_from([0, 2, 3, 4]), j=st.sampled_from([0, 2, 3, 4]), t=st.integers(0, 86400 - 1),
       dt=st.integers(1, 7200), day=st.sampled_from([WEDNESDAY, SATURDAY, SUNDAY]),
       kind=st.sampled_from(["passenger", "commercial"]))
def test_fifo_holds_across_the_bridges(i, j, t, dt, day, kind):
    td = _BRIDGE_MODELS[(day, kind)]
    assert t + td.travel(i, j, t) <= t + dt + td.travel(i, j, t + dt)


_BRIDGE_MODELS = {(d, k): bridge_model(laredo(k), d) for d in (WEDNESDAY, SATURDAY, SUNDAY)
                  for k in ("passenger", "commercial")}


def test_fifo_holds_minute_by_minute_over_two_days():
    td = _BRIDGE_MODELS[(WEDNESDAY, "commercial")]
    for i, j in ((3, 2), (2, 3)):
        arrive = [t + td.travel(i, j, t) for t in range(0, 2 * 86400, 60)]
        assert all(a <= b for a, b in itertools.pairwise(arrive))


def test_static_matrix_takes_the_bridges_like_travel_does():
    td = bridge_model(no_zones(laredo()))
    for t in ("03:00", "07:45", "11:00", "17:00"):
        static = td.static_durations(np.full(len(PLACES), hm(t)))
        timed = np.array([[td.travel(i, j, hm(t)) for j in range(len(PLACES))] for i in range(len(PLACES))])
        assert np.abs(static - timed).max() <= 1, t
    # With traffic zones the static matrix still has every crossing's bridge wait in it.
    td = bridge_model(laredo())
    night = td.static_durations(np.full(len(PLACES), hm("03:00")))
    for i in US:
        assert night[i, 3] > td.free_flow(i, 3) + 3 * 60


def test_crossing_distance_and_free_flow_go_via_a_bridge():
    td = bridge_model(laredo())
    for i in US:
        via = []
        for br in laredo().border.usable():
            m = HaversineProvider().matrix([PLACES[i], br.location, PLACES[3]])
            via.append((m.distances[0, 1] + m.distances[1, 2], m.durations[0, 1] + m.durations[1, 2]))
        assert td.distance(i, 3) >= min(d for d, _ in via) - 1
        assert (td.distance(i, 3), td.free_flow(i, 3)) in {(d, t) for d, t in via} | {(d + 1, t) for d, t in via} \
            | {(d - 1, t) for d, t in via} | {(d, t + 1) for d, t in via} | {(d, t - 1) for d, t in via}
        assert td.base.distances[i, 3] == td.distance(i, 3)
    assert td.distance(0, 1) == HaversineProvider().matrix(PLACES).distances[0, 1]  # same side: untouched


def test_without_bridge_rows_the_legs_to_the_bridges_are_estimated_alike():
    prof = laredo()
    with_rows = bridge_model(prof)
    geometric = TimeDependentModel(HaversineProvider().matrix(PLACES), PLACES, prof, WEDNESDAY)
    # The same model also accepts the bridges as plain extra rows of a bigger matrix.
    wps = prof.border.waypoints()
    extra = TimeDependentModel(HaversineProvider().matrix(PLACES + list(wps)), PLACES, prof, WEDNESDAY, waypoints=wps)
    assert extra.size == geometric.size == len(PLACES)
    for t in ("07:30", "17:00"):
        a, b, c = (m.travel(3, 2, hm(t)) for m in (with_rows, geometric, extra))
        assert a == c and abs(a - b) <= 0.01 * a


def test_no_bridge_rows_when_nothing_crosses():
    us_only = [NORTH_LAREDO, EAST_LAREDO, DOWNTOWN_LAREDO]
    m = matrix_with_bridges(HaversineProvider(), us_only, laredo())
    assert not isinstance(m, WaypointMatrix) and m.size == 3


def test_bridges_validate_their_profiles():
    with pytest.raises(ValueError):
        WaitProfile((10.0,) * 23)
    with pytest.raises(ValueError):
        OpenHours(hm("20:00"), hm("08:00"))
    assert isinstance(Border(RIO_GRANDE_FOR_TEST, "US", "MX").usable(), tuple)


RIO_GRANDE_FOR_TEST = laredo().border.river


def test_on_a_road_graph_the_bridges_are_places_on_the_roads():
    """A made-up border across the shipped Baltimore extract (not Laredo; no real border
    there): the bridge on the extract is snapped and routed like any stop, the one far
    outside it falls back to straight lines, and crossing legs still go via a bridge."""
    from pathlib import Path

    from lastmile.routing.matrix.calibrate import sample_points
    from lastmile.routing.matrix.road_graph import RoadGraph, RoadGraphProvider

    pbf = Path(__file__).resolve().parents[2] / ".." / "shared" / "osm" / "baltimore.osm.pbf"
    if not pbf.is_file():
        pytest.skip(f"shipped OSM extract not found: {pbf}")
    road = RoadGraphProvider(RoadGraph.from_pbf(pbf, use_cache=False))
    west, south, east, north = road.road.bbox
    mid = (west + east) / 2
    river = (LatLon(north + 0.1, mid), LatLon(south - 0.1, mid))  # a north-south line through the middle
    on_map = sample_points(road.road, 1, seed=3)[0]
    bridges = (Bridge("test bridge on the extract", on_map, constant_wait(10), constant_wait(10)),
               Bridge("test bridge far away", LatLon(north + 1.0, mid), constant_wait(0), constant_wait(0)))
    profile = TrafficProfile(border=Border(river, "west", "east", bridges=bridges))
    pts = sample_points(road.road, 12, seed=9)
    m = matrix_with_bridges(road, pts, profile)
    assert isinstance(m, WaypointMatrix) and m.waypoints == (on_map,) and m.provider == "road-graph:baltimore"
    td = TimeDependentModel(m, pts, profile, WEDNESDAY)
    crossing = [(i, j) for i in range(12) for j in range(12) if td.crosses(i, j)]
    assert crossing
    k = 12  # the bridge's row in one road matrix over the places and the bridge
    full = road.matrix([*pts, on_map]).durations
    for i, j in crossing:
        assert td.travel(i, j, hm("12:00")) <= full[i, k] + 10 * 60 + full[k, j] + 1
        assert td.travel(i, j, hm("12:00")) >= min(full[i, k] + 10 * 60 + full[k, j], td.free_flow(i, j)) - 1


def test_no_traffic_keeps_the_border():
    from lastmile.routing.matrix.profiles import profile_named

    free = TimeDependentModel(HaversineProvider().matrix(PLACES), PLACES, profile_named("none"), 2)
    assert free.crosses(2, 3)  # downtown Laredo -> centro Nuevo Laredo still crosses
    assert free.travel(0, 1, hm("07:30")) == free.free_flow(0, 1)  # but no rush hour
    assert free.travel(2, 3, hm("17:00")) > free.free_flow(2, 3)  # and the bridge queue stays
    off = TimeDependentModel(HaversineProvider().matrix(PLACES), PLACES, profile_named("off"), 2)
    assert not off.crosses(2, 3)
