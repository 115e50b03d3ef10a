"""The hidden true world: FIFO travel, rush hour on I-35, the bridges, the door."""

from __future__ import annotations

import pytest

from lastmile.routing.matrix.timedep import _distance_to_path_m
from lastmile.sim.truth import I35, Truth
from lastmile.sim.world import make_world

import numpy as np


@pytest.fixture(scope="module")
def truth():
    return Truth(make_world(1, orders=120, drivers=6))


def test_travel_is_fifo_through_the_day(truth):
    ids = truth.ids
    pairs = [(ids[0], ids[5]), (ids[7], ids[1]), (ids[3], ids[40]), (ids[60], ids[90])]
    for a, b in pairs:
        arrivals = [t + truth.travel_s(a, b, t) for t in range(5 * 3600, 21 * 3600, 120)]
        assert all(x <= y for x, y in zip(arrivals, arrivals[1:])), (a, b)
        assert truth.distance_m(a, b) > 0


def test_rush_hour_on_i35_is_slower_than_mid_morning(truth):
    w = truth.world
    lat = np.array([o.location.lat for o in w.orders])
    lon = np.array([o.location.lon for o in w.orders])
    near = [o.id for o, dm in zip(w.orders, _distance_to_path_m(lat, lon, I35)) if dm < 500 and o.country == "US"]
    assert len(near) >= 2
    a, b = near[0], near[-1]
    assert truth.travel_s(a, b, 7 * 3600 + 45 * 60) > 1.3 * truth.travel_s(a, b, 10 * 3600 + 30 * 60)


def test_crossing_the_border_waits_at_a_bridge_and_the_path_goes_there(truth):
    w = truth.world
    us = next(o.id for o in w.orders if o.country == "US")
    mx = next(o.id for o in w.orders if o.country == "MX")
    same_side = truth.travel_s("LRD-N", us, 10 * 3600)
    across = truth.travel_s(mx, us, 10 * 3600)
    assert across > truth.model.free_flow(truth._r(mx), truth._r(us))  # the northbound queue
    path = truth.path(mx, us, 10 * 3600, every_s=30)
    assert path[0] == (10 * 3600, truth.location(mx))
    assert path[-1] == (10 * 3600 + across, truth.location(us))
    assert all(b[0] - a[0] <= 30 for a, b in zip(path, path[1:]))
    assert same_side > 0


def test_service_time_depends_on_building_and_is_deterministic(truth):
    w = truth.world
    by = {}
    for o in w.orders:
        by.setdefault(o.building, []).append(truth.service_s(o.id, 10 * 3600) / o.service_s)
    assert sum(by["apartment"]) / len(by["apartment"]) > sum(by["business"]) / len(by["business"])
    o = w.orders[0]
    assert truth.service_s(o.id, 36000) == truth.service_s(o.id, 36000)
    assert truth.service_s(o.id, 36000, first_visit=False) < truth.service_s(o.id, 36000) + 1


def test_customers_away_are_home_only_if_notified_and_they_arrange():
    w = make_world(1)
    t = Truth(w)
    for o in w.orders:
        h = w.hidden_of(o.id)
        if h.away is None:
            assert t.at_home(o.id, 12 * 3600, notified=False)
            assert t.reply(o.id, 12 * 3600) is None
            continue
        mid = (h.away[0] + h.away[1]) // 2
        assert not t.at_home(o.id, mid, notified=False)
        assert t.at_home(o.id, mid, notified=True) == (h.response == "arrange")
        assert t.at_home(o.id, h.away[1], notified=False)
        r = t.reply(o.id, mid)
        assert (r is not None) == (h.response == "reschedule")
        if r is not None and r.window is not None:
            assert r.window.start >= h.away[1]
