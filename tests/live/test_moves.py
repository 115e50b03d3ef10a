from __future__ import annotations

from .conftest import PLACES, make_order


def test_preview_changes_nothing_and_apply_moves(client, world, db, live_day):
    from lastmile.dispatch.models import Route, RouteStop

    oid = live_day["orders"][(1, 2)]
    r2 = live_day["routes"][2]
    h = world.headers["dispatcher"]
    with db.session() as s:
        v2 = s.get(Route, r2).version
    body = {"order_id": oid, "to_route_id": r2}
    prev = client.post("/routes/moves/preview", json=body, headers=h)
    assert prev.status_code == 200, prev.text
    out = prev.json()
    assert out["feasible"] is True, out
    assert set(out["delta"]) == {"duration_s", "distance_m", "late_stops", "cost"}
    assert {r["id"] for r in out["routes"]} == {live_day["routes"][1], r2}
    target = next(r for r in out["routes"] if r["id"] == r2)
    assert oid in [x["order_id"] for x in target["stops"] if x["status"] != "skipped"]
    with db.session() as s:  # nothing stored
        assert s.get(Route, r2).version == v2
        assert s.query(RouteStop).filter_by(route_id=r2, order_id=oid).count() == 0
    done = client.post("/routes/moves", json=body, headers=h)
    assert done.status_code == 200, done.text
    with db.session() as s:
        assert s.get(Route, r2).version == v2 + 1
        moved = s.query(RouteStop).filter_by(route_id=r2, order_id=oid).one()
        assert moved.status == "planned"
        old = s.query(RouteStop).filter_by(route_id=live_day["routes"][1], order_id=oid).one()
        assert old.status == "skipped"
        seqs = [x.seq for x in s.query(RouteStop).filter_by(route_id=r2).order_by(RouteStop.seq)]
        assert seqs == list(range(1, len(seqs) + 1))


def test_lock_pins_a_stop_and_unlock_frees_it(client, world, db, live_day):
    h = world.headers["dispatcher"]
    sid, oid = live_day["stops"][(1, 3)], live_day["orders"][(1, 3)]
    r = client.post(f"/route-stops/{sid}/lock", headers=h)
    assert r.status_code == 200 and r.json()["locked"] is True
    body = {"order_id": oid, "to_route_id": live_day["routes"][2]}
    prev = client.post("/routes/moves/preview", json=body, headers=h).json()
    assert prev["feasible"] is False and "locked" in [x["code"] for x in prev["reasons"]]
    assert client.post("/routes/moves", json=body, headers=h).status_code == 409
    assert client.post(f"/route-stops/{sid}/unlock", headers=h).json()["locked"] is False
    assert client.post("/routes/moves/preview", json=body, headers=h).json()["feasible"] is True
    assert client.post("/route-stops/rst_01M89YZD6DYEDMC1CNPH6AX82Z/lock", headers=h).status_code == 404


def test_pending_order_of_today_goes_into_a_live_route(client, world, db, live_day):
    from lastmile.orders.models import Order

    with db.session() as s:
        oid = make_order(s, world, 27.5350, -99.4820, status="pending").id
        s.commit()
    h = world.headers["dispatcher"]
    r2 = live_day["routes"][2]
    prev = client.post("/routes/moves/preview", json={"order_id": oid, "to_route_id": r2}, headers=h).json()
    assert prev["feasible"] is True and prev["delta"]["distance_m"] > 0
    r = client.post("/routes/moves", json={"order_id": oid, "to_route_id": r2, "position": 1}, headers=h)
    assert r.status_code == 200, r.text
    (route,) = r.json()["routes"]
    assert route["stops"][0]["order_id"] == oid  # position 1 = first
    with db.session() as s:
        assert s.get(Order, oid).status == "assigned"
    # taking it off again is a move to nowhere
    off = client.post("/routes/moves", json={"order_id": oid, "to_route_id": None}, headers=h)
    assert off.status_code == 200, off.text
    assert off.json()["delta"]["distance_m"] < 0


def test_infeasible_move_needs_force(client, world, db, live_day):
    from lastmile.orders.models import Order

    with db.session() as s:  # a window long gone: every route would be late there
        oid = make_order(s, world, 27.5350, -99.4820, status="pending",
                         window=("2026-11-25T12:00:00Z", "2026-11-25T13:00:00Z")).id
        s.commit()
    h = world.headers["dispatcher"]
    body = {"order_id": oid, "to_route_id": live_day["routes"][1], "position": 4}
    prev = client.post("/routes/moves/preview", json=body, headers=h).json()
    assert prev["feasible"] is False
    assert {"late"} <= {x["code"] for x in prev["reasons"]}
    assert all("message_es" in x for x in prev["reasons"])
    assert client.post("/routes/moves", json=body, headers=h).status_code == 409
    forced = client.post("/routes/moves", json={**body, "force": True}, headers=h)
    assert forced.status_code == 200 and forced.json()["feasible"] is False
    assert forced.json()["delta"]["late_stops"] >= 1
    with db.session() as s:
        assert s.get(Order, oid).status == "assigned"


def test_started_route_keeps_the_next_stop_first(client, world, db, live_day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route, RouteStop

    from .conftest import NOW

    with db.session() as s:
        route = s.get(Route, live_day["routes"][1])
        live.start_route(s, route, NOW, "system")
        first = s.get(RouteStop, live_day["stops"][(1, 1)])
        live.mark_stop(s, first, "done", at=NOW, actor="system")
        nxt = s.get(RouteStop, live_day["stops"][(1, 2)])
        live.mark_stop(s, nxt, "en_route", at=NOW, actor="system")
        s.commit()
    h = world.headers["dispatcher"]
    moving_next = {"order_id": live_day["orders"][(1, 2)], "to_route_id": live_day["routes"][2]}
    out = client.post("/routes/moves/preview", json=moving_next, headers=h).json()
    assert "next_stop" in [x["code"] for x in out["reasons"]]
    ahead = {"order_id": live_day["orders"][(1, 4)], "to_route_id": live_day["routes"][1], "position": 1}
    out = client.post("/routes/moves/preview", json=ahead, headers=h).json()
    assert "next_stop" in [x["code"] for x in out["reasons"]]
    done = {"order_id": live_day["orders"][(1, 1)], "to_route_id": live_day["routes"][2]}
    assert client.post("/routes/moves/preview", json=done, headers=h).status_code == 409


def test_move_bad_input(client, world, live_day):
    h = world.headers["dispatcher"]
    assert client.post("/routes/moves/preview", json={"order_id": "x"}, headers=h).status_code == 422
    r = client.post("/routes/moves/preview", json={"order_id": live_day["orders"][(1, 1)],
                                                   "to_route_id": "rte_01M89YZD6DYEDMC1CNPH6AX82Z"}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["field"] == "to_route_id"
    r = client.post("/routes/moves/preview", json={"order_id": live_day["orders"][(1, 1)], "to_route_id": None,
                                                   "position": 0}, headers=h)
    assert r.status_code == 422
