from __future__ import annotations

import json
import threading

from sqlalchemy import func, select

from lastmile.orders.models import Order, OrderStatusChange

from .conftest import TODAY, order_body


def test_create_read_update_cancel(client, world):
    h = world.headers["shipper"]
    r = client.post("/orders", json=order_body(world), headers=h)
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["status"] == "pending" and o["shipper_id"] == world.ids["shipper"]
    assert o["cod"] == {"amount": 85000, "currency": "MXN"}
    assert o["contact"]["name"] == "Mr. Peña" and o["language"] == "en"
    assert r.headers["location"] == f"/orders/{o['id']}"
    assert client.get(f"/orders/{o['id']}", headers=h).json() == o
    r = client.patch(f"/orders/{o['id']}", json={"instructions": "ring twice", "demand": {"kg": 1, "litres": 2,
                                                                                          "parcels": 1}}, headers=h)
    assert r.status_code == 200 and r.json()["instructions"] == "ring twice" and r.json()["demand"]["kg"] == 1
    r = client.post(f"/orders/{o['id']}/cancel", json={"reason": "customer changed mind"}, headers=h)
    assert r.json()["status"] == "cancelled" and r.json()["completed_at"]
    assert client.patch(f"/orders/{o['id']}", json={"instructions": "x"}, headers=h).status_code == 409
    assert client.post(f"/orders/{o['id']}/cancel", json={}, headers=h).status_code == 409
    hist = client.get(f"/orders/{o['id']}/history", headers=h).json()
    assert [x["to_status"] for x in hist] == ["pending", "cancelled"]


def test_shipper_sees_and_changes_only_its_own_orders(client, world):
    mine = client.post("/orders", json=order_body(world), headers=world.headers["shipper"]).json()
    theirs = client.post("/orders", json=order_body(world), headers=world.headers["shipper2"]).json()
    h = world.headers["shipper"]
    assert client.get(f"/orders/{theirs['id']}", headers=h).status_code == 404
    assert client.patch(f"/orders/{theirs['id']}", json={"instructions": "x"}, headers=h).status_code == 404
    assert client.post(f"/orders/{theirs['id']}/cancel", json={}, headers=h).status_code == 404
    listed = client.get("/orders", headers=h).json()["items"]
    assert [o["id"] for o in listed] == [mine["id"]]
    assert listed[0] == client.get(f"/orders/{mine['id']}", headers=h).json() == mine  # one shape everywhere
    # asking for the other shipper's orders by filter still returns only mine (none of theirs)
    assert client.get("/orders", params={"shipper_id": world.ids["shipper2"]}, headers=h).json()["items"] == []
    # creating on behalf of another shipper is refused
    r = client.post("/orders", json=order_body(world, shipper_id=world.ids["shipper2"]), headers=h)
    assert r.status_code == 403


def test_list_filters_and_cursor_pagination(client, world):
    d = world.headers["dispatcher"]
    ids = []
    for i in range(7):
        depot = world.ids["depot"] if i % 2 == 0 else world.ids["depot2"]
        day = "2026-11-25" if i < 5 else "2026-11-26"
        body = order_body(world, depot_id=depot, date=day, reference=f"R{i}", windows=[],
                          shipper_id=world.ids["shipper"] if i < 3 else world.ids["shipper2"])
        ids.append(client.post("/orders", json=body, headers=d).json()["id"])
    client.post(f"/orders/{ids[0]}/cancel", json={}, headers=d)
    seen, cursor = [], None
    while True:
        page = client.get("/orders", params={"limit": 3, **({"cursor": cursor} if cursor else {})}, headers=d).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids  # every order once, in creation order
    q = lambda **p: [o["reference"] for o in client.get("/orders", params=p, headers=d).json()["items"]]  # noqa: E731
    assert q(date="2026-11-26") == ["R5", "R6"]
    assert q(depot_id=world.ids["depot2"]) == ["R1", "R3", "R5"]
    assert q(shipper_id=world.ids["shipper"]) == ["R0", "R1", "R2"]
    assert q(status="cancelled") == ["R0"]
    assert q(status="pending", date="2026-11-25", depot_id=world.ids["depot"]) == ["R2", "R4"]
    r = client.get("/orders", params={"cursor": "garbage!"}, headers=d)
    assert r.status_code == 422 and r.json()["error"]["field"] == "cursor"
    assert client.get("/orders", params={"status": "lost"}, headers=d).status_code == 422


def test_idempotency_key_returns_first_result(client, world, db):
    h = {**world.headers["shipper"], "Idempotency-Key": "night-batch-0001"}
    first = client.post("/orders", json=order_body(world), headers=h)
    again = client.post("/orders", json=order_body(world), headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = client.post("/orders", json=order_body(world, reference="different"), headers=h)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["field"] == "Idempotency-Key"
    # keys are per caller: another shipper's identical key is independent
    h2 = {**world.headers["shipper2"], "Idempotency-Key": "night-batch-0001"}
    assert client.post("/orders", json=order_body(world), headers=h2).json()["id"] != first.json()["id"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 2


def test_idempotency_under_concurrent_retries(app, world, db):
    from fastapi.testclient import TestClient

    results = []

    def send():
        with TestClient(app, base_url="https://testserver") as c:
            r = c.post("/orders", json=order_body(world),
                       headers={**world.headers["shipper"], "Idempotency-Key": "same-key"})
            results.append((r.status_code, r.json().get("id")))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {code for code, _ in results} == {201}
    assert len({oid for _, oid in results}) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1


def test_idempotent_retry_never_geocodes_again_and_replays_after_a_failure(client, world, db):
    """A retry answers as the first request did, even when the same body would now fail
    (here: the geocoder no longer knows the address), and does not call the geocoder."""
    geo = client.app.state.geocoder
    calls = []

    class Counting:
        def geocode(self, address):
            calls.append(address)
            return geo.geocode(address)

    client.app.state.geocoder = Counting()
    h = {**world.headers["shipper"], "Idempotency-Key": "geo-1"}
    body = order_body(world, address="1100 Houston St, Laredo, TX")
    del body["lat"], body["lon"]
    first = client.post("/orders", json=body, headers=h)
    assert first.status_code == 201 and len(calls) == 1
    geo.known = {}  # the address cannot be found any more
    again = client.post("/orders", json=body, headers=h)
    assert again.status_code == 201 and again.json() == first.json() and len(calls) == 1
    assert again.headers["idempotent-replayed"] == "true"
    # with coordinates (no look-up before the insert) the same holds: the key's record wins
    h2 = {**world.headers["shipper"], "Idempotency-Key": "coords-1"}
    one = client.post("/orders", json=order_body(world, reference="C1"), headers=h2)
    two = client.post("/orders", json=order_body(world, reference="C1"), headers=h2)
    assert two.json() == one.json() and two.headers["idempotent-replayed"] == "true"
    bad = client.post("/orders", json=order_body(world, reference="C1", depot_id="dep_01JD0000000000000000000000"),
                      headers=h2)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "idempotency_key_reused"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 2
        assert s.scalar(select(func.count()).select_from(OrderStatusChange)) == 2


def test_created_order_is_written_with_its_history_event_and_outbox(client, world, db):
    """One insert for the order, its history, its event (and the key's record): all or nothing."""
    from lastmile.events.models import Event
    from lastmile.webhooks.models import WebhookMessage

    r = client.post("/webhooks/subscriptions", json={"url": "https://example.com/hook", "events": ["order.created"]},
                    headers=world.headers["shipper"])
    assert r.status_code == 201, r.text
    o = client.post("/orders", json=order_body(world), headers={**world.headers["shipper"], "Idempotency-Key": "w1"})
    assert o.status_code == 201
    oid = o.json()["id"]
    with db.session() as s:
        row = s.get(Order, oid)
        assert row.status == "pending" and row.windows == [
            {"start": "2026-11-25T15:00:00+00:00", "end": "2026-11-25T18:00:00+00:00"}]
        assert row.items == [{"sku": "RX-1", "description": "insulin", "quantity": 1, "barcode": ""}]
        assert (row.cod_amount, row.cod_currency, row.contact_email) == (85000, "MXN", "pena@example.com")
        hist = s.scalars(select(OrderStatusChange).where(OrderStatusChange.order_id == oid)).all()
        assert [(h.from_status, h.to_status, h.actor) for h in hist] == [(None, "pending", f"shipper:{world.ids['shipper']}")]
        ev = s.scalars(select(Event).where(Event.subject_id == oid)).one()
        assert ev.type == "order.created" and ev.data == o.json()
        msg = s.scalars(select(WebhookMessage).where(WebhookMessage.event_id == ev.id)).one()
        assert json.loads(msg.body)["data"] == o.json()


def test_create_writes_everything_in_one_statement_and_reads_nothing_back(client, world, db):
    """The hot path's shape (issue 4's benchmark): no look-up of the idempotency key and
    no re-read of the new order; on PostgreSQL the order, its history, its event and the
    key's record are one INSERT statement (one round trip)."""
    from sqlalchemy import event

    seen: list[str] = []

    def hook(conn, cursor, statement, params, context, executemany):
        seen.append(" ".join(statement.split()).lower())

    h = {**world.headers["shipper"], "Idempotency-Key": "shape-1"}
    client.post("/orders", json=order_body(world, reference="warm"), headers=world.headers["shipper"])
    event.listen(db.engine, "before_cursor_execute", hook)
    try:
        r = client.post("/orders", json=order_body(world), headers=h)
    finally:
        event.remove(db.engine, "before_cursor_execute", hook)
    assert r.status_code == 201
    reads = [q for q in seen if q.startswith("select")]
    assert not [q for q in reads if "from orders" in q or "from idempotency_keys" in q], reads
    writes = [q for q in seen if "insert into" in q]
    if db.engine.dialect.name == "postgresql":
        assert len(writes) == 1 and all(t in writes[0] for t in (
            "insert into orders", "insert into order_status_history", "insert into events",
            "insert into idempotency_keys")), writes


def test_geocoding_when_no_coordinates(client, world):
    d = world.headers["dispatcher"]
    body = order_body(world, address="1100 Houston St, Laredo, TX")
    del body["lat"], body["lon"]
    r = client.post("/orders", json=body, headers=d)
    assert r.status_code == 201 and r.json()["geocoded"] is True
    assert (r.json()["lat"], r.json()["lon"]) == (27.5036, -99.5076)
    assert r.json()["address"] == "1100 Houston St, Laredo, TX"  # kept as typed
    body["address"] = "nowhere street"
    r = client.post("/orders", json=body, headers=d)
    assert r.status_code == 422 and r.json()["error"]["field"] == "address"


def test_no_geocoder_configured_asks_for_coordinates():
    from lastmile.config import Settings
    from lastmile.errors import Invalid
    from lastmile.orders.geocoding import NominatimGeocoder, geocoder_for

    g = geocoder_for(Settings())
    try:
        g.geocode("x")
        raise AssertionError("expected Invalid")
    except Invalid as e:
        assert e.field == "lat"
    assert isinstance(geocoder_for(Settings(geocoder_url="http://127.0.0.1:9/")), NominatimGeocoder)


CSV = b"""id,name,address,lat,lon,kg,parcels,window_start,window_end,language,cod_amount,instructions,depot,shipper
A1,Mr. Pena,1902 E Saunders,27.5306,-99.4803,3,1,09:00,12:00,en,,ring,,
A2,Sra. Garza,Calle Guerrero 14,27.4760,-99.5160,2,1,10:00,11:00,es,850,,NLD,
A3,Bad Lat,somewhere,127.5,-99.48,1,1,,,es,,,,
A4,Bad Lon,somewhere,27.5,-199.48,1,1,,,es,,,,
A5,Bad Window,x,27.5,-99.48,1,1,12:00,09:00,es,,,,
A6,Bad Depot,x,27.5,-99.48,1,1,,,es,,,NOPE,
"""


def test_csv_import_saves_good_rows_and_reports_bad_ones(client, world, db):
    from lastmile.depots.models import Depot

    with db.session() as s:
        s.get(Depot, world.ids["depot2"]).code = "NLD"
        s.commit()
    r = client.post("/orders/import", params={"date": "2026-11-25", "depot_id": world.ids["depot"]},
                    files={"file": ("stops.csv", CSV, "text/csv")}, headers=world.headers["shipper"])
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["created"] == 2
    bad = {(e["line"], e["field"]) for e in rep["errors"]}
    assert (4, "lat") in bad and (5, "lon") in bad and (7, "depot") in bad
    assert any(e["line"] == 6 for e in rep["errors"])
    assert len(rep["errors"]) == 4
    orders = client.get("/orders", headers=world.headers["shipper"]).json()["items"]
    by_ref = {o["reference"]: o for o in orders}
    assert set(by_ref) == {"A1", "A2"}
    assert by_ref["A2"]["depot_id"] == world.ids["depot2"]
    assert by_ref["A2"]["cod"] == {"amount": 85000, "currency": "MXN"}
    assert by_ref["A1"]["windows"][0]["start"].startswith("2026-11-25T15:00:00")  # 09:00 Laredo
    assert by_ref["A1"]["shipper_id"] == world.ids["shipper"]


def test_csv_import_is_all_or_nothing_on_failure(client, world, db, monkeypatch):
    from lastmile.depots.models import Depot
    from lastmile.orders import imports

    with db.session() as s:
        s.get(Depot, world.ids["depot2"]).code = "NLD"
        s.commit()

    real = imports.create_order
    calls = []

    def flaky(session, p, body, geocoder):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(session, p, body, geocoder)

    monkeypatch.setattr(imports, "create_order", flaky)
    from fastapi.testclient import TestClient

    with TestClient(client.app, base_url="https://testserver", raise_server_exceptions=False) as c:
        r = c.post("/orders/import", params={"date": "2026-11-25", "depot_id": world.ids["depot"]},
                   files={"file": ("stops.csv", CSV, "text/csv")}, headers=world.headers["shipper"])
    assert r.status_code == 500 and "database went away" not in r.text, (r.text, calls)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0  # nothing half-written


def test_status_events_and_driver_scope(client, world, db):
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.kit.time import utcnow

    d = world.headers["dispatcher"]
    o = client.post("/orders", json=order_body(world, shipper_id=world.ids["shipper"]), headers=d).json()
    # the driver cannot see it until it is on their published route
    assert client.get(f"/orders/{o['id']}", headers=world.headers["driver"]).status_code == 404
    with db.session() as s:
        plan = Plan(organization_id=world.org, date=TODAY, depot_ids=[world.ids["depot"]], status="done",
                    created_by="x")
        s.add(plan)
        s.flush()
        route = Route(plan_id=plan.id, organization_id=world.org, vehicle_id=world.ids["vehicle1"],
                      driver_id=world.ids["driver_id1"], depot_id=world.ids["depot"], depart_at=utcnow(),
                      arrive_at=utcnow(), distance_m=0, duration_s=0, published=False)
        s.add(route)
        s.flush()
        s.add(RouteStop(route_id=route.id, order_id=o["id"], seq=1, arrival_at=utcnow(), start_at=utcnow(),
                        end_at=utcnow()))
        s.commit()
        plan_id = plan.id
    assert client.post(f"/plans/{plan_id}/publish", headers=d).json()["status"] == "published"
    dh = world.headers["driver"]
    assert client.get(f"/orders/{o['id']}", headers=dh).json()["status"] == "assigned"
    assert client.get(f"/orders/{o['id']}", headers=world.headers["driver2"]).status_code == 404
    assert client.post(f"/orders/{o['id']}/events", json={"type": "delivered"}, headers=dh).status_code == 409
    for t in ("out_for_delivery", "approaching", "approaching", "delivered"):
        r = client.post(f"/orders/{o['id']}/events", json={"type": t}, headers=dh)
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "delivered"
    assert client.post(f"/orders/{o['id']}/events", json={"type": "failed"},
                       headers=world.headers["driver2"]).status_code == 404
    from lastmile.events.models import Event

    with db.session() as s:
        types = [e.type for e in s.scalars(select(Event).where(Event.subject_id == o["id"]).order_by(Event.id))]
    assert types == ["order.created", "order.assigned", "order.out_for_delivery", "order.approaching",
                     "order.delivered"]  # "approaching" once


def test_old_idempotency_keys_are_purged(client, world, db):
    from datetime import timedelta

    from lastmile.kit.time import utcnow
    from lastmile.orders.models import IdempotencyKey
    from lastmile.orders.tasks import purge_idempotency_keys

    h = {**world.headers["shipper"], "Idempotency-Key": "old-key"}
    client.post("/orders", json=order_body(world), headers=h)
    assert purge_idempotency_keys(db) == 0
    assert purge_idempotency_keys(db, now=utcnow() + timedelta(days=3)) == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_failed_order_is_rescheduled_by_staff_only(client, world, db):
    from lastmile.orders.models import Order as O

    d = world.headers["dispatcher"]
    o = client.post("/orders", json=order_body(world), headers=d).json()
    with db.session() as s:
        s.get(O, o["id"]).status = "failed"
        s.commit()
    r = client.post(f"/orders/{o['id']}/events", json={"type": "rescheduled", "reason": "customer chose Friday"},
                    headers=d)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    r = client.patch(f"/orders/{o['id']}", json={"date": "2026-11-27"}, headers=d)
    assert r.status_code == 200 and r.json()["date"] == "2026-11-27"


def test_csv_import_of_unreadable_files_is_422_not_a_crash(client, world):
    files = [b"\x00\x01binary", b"", b"id,lat\na,1\n", ("id,lat,lon\n" + "x" * 200_000 + ",1,2\n").encode()]
    for data in files:
        r = client.post("/orders/import", params={"date": "2026-11-25", "depot_id": world.ids["depot"]},
                        files={"file": ("stops.csv", data, "text/csv")}, headers=world.headers["shipper"])
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "file" and "stops CSV" in r.json()["error"]["message"]


def test_patch_merges_nested_objects(client, world):
    d = world.headers["dispatcher"]
    o = client.post("/orders", json=order_body(world), headers=d).json()
    r = client.patch(f"/orders/{o['id']}", json={"demand": {"litres": 5}, "contact": {"phone": "+52 867 555 0101"}},
                     headers=d)
    assert r.status_code == 200, r.text
    assert r.json()["demand"] == {"kg": 12, "litres": 5, "parcels": 2}
    assert r.json()["contact"] == {"name": "Mr. Peña", "phone": "+52 867 555 0101", "email": "pena@example.com"}
    r = client.patch(f"/orders/{o['id']}", json={"cod": None}, headers=d)
    assert r.json()["cod"] is None
