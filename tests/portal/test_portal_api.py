"""The customer's API under /t/<token>/ and the driver's side of the conversation, on
SQLite and PostgreSQL: what a customer may see (privacy), messages, preferences,
rescheduling, ratings, and bad links."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.server.conftest import utc

AT = utc(2026, 11, 25, 15, 0)


def _mark(db, stop_id, status, at=AT):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import RouteStop

    with db.session() as s:
        assert live.mark_stop(s, s.get(RouteStop, stop_id), status, at=at, actor="system")
        s.commit()


def _driver_live(db, world, lat=27.52, lon=-99.49):
    """The tracking pipeline's latest fix for driver 1 (tracking/ keeps it in driver_live)."""
    models = pytest.importorskip("lastmile.tracking.models")
    with db.session() as s:
        s.merge(models.DriverLive(driver_id=world.ids["driver_id1"], organization_id=world.org, route_id=None,
                                  source="app", at=AT, received_at=AT, lat=lat, lon=lon, accuracy_m=5.0,
                                  speed_mps=8.0, bearing=90.0, battery=0.8, state="driving"))
        s.commit()


def test_state_shows_the_order_eta_and_stops_before_but_no_driver_before_en_route(client, day):
    second = day["stops"][1]
    r = client.get(f"/t/{second['token']}/state")
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["phase"] == "assigned" and st["order"]["status"] == "assigned"
    assert st["stops_before"] == 1
    assert st["eta"]["start"] <= st["eta"]["at"] < st["eta"]["end"]
    assert st["live"] is False and st["position"] is None and st["driver"] is None
    assert st["can"] == {"message": True, "preferences": True, "reschedule": True, "rate": False, "pickup": True}
    assert st["pickup"] is None  # delivered to the door unless the customer picks a locker
    assert "phone" not in r.text and "+1 956" not in r.text and day["route_id"] not in r.text
    assert r.headers["cache-control"] == "no-store"


def test_position_only_while_the_driver_heads_to_this_stop(client, db, world, day):
    first, second = day["stops"][0], day["stops"][1]
    _driver_live(db, world)
    before = client.get(f"/t/{first['token']}/state").json()
    assert before["position"] is None and not before["live"]
    _mark(db, first["stop_id"], "en_route")
    during = client.get(f"/t/{first['token']}/state").json()
    assert during["phase"] == "en_route" and during["live"] is True
    assert during["position"]["lat"] == pytest.approx(27.52) and during["driver"] == {"first_name": "Driver"}
    # the next customer on the route sees no position meanwhile
    other = client.get(f"/t/{second['token']}/state").json()
    assert other["position"] is None and not other["live"]
    _mark(db, first["stop_id"], "done", at=AT + timedelta(minutes=5))
    after = client.get(f"/t/{first['token']}/state").json()
    assert after["phase"] == "delivered" and after["position"] is None and not after["live"] and after["eta"] is None
    assert after["can"]["rate"] is True and after["can"]["preferences"] is False
    # and the next one now has no stops before it
    assert client.get(f"/t/{second['token']}/state").json()["stops_before"] == 0


def test_unknown_and_expired_links_are_a_404_without_details(client, db, settings, day):
    from lastmile.orders.models import Order

    r = client.get("/t/" + "x" * 32 + "/state")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    first = day["stops"][0]
    _mark(db, first["stop_id"], "done")
    with db.session() as s:
        o = s.get(Order, first["order_id"])
        o.completed_at = o.completed_at - timedelta(seconds=settings.tracking_token_ttl_s + 60)
        s.commit()
    for path in ("/state", "/messages", "/slots"):
        r = client.get(f"/t/{first['token']}{path}")
        assert r.status_code == 404, (path, r.text)
        assert r.json() == {"error": {"code": "not_found", "message": "this tracking link does not exist or has expired"}}
    r = client.post(f"/t/{first['token']}/rating", json={"score": 5})
    assert r.status_code == 404
    page = client.get(f"/t/{first['token']}")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "expir" in page.text and first["order_id"] not in page.text and "Peña" not in page.text


def test_guessing_links_from_one_address_is_refused_after_a_while(client):
    from lastmile.portal.endpoints import MISSES_LIMIT

    codes = [client.get(f"/t/{'g' * 30}{i:04d}/state").status_code for i in range(MISSES_LIMIT + 2)]
    assert codes[:MISSES_LIMIT] == [404] * MISSES_LIMIT and codes[-1] == 429


def test_another_orders_link_sees_nothing_of_this_one(client, world, day):
    a, b = day["stops"][0], day["other_stops"][0]
    assert client.post(f"/t/{a['token']}/messages", json={"body": "Gate code 4411"}).status_code == 201
    assert client.patch(f"/t/{a['token']}/preferences", json={"safe_place": "porch"}).status_code == 200
    st = client.get(f"/t/{b['token']}/state").json()
    text = str(st)
    assert "4411" not in text and "porch" not in text and a["order_id"] not in text
    assert client.get(f"/t/{b['token']}/messages").json() == []
    # a link is for its own order only: the token is the whole credential
    assert client.get(f"/t/{a['token']}x/state").status_code == 404


def test_customer_and_driver_talk_through_lastmile(client, db, world, day):
    first = day["stops"][0]
    oid = first["order_id"]
    r = client.post(f"/t/{first['token']}/messages", json={"body": "  Please ring twice  "})
    assert r.status_code == 201, r.text
    assert r.json()["from"] == "you" and r.json()["body"] == "Please ring twice"
    drv = world.headers["driver"]
    seen = client.get(f"/orders/{oid}/messages", headers=drv)
    assert seen.status_code == 200 and [m["body"] for m in seen.json()] == ["Please ring twice"]
    assert seen.json()[0]["sender"] == "customer"
    r = client.post(f"/orders/{oid}/messages", json={"body": "On my way, 5 minutes"}, headers=drv)
    assert r.status_code == 201 and r.json()["sender"] == "driver"
    _mark(db, first["stop_id"], "en_route")
    msgs = client.get(f"/t/{first['token']}/messages").json()
    assert [(m["from"], m["body"]) for m in msgs] == [("you", "Please ring twice"), ("driver", "On my way, 5 minutes")]
    assert msgs[1]["name"] == "Driver" and "usr_" not in str(msgs)
    # staff write as the dispatch office
    r = client.post(f"/orders/{oid}/messages", json={"body": "Hola"}, headers=world.headers["dispatcher"])
    assert r.status_code == 201 and r.json()["sender"] == "staff"
    # the other driver, a shipper: not theirs
    assert client.get(f"/orders/{oid}/messages", headers=world.headers["driver2"]).status_code == 404
    assert client.post(f"/orders/{oid}/messages", json={"body": "x"}, headers=world.headers["driver2"]).status_code == 404
    assert client.get(f"/orders/{oid}/messages", headers=world.headers["shipper"]).status_code == 403


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   "}, {"body": "x" * 1001}, {"text": "hi"}, {}, []])
def test_bad_messages_are_refused_with_the_error_shape(client, day, body):
    r = client.post(f"/t/{day['stops'][0]['token']}/messages", json=body)
    assert r.status_code == 422, r.text
    assert set(r.json()["error"]) >= {"code", "message"}


def test_a_customer_cannot_flood_the_driver(client, day):
    from lastmile.portal.service import MESSAGE_LIMIT

    token = day["stops"][0]["token"]
    codes = [client.post(f"/t/{token}/messages", json={"body": f"m{i}"}).status_code for i in range(MESSAGE_LIMIT + 1)]
    assert codes[:MESSAGE_LIMIT] == [201] * MESSAGE_LIMIT and codes[-1] == 429


def test_messages_are_broadcast_to_the_driver_and_the_customer(db, client, world, day):
    from lastmile.kit.broadcast import get_broadcaster

    first = day["stops"][0]
    got: list = []
    hub = get_broadcaster().hub

    class Probe:  # stands in for a subscriber queue: record what the hub delivers
        pass

    import asyncio

    async def run():
        q: asyncio.Queue = asyncio.Queue()
        topics = [f"order:{first['order_id']}", f"route:{day['route_id']}", f"driver:{world.ids['driver_id1']}"]
        hub.add(topics, q)
        try:
            await asyncio.to_thread(client.post, f"/t/{first['token']}/messages", json={"body": "Dog in the yard"})
            for _ in range(3):
                got.append(await asyncio.wait_for(q.get(), 5))
        finally:
            hub.remove(topics, q)

    import threading

    # in a thread of its own: a session-scoped Playwright (browser tests) keeps an event
    # loop running in the main thread for the rest of the run
    t = threading.Thread(target=lambda: asyncio.run(run()))
    t.start()
    t.join(30)
    by_topic = {m["topic"]: m for m in got}
    assert set(by_topic) == {f"order:{first['order_id']}", f"route:{day['route_id']}",
                             f"driver:{world.ids['driver_id1']}"}
    assert by_topic[f"order:{first['order_id']}"]["message"]["from"] == "you"
    phone = by_topic[f"route:{day['route_id']}"]
    assert phone["type"] == "message" and phone["stop_id"] == first["stop_id"]
    assert phone["message"]["order_id"] == first["order_id"] and phone["message"]["body"] == "Dog in the yard"


def test_preferences_reach_the_driver_and_lock_after_delivery(client, db, world, day):
    first = day["stops"][0]
    token = first["token"]
    r = client.patch(f"/t/{token}/preferences",
                     json={"instructions": "Blue door", "safe_place": "Behind the gate", "contactless": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"instructions": "Blue door", "safe_place": "Behind the gate", "contactless": True}
    order = client.get(f"/orders/{first['order_id']}", headers=world.headers["dispatcher"]).json()
    assert order["instructions"].splitlines() == [
        "Blue door", "Lugar seguro / Safe place: Behind the gate", "Entrega sin contacto / Contactless delivery"]
    # a partial change keeps the rest
    r = client.patch(f"/t/{token}/preferences", json={"contactless": False})
    assert r.json() == {"instructions": "Blue door", "safe_place": "Behind the gate", "contactless": False}
    assert client.get(f"/t/{token}/state").json()["preferences"]["safe_place"] == "Behind the gate"
    assert client.patch(f"/t/{token}/preferences", json={"colour": "red"}).status_code == 422
    assert client.patch(f"/t/{token}/preferences", json={"safe_place": "x" * 201}).status_code == 422
    _mark(db, first["stop_id"], "done")
    r = client.patch(f"/t/{token}/preferences", json={"instructions": "too late"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


def test_rating_once_after_completion(client, db, day):
    first = day["stops"][0]
    token = first["token"]
    r = client.post(f"/t/{token}/rating", json={"score": 5})
    assert r.status_code == 409
    _mark(db, first["stop_id"], "done")
    assert client.post(f"/t/{token}/rating", json={"score": 6}).status_code == 422
    assert client.post(f"/t/{token}/rating", json={"score": "5"}).status_code == 422
    r = client.post(f"/t/{token}/rating", json={"score": 4, "comment": "Friendly driver"})
    assert r.status_code == 201 and r.json() == {"score": 4, "comment": "Friendly driver"}
    assert client.post(f"/t/{token}/rating", json={"score": 1}).status_code == 409
    st = client.get(f"/t/{token}/state").json()
    assert st["rating"] == {"score": 4, "comment": "Friendly driver"} and st["can"]["rate"] is False


def test_a_failed_delivery_is_rescheduled_to_an_offered_slot(client, db, world, day):
    pytest.importorskip("lastmile.dispatch.slots")
    first = day["stops"][0]
    token = first["token"]
    _mark(db, first["stop_id"], "failed")
    slots = client.get(f"/t/{token}/slots")
    assert slots.status_code == 200, slots.text
    offered = slots.json()
    assert offered and all(set(s) == {"start", "end", "green"} for s in offered)
    bad = client.post(f"/t/{token}/reschedule", json={"start": "2026-12-01T03:00:00Z", "end": "2026-12-01T05:00:00Z"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "start"
    pick = offered[-1]
    r = client.post(f"/t/{token}/reschedule", json={"start": pick["start"], "end": pick["end"]})
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["phase"] == "pending" and st["order"]["windows"] == [{"start": pick["start"], "end": pick["end"]}]
    order = client.get(f"/orders/{first['order_id']}", headers=world.headers["dispatcher"]).json()
    assert order["status"] == "pending" and order["date"] > "2026-11-25"
    history = client.get(f"/orders/{first['order_id']}/history", headers=world.headers["dispatcher"]).json()
    assert history[-1]["to_status"] == "pending" and history[-1]["from_status"] == "failed"


def test_an_assigned_order_leaves_its_route_when_rescheduled(client, db, world, day):
    pytest.importorskip("lastmile.dispatch.slots")
    from lastmile.dispatch.models import RouteStop

    second = day["stops"][1]
    pick = client.get(f"/t/{second['token']}/slots").json()[0]
    r = client.post(f"/t/{second['token']}/reschedule", json={"start": pick["start"], "end": pick["end"]})
    assert r.status_code == 200, r.text
    with db.session() as s:
        assert s.get(RouteStop, second["stop_id"]).status == "skipped"
    assert client.get(f"/orders/{second['order_id']}", headers=world.headers["dispatcher"]).json()["status"] == "pending"
    # the next customer moves up
    assert client.get(f"/t/{day['stops'][2]['token']}/state").json()["stops_before"] == 1


def test_out_for_delivery_orders_cannot_be_rescheduled(client, db, day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route

    with db.session() as s:
        live.start_route(s, s.get(Route, day["route_id"]), AT, "system")
        s.commit()
    token = day["stops"][0]["token"]
    assert client.get(f"/t/{token}/state").json()["phase"] == "out_for_delivery"
    r = client.get(f"/t/{token}/slots")
    assert r.status_code == 409
    r = client.post(f"/t/{token}/reschedule", json={"start": "2026-11-26T15:00:00Z", "end": "2026-11-26T17:00:00Z"})
    assert r.status_code == 409
