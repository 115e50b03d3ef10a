"""The seeded Laredo day: deterministic, realistic, and the planner's view of it."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lastmile.routing.domain import StopKind
from lastmile.routing.matrix.profiles import laredo
from lastmile.sim.world import DriverIll, NewOrder, make_world, to_problem


@pytest.fixture(scope="module")
def world():
    return make_world(1)


def test_same_seed_same_world_and_another_seed_another(world):
    assert make_world(1) == world
    other = make_world(2)
    assert other != world
    assert [o.location for o in other.orders] != [o.location for o in world.orders]


def test_the_day_has_what_the_issue_asks_for(world):
    assert len(world.orders) == 300 and len(world.drivers) == 15
    assert {d.id for d in world.depots} == {"LRD-N", "NLD"}
    assert len({o.shipper_id for o in world.orders}) >= 3
    kinds = Counter(o.kind for o in world.orders)
    assert kinds[StopKind.PICKUP] >= 5
    assert 3 <= sum(o.heavy for o in world.orders) <= 30
    assert 5 <= sum(o.refrigerated for o in world.orders) <= 80
    assert {o.cod_currency for o in world.orders if o.cod_amount} == {"MXN", "USD"}
    assert set(Counter(o.building for o in world.orders)) == {"house", "apartment", "business", "gated community"}
    assert sum(o.school_zone for o in world.orders) >= 5
    assert {o.customer.language for o in world.orders} == {"es", "en"}
    assert all(o.customer.phone.startswith(("+1956", "+52867")) for o in world.orders)
    assert any(o.customer.email for o in world.orders)
    assert any(o.instructions for o in world.orders)
    spans = [o.windows[-1].end - o.windows[0].start for o in world.orders]
    assert min(spans) <= 3600 and max(spans) >= 10 * 3600  # narrow and all day
    assert any(len(o.windows) == 2 for o in world.orders)
    vehicle_kinds = {v.kind for v in world.vehicles}
    assert vehicle_kinds == {"cargo-van", "refrigerated-van", "box-truck", "car"}
    assert any("cross-border" in d.skills for d in world.drivers)
    assert all(d.break_s > 0 and d.shift_start < d.break_start < d.break_end < d.shift_end for d in world.drivers)


def test_addresses_are_on_their_countrys_side_of_the_rio_grande(world):
    border = laredo().border
    lat = np.array([o.location.lat for o in world.orders])
    lon = np.array([o.location.lon for o in world.orders])
    side = border.side(lat, lon)
    for o, s in zip(world.orders, side):
        assert o.country == (border.left_name if s else border.right_name), o.id
        assert world.depot(o.depot_id).country == o.country


def test_windows_fit_inside_some_shift_and_live_orders_come_later(world):
    for o in world.orders:
        assert any(d.shift_start <= o.windows[-1].end and o.windows[0].start <= d.shift_end for d in world.drivers)
        if o.arrives_s is not None:
            assert o.windows[0].start >= o.arrives_s + 3600
    live = world.live_orders()
    assert 5 <= len(live) <= 30
    assert [o.arrives_s for o in live] == sorted(o.arrives_s for o in live)


def test_events_and_hidden_truth(world):
    evs = world.events()
    assert [e.at_s for e in evs] == sorted(e.at_s for e in evs)
    assert sum(isinstance(e, NewOrder) for e in evs) == len(world.live_orders())
    ill = [e for e in evs if isinstance(e, DriverIll)]
    assert len(ill) == 1 and world.driver(ill[0].driver_id) and 11 * 3600 <= ill[0].at_s <= 13.5 * 3600
    assert len(world.hidden) == len(world.orders)
    away = sum(world.hidden_of(o.id).away is not None for o in world.orders)
    assert 5 <= away <= 60
    assert {h.response for h in world.hidden} == {"reschedule", "arrange", "ignore"}


def test_the_planners_problem_knows_the_morning_orders_only(world):
    p = to_problem(world)
    assert len(p.stops) == len(world.morning_orders())
    assert {s.id for s in p.stops}.isdisjoint(o.id for o in world.live_orders())
    assert len(p.vehicles) == 15 and p.weekday == world.day.weekday()
    jorge = next(v for v in p.vehicles if v.id == "jorge")
    assert {"refrigerated", "cross-border"} <= jorge.skills and jorge.breaks
    later = to_problem(world, known_at=24 * 3600)
    assert len(later.stops) == 300
    assert all(s.service_s == world.order(s.id).service_s for s in p.stops)  # nominal, not the truth


def test_smaller_days():
    w = make_world(3, orders=40, drivers=4)
    assert len(w.orders) == 40 and len(w.drivers) == 4 and w.ill is not None
    with pytest.raises(ValueError):
        make_world(1, drivers=0)


def test_orders_round_trip_through_the_stops_csv(world):
    import csv
    import io

    from lastmile.formats.stops_csv import parse_stops_csv
    from lastmile.sim.world import csv_rows, to_stop

    rows = csv_rows(world)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    parsed = parse_stops_csv(buf.getvalue().encode())
    assert parsed.ok and len(parsed.rows) == len(world.orders)
    for r in parsed.rows:
        o = world.order(r.stop.id)
        assert r.stop == to_stop(o)
        assert (r.cod_amount, r.cod_currency, r.language, r.shipper) == (o.cod_amount, o.cod_currency,
                                                                         o.customer.language, o.shipper_id)
