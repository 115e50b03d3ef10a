"""GET /alerts, GET /search and GET /console/day: what the console asks the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.server.conftest import TODAY, order_body, utc

WINDOW_END = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # order_body's window: 09:00-12:00 -06:00


def _stops(db, route_id):
    from lastmile.dispatch.models import RouteStop

    with db.session() as s:
        return [(x.id, x.order_id) for x in s.scalars(select(RouteStop).where(RouteStop.route_id == route_id)
                                                      .order_by(RouteStop.seq))]


def _alerts(db, world, now):
    from lastmile.dispatch.alerts import compute_alerts

    with db.session() as s:
        return compute_alerts(s, world.org, TODAY, now=now)


def test_a_stop_predicted_after_its_window_is_late_with_a_link_to_it(db, client, world, published_day):
    from lastmile.dispatch.models import RouteStop

    route = next(iter(published_day["routes"].values()))
    stop_id, order_id = _stops(db, route["id"])[1]
    before = WINDOW_END - timedelta(hours=2)
    assert _alerts(db, world, before) == []  # everything planned inside its window, hours to go
    with db.session() as s:
        s.get(RouteStop, stop_id).eta_at = WINDOW_END + timedelta(minutes=25)
        s.commit()
    alerts = _alerts(db, world, before)
    assert [(a["kind"], a["stop_id"]) for a in alerts] == [("late", stop_id)]
    a = alerts[0]
    assert a["route_id"] == route["id"] and a["order_id"] == order_id and a["link"] == f"/console#stop={stop_id}"
    assert a["data"]["late_by_s"] == 25 * 60
    assert "25 min" in a["summary"]["es"] and "25 min" in a["summary"]["en"] and a["summary"]["es"] != a["summary"]["en"]


def test_a_window_closing_soon_on_an_unreached_stop_is_at_risk(db, world, published_day):
    alerts = _alerts(db, world, WINDOW_END - timedelta(minutes=10))
    # every stop that is not reached yet: six orders, all with the same window
    assert {a["kind"] for a in alerts} == {"at_risk"} and len(alerts) == 6
    assert all(a["data"]["closes_in_s"] == 600 for a in alerts)
    assert _alerts(db, world, WINDOW_END - timedelta(minutes=30)) == []


def test_a_failed_attempt_is_an_alert_until_the_order_moves_on(db, world, published_day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import RouteStop

    route = next(iter(published_day["routes"].values()))
    stop_id, order_id = _stops(db, route["id"])[0]
    at = WINDOW_END - timedelta(hours=2)
    with db.session() as s:
        live.mark_stop(s, s.get(RouteStop, stop_id), "failed", at=at, actor="system", reason="not_home")
        s.commit()
    alerts = [a for a in _alerts(db, world, at) if a["kind"] != "offline"]  # the failure started the route
    assert [(a["kind"], a["stop_id"], a["order_id"]) for a in alerts] == [("failed", stop_id, order_id)]


def test_a_customer_message_waits_until_someone_answers(db, world, published_day):
    models = pytest.importorskip("lastmile.portal.models")
    route = next(iter(published_day["routes"].values()))
    stop_id, order_id = _stops(db, route["id"])[2]
    now = WINDOW_END - timedelta(hours=2)
    with db.session() as s:
        s.add(models.PortalMessage(order_id=order_id, organization_id=world.org, sender="customer",
                                   body="¿Puede dejarlo con el vecino?", created_at=now - timedelta(minutes=3)))
        s.commit()
    alerts = _alerts(db, world, now)
    assert [(a["kind"], a["stop_id"]) for a in alerts] == [("message", stop_id)]
    assert "vecino" in alerts[0]["summary"]["es"]
    with db.session() as s:
        s.add(models.PortalMessage(order_id=order_id, organization_id=world.org, sender="staff", author="user:x",
                                   body="Sí", created_at=now - timedelta(minutes=1)))
        s.commit()
    assert _alerts(db, world, now) == []


def test_driver_offline_when_tracking_has_no_recent_fix(db, world, published_day):
    from lastmile.dispatch import alerts as mod

    model = mod._driver_live_model()
    if model is None:
        pytest.skip("tracking's driver_live table is not installed")
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route

    route = next(iter(published_day["routes"].values()))
    now = WINDOW_END - timedelta(hours=3)
    with db.session() as s:
        live.start_route(s, s.get(Route, route["id"]), now - timedelta(minutes=30), "system")
        s.commit()
    found = [a for a in _alerts(db, world, now) if a["kind"] == "offline"]
    assert [a["route_id"] for a in found] == [route["id"]]  # started, never a fix


def test_alerts_endpoint_for_a_day(client, world, published_day):
    d = world.headers["dispatcher"]
    r = client.get("/alerts", params={"date": TODAY.isoformat()}, headers=d)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["date"] == TODAY.isoformat() and isinstance(body["alerts"], list)
    assert client.get("/alerts", params={"date": "2026-13-01"}, headers=d).status_code == 422
    assert client.get("/alerts", headers=world.headers["driver"]).status_code == 403
    assert client.get("/alerts", headers=world.headers["shipper"]).status_code == 403


def test_search_by_reference_name_phone_and_address(client, world, published_day):
    d = world.headers["dispatcher"]
    extra = client.post("/orders", json=order_body(world, reference="ZX-77", address="4502 McPherson Rd, Laredo",
                                                   contact={"name": "Lucía Ramírez", "phone": "+52 (867) 712-3456"}),
                        headers=d).json()["id"]

    def ids(q):
        r = client.get("/search", params={"q": q}, headers=d)
        assert r.status_code == 200, r.text
        return [x["order_id"] for x in r.json()["results"]]

    assert ids("zx-77") == [extra]
    assert ids("lucía") == [extra]
    assert ids("8677123456") == [extra]  # however the phone was written
    assert ids("712 3456") == [extra]
    assert ids("mcpherson") == [extra]
    assert ids("%%") == [] and ids("__") == []  # wildcards are literal
    hit = client.get("/search", params={"q": "L3"}, headers=d).json()["results"]
    assert [x["reference"] for x in hit] == ["L3"]
    assert hit[0]["route_id"] in {r["id"] for r in published_day["routes"].values()} and hit[0]["stop_id"]
    assert client.get("/search", params={"q": "x"}, headers=d).status_code == 422
    assert client.get("/search", headers=d).status_code == 422
    assert client.get("/search", params={"q": "ZX-77"}, headers=world.headers["shipper"]).status_code == 403


def test_search_stays_inside_the_organization(client, db, world, settings, published_day):
    from lastmile.auth.models import Organization
    from lastmile.auth.service import create_user, issue_token

    with db.session() as s:
        org = Organization(name="Other")
        s.add(org)
        s.flush()
        token, _ = issue_token(s, settings, create_user(s, org.id, "o@x.example", "correct horse battery", "admin"),
                               "bearer")
        s.commit()
    r = client.get("/search", params={"q": "L3"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["results"] == []


def test_console_day_lists_routes_with_stop_positions(client, world, published_day):
    d = world.headers["dispatcher"]
    r = client.get("/console/day", params={"date": TODAY.isoformat()}, headers=d)
    assert r.status_code == 200, r.text
    day = r.json()
    assert {x["id"] for x in day["routes"]} == {x["id"] for x in published_day["routes"].values()}
    # stops column by column: ids, rounded positions, status codes, times in seconds from t0
    cols = [x["stops"] for x in day["routes"]]
    assert sum(len(c["id"]) for c in cols) == 6
    assert day["statuses"][0] == "planned" and all(st == 0 for c in cols for st in c["st"])
    assert {len(v) for c in cols for v in c.values()} == {3}
    for c in cols:
        assert all(lat == round(lat, 5) and 27 < lat < 28 and -100 < lon < -99 for lat, lon in zip(c["lat"], c["lon"]))
        # 09:00-12:00 Laredo = 15:00-18:00 UTC on the day: seconds from the day's 00:00 UTC
        assert c["win"] == [[15 * 3600, 18 * 3600]] * 3
        assert all(15 * 3600 - 3600 < a < 18 * 3600 + 3600 for a in c["arr"]) and c["seq"] == sorted(c["seq"])
    assert day["t0"] == int(datetime(2026, 11, 25, tzinfo=UTC).timestamp())
    assert "address" not in cols[0]  # details are fetched on click
    assert {x["driver_name"] for x in day["routes"]} == {"Driver", "Driver2"}
    assert len(day["depots"]) == 2 and day["draft"] is None  # the plan is published
    plan_id = published_day["plan"]["id"]
    by_plan = client.get("/console/day", params={"date": TODAY.isoformat(), "plan_id": plan_id}, headers=d).json()
    assert len(by_plan["routes"]) == 2
    missing = client.get("/console/day", params={"plan_id": "pln_01JD0000000000000000000000"}, headers=d)
    assert missing.status_code == 404
    assert client.get("/console/day", headers=world.headers["driver"]).status_code == 403


def test_console_day_is_gzipped_when_big_and_accepted(client, world, published_day, monkeypatch):
    from lastmile.web import console

    d = world.headers["dispatcher"]
    plain = client.get("/console/day", headers={**d, "accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers  # small: sent as is
    monkeypatch.setattr(console, "GZIP_OVER", 100)
    zipped = client.get("/console/day", headers={**d, "accept-encoding": "gzip, deflate"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "accept-encoding"
    assert zipped.json() == plain.json()  # the client unzipped it
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert "content-encoding" not in client.get("/console/day", headers={**d, "accept-encoding": "identity"}).headers


def test_console_page_login_screen_shell_and_wrong_role(client, world):
    r = client.get("/console")
    assert r.status_code == 200 and 'id="login-form"' in r.text and r.headers["cache-control"] == "no-store"
    login = client.post("/auth/login", data={"email": "driver@example.com", "password": "correct horse battery"})
    assert login.status_code == 200
    r = client.get("/console")
    assert r.status_code == 200 and "driver" in r.text and 'id="map"' not in r.text
    client.cookies.clear()
    client.post("/auth/login", data={"email": "dispatcher@example.com", "password": "correct horse battery"})
    r = client.get("/console")
    assert r.status_code == 200 and 'id="map"' in r.text and "/static/vendor/leaflet/dist/leaflet.js" in r.text
    assert '"tile_url": ""' in r.text  # no tiles configured: the map works without them
    client.app.state.settings.map_tile_url = "https://tiles.example/{z}/{x}/{y}.png"
    assert '"tile_url": "https://tiles.example/{z}/{x}/{y}.png"' in client.get("/console").text
    for path in ("/static/console/app.js", "/static/console/console.css", "/static/console/i18n.js"):
        assert client.get(path).status_code == 200, path


def test_console_day_shows_the_planned_break_and_the_ones_taken(client, db, world, published_day):
    from lastmile.dispatch.models import Route
    from lastmile.fleet.models import Shift

    route = published_day["routes"][world.ids["driver_id1"]]
    with db.session() as s:
        shift = s.get(Shift, s.get(Route, route["id"]).shift_id)
        assert shift is not None
        shift.break_start_at, shift.break_end_at, shift.break_s = utc(2026, 11, 25, 18), utc(2026, 11, 25, 19), 1800
        s.commit()
    d = world.headers["dispatcher"]
    day = {r["id"]: r for r in client.get("/console/day", params={"date": TODAY.isoformat()}, headers=d).json()["routes"]}
    assert day[route["id"]]["break"] == {"start": "2026-11-25T18:00:00+00:00", "end": "2026-11-25T19:30:00+00:00",
                                         "duration_s": 1800}
    assert day[route["id"]]["breaks"] == [] and day[route["id"]]["on_break"] is False
    pod = pytest.importorskip("lastmile.pod.models")
    with db.session() as s:
        s.add(pod.DriverAction(organization_id=world.org, driver_id=world.ids["driver_id1"], client_id="b1",
                               type="break_start", route_id=route["id"], device_time=utc(2026, 11, 25, 18, 10),
                               server_time=utc(2026, 11, 25, 18, 10)))
        s.commit()
    day = {r["id"]: r for r in client.get("/console/day", params={"date": TODAY.isoformat()}, headers=d).json()["routes"]}
    assert day[route["id"]]["on_break"] is True
    assert day[route["id"]]["breaks"] == [{"start": "2026-11-25T18:10:00+00:00", "end": None}]
