from __future__ import annotations

from lastmile.dispatch.models import Proposal, Route, RouteStop
from lastmile.orders.models import Order

from .conftest import NOW, TODAY
from tests.server.conftest import order_body


def new_order(client, world, **over):
    body = order_body(world, windows=[{"start": "2026-11-25T13:00:00-06:00", "end": "2026-11-25T17:00:00-06:00"}],
                      lat=27.5450, lon=-99.4850, **over)
    r = client.post("/orders", json=body, headers=world.headers["shipper"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_new_order_is_proposed_applied_once_and_stale_is_refused(client, world, db, live_day):
    h = world.headers["dispatcher"]
    oid = new_order(client, world)
    props = client.get("/proposals?status=open", headers=h).json()["proposals"]
    mine = [p for p in props if p["subject_id"] == oid]
    assert len(mine) == 1, props
    prop = mine[0]
    assert prop["kind"] == "insert" and prop["trigger"] == "order.created"
    assert set(prop["summary"]) == {"es", "en"} and "min" in prop["summary"]["en"]
    assert prop["delta"]["distance_m"] >= 0 and prop["delta"]["late_stops"] <= 0
    (change,) = prop["changes"]
    assert oid in change["order_ids"]
    r = client.post(f"/proposals/{prop['id']}/apply", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    with db.session() as s:
        st = s.query(RouteStop).filter_by(order_id=oid).one()
        assert st.route_id == change["route_id"] and st.status == "planned"
        assert s.get(Order, oid).status == "assigned"
    again = client.post(f"/proposals/{prop['id']}/apply", headers=h)
    assert again.status_code == 409


def test_stale_proposal_is_409_and_reject(client, world, db, live_day):
    h = world.headers["dispatcher"]
    oid = new_order(client, world)
    (prop,) = [p for p in client.get("/proposals?status=open", headers=h).json()["proposals"] if p["subject_id"] == oid]
    rid = prop["changes"][0]["route_id"]
    with db.session() as s:
        stop_id = s.query(RouteStop).filter_by(route_id=rid).first().id
    assert client.post(f"/route-stops/{stop_id}/lock", headers=h).json()["locked"] is True  # bumps the route
    r = client.post(f"/proposals/{prop['id']}/apply", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    with db.session() as s:
        assert s.query(RouteStop).filter_by(order_id=oid).count() == 0
    rj = client.post(f"/proposals/{prop['id']}/reject", headers=h)
    assert rj.status_code == 200 and rj.json()["status"] == "rejected"
    assert client.post(f"/proposals/{prop['id']}/reject", headers=h).status_code == 409


def test_a_proposal_survives_its_drivers_progress(client, world, db, live_day):
    """Stops reached and delivered after the proposal bump the route's version, but change
    nothing the dispatcher looked at: the proposal still applies, without the stops done
    meanwhile. A change of the sequence is still stale (the test above: a lock)."""
    from lastmile.dispatch import live

    h = world.headers["dispatcher"]
    oid = new_order(client, world)
    (prop,) = [p for p in client.get("/proposals?status=open", headers=h).json()["proposals"] if p["subject_id"] == oid]
    rid = prop["changes"][0]["route_id"]
    with db.session() as s:
        first = s.query(RouteStop).filter_by(route_id=rid).order_by(RouteStop.seq).first()
        first_order = first.order_id
        v0 = s.get(Route, rid).version
        live.mark_stop(s, first, "arrived", at=NOW, actor="system")
        live.mark_stop(s, first, "done", at=NOW, actor="system")
        s.commit()
        assert s.get(Route, rid).version > v0
    r = client.post(f"/proposals/{prop['id']}/apply", headers=h)
    assert r.status_code == 200, r.text
    with db.session() as s:
        assert s.query(RouteStop).filter_by(order_id=oid).one().route_id == rid
        done = s.query(RouteStop).filter_by(order_id=first_order).all()
        assert [x.status for x in done] == ["done"]  # not put back on the route
        assert s.get(Order, oid).status in ("assigned", "out_for_delivery")


def test_policy_auto_applies_insertions(client, world, db, live_day):
    r = client.patch("/dispatch/policy", json={"auto_apply_insertions": True}, headers=world.headers["admin"])
    assert r.status_code == 200 and r.json()["auto_apply_insertions"] is True
    assert client.patch("/dispatch/policy", json={"auto_apply_insertions": True},
                        headers=world.headers["dispatcher"]).status_code == 403
    oid = new_order(client, world)
    with db.session() as s:
        prop = s.query(Proposal).filter_by(subject_id=oid).one()
        assert prop.status == "applied" and prop.decided_by == "policy"
        assert s.query(RouteStop).filter_by(order_id=oid).one().status == "planned"
        assert s.get(Order, oid).status == "assigned"


def test_bad_policy_template_is_422(client, world, live_day):
    r = client.patch("/dispatch/policy", json={"slot_template": {"9": [["08:00", "10:00"]]}},
                     headers=world.headers["admin"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "slot_template"


def test_cancellation_takes_the_stop_off_and_retimes(client, world, db, live_day):
    oid = live_day["orders"][(1, 2)]
    rid = live_day["routes"][1]
    with db.session() as s:
        v = s.get(Route, rid).version
        third = s.query(RouteStop).filter_by(route_id=rid, order_id=live_day["orders"][(1, 3)]).one().start_at
    r = client.post(f"/orders/{oid}/cancel", json={"reason": "customer"}, headers=world.headers["dispatcher"])
    assert r.status_code == 200, r.text
    with db.session() as s:
        st = s.query(RouteStop).filter_by(route_id=rid, order_id=oid).one()
        assert st.status == "skipped"
        assert s.get(Route, rid).version > v
        later = s.query(RouteStop).filter_by(route_id=rid, order_id=live_day["orders"][(1, 3)]).one()
        assert later.start_at <= third  # re-timed: one stop fewer before it


def test_failed_attempt_proposes_reattempt_today(client, world, db, live_day):
    from lastmile.dispatch import live

    oid = live_day["orders"][(2, 1)]
    with db.session() as s:
        stop = s.query(RouteStop).filter_by(order_id=oid).one()
        live.mark_stop(s, stop, "failed", at=NOW, actor="system", reason="not_home")
        s.commit()
        prop = s.query(Proposal).filter_by(subject_id=oid, kind="reattempt").one()
        assert prop.status == "open" and prop.delta["reattempt"] == "today"
        assert "Reintentar" in prop.summary["es"]
        pid = prop.id
    r = client.post(f"/proposals/{pid}/apply", headers=world.headers["dispatcher"])
    assert r.status_code == 200, r.text
    with db.session() as s:
        stops = s.query(RouteStop).filter_by(order_id=oid).all()
        assert sorted(x.status for x in stops) == ["failed", "planned"]
        assert s.get(Order, oid).status == "assigned"


def test_reattempt_today_is_stale_once_the_order_moved_to_another_day(client, world, db, live_day):
    """The next-day policy (or anyone) rescheduled the failed order before the dispatcher
    applied "reattempt today": applying must not put tomorrow's windows on today's route."""
    from lastmile.dispatch import live
    from lastmile.orders.service import reattempt_next_day

    oid = live_day["orders"][(2, 1)]
    with db.session() as s:
        stop = s.query(RouteStop).filter_by(order_id=oid).one()
        live.mark_stop(s, stop, "failed", at=NOW, actor="system", reason="not_home")
        s.commit()
        pid = s.query(Proposal).filter_by(subject_id=oid, kind="reattempt").one().id
        reattempt_next_day(s, "system", s.get(Order, oid), TODAY, "next-day policy")
        s.commit()
    r = client.post(f"/proposals/{pid}/apply", headers=world.headers["dispatcher"])
    assert r.status_code == 409, r.text
    assert "rescheduled" in r.json()["error"]["message"]
    with db.session() as s:
        assert [x.status for x in s.query(RouteStop).filter_by(order_id=oid)] == ["failed"]
        o = s.get(Order, oid)
        assert o.status == "pending" and o.date > TODAY


def test_driver_unavailable_redistributes(client, world, db, live_day):
    h = world.headers["dispatcher"]
    r1, r2 = live_day["routes"][1], live_day["routes"][2]
    r = client.post(f"/routes/{r1}/unavailable", headers=h)
    assert r.status_code == 200, r.text
    prop = r.json()["proposal"]
    assert prop["kind"] == "redistribute"
    changes = {c["route_id"]: c["order_ids"] for c in prop["changes"]}
    assert changes[r1] == []
    moved = [live_day["orders"][(1, k)] for k in range(1, 5)]
    assert set(moved) <= set(changes[r2])
    assert "late_order_ids" in prop["delta"]
    ok = client.post(f"/proposals/{prop['id']}/apply", headers=h)
    assert ok.status_code == 200, ok.text
    with db.session() as s:
        assert {x.status for x in s.query(RouteStop).filter_by(route_id=r1)} == {"skipped"}
        on2 = {x.order_id for x in s.query(RouteStop).filter_by(route_id=r2) if x.status == "planned"}
        assert set(moved) <= on2


def test_on_late_hands_stops_over(db, world, live_day):
    from lastmile.dispatch.proposals import on_late

    with db.session() as s:
        route = s.get(Route, live_day["routes"][1])
        prop = on_late(s, route, [live_day["orders"][(1, 4)]])
        assert prop is not None and prop.kind == "behind"
        assert live_day["orders"][(1, 4)] in prop.delta["moved_order_ids"]
        assert on_late(s, route, [live_day["orders"][(1, 4)]]) is None  # one open proposal per route
        s.commit()


def test_proposals_are_per_organization(client, world, live_day):
    r = client.get("/proposals?status=bogus", headers=world.headers["dispatcher"])
    assert r.status_code == 422
    assert client.get("/proposals", headers=world.headers["driver"]).status_code == 403


def test_proposals_are_broadcast_to_the_organization_after_commit(client, world, db, live_day, monkeypatch):
    from lastmile.kit import broadcast

    sent: list[tuple[list[str], dict]] = []
    b = broadcast.get_broadcaster()
    monkeypatch.setattr(b, "publish_many", lambda topics, message: sent.append((list(topics), message)))
    oid = new_order(client, world)
    props = [m for t, m in sent if m.get("type") == "proposal" and f"org:{world.org}" in t]
    assert len(props) == 1 and props[0]["subject_id"] == oid and props[0]["status"] == "open"
    assert set(props[0]["summary"]) == {"es", "en"}
    client.post(f"/proposals/{props[0]['id']}/reject", headers=world.headers["dispatcher"])
    assert [m["status"] for t, m in sent if m.get("type") == "proposal"][-1] == "rejected"


def test_big_days_propose_new_orders_from_a_job(client, world, db, live_day, monkeypatch):
    from lastmile.dispatch import proposals, tasks

    monkeypatch.setattr(proposals, "INLINE_MAX_STOPS", 3)
    oid = new_order(client, world)
    with db.session() as s:
        assert s.query(Proposal).filter_by(subject_id=oid).count() == 0  # not inline
    pid = tasks.propose_new_order_task.call_local(oid, db.url)
    with db.session() as s:
        assert s.get(Proposal, pid).subject_id == oid


def test_redistribution_leaves_locked_stops(client, world, db, live_day):
    h = world.headers["dispatcher"]
    r1 = live_day["routes"][1]
    assert client.post(f"/route-stops/{live_day['stops'][(1, 3)]}/lock", headers=h).status_code == 200
    prop = client.post(f"/routes/{r1}/unavailable", headers=h).json()["proposal"]
    changes = {c["route_id"]: c["order_ids"] for c in prop["changes"]}
    assert changes[r1] == [live_day["orders"][(1, 3)]]
    assert "locked" in prop["summary"]["en"] and "fijadas" in prop["summary"]["es"]
    assert client.post(f"/routes/{r1}/unavailable", headers=world.headers["driver"]).status_code == 403
