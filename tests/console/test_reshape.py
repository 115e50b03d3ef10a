"""Splitting and merging routes, editing a draft plan before publishing, and changing an
order's priority -- over HTTP, on SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

from tests.live.conftest import NOW, PLACES, ZONE, live_day, make_order, replay_clock  # noqa: F401 -- fixtures
from tests.server.conftest import TODAY


def _third_shift(db, world, *, start_h=8) -> str:
    """A third driver on shift with a van of their own and no route."""
    from lastmile.fleet.models import Driver, Shift, Vehicle
    from lastmile.kit.time import at_seconds

    with db.session() as s:
        veh = Vehicle(organization_id=world.org, depot_id=world.ids["depot"], name="Van 3", capacity_kg=800,
                      capacity_litres=4000, capacity_parcels=60)
        drv = Driver(organization_id=world.org, name="Third")
        s.add_all([veh, drv])
        s.flush()
        sh = Shift(organization_id=world.org, driver_id=drv.id, vehicle_id=veh.id, depot_id=world.ids["depot"],
                   date=TODAY, start_at=at_seconds(TODAY, ZONE, start_h * 3600), end_at=at_seconds(TODAY, ZONE, 18 * 3600))
        s.add(sh)
        s.commit()
        return sh.id


def _live_seq(db, route_id) -> list[str]:
    from lastmile.dispatch.models import RouteStop

    with db.session() as s:
        rows = s.query(RouteStop).filter_by(route_id=route_id).order_by(RouteStop.seq).all()
        return [x.order_id for x in rows if x.status not in ("done", "failed", "skipped")]


def _audit(db, action) -> list:
    from lastmile.auth.models import AuditEntry

    with db.session() as s:
        return [(a.object_id, a.after) for a in s.query(AuditEntry).filter_by(action=action).all()]


def test_split_the_tail_to_a_driver_without_a_route(client, world, db, live_day):
    from lastmile.dispatch.models import Route

    h = world.headers["dispatcher"]
    r1 = live_day["routes"][1]
    shift = _third_shift(db, world)
    free = client.get("/dispatch/free-shifts", params={"date": TODAY.isoformat()}, headers=h).json()["shifts"]
    assert [x["shift_id"] for x in free] == [shift]
    tail = [live_day["orders"][(1, 3)], live_day["orders"][(1, 4)]]
    body = {"route_id": r1, "from_position": 3, "to_shift_id": shift}
    prev = client.post("/routes/split/preview", json=body, headers=h)
    assert prev.status_code == 200, prev.text
    out = prev.json()
    assert out["feasible"] is True, out
    assert out["moved"] == tail and out["kept"] == []
    assert set(out["delta"]) == {"duration_s", "distance_m", "late_stops", "cost"}
    new_view = next(r for r in out["routes"] if r["id"] != r1)
    assert [x["order_id"] for x in new_view["stops"]] == tail
    with db.session() as s:  # the preview stored nothing, not even the new route
        assert s.query(Route).count() == 2
    done = client.post("/routes/split", json=body, headers=h)
    assert done.status_code == 200, done.text
    new_id = done.json()["new_route_id"]
    assert _live_seq(db, r1) == [live_day["orders"][(1, 1)], live_day["orders"][(1, 2)]]
    assert _live_seq(db, new_id) == tail
    with db.session() as s:
        new = s.get(Route, new_id)
        assert new.published is True and new.shift_id == shift and new.version >= 1
        assert new.distance_m > 0
    assert [e for e, _ in _audit(db, "route.split")] == [r1]
    # the third driver now has a route: no longer free, and a second split there is refused
    assert client.get("/dispatch/free-shifts", headers=h).json()["shifts"] == []
    again = client.post("/routes/split/preview", json={**body, "from_position": 2}, headers=h)
    assert again.status_code == 409 and again.json()["error"]["field"] == "to_shift_id"
    # the new route is what its driver's phone reads
    r = client.get(f"/routes/{new_id}", headers=h)
    assert [x["order_id"] for x in r.json()["stops"]] == tail


def test_split_chosen_orders_to_another_route_and_locked_ones_refuse(client, world, db, live_day):
    h = world.headers["dispatcher"]
    r1, r2 = live_day["routes"][1], live_day["routes"][2]
    pick = [live_day["orders"][(1, 4)], live_day["orders"][(1, 1)]]
    body = {"route_id": r1, "order_ids": pick, "to_route_id": r2}
    out = client.post("/routes/split/preview", json=body, headers=h).json()
    assert sorted(out["moved"]) == sorted(pick) and out["feasible"] is True, out
    target = next(r for r in out["routes"] if r["id"] == r2)
    live_ids = [x["order_id"] for x in target["stops"] if x["status"] != "skipped"]
    assert set(pick) <= set(live_ids) and len(live_ids) == 6
    # a locked stop named explicitly makes it infeasible; force is needed and it stays
    sid = live_day["stops"][(1, 1)]
    assert client.post(f"/route-stops/{sid}/lock", headers=h).status_code == 200
    out = client.post("/routes/split/preview", json=body, headers=h).json()
    assert out["feasible"] is False and [x["code"] for x in out["reasons"]] == ["locked"]
    assert client.post("/routes/split", json=body, headers=h).status_code == 409
    forced = client.post("/routes/split", json={**body, "force": True}, headers=h)
    assert forced.status_code == 200, forced.text
    assert _live_seq(db, r1) == [live_day["orders"][(1, 1)], live_day["orders"][(1, 2)], live_day["orders"][(1, 3)]]
    assert live_day["orders"][(1, 4)] in _live_seq(db, r2)


def test_merge_one_driver_takes_the_others_remaining_stops(client, world, db, live_day, monkeypatch):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route, RouteStop
    from lastmile.kit.broadcast import get_broadcaster

    h = world.headers["dispatcher"]
    r1, r2 = live_day["routes"][1], live_day["routes"][2]
    with db.session() as s:  # route 2 started: its first stop is done, its next one is fixed
        route = s.get(Route, r2)
        live.start_route(s, route, NOW, "system")
        live.mark_stop(s, s.get(RouteStop, live_day["stops"][(2, 1)]), "done", at=NOW, actor="system")
        s.commit()
    body = {"route_id": r1, "from_route_id": r2}
    out = client.post("/routes/merge/preview", json=body, headers=h).json()
    assert out["kept"] == [live_day["orders"][(2, 2)]]  # the driver is heading there
    assert out["moved"] == [live_day["orders"][(2, 3)], live_day["orders"][(2, 4)]]
    assert out["delta"]["distance_m"] != 0
    sent: list[tuple[list[str], dict]] = []
    monkeypatch.setattr(get_broadcaster(), "publish_many", lambda topics, message: sent.append((list(topics), message)))
    r = client.post("/routes/merge", json={**body, "force": True}, headers=h)
    assert r.status_code == 200, r.text
    assert _live_seq(db, r2) == [live_day["orders"][(2, 2)]]
    assert set(_live_seq(db, r1)) >= {live_day["orders"][(2, 3)], live_day["orders"][(2, 4)]}
    # both drivers' phones are told (after the commit)
    told = {(m.get("route_id"), t) for topics, m in sent for t in topics if t.startswith("driver:")}
    assert (r1, f"driver:{world.ids['driver_id1']}") in told and (r2, f"driver:{world.ids['driver_id2']}") in told
    assert [e for e, _ in _audit(db, "route.merge")] == [r2]


def test_split_and_merge_bad_input(client, world, db, live_day):
    h = world.headers["dispatcher"]
    r1, r2 = live_day["routes"][1], live_day["routes"][2]
    bad = [
        ({"route_id": r1, "to_route_id": r2}, 422),  # neither order_ids nor from_position
        ({"route_id": r1, "from_position": 2}, 422),  # nowhere to go
        ({"route_id": r1, "from_position": 2, "to_route_id": r1}, 422),
        ({"route_id": r1, "order_ids": [live_day["orders"][(2, 1)]], "to_route_id": r2}, 422),
        ({"route_id": "rte_01M89YZD6DYEDMC1CNPH6AX82Z", "from_position": 2, "to_route_id": r2}, 404),
        ({"route_id": r1, "from_position": 2, "to_shift_id": world.ids["shift2"]}, 409),  # has a route
        ({"route_id": r1, "from_position": 0, "to_route_id": r2}, 422),
    ]
    for body, code in bad:
        r = client.post("/routes/split/preview", json=body, headers=h)
        assert r.status_code == code, (body, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}
    r = client.post("/routes/merge/preview", json={"route_id": r1, "from_route_id": r1}, headers=h)
    assert r.status_code == 422
    assert client.post("/routes/merge", json={"route_id": r1}, headers=h).status_code == 422
    assert client.post("/routes/merge", json={"route_id": r1, "from_route_id": r2},
                       headers=world.headers["driver"]).status_code == 403


# --- a draft plan edited before publishing ---------------------------------------


def _draft(db, world) -> dict:
    """A plan optimized but not published: two routes of pending orders."""
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.dispatch.moves import load_day, write_route
    from lastmile.fleet.models import Shift

    ids: dict = {"orders": {}, "routes": {}}
    with db.session() as s:
        plan = Plan(organization_id=world.org, date=TODAY, depot_ids=[world.ids["depot"]], status="done",
                    created_by="test", stats={"routes": 2, "assigned": 8, "unassigned": 0}, unassigned=[])
        s.add(plan)
        s.flush()
        ids["plan"] = plan.id
        for n in (1, 2):
            shift = s.get(Shift, world.ids[f"shift{n}"])
            r = Route(plan_id=plan.id, organization_id=world.org, vehicle_id=world.ids[f"vehicle{n}"],
                      driver_id=world.ids[f"driver_id{n}"], shift_id=shift.id, depot_id=world.ids["depot"],
                      depart_at=shift.start_at, arrive_at=shift.start_at, distance_m=0, duration_s=0, published=False)
            s.add(r)
            s.flush()
            ids["routes"][n] = r.id
            for k, (lat, lon) in enumerate(PLACES[:4] if n == 1 else PLACES[4:], 1):
                o = make_order(s, world, lat, lon, status="pending", ref=f"d{n}s{k}")
                s.add(RouteStop(route_id=r.id, order_id=o.id, seq=k, arrival_at=shift.start_at,
                                start_at=shift.start_at, end_at=shift.start_at))
                ids["orders"][(n, k)] = o.id
        s.flush()
        routes = list(s.query(Route).filter_by(plan_id=plan.id).order_by(Route.id))
        ld = load_day(s, world.org, TODAY, now=NOW, routes=routes)
        for rid, rl in ld.routes.items():
            write_route(s, ld, rid, rl.seq)
        s.commit()
    return ids


def test_a_draft_plan_is_edited_then_published_as_edited(client, world, db):
    from lastmile.dispatch.models import Route, RouteStop
    from lastmile.orders.models import Order

    h = world.headers["dispatcher"]
    dr = _draft(db, world)
    plan, r1, r2 = dr["plan"], dr["routes"][1], dr["routes"][2]
    o = dr["orders"]
    # moves on live routes do not see the draft's stops
    live_only = client.post("/routes/moves/preview", json={"order_id": o[(1, 2)], "to_route_id": r2}, headers=h)
    assert live_only.status_code == 409
    # 1. move a stop between the draft's routes, at a given place
    r = client.post("/routes/moves", json={"order_id": o[(1, 2)], "to_route_id": r2, "position": 1, "plan_id": plan},
                    headers=h)
    assert r.status_code == 200, r.text
    # 2. reorder within a route
    r = client.post("/routes/moves", json={"order_id": o[(1, 4)], "to_route_id": r1, "position": 1, "plan_id": plan},
                    headers=h)
    assert r.status_code == 200, r.text
    # 3. take one off: it goes back to the plan's unassigned list, still pending
    r = client.post("/routes/moves", json={"order_id": o[(2, 4)], "to_route_id": None, "plan_id": plan}, headers=h)
    assert r.status_code == 200, r.text
    with db.session() as s:
        assert s.query(RouteStop).filter_by(order_id=o[(2, 4)]).count() == 0  # a draft's row just goes
        assert s.get(Order, o[(2, 4)]).status == "pending"
        assert s.get(Route, r1).published is False
    day = client.get("/console/day", params={"plan_id": plan}, headers=h).json()
    assert [u["order_id"] for u in day["draft"]["unassigned"]] == [o[(2, 4)]]
    assert day["draft"]["stats"]["assigned"] == 7
    # 4. split the draft's route 2 tail to a third driver (free in the draft, and live too)
    shift = _third_shift(db, world)
    free = client.get("/dispatch/free-shifts", params={"plan_id": plan}, headers=h).json()["shifts"]
    assert [x["shift_id"] for x in free] == [shift]
    live_free = client.get("/dispatch/free-shifts", params={"date": TODAY.isoformat()}, headers=h).json()["shifts"]
    assert len(live_free) == 3  # no route is published yet
    r = client.post("/routes/split", json={"route_id": r2, "from_position": 3, "to_shift_id": shift}, headers=h)
    assert r.status_code == 200, r.text
    r3 = r.json()["new_route_id"]
    assert client.get("/dispatch/free-shifts", params={"plan_id": plan}, headers=h).json()["shifts"] == []
    expect = {r1: [o[(1, 4)], o[(1, 1)], o[(1, 3)]], r2: [o[(1, 2)], o[(2, 1)]], r3: [o[(2, 2)], o[(2, 3)]]}
    assert {rid: _live_seq(db, rid) for rid in expect} == expect
    # 5. a merge in the draft
    r = client.post("/routes/merge", json={"route_id": r2, "from_route_id": r3, "force": True}, headers=h)
    assert r.status_code == 200, r.text
    expect[r2] = _live_seq(db, r2)
    assert sorted(expect[r2]) == sorted([o[(1, 2)], o[(2, 1)], o[(2, 2)], o[(2, 3)]])
    expect[r3] = []
    # nothing of it is visible to drivers yet
    assert client.get("/routes", headers=world.headers["driver"]).json() == []
    # publish: the drivers get exactly the edited routes
    assert client.post(f"/plans/{plan}/publish", headers=h).status_code == 200
    published = {rt["id"]: [x["order_id"] for x in rt["stops"]] for rt in client.get("/routes", headers=h).json()}
    assert {rid: seq for rid, seq in published.items() if seq} == {rid: seq for rid, seq in expect.items() if seq}
    with db.session() as s:
        assert s.get(Order, o[(2, 4)]).status == "pending"  # taken off: not assigned by the publish
        assert s.get(Order, o[(1, 4)]).status == "assigned"
    mine = client.get("/routes", headers=world.headers["driver"]).json()
    assert [[x["order_id"] for x in rt["stops"]] for rt in mine] == [expect[r1]]
    # a published plan is no longer a draft to edit
    r = client.post("/routes/moves/preview", json={"order_id": o[(1, 1)], "to_route_id": r2, "plan_id": plan}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["field"] == "plan_id"
    # nor once a newer plan for the day replaced it (it is "done" again, but history)
    from lastmile.dispatch.models import Plan

    with db.session() as s:
        newer = Plan(organization_id=world.org, date=TODAY, depot_ids=[world.ids["depot"]], status="done",
                     created_by="test", stats={"routes": 0, "assigned": 0, "unassigned": 0}, unassigned=[])
        s.add(newer)
        s.commit()
        newer_id = newer.id
    assert client.post(f"/plans/{newer_id}/publish", headers=h).status_code == 200
    with db.session() as s:
        assert s.get(Plan, plan).status == "done"
    r = client.post("/routes/moves/preview", json={"order_id": o[(1, 1)], "to_route_id": r2, "plan_id": plan}, headers=h)
    assert r.status_code == 409 and "replaced" in r.json()["error"]["message"]


def test_a_pending_order_goes_into_a_draft_route(client, world, db):
    h = world.headers["dispatcher"]
    dr = _draft(db, world)
    with db.session() as s:
        extra = make_order(s, world, 27.5350, -99.4820, status="pending").id
        s.commit()
    r = client.post("/routes/moves", json={"order_id": extra, "to_route_id": dr["routes"][1], "plan_id": dr["plan"]},
                    headers=h)
    assert r.status_code == 200, r.text
    assert extra in _live_seq(db, dr["routes"][1])
    day = client.get("/console/day", params={"plan_id": dr["plan"]}, headers=h).json()
    assert day["draft"]["stats"]["assigned"] == 9


# --- priority ----------------------------------------------------------------


def test_priority_changes_through_the_orders_service(client, world, db, live_day):
    from lastmile.events.models import Event

    h = world.headers["dispatcher"]
    oid = live_day["orders"][(1, 2)]
    r = client.post(f"/orders/{oid}/priority", json={"priority": 80, "reason": "VIP"}, headers=h)
    assert r.status_code == 200 and r.json()["priority"] == 80
    assert client.get(f"/orders/{oid}", headers=h).json()["priority"] == 80
    hist = client.get(f"/orders/{oid}/history", headers=h).json()
    assert hist[-1]["reason"] == "priority 0 -> 80: VIP" and hist[-1]["from_status"] == hist[-1]["to_status"]
    (audit,) = _audit(db, "order.priority")
    assert audit[0] == oid and audit[1]["priority"] == 80
    with db.session() as s:
        assert s.query(Event).filter_by(type="order.updated", subject_id=oid).count() >= 1
    # the console's day shows it
    day = client.get("/console/day", headers=h).json()
    prio = {o: pr for rt in day["routes"] for o, pr in zip(rt["stops"]["order_id"], rt["stops"]["prio"])}
    assert prio[oid] == 80 and prio[live_day["orders"][(1, 1)]] == 0
    # unchanged: no second history line
    client.post(f"/orders/{oid}/priority", json={"priority": 80}, headers=h)
    assert len(client.get(f"/orders/{oid}/history", headers=h).json()) == len(hist)
    for bad in ({"priority": 101}, {"priority": -1}, {"priority": "high"}, {}):
        assert client.post(f"/orders/{oid}/priority", json=bad, headers=h).status_code == 422
    assert client.post(f"/orders/{oid}/priority", json={"priority": 5}, headers=world.headers["driver"]).status_code == 403
    assert client.post("/orders/ord_01M89YZD6DYEDMC1CNPH6AX82Z/priority", json={"priority": 5},
                       headers=h).status_code == 404
    with db.session() as s:  # a delivered order's priority no longer matters
        from lastmile.orders.models import Order

        s.get(Order, oid).status = "delivered"
        s.commit()
    r = client.post(f"/orders/{oid}/priority", json={"priority": 5}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["field"] == "priority"


def test_the_engine_keeps_the_high_priority_order_when_not_all_fit(client, world, db):
    """Seven orders of 20 parcels for two vans of 60: one stays out. The far one is left
    out at priority 0; raised to 100 from the console, another one is left out instead."""
    from lastmile.dispatch.service import run_plan
    from lastmile.jobs.queue import huey
    from tests.server.conftest import LIVE_STOPS, order_body

    h = world.headers["dispatcher"]
    places = [*LIVE_STOPS[:6], (27.6400, -99.5600)]  # the last one is far out of town
    ids = []
    for i, (lat, lon) in enumerate(places):
        body = order_body(world, lat=lat, lon=lon, reference=f"P{i}", demand={"kg": 10, "litres": 10, "parcels": 20},
                          windows=[{"start": "2026-11-25T08:00:00-06:00", "end": "2026-11-25T18:00:00-06:00"}],
                          cod=None)
        r = client.post("/orders", json=body, headers=h)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    def dropped() -> set[str]:
        r = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]],
                                        "options": {"time_limit_s": 1, "seed": 1}}, headers=h)
        huey.flush()
        assert run_plan(db, r.json()["id"]) == "done"
        return {u["order_id"] for u in client.get(f"/plans/{r.json()['id']}", headers=h).json()["unassigned"]}

    assert dropped() == {ids[-1]}
    assert client.post(f"/orders/{ids[-1]}/priority", json={"priority": 100}, headers=h).status_code == 200
    out = dropped()
    assert len(out) == 1 and ids[-1] not in out
