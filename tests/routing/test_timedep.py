"""The time-of-day travel model: slower at rush hour and in school zones, FIFO,
and a bridge wait only for legs that cross the Rio Grande."""

from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.routing.domain import LatLon
from lastmile.routing.matrix.haversine import HaversineProvider
from lastmile.routing.matrix.profiles import BRIDGES, SCHOOLS, laredo
from lastmile.routing.matrix.timedep import TimeDependentModel, TrafficProfile, hm

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
    import numpy as np

    td = model()
    night = td.static_durations(np.full(len(PLACES), hm("03:00")))
    rush = td.static_durations(np.full(len(PLACES), hm("07:30")))
    assert (rush >= night).all()
    assert rush[0, 1] > night[0, 1]
    assert night[2, 3] > td.free_flow(2, 3)  # the bridge wait is in the static matrix too
