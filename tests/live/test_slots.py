from __future__ import annotations

from datetime import date, datetime, timedelta

from lastmile.routing import slots as rs
from lastmile.routing.domain import LatLon, TimeWindow

from .conftest import TODAY


def test_offer_prices_today_from_live_routes_and_later_days_by_estimate(client, world, live_day):
    body = {"lat": 27.5420, "lon": -99.4890, "depot_id": world.ids["depot"], "start": TODAY.isoformat(), "days": 3}
    r = client.post("/slots/offer", json=body, headers=world.headers["shipper"])
    assert r.status_code == 200, r.text
    slots = r.json()["slots"]
    days = sorted({s["date"] for s in slots})
    assert days[0] == TODAY.isoformat() and len(days) == 3  # Wed, Thu, Fri
    today = [s for s in slots if s["date"] == TODAY.isoformat()]
    assert today and not any(s["estimated"] for s in today)
    assert all(set(s) >= {"start", "end", "feasible", "cost_delta", "extra_km", "green"} for s in slots)
    for s in slots:  # 2-hour windows, in order, times in UTC
        a, b = datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])
        assert b - a == timedelta(hours=2) and s["start"].endswith("Z")
    assert any(s["feasible"] for s in today)
    green = [s for s in today if s["green"]]
    if green:
        cheapest = min(s["cost_delta"] for s in today if s["feasible"])
        assert all(s["feasible"] and s["cost_delta"] <= cheapest * 1.1 + 1 for s in green)
    # an evening window is offered on weekdays
    assert any(datetime.fromisoformat(s["start"]).hour == 2 for s in slots)  # 20:00 Chicago = 02:00 UTC
    later = [s for s in slots if s["date"] != TODAY.isoformat()]
    assert later and all(s["estimated"] for s in later)


def test_offer_refuses_bad_input(client, world):
    h = world.headers["dispatcher"]
    base = {"lat": 27.54, "lon": -99.49, "depot_id": world.ids["depot"], "start": TODAY.isoformat()}
    assert client.post("/slots/offer", json={**base, "days": 0}, headers=h).status_code == 422
    assert client.post("/slots/offer", json={**base, "lat": 95}, headers=h).status_code == 422
    r = client.post("/slots/offer", json={**base, "depot_id": "dep_01M89YZD6DYEDMC1CNPH6AX82Z"}, headers=h)
    assert r.status_code == 404
    assert client.post("/slots/offer", json=base, headers=world.headers["driver"]).status_code == 403


def test_saturday_template_and_custom_template(client, world, db):
    sat = date(2026, 11, 28)
    h = world.headers["dispatcher"]
    body = {"lat": 27.54, "lon": -99.49, "depot_id": world.ids["depot"], "start": sat.isoformat(), "days": 2}
    slots = client.post("/slots/offer", json=body, headers=h).json()["slots"]
    assert {s["date"] for s in slots} == {sat.isoformat()}  # no Sunday service by default
    assert len(slots) == 3
    r = client.patch("/dispatch/policy", json={"slot_template": {"6": [["10:00", "12:00"]]}},
                     headers=world.headers["admin"])
    assert r.status_code == 200
    slots = client.post("/slots/offer", json=body, headers=h).json()["slots"]
    assert [s["date"] for s in slots].count("2026-11-29") == 1


def test_estimate_prefers_a_slot_where_a_neighbour_is_served():
    place, depot = LatLon(27.50, -99.50), LatLon(27.56, -99.49)
    windows = [TimeWindow(8 * 3600, 10 * 3600), TimeWindow(10 * 3600, 12 * 3600)]
    booked = [(LatLon(27.501, -99.501), TimeWindow(10 * 3600, 12 * 3600))]
    q = rs.quote_estimate(place, depot, windows, booked)
    assert q[1].cost_cents < q[0].cost_cents and q[1].green and not q[0].green and q[1].neighbour


def test_a_days_quotes_are_kept_per_version_of_the_day(client, world, live_day, db, monkeypatch):
    """Asking again for the same address does not rebuild the live day; a change to the
    day's routes (a version bump) or orders prices it afresh."""
    from sqlalchemy import select

    from lastmile.dispatch import slots as ds
    from lastmile.dispatch.models import Route
    from tests.server.conftest import order_body

    builds = []
    real = ds.load_day
    monkeypatch.setattr(ds, "load_day", lambda *a, **k: builds.append(1) or real(*a, **k))
    ds._CACHE.clear()
    body = {"lat": 27.5421, "lon": -99.4891, "depot_id": world.ids["depot"], "start": TODAY.isoformat(), "days": 1}
    first = client.post("/slots/offer", json=body, headers=world.headers["shipper"]).json()["slots"]
    assert len(builds) == 1
    again = client.post("/slots/offer", json=body, headers=world.headers["shipper"]).json()["slots"]
    assert again == first and len(builds) == 1  # served from the day's version
    with db.session() as s:
        r = s.scalars(select(Route).where(Route.published.is_(True))).first()
        r.version = (r.version or 0) + 1  # what every live change to a route does
        s.commit()
    client.post("/slots/offer", json=body, headers=world.headers["shipper"])
    assert len(builds) == 2
    r = client.post("/orders", json={**order_body(world), "date": TODAY.isoformat()}, headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    client.post("/slots/offer", json=body, headers=world.headers["shipper"])
    assert len(builds) == 3  # a new order that day
