"""Breaks as their own rows (planned or not), a new attempt through the orders service,
and an order taken off every route going back to pending."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from tests.server.conftest import TODAY, order_body

from .helpers import action, send, today


def test_planned_and_unplanned_breaks_are_recorded_and_timed_differently(client, world, db, driver_day):
    from lastmile.dispatch.models import RouteEtaState
    from lastmile.fleet.models import Shift
    from lastmile.pod.models import DriverBreak
    from lastmile.pod.service import planned_break_taken

    h, rid = world.headers["driver"], driver_day["id"]
    with db.session() as s:
        s.get(Shift, world.ids["shift1"]).break_s = 1800
        s.commit()
    res = send(client, h, action("start_shift", rid),
               action("break_start", rid, data={"planned": False, "minutes": 20, "note": "flat tyre"}))
    assert [r["status"] for r in res] == ["applied", "applied"], res
    assert res[1]["result"]["planned"] is False and res[1]["result"]["expected_s"] == 1200
    view = today(client, h)["routes"][0]
    assert view["on_break"]["planned"] is False and view["on_break"]["note"] == "flat tyre"
    with db.session() as s:
        assert not planned_break_taken(s, rid)  # the planned break is still owed
        state = s.get(RouteEtaState, rid)
        if state is not None:  # the ETA work keeps it: held for the unplanned break's length
            assert state.break_taken is False and state.held_until is not None
    res = send(client, h, action("break_end", rid),
               action("break_start", rid, data={"planned": True}),
               action("break_end", rid),
               action("break_start", rid, data={"planned": True}),  # only one planned break
               action("break_start", rid, data={"note": "unplanned break"}))  # an app from before the field
    assert [r["status"] for r in res] == ["applied", "applied", "applied", "rejected", "applied"], res
    assert res[1]["result"]["planned"] is True and res[1]["result"]["expected_s"] == 1800
    assert res[3]["error"]["code"] == "planned_break_taken" and res[3]["error"]["field"] == "data.planned"
    assert res[4]["result"]["planned"] is False and res[4]["result"]["expected_s"] == 15 * 60
    with db.session() as s:
        rows = s.scalars(select(DriverBreak).where(DriverBreak.route_id == rid)
                         .order_by(DriverBreak.started_at, DriverBreak.id)).all()
        assert [(b.planned, b.ended_at is not None) for b in rows] == [(False, True), (True, True), (False, False)]
        assert all(b.driver_id == world.ids["driver_id1"] for b in rows)
        assert planned_break_taken(s, rid)
        state = s.get(RouteEtaState, rid)
        if state is not None:
            assert state.break_taken is True
    view = today(client, h)["routes"][0]
    assert [b["planned"] for b in view["breaks"]] == [False, True, False] and view["on_break"]["planned"] is False
    bad = send(client, h, action("break_end", rid), action("break_start", rid, data={"minutes": 0}))
    assert bad[0]["status"] == "applied" and bad[1]["error"]["field"] == "data.minutes"
    # a shift that ends during a break ends the break too
    codes = [c for st in driver_day["stops"] for c in st["parcels_codes"] if st["kind"] != "pickup"]
    res = send(client, h, action("break_start", rid, data={"planned": False}),
               action("end_shift", rid, data={"scans": codes}))
    assert [r["status"] for r in res] == ["applied", "applied"], res
    with db.session() as s:
        assert s.scalar(select(DriverBreak.id).where(DriverBreak.route_id == rid, DriverBreak.ended_at.is_(None))) is None


def _failed_order(client, world, db, day: date, start: str, end: str) -> str:
    from lastmile.orders.models import Order

    body = order_body(world, date=day.isoformat(), windows=[{"start": start, "end": end}])
    r = client.post("/orders", json=body, headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    with db.session() as s:
        s.get(Order, r.json()["id"]).status = "failed"
        s.commit()
    return r.json()["id"]


def test_a_next_day_reattempt_is_a_new_attempt_through_the_orders_service(client, world, db):
    from lastmile.events.models import Event
    from lastmile.orders.models import Order, OrderStatusChange
    from lastmile.orders.service import next_service_day, reattempt_next_day

    assert next_service_day(date(2026, 11, 25)) == date(2026, 11, 26)
    assert next_service_day(date(2026, 11, 28)) == date(2026, 11, 30)  # Saturday -> Monday (no Sunday service)
    # failed on Saturday 31 October (CDT), retried Monday 2 November (CST): same local hours
    oid = _failed_order(client, world, db, date(2026, 10, 31), "2026-10-31T09:00:00-05:00", "2026-10-31T11:00:00-05:00")
    with db.session() as s:
        order = s.get(Order, oid)
        reattempt_next_day(s, "driver:test", order, date(2026, 10, 31), "not_home")
        s.commit()
    o = client.get(f"/orders/{oid}", headers=world.headers["dispatcher"]).json()
    assert o["status"] == "pending" and o["date"] == "2026-11-02"
    starts = datetime.fromisoformat(o["windows"][0]["start"].replace("Z", "+00:00"))
    assert starts.isoformat() == "2026-11-02T15:00:00+00:00"  # 09:00 CST (it was 14:00 UTC, 09:00 CDT)
    with db.session() as s:
        hist = s.scalars(select(OrderStatusChange).where(OrderStatusChange.order_id == oid)
                         .order_by(OrderStatusChange.at)).all()
        assert (hist[-1].from_status, hist[-1].to_status) == ("failed", "pending")
        assert "2026-11-02" in hist[-1].reason and "not_home" in hist[-1].reason
        ev = s.scalar(select(Event).where(Event.subject_id == oid, Event.type == "order.rescheduled"))
        assert ev is not None and ev.data["date"] == "2026-11-02"
        # only a failed order gets a new attempt
        import pytest

        from lastmile.errors import Conflict

        with pytest.raises(Conflict):
            reattempt_next_day(s, "driver:test", s.get(Order, oid), date(2026, 11, 2))


def test_a_failed_stop_with_the_next_day_policy_uses_the_service(client, world, db, driver_day):
    from lastmile.events.models import Event
    from lastmile.orders.models import OrderStatusChange

    h, rid, stop = world.headers["driver"], driver_day["id"], driver_day["stops"][2]
    res = send(client, h, action("fail", rid, stop["id"], {"reason": "unsafe"}))
    assert res[0]["status"] == "applied" and res[0]["result"]["order_status"] == "pending"
    o = client.get(f"/orders/{stop['order_id']}", headers=world.headers["dispatcher"]).json()
    assert o["date"] == (TODAY + timedelta(days=1)).isoformat()
    with db.session() as s:
        last = s.scalars(select(OrderStatusChange).where(OrderStatusChange.order_id == stop["order_id"])
                         .order_by(OrderStatusChange.at.desc())).first()
        assert (last.from_status, last.to_status) == ("failed", "pending") and "unsafe" in last.reason
        assert s.scalar(select(Event.id).where(Event.subject_id == stop["order_id"],
                                               Event.type == "order.rescheduled")) is not None


def test_an_order_taken_off_every_route_is_pending_again(client, world, db, published_day):
    from lastmile.events.models import Event
    from lastmile.orders.models import OrderStatusChange

    d = world.headers["dispatcher"]
    route = published_day["routes"][world.ids["driver_id1"]]
    oid = route["stops"][-1]["order_id"]
    assert client.get(f"/orders/{oid}", headers=d).json()["status"] == "assigned"
    r = client.post("/routes/moves", json={"order_id": oid, "to_route_id": None, "force": True}, headers=d)
    assert r.status_code == 200, r.text
    assert client.get(f"/orders/{oid}", headers=d).json()["status"] == "pending"
    with db.session() as s:
        last = s.scalars(select(OrderStatusChange).where(OrderStatusChange.order_id == oid)
                         .order_by(OrderStatusChange.at.desc())).first()
        assert (last.from_status, last.to_status) == ("assigned", "pending")
        assert s.scalar(select(Event.id).where(Event.subject_id == oid, Event.type == "order.unassigned")) is not None
    # moved to another route instead: assigned all along, no unassignment
    other = published_day["routes"][world.ids["driver_id2"]]
    moved = route["stops"][0]["order_id"]
    r = client.post("/routes/moves", json={"order_id": moved, "to_route_id": other["id"], "force": True}, headers=d)
    assert r.status_code == 200, r.text
    assert client.get(f"/orders/{moved}", headers=d).json()["status"] == "assigned"
    with db.session() as s:
        assert s.scalar(select(Event.id).where(Event.subject_id == moved, Event.type == "order.unassigned")) is None
    # and it can be put back on a route
    r = client.post("/routes/moves", json={"order_id": oid, "to_route_id": route["id"], "force": True}, headers=d)
    assert r.status_code == 200, r.text
    assert client.get(f"/orders/{oid}", headers=d).json()["status"] == "assigned"


def test_migration_0014_down_and_up_keeps_breaks_taken_before_it(client, world, db, driver_day):
    """Down to 0007_pod drops the table; up again rebuilds it from the break actions
    already applied (as a database upgraded from 0007 with breaks in it would)."""
    from alembic import command
    from sqlalchemy import inspect, text

    from lastmile.db import alembic_config

    h, rid = world.headers["driver"], driver_day["id"]
    res = send(client, h, action("break_start", rid, data={"note": "unplanned break"}), action("break_end", rid),
               action("break_start", rid, data={"planned": True}))
    assert [r["status"] for r in res] == ["applied"] * 3, res
    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007_pod")
        conn.commit()
    assert "pod_driver_breaks" not in inspect(db.engine).get_table_names()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
        conn.commit()
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT planned, ended_at IS NOT NULL, start_action, end_action "
                                 "FROM pod_driver_breaks WHERE route_id = :r"), {"r": rid}).all()
    assert {a: (bool(p), bool(e), end) for p, e, a, end in rows} == {
        res[0]["id"]: (False, True, res[1]["id"]), res[2]["id"]: (True, False, None)}
    view = today(client, h)["routes"][0]
    assert view["on_break"]["planned"] is True


def test_the_live_day_loader_no_longer_owes_a_planned_break_taken(client, world, db, driver_day):
    """An unplanned break leaves the shift's break owed when the day is re-planned live;
    the planned break, once started, is not owed any more."""
    from lastmile.dispatch.models import Route
    from lastmile.dispatch.moves import load_day
    from lastmile.fleet.models import Shift
    from lastmile.kit.time import at_seconds

    h, rid = world.headers["driver"], driver_day["id"]
    with db.session() as s:
        route = s.get(Route, rid)
        assert route.shift_id, "the planned route names its shift"
        sh = s.get(Shift, route.shift_id)
        sh.break_s = 1800
        sh.break_start_at = at_seconds(TODAY, "America/Chicago", 12 * 3600)
        sh.break_end_at = at_seconds(TODAY, "America/Chicago", 14 * 3600)
        s.commit()

    def owed() -> int:
        with db.session() as s:
            ld = load_day(s, world.org, TODAY, now=at_seconds(TODAY, "America/Chicago", 10 * 3600))
            return len(ld.ctx.vehicles[rid].breaks)

    assert owed() == 1
    res = send(client, h, action("start_shift", rid), action("break_start", rid, data={"planned": False}),
               action("break_end", rid))
    assert [r["status"] for r in res] == ["applied"] * 3, res
    assert owed() == 1  # an unplanned break does not replace the planned one
    res = send(client, h, action("break_start", rid, data={"planned": True}))
    assert res[0]["status"] == "applied", res
    assert owed() == 0
