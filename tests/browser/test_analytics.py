"""The analytics page in real Chromium: KPIs of a played day, charts, CSV link, ROI."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

DAY = date(2026, 10, 14)  # a day of its own in the shared browser-test database


def _utc(h: int, m: int = 0) -> datetime:
    return datetime(2026, 10, 14, h, m, tzinfo=UTC)


@pytest.fixture(scope="module")
def played_day(live):
    """A real plan for DAY (engine), published, then driven: 3 delivered (one late),
    1 failed (not home)."""
    from sqlalchemy import select

    from lastmile.auth.access import Principal
    from lastmile.auth.models import User
    from lastmile.depots.models import Depot
    from lastmile.dispatch import live as live_ops
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.dispatch.service import publish_plan, run_plan
    from lastmile.fleet.models import Driver, Shift, Vehicle
    from lastmile.kit.time import at_seconds
    from lastmile.orders.models import Order

    db = live.db
    with db.session() as s:
        user = s.scalars(select(User).where(User.email == "dispatcher@example.com")).one()
        org = user.organization_id
        depot = Depot(organization_id=org, name="Analytics North", lat=27.5630, lon=-99.4870, timezone="America/Chicago")
        s.add(depot)
        s.flush()
        veh = Vehicle(organization_id=org, depot_id=depot.id, name="Van A", capacity_parcels=60, cost_per_km=45,
                      cost_per_hour=1800)
        drv = Driver(organization_id=org, name="Ana")
        s.add_all([veh, drv])
        s.flush()
        s.add(Shift(organization_id=org, driver_id=drv.id, vehicle_id=veh.id, depot_id=depot.id, date=DAY,
                    start_at=at_seconds(DAY, "America/Chicago", 8 * 3600),
                    end_at=at_seconds(DAY, "America/Chicago", 18 * 3600)))
        for i, (lat, lon) in enumerate([(27.5306, -99.4803), (27.5036, -99.5076), (27.5480, -99.4650),
                                        (27.5200, -99.4900)]):
            s.add(Order(organization_id=org, depot_id=depot.id, date=DAY, reference=f"AN{i}", lat=lat, lon=lon,
                        contact_name=f"Cliente {i}", windows=[{"start": "2026-10-14T14:00:00+00:00",
                                                                "end": "2026-10-14T18:00:00+00:00"}]))
        plan = Plan(organization_id=org, date=DAY, depot_ids=[depot.id], created_by=user.id,
                    options={"time_limit_s": 1, "seed": 1})
        s.add(plan)
        s.commit()
        plan_id, p = plan.id, Principal("dispatcher", user.id, org)
    assert run_plan(db, plan_id) == "done"
    with db.session() as s:
        publish_plan(s, p, s.get(Plan, plan_id))
        route = s.scalars(select(Route).where(Route.plan_id == plan_id)).one()
        stops = s.scalars(select(RouteStop).where(RouteStop.route_id == route.id).order_by(RouteStop.seq)).all()
        live_ops.start_route(s, route, _utc(13, 30), "system")
        for stop, (h, m) in zip(stops[:3], [(14, 10), (15, 0), (18, 20)]):  # the third is late
            live_ops.mark_stop(s, stop, "done", at=_utc(h, m), actor="system")
        live_ops.mark_stop(s, stops[3], "failed", at=_utc(18, 40), actor="system", reason="not_home")
        live_ops.finish_route(s, route, _utc(19, 30), "system")
        s.commit()
    return {"depot": depot.id}


def test_analytics_page_shows_the_days_numbers_in_both_languages(page, login, played_day, screenshot, page_errors,
                                                                 blocked):
    login(page, "dispatcher")
    page.goto(f"/analytics?start={DAY}&end={DAY}&group=depot")
    page.wait_for_selector("body[data-loaded=true]")
    assert page.locator("[data-card='card.delivered'] .value").inner_text() == "3"
    assert page.locator("[data-card='card.ontime'] .value").inner_text() == "66.7 %"
    assert page.locator("[data-card='card.first'] .value").inner_text() == "75.0 %"
    row = page.locator("#kpi-table tbody tr", has_text="Analytics North")
    assert row.locator("[data-col=failed]").inner_text() == "1"
    assert "/analytics/kpis.csv?" in page.locator("#csv").get_attribute("href")
    page.click("#roi-run")
    page.wait_for_selector("#roi-table")
    lastmile_km = float(page.locator("#roi-table tr[data-metric='roi.km'] td").nth(1).inner_text())
    naive_km = float(page.locator("#roi-table tr[data-metric='roi.km'] td").nth(2).inner_text())
    assert 0 < lastmile_km <= naive_km
    screenshot(page, "analytics-es")
    page.click("[data-lang=en]")
    assert page.locator("figcaption").first.inner_text() == "On-time and first-attempt success"
    screenshot(page, "analytics-en")
    assert not page_errors and not blocked


def test_analytics_page_asks_for_a_login(browser, live):
    ctx = browser.new_context(base_url=live.url)
    pg = ctx.new_page()
    pg.goto("/analytics")
    assert pg.locator("#login-form").is_visible()
    ctx.close()
