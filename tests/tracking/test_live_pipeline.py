"""The pipeline on a real published day: the customer-topic privacy rule, the ETA
hook's calls, the live view's states."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import NOW
from .helpers import Listener, positions, stops_of


def _post(client, headers, *fixes):
    """Post fixes as the driver app; every one must be accepted."""
    body = {"positions": [{"lat": lat, "lon": lon, "at": at.isoformat(), **extra} for lat, lon, at, extra in fixes]}
    r = client.post("/tracking/positions", json=body, headers=headers)
    assert r.status_code == 200 and not r.json()["rejected"], r.text
    return r.json()


def _positions_on(sub, topic):
    return [m for m in sub.got if m["type"] == "position" and m["topic"] == topic]


def test_a_customer_sees_the_driver_only_on_the_way_to_their_stop(client, world, db, clock, published_day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route, RouteStop

    driver = world.ids["driver_id1"]
    route_id = published_day["routes"][driver]["id"]
    (s1, o1, lat1, lon1), (s2, o2, lat2, lon2), *rest = stops_of(db, route_id)
    h = world.headers["driver"]
    topics = [f"order:{o1}", f"order:{o2}", f"route:{route_id}"]
    t = NOW
    with Listener(topics) as sub:
        # the route is not started yet: the customers see nothing, the route topic does
        assert _post(client, h, (27.5630, -99.4870, t, {"speed": 0}))["accepted"] == 1
        with db.session() as s:
            live.start_route(s, s.get(Route, route_id), t, "system")
            s.commit()
        t += timedelta(minutes=1)
        _post(client, h, (27.5600, -99.4860, clock(t), {"speed": 9}))  # heading to stop 1
        with db.session() as s:
            live.mark_stop(s, s.get(RouteStop, s1), "done", at=t + timedelta(seconds=30), actor="system")
            s.commit()
        t += timedelta(minutes=10)
        _post(client, h, (lat1 + 0.002, lon1, clock(t), {"speed": 9}))  # now heading to stop 2
        with db.session() as s:
            for sid in [s2] + [x[0] for x in rest]:
                live.mark_stop(s, s.get(RouteStop, sid), "done", at=t + timedelta(seconds=30), actor="system")
            s.commit()
        t += timedelta(minutes=10)
        _post(client, h, (lat2, lon2 + 0.002, clock(t), {"speed": 9}))  # every stop done: nobody's
        sub.wait_for(999, timeout=1.0)
    route_msgs = _positions_on(sub, f"route:{route_id}")
    assert len(route_msgs) == 4 and all(m["driver_id"] == driver and m["route_id"] == route_id for m in route_msgs)
    assert [m["at"] for m in _positions_on(sub, f"order:{o1}")] == [
        (NOW + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")]
    assert [m["at"] for m in _positions_on(sub, f"order:{o2}")] == [
        (NOW + timedelta(minutes=11)).isoformat().replace("+00:00", "Z")]


def test_the_eta_hook_gets_each_new_fix_in_time_order_and_cannot_lose_positions(
        client, world, db, clock, published_day, monkeypatch):
    from lastmile.dispatch import eta

    calls = []

    def spy(session, batch, **kw):  # one call per batch: [(driver, route, fixes in time order)]
        calls.extend((driver_id, route_id, f.lat, f.at, f.speed_mps) for driver_id, route_id, fixes in batch
                     for f in fixes)

    monkeypatch.setattr(eta, "on_positions", spy)
    driver = world.ids["driver_id1"]
    route_id = published_day["routes"][driver]["id"]
    h = world.headers["driver"]
    t = [NOW + timedelta(seconds=10 * i) for i in range(3)]
    _post(client, h, (27.502, -99.5, t[2], {"speed": 3}), (27.500, -99.5, t[0], {}), (27.501, -99.5, t[1], {}))
    assert calls == [(driver, route_id, 27.500, t[0], None), (driver, route_id, 27.501, t[1], None),
                     (driver, route_id, 27.502, t[2], 3.0)]
    # a late fix from the phone's buffer is history only: stored, no ETA call
    _post(client, h, (27.4995, -99.5, t[0] - timedelta(seconds=30), {}))
    assert len(calls) == 3 and len(positions(db, driver)) == 4

    def broken(session, batch, **kw):
        session.execute(__import__("sqlalchemy").text("SELECT 1"))
        raise RuntimeError("bug in the ETA work")

    monkeypatch.setattr(eta, "on_positions", broken)
    assert _post(client, h, (27.503, -99.5, t[2] + timedelta(seconds=10), {}))["accepted"] == 1
    assert len(positions(db, driver)) == 5


def test_the_live_view_shows_state_route_and_next_stop(client, world, db, clock, published_day):
    d1, d2 = world.ids["driver_id1"], world.ids["driver_id2"]
    r2 = published_day["routes"][d2]["id"]
    (_, o2, lat2, lon2), *_ = stops_of(db, r2)
    _post(client, world.headers["driver"], (27.5630, -99.4870, NOW - timedelta(seconds=60), {"speed": 0}),
          (27.5600, -99.4870, NOW - timedelta(seconds=30), {"speed": 12.5, "battery": 64}))
    _post(client, world.headers["driver2"], (lat2 + 0.0003, lon2, NOW, {"speed": 0.2, "accuracy": 6}))
    view = {x["driver_id"]: x for x in client.get("/tracking/live", headers=world.headers["dispatcher"]).json()}
    assert view[d1]["state"] == "driving" and view[d1]["position"]["battery"] == 64
    assert view[d1]["route_id"] == published_day["routes"][d1]["id"] and view[d1]["next_stop"]["seq"] == 1
    assert view[d2]["state"] == "at_stop" and view[d2]["next_stop"]["order_id"] == o2
    assert view[d2]["position"]["age_s"] == 0 and view[d2]["position"]["source"] == "app"
    # standing still away from any stop
    _post(client, world.headers["driver"], (27.5600, -99.4870, NOW + timedelta(seconds=30), {"speed": 0}))
    view = {x["driver_id"]: x for x in client.get("/tracking/live", headers=world.headers["dispatcher"]).json()}
    assert view[d1]["state"] == "stopped"
    # ten minutes of silence: offline
    clock(NOW + timedelta(minutes=10))
    view = {x["driver_id"]: x for x in client.get("/tracking/live", headers=world.headers["dispatcher"]).json()}
    assert view[d1]["state"] == view[d2]["state"] == "offline"
    assert client.get("/tracking/live", headers=world.headers["driver"]).status_code == 403


@pytest.mark.parametrize("speed,expected", [(None, "stopped"), (20.0, "driving")])
def test_driver_state_rules(speed, expected):
    from lastmile.tracking.config import TrackingSettings
    from lastmile.tracking.decoders import Fix
    from lastmile.tracking.pipeline import driver_state

    fix = Fix(lat=27.5, lon=-99.5, at=NOW, source="app", speed_mps=speed)
    assert driver_state(fix, None, None, TrackingSettings()) == expected


def test_a_buffered_batch_of_1hz_fixes_reaches_the_eta_work_thinned(client, world, db, clock, published_day,
                                                                    monkeypatch):
    from lastmile.dispatch import eta

    seen = []
    monkeypatch.setattr(eta, "on_positions", lambda session, batch, **kw: seen.extend(
        f.at for _, _, fixes in batch for f in fixes))
    t = [NOW - timedelta(seconds=30 - i) for i in range(12)]  # 12 fixes, one a second
    _post(client, world.headers["driver"], *[(27.50 + i * 1e-5, -99.5, at, {}) for i, at in enumerate(t)])
    assert seen == [t[0], t[5], t[10], t[11]]  # every 5 s, and always the newest
    assert len(positions(db, world.ids["driver_id1"])) == 12  # all of them stored
