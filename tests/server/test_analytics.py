"""Analytics KPIs from a real published day driven through dispatch/live.py."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from .conftest import TODAY, utc

Q = {"start": TODAY.isoformat(), "end": TODAY.isoformat()}


def _play_day(db, published_day, world):
    """Driver 1: first stop on time, second late (after the 12:00 window end), third
    failed (not home). Driver 2: first stop on time; the rest still planned."""
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route, RouteStop

    routes = published_day["routes"]
    with db.session() as s:
        r1 = s.scalars(select(RouteStop).where(RouteStop.route_id == routes[world.ids["driver_id1"]]["id"])
                       .order_by(RouteStop.seq)).all()
        r2 = s.scalars(select(RouteStop).where(RouteStop.route_id == routes[world.ids["driver_id2"]]["id"])
                       .order_by(RouteStop.seq)).all()
        live.start_route(s, s.get(Route, r1[0].route_id), utc(2026, 11, 25, 14, 30), "system")
        live.mark_stop(s, r1[0], "arrived", at=utc(2026, 11, 25, 15, 20), actor="system")
        live.mark_stop(s, r1[0], "done", at=utc(2026, 11, 25, 15, 25), actor="system")
        live.mark_stop(s, r1[1], "arrived", at=utc(2026, 11, 25, 18, 30), actor="system")  # window ends 18:00 UTC
        live.mark_stop(s, r1[1], "done", at=utc(2026, 11, 25, 18, 35), actor="system")
        live.mark_stop(s, r1[2], "failed", at=utc(2026, 11, 25, 18, 50), actor="system", reason="not_home")
        live.finish_route(s, s.get(Route, r1[0].route_id), utc(2026, 11, 25, 19, 30), "system")
        live.mark_stop(s, r2[0], "done", at=utc(2026, 11, 25, 16, 0), actor="system")
        s.commit()


def test_kpis_per_driver_follow_what_happened(client, world, db, published_day):
    _play_day(db, published_day, world)
    d = world.headers["dispatcher"]
    r = client.get("/analytics/kpis", params={**Q, "group": "driver"}, headers=d)
    assert r.status_code == 200, r.text
    rows = {row["key"]: row for row in r.json()["rows"]}
    one, two = rows[world.ids["driver_id1"]], rows[world.ids["driver_id2"]]
    assert (one["stops"], one["delivered"], one["failed"]) == (3, 2, 1)
    assert one["on_time_rate"] == 0.5
    assert one["first_attempt_rate"] == round(2 / 3, 4)
    assert one["failed_by_reason"] == {"not_home": 1}
    assert one["driver_hours"] == 5.0 and one["hours_source"] == "actual"  # 14:30 -> 19:30
    assert one["deliveries_per_driver_hour"] == 0.4
    planned_m = published_day["routes"][world.ids["driver_id1"]]["distance_m"]
    assert one["km"] == round(planned_m / 1000, 1) and one["km_per_delivery"] == round(planned_m / 1000 / 2, 2)
    assert (two["delivered"], two["failed"], two["on_time_rate"]) == (1, 0, 1.0)
    assert two["hours_source"] == "planned"
    total = client.get("/analytics/kpis", params=Q, headers=d).json()["rows"]
    assert len(total) == 1 and total[0]["delivered"] == 3 and total[0]["stops"] == 6


def test_kpis_csv_and_range_checks(client, world, db, published_day):
    _play_day(db, published_day, world)
    d = world.headers["dispatcher"]
    r = client.get("/analytics/kpis.csv", params={**Q, "group": "depot"}, headers=d)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1 and rows[0]["name"] == "Laredo North" and rows[0]["delivered"] == "3"
    assert rows[0]["failed_by_reason"] == "not_home=1"
    bad = client.get("/analytics/kpis", params={"start": "2026-11-25", "end": "2026-11-24"}, headers=d)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "end"


def test_scorecards_show_a_driver_only_their_own_row(client, world, db, published_day):
    _play_day(db, published_day, world)
    mine = client.get("/analytics/scorecards", params=Q, headers=world.headers["driver"]).json()["rows"]
    assert [r["key"] for r in mine] == [world.ids["driver_id1"]]
    every = client.get("/analytics/scorecards", params=Q, headers=world.headers["dispatcher"]).json()["rows"]
    assert {r["key"] for r in every} == {world.ids["driver_id1"], world.ids["driver_id2"]}


def test_a_shipper_sees_only_its_own_orders(client, world, db, published_day):
    _play_day(db, published_day, world)
    other = client.get("/analytics/kpis", params=Q, headers=world.headers["shipper2"]).json()["rows"]
    assert other == [] or all(r["stops"] == 0 for r in other)
    own = client.get("/analytics/kpis", params={**Q, "shipper_id": world.ids["shipper2"]},
                     headers=world.headers["shipper"]).json()["rows"]
    assert own[0]["stops"] == 6  # the shipper_id asked for is ignored: its own orders


def test_roi_compares_the_published_plan_with_a_naive_dispatcher(client, world, db, published_day):
    r = client.get("/analytics/roi", params=Q, headers=world.headers["dispatcher"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["plans"] == 1
    ours, naive = body["lastmile"], body["naive"]
    assert ours["deliveries"] == 6 and ours["km"] == round(published_day["plan"]["stats"]["distance_m"] / 1000, 1)
    assert naive["deliveries"] + naive["not_served"] == 6
    # the optimizer is never worse than first-come-nearest-driver on the same orders
    assert ours["km_per_delivery"] <= naive["km_per_delivery"]
    assert body["savings"]["km_saved"] == round(naive["km"] - ours["km"], 1)
    assert client.get("/analytics/roi", params=Q, headers=world.headers["shipper"]).status_code == 403


def test_actual_km_and_speeding_come_from_the_drivers_pings(client, world, db, published_day):
    from lastmile.tracking.models import Position

    _play_day(db, published_day, world)
    d1 = world.ids["driver_id1"]
    with db.session() as s:  # three pings 1.11 km apart going north, one at 40 m/s (144 km/h)
        for i, speed in enumerate((10.0, 40.0, 12.0)):
            s.add(Position(organization_id=world.org, driver_id=d1, source="app", at=utc(2026, 11, 25, 15, i),
                           received_at=utc(2026, 11, 25, 15, i), lat=27.50 + 0.01 * i, lon=-99.50, speed_mps=speed))
        s.commit()
    rows = {r["key"]: r for r in client.get("/analytics/kpis", params={**Q, "group": "driver"},
                                            headers=world.headers["dispatcher"]).json()["rows"]}
    assert rows[d1]["actual_km"] == 2.2 and rows[d1]["speeding_fixes"] == 1
    assert rows[world.ids["driver_id2"]]["actual_km"] is None


def test_roi_pdf_is_a_pdf_with_the_figures(client, world, db, published_day):
    r = client.get("/analytics/roi.pdf", params=Q, headers=world.headers["dispatcher"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    from pypdf import PdfReader

    text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    km = client.get("/analytics/roi", params=Q, headers=world.headers["dispatcher"]).json()["lastmile"]["km"]
    assert "lastmile ROI" in text and f"{km:.1f}" in text
