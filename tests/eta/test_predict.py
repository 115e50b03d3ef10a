"""routing/eta.py on hand-built tiny routes: windows, the break, time of day, the border."""

from __future__ import annotations

import numpy as np
import pytest

from lastmile.routing.domain import Break, LatLon, TimeWindow
from lastmile.routing.eta import EtaStop, predict, predict_from, service_start
from lastmile.routing.matrix.profiles import laredo, profile_named
from lastmile.routing.matrix.timedep import TimeDependentModel, TrafficProfile
from lastmile.routing.ports import Matrix

H = 3600


def line_model(*legs_s: int) -> TimeDependentModel:
    """Places 0..n on a line; leg k -> k+1 takes legs_s[k] seconds (free flow)."""
    n = len(legs_s) + 1
    cum = np.concatenate([[0], np.cumsum(legs_s)])
    dur = np.abs(cum[:, None] - cum[None, :]).astype(np.int64)
    locs = [LatLon(27.5 + k * 0.01, -99.5) for k in range(n)]
    return TimeDependentModel(Matrix(dur * 10, dur, "test"), locs, TrafficProfile(), 1)


def stop(i: int, service_s: int = 300, *windows: tuple[int, int]) -> EtaStop:
    return EtaStop(f"s{i}", LatLon(0, 0), service_s, tuple(TimeWindow(a, b) for a, b in windows))


def test_drive_serve_drive():
    eta = predict(line_model(600, 900), 9 * H, [stop(1), stop(2)])
    a, b = eta.stops
    assert (a.arrival, a.start, a.end) == (9 * H + 600, 9 * H + 600, 9 * H + 900)
    assert b.arrival == a.end + 900 and b.late_by_s == 0 and b.wait_s == 0
    assert eta.end == b.end and eta.breaks == ()


def test_waits_for_the_window_then_is_later_for_the_next():
    eta = predict(line_model(600, 600), 9 * H, [stop(1, 300, (10 * H, 12 * H)), stop(2)])
    a, b = eta.stops
    assert a.arrival == 9 * H + 600 and a.start == 10 * H and a.wait_s == 50 * 60
    assert b.arrival == 10 * H + 300 + 600


def test_late_past_the_last_window():
    eta = predict(line_model(3 * H), 9 * H, [stop(1, 300, (9 * H, 10 * H), (10 * H + 1800, 11 * H))])
    (a,) = eta.stops
    assert a.arrival == 12 * H and a.late_by_s == H and a.start == a.arrival
    assert eta.late == (a,)
    assert service_start((TimeWindow(9 * H, 10 * H), TimeWindow(11 * H, 12 * H)), 10 * H + 1) == (11 * H, 0)


def test_ready_at_holds_the_driver():
    free = predict(line_model(600), 9 * H, [stop(1)])
    held = predict(line_model(600), 9 * H, [stop(1)], ready_at=9 * H + 900)
    assert held.stops[0].arrival - free.stops[0].arrival == 900


def test_break_taken_when_its_window_opens_before_driving_on():
    brk = Break(TimeWindow(12 * H, 13 * H), 1800)
    eta = predict(line_model(600, 600, 600), 11 * H + 1500, [stop(1), stop(2), stop(3)], breaks=[brk])
    # stop 1 at 11:35-11:40 and stop 2 at 11:50-11:55 come before the window opens
    s1, s2, s3 = eta.stops
    assert s1.arrival == 11 * H + 2100 and not s1.break_before
    assert s2.arrival == 11 * H + 3000  # 11:50, service 11:50-11:55
    assert not s2.break_before
    # after stop 2 it is 11:55: leg to stop 3 arrives 12:05 > window start -> taken on arrival
    assert s3.break_before and s3.start == 11 * H + 3300 + 600 + 1800
    assert eta.breaks == (("break", 12 * H + 300, 12 * H + 2100),)
    without = predict(line_model(600, 600, 600), 11 * H + 1500, [stop(1), stop(2), stop(3)])
    assert s3.end - without.stops[2].end == 1800


def test_break_open_now_is_taken_before_driving():
    brk = Break(TimeWindow(12 * H, 13 * H), 1800)
    eta = predict(line_model(600), 12 * H + 600, [stop(1)], breaks=[brk])
    assert eta.stops[0].arrival == 12 * H + 600 + 1800 + 600 and eta.stops[0].break_before


def test_break_absorbs_waiting_for_a_window():
    brk = Break(TimeWindow(12 * H, 13 * H), 1800)
    eta = predict(line_model(600), 11 * H + 3000, [stop(1, 300, (13 * H, 14 * H))], breaks=[brk])
    (a,) = eta.stops
    # arrives 12:00, window opens 13:00: the break (12:00-12:30) is taken inside the wait
    assert a.arrival == 12 * H and a.start == 13 * H and a.break_before and a.wait_s == 1800


def test_a_break_whose_window_closed_is_not_owed():
    brk = Break(TimeWindow(12 * H, 13 * H), 1800)
    eta = predict(line_model(600), 14 * H, [stop(1)], breaks=[brk])
    assert eta.breaks == () and eta.stops[0].arrival == 14 * H + 600


def test_one_row_per_stop_required():
    with pytest.raises(ValueError):
        predict(line_model(600), 0, [stop(1)], rows=[1, 2])


LAREDO_A = LatLon(27.5300, -99.4900)  # central Laredo, US side
LAREDO_B = LatLon(27.5100, -99.4950)
NUEVO = LatLon(27.4780, -99.5250)  # Nuevo Laredo, MX side


def test_rush_hour_is_slower_than_night():
    stops = [EtaStop("a", LAREDO_B, 300)]
    tue = 1
    rush = predict_from(LAREDO_A, 7 * H + 30 * 60, stops, profile=laredo(), weekday=tue)
    night = predict_from(LAREDO_A, 2 * H, stops, profile=laredo(), weekday=tue)
    assert rush.stops[0].travel_s > night.stops[0].travel_s * 1.2


def test_crossing_the_border_takes_a_bridge_and_its_queue():
    stops = [EtaStop("a", LAREDO_A, 300)]
    tue = 1
    cross = predict_from(NUEVO, 17 * H, stops, profile=laredo(), weekday=tue)
    flat = predict_from(NUEVO, 17 * H, stops, profile=profile_named("off"), weekday=tue)
    # northbound at 17:00 queues most of an hour at the bridge
    assert cross.stops[0].travel_s > flat.stops[0].travel_s + 30 * 60
    same_side = predict_from(LAREDO_B, 17 * H, stops, profile=laredo(), weekday=tue)
    assert same_side.stops[0].travel_s < cross.stops[0].travel_s


def test_no_stops_left():
    eta = predict_from(LAREDO_A, 9 * H, [], ready_at=9 * H + 60)
    assert eta.stops == () and eta.end == 9 * H + 60


def test_a_kept_stops_model_gives_the_same_etas():
    from lastmile.routing.eta import chain_model

    stops = [EtaStop("a", LAREDO_B, 300), EtaStop("b", LatLon(27.55, -99.47), 300, (TimeWindow(9 * H, 10 * H),)),
             EtaStop("c", NUEVO, 300)]
    brk = [Break(TimeWindow(9 * H, 11 * H), 1800)]
    here = LatLon(27.54, -99.49)
    kept = chain_model([LatLon(27.5630, -99.4870), *(s.location for s in stops)], laredo(), 1)  # depot first
    for at in (7 * H, 8 * H + 1234, 16 * H):
        fresh = predict_from(here, at, stops, profile=laredo(), weekday=1, breaks=brk)
        reuse = predict_from(here, at, stops, profile=laredo(), weekday=1, breaks=brk, stops_model=kept, rows=[1, 2, 3])
        assert fresh == reuse
        later = predict_from(here, at, stops[1:], profile=laredo(), weekday=1, stops_model=kept, rows=[2, 3])
        assert later.stops[-1].id == "c"
