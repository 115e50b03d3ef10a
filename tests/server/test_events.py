"""GET /events: the event log for staff, and for a shipper the events of its own orders."""

from __future__ import annotations

from .conftest import order_body


def _all(client, headers, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        q = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        r = client.get("/events", params=q, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _setup(client, world) -> dict[str, str]:
    a1 = client.post("/orders", json=order_body(world, reference="A1"), headers=world.headers["shipper"]).json()["id"]
    a2 = client.post("/orders", json=order_body(world, reference="A2"), headers=world.headers["shipper"]).json()["id"]
    b1 = client.post("/orders", json=order_body(world, reference="B1"), headers=world.headers["shipper2"]).json()["id"]
    r = client.patch(f"/orders/{a1}", json={"instructions": "gate code 1234"}, headers=world.headers["dispatcher"])
    assert r.status_code == 200, r.text
    assert client.post(f"/orders/{b1}/cancel", json={}, headers=world.headers["admin"]).status_code == 200
    return {"a1": a1, "a2": a2, "b1": b1}


def test_staff_read_the_whole_log_in_order_with_keyset_pages(client, world):
    ids = _setup(client, world)
    for role in ("admin", "dispatcher"):
        events = _all(client, world.headers[role])
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)  # id order, no repeats
        assert len({e["id"] for e in events}) == len(events)
        created = [e["subject_id"] for e in events if e["type"] == "order.created"]
        assert created == [ids["a1"], ids["a2"], ids["b1"]]
        assert {"order.updated", "order.cancelled"} <= {e["type"] for e in events}
        assert all(e["actor"] for e in events)  # staff see who did it
    one = client.get("/events", params={"limit": 200}, headers=world.headers["admin"]).json()
    assert one["next_cursor"] is None and len(one["items"]) == len(events)


def test_filters_by_order_type_and_time(client, world):
    ids = _setup(client, world)
    h = world.headers["dispatcher"]
    mine = _all(client, h, order_id=ids["a1"])
    assert mine and {e["subject_id"] for e in mine} == {ids["a1"]}
    assert {e["type"] for e in mine} >= {"order.created", "order.updated"}
    created = _all(client, h, type="order.created")
    assert [e["subject_id"] for e in created] == [ids["a1"], ids["a2"], ids["b1"]]
    assert _all(client, h, type="order.created", order_id=ids["a2"])[0]["subject_id"] == ids["a2"]
    assert _all(client, h, type="route.started") == []
    # time range: [since, until)
    everything = _all(client, h)
    second = everything[1]["at"]
    after = _all(client, h, since=second)
    assert after and all(e["at"] >= second for e in after)
    before = _all(client, h, until=second)
    assert all(e["at"] < second for e in before)
    assert len(before) + len(after) == len(everything)


def test_bad_filters_are_422_in_the_one_shape(client, world):
    h = world.headers["admin"]
    for params, field in (
        ({"since": "2026-11-25T10:00:00"}, "since"),  # no offset: ambiguous
        ({"since": "2026-11-25T10:00:00Z", "until": "2026-11-25T09:00:00Z"}, "until"),
        ({"type": "Order Created!"}, "type"),
        ({"order_id": "not-an-id"}, "order_id"),
        ({"cursor": "garbage"}, "cursor"),
        ({"limit": 0}, "limit"),
    ):
        r = client.get("/events", params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] == "validation_error" and r.json()["error"]["field"] == field


def test_shippers_see_only_events_of_their_own_orders(client, world):
    ids = _setup(client, world)
    mine = _all(client, world.headers["shipper"])
    assert mine and {e["subject_id"] for e in mine} == {ids["a1"], ids["a2"]}
    assert all(e["subject_type"] == "order" and e["actor"] is None for e in mine)
    assert "order.updated" in {e["type"] for e in mine}  # changes by the fleet to their order, too
    # naming someone else's order finds nothing (not an error that confirms it exists)
    assert _all(client, world.headers["shipper"], order_id=ids["b1"]) == []
    theirs = _all(client, world.headers["shipper2"])
    assert {e["subject_id"] for e in theirs} == {ids["b1"]}


def test_drivers_and_anonymous_callers_are_refused(client, world):
    _setup(client, world)
    assert client.get("/events", headers=world.headers["driver"]).status_code == 403
    r = client.get("/events")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
