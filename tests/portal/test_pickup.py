"""Pickup points and lockers: dispatchers keep them; a customer's link sends the order
there (through the orders service: place and windows change, the order leaves today's
route) or back to the door; capacity, opening days and the driver already on the way
are respected."""

from __future__ import annotations

from datetime import timedelta

from .conftest import TODAY

EVERY_DAY = {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def _point(client, world, **kw) -> dict:
    body = {"name": "Locker Centro", "address": "Av. Guerrero 1200", "lat": 27.5320, "lon": -99.4810,
            "hours": EVERY_DAY, "capacity": 2, **kw}
    r = client.post("/pickup-points", json=body, headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    return r.json()


def test_dispatchers_keep_the_list_and_bad_hours_are_refused(client, world):
    p = _point(client, world, kind="pickup_point")
    assert p["kind"] == "pickup_point" and p["hours"]["mon"] == [["08:00", "20:00"]] and p["active"] is True
    listed = client.get("/pickup-points", headers=world.headers["admin"]).json()
    assert [x["id"] for x in listed] == [p["id"]]
    r = client.patch(f"/pickup-points/{p['id']}", json={"active": False, "capacity": 9},
                     headers=world.headers["dispatcher"])
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["capacity"] == 9
    for hours in ({"monday": [["08:00", "20:00"]]}, {"mon": [["20:00", "08:00"]]}, {"mon": [["8am", "20:00"]]},
                  {"mon": [["08:00", "12:00"], ["11:00", "14:00"]]}):
        r = client.post("/pickup-points", json={"name": "X", "lat": 27.5, "lon": -99.5, "hours": hours},
                        headers=world.headers["dispatcher"])
        assert r.status_code in (400, 422) and "error" in r.json(), (hours, r.text)
    r = client.post("/pickup-points", json={"name": "X", "lat": 27.5, "lon": -99.5, "timezone": "Mars/Olympus"},
                    headers=world.headers["dispatcher"])
    assert r.status_code in (400, 422) and r.json()["error"]["field"] == "timezone"
    assert client.get("/pickup-points", headers=world.headers["driver"]).status_code == 403


def test_a_customer_sends_a_planned_order_to_a_locker_and_back(client, world, day, db):
    from lastmile.dispatch.models import RouteStop
    from lastmile.orders.models import Order

    p = _point(client, world)
    first = day["stops"][0]
    token = first["token"]
    with db.session() as s:
        o = s.get(Order, first["order_id"])
        home = (o.address, o.lat, o.lon, list(o.windows))
    offered = client.get(f"/t/{token}/pickup-points").json()
    assert [x["id"] for x in offered] == [p["id"]] and offered[0]["available"] is True
    assert offered[0]["hours"][0][0].startswith(TODAY.isoformat() + "T08:00")
    state = client.get(f"/t/{token}/state").json()
    assert state["can"]["pickup"] is True and state["pickup"] is None

    r = client.put(f"/t/{token}/pickup", json={"pickup_point_id": p["id"]})
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["pickup"]["name"] == "Locker Centro" and state["order"]["status"] == "pending"
    with db.session() as s:
        o = s.get(Order, first["order_id"])
        assert (o.lat, o.lon) == (27.5320, -99.4810) and o.address == "Locker Centro, Av. Guerrero 1200"
        assert len(o.windows) == 1 and o.windows[0]["start"].startswith(TODAY.isoformat() + "T14:00")  # 08:00 CST
        assert s.get(RouteStop, first["stop_id"]).status == "skipped"  # off today's route

    r = client.delete(f"/t/{token}/pickup")
    assert r.status_code == 200 and r.json()["pickup"] is None
    with db.session() as s:
        o = s.get(Order, first["order_id"])
        assert (o.address, o.lat, o.lon, list(o.windows)) == home


def test_capacity_closed_days_and_the_driver_on_the_way(client, world, day, db):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import RouteStop
    from lastmile.kit.time import utcnow

    full = _point(client, world, name="Tiny locker", capacity=1)
    closed = _point(client, world, name="Weekend shop", hours={"sat": [["10:00", "14:00"]]}
                    if TODAY.weekday() != 5 else {"sun": [["10:00", "14:00"]]})
    a, b, c = day["stops"]
    assert client.put(f"/t/{a['token']}/pickup", json={"pickup_point_id": full["id"]}).status_code == 200
    r = client.put(f"/t/{b['token']}/pickup", json={"pickup_point_id": full["id"]})
    assert r.status_code == 409 and r.json()["error"]["field"] == "pickup_point_id"
    assert [x["available"] for x in client.get(f"/t/{b['token']}/pickup-points").json()
            if x["id"] == full["id"]] == [False]
    r = client.put(f"/t/{b['token']}/pickup", json={"pickup_point_id": closed["id"]})
    assert r.status_code == 422 and "closed" in r.json()["error"]["message"]
    r = client.put(f"/t/{b['token']}/pickup", json={"pickup_point_id": "pup_nope"})
    assert r.status_code == 404
    # the driver is heading to the third stop: its place can no longer change
    with db.session() as s:
        live.mark_stop(s, s.get(RouteStop, c["stop_id"]), "en_route", at=utcnow() - timedelta(minutes=1),
                       actor="system")
        s.commit()
    other = _point(client, world, name="Another locker", capacity=5)
    r = client.put(f"/t/{c['token']}/pickup", json={"pickup_point_id": other["id"]})
    assert r.status_code == 409
    assert client.get(f"/t/{c['token']}/state").json()["can"]["pickup"] is False


def test_migration_0015_down_and_up(db):
    from alembic import command
    from sqlalchemy import inspect

    from lastmile.db import alembic_config

    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015_lockers@-1")
        conn.commit()
    assert "pickup_points" not in inspect(db.engine).get_table_names()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
        conn.commit()
    assert {"pickup_points", "pickup_choices"} <= set(inspect(db.engine).get_table_names())
