"""A simulated day executed against the truth, under lastmile and the naive dispatcher."""

from __future__ import annotations

from collections import Counter

import pytest

from lastmile.sim.execute import DELIVERED, FAILED, RETURNED, compare, metrics, run_day
from lastmile.sim.truth import Truth
from lastmile.sim.world import make_world

ITERATIONS = 60  # an iteration budget, not a clock: the same day plans the same way


@pytest.fixture(scope="module")
def day():
    world = make_world(2, orders=70, drivers=5)
    truth = Truth(world)
    ours = run_day(world, "lastmile", truth=truth, iterations=ITERATIONS, time_limit_s=30)
    base = run_day(world, "naive", truth=truth)
    kind = run_day(world, "naive-sorted", truth=truth)
    return world, truth, ours, base, kind


def test_every_order_ends_delivered_failed_with_a_reason_or_returned(day):
    world, _, ours, base, kind = day
    for result in (ours, base, kind):
        assert set(result.records) == {o.id for o in world.orders}
        for rec in result.records.values():
            assert rec.outcome in (DELIVERED, FAILED, RETURNED)
            if rec.outcome == DELIVERED:
                assert rec.attempted and rec.driver_id
                assert rec.arrival_s <= rec.start_s < rec.departure_s
                assert rec.window is not None and rec.start_s >= rec.window.start
                assert rec.late_s == max(0, rec.start_s - rec.window.end)
            else:
                assert rec.reason, rec


def test_no_stop_is_visited_twice_and_vans_never_overload(day):
    world, _, ours, base, kind = day
    for result in (ours, base, kind):
        counts = Counter(oid for oid, _ in result.visits)
        assert counts and max(counts.values()) == 1
        for ds in result.drivers.values():
            assert all(p <= c for p, c in zip(ds.peak_load, ds.capacity)), ds.id
        m = metrics(result)
        assert m["km"] > 0 and m["driver_hours"] > 0 and m["delivered"] > 0


def test_the_day_s_events_happen(day):
    world, _, ours, base, _ = day
    ill = world.ill
    assert ill is not None
    for result in (ours, base):
        after = [r for r in result.records.values() if r.driver_id == ill.driver_id and r.arrival_s
                 and r.arrival_s > ill.at_s]
        assert len(after) <= 1  # the stop the driver was driving to when it happened
        assert result.drivers[ill.driver_id].done
        for o in world.live_orders():
            rec = result.records[o.id]
            assert rec.arrival_s is None or rec.arrival_s >= o.arrives_s
    # lastmile told the customers; those who chose a new time were served in it
    chose = [r for r in ours.records.values() if r.window is not None and r.window not in world.order(r.order_id).windows]
    assert all(r.notified for r in chose)
    assert not any(r.notified for r in base.records.values())


def test_lastmile_drives_less_per_delivery_and_serves_more_than_naive(day):
    _, _, ours, base, _ = day
    a, b = metrics(ours), metrics(base)
    assert a["km_per_delivery"] < b["km_per_delivery"]
    assert a["deliveries_per_driver_hour"] > b["deliveries_per_driver_hour"]
    assert a["delivered"] >= b["delivered"]


def test_same_day_same_outcome(day):
    world, truth, ours, _, _ = day
    again = run_day(world, "lastmile", truth=truth, iterations=ITERATIONS, time_limit_s=30)
    assert again.records == ours.records


def test_compare_returns_both_sides_and_ratios():
    world = make_world(4, orders=30, drivers=3)
    out = compare(world, iterations=40)
    assert out["lastmile"]["policy"] == "lastmile" and out["naive"]["policy"] == "naive"
    assert set(out["ratios"]) >= {"km_saved", "km_per_delivery_saved", "deliveries_per_driver_hour_gain"}


def test_per_driver_figures_add_up_to_the_day(day):
    _, _, ours, _, _ = day
    rows = ours.per_driver()
    m = metrics(ours)
    assert sum(r["delivered"] for r in rows) == m["delivered"]
    assert abs(sum(r["km"] for r in rows) - m["km"]) < 0.5
    assert abs(sum(r["hours"] for r in rows) - m["driver_hours"]) < 0.05
    assert all(r["back_s"] >= r["left_s"] for r in rows if r["left_s"] is not None)


def test_the_sorted_baseline_drives_each_route_in_window_order(day):
    world, _, _, _, kind = day
    morning = {o.id for o in world.morning_orders()}
    for drv in kind.drivers:
        # before anything happens in the day (orders coming in, the driver falling ill)
        first_event = min(e.at_s for e in world.events())
        recs = sorted((r for r in kind.records.values() if r.driver_id == drv and r.attempted
                       and r.order_id in morning and r.arrival_s < first_event), key=lambda r: r.arrival_s)
        starts = [world.order(r.order_id).windows[0].start for r in recs]
        assert starts == sorted(starts), drv
