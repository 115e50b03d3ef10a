"""Splitting and merging routes, changing a priority and editing a draft plan before
publishing -- clicked in the dispatch console in real Chromium, with screenshots in
Spanish and English (tests/browser/screenshots/console-split-*, -merge-*, -priority-*,
-draft-edit-*)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

ZONE = "America/Chicago"
PASSWORD = "correct horse battery staple"
DEPOT = (27.5630, -99.4870)
PLACES = [(27.5306, -99.4803), (27.5420, -99.4910), (27.5510, -99.4700), (27.5200, -99.4950), (27.5600, -99.5000),
          (27.5380, -99.4600), (27.5150, -99.4750), (27.5700, -99.4800)]


def _org(live, tag: str, *, drivers: int, published: bool) -> dict:
    """An organization of its own: a depot, ``drivers`` drivers on shift today with a
    van each, and a plan of two routes of four stops (for the first two drivers),
    published or still a draft."""
    from lastmile.auth.models import Organization
    from lastmile.auth.service import create_user
    from lastmile.depots.models import Depot
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.dispatch.moves import load_day, write_route
    from lastmile.fleet.models import Driver, Shift, Vehicle
    from lastmile.kit.time import at_seconds
    from lastmile.orders.models import Order

    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    out: dict = {"day": today, "shifts": [], "routes": [], "orders": []}
    with live.db.session() as s:
        org = Organization(name=f"Reshape {tag}")
        s.add(org)
        s.flush()
        create_user(s, org.id, f"reshape-{tag}@example.com", PASSWORD, "dispatcher", name="Dora")
        depot = Depot(organization_id=org.id, name="Laredo Norte", lat=DEPOT[0], lon=DEPOT[1], timezone=ZONE)
        s.add(depot)
        s.flush()
        plan = Plan(organization_id=org.id, date=today, depot_ids=[depot.id], status="published" if published else "done",
                    created_by="test", stats={"routes": 2, "assigned": 8, "unassigned": 0}, unassigned=[],
                    progress=1.0)
        s.add(plan)
        s.flush()
        for n, name in enumerate(("Jorge", "Lupita", "Beto")[:drivers], 1):
            veh = Vehicle(organization_id=org.id, depot_id=depot.id, name=f"Van {n}", capacity_kg=500,
                          capacity_litres=2000, capacity_parcels=20)
            drv = Driver(organization_id=org.id, name=name)
            s.add_all([veh, drv])
            s.flush()
            sh = Shift(organization_id=org.id, driver_id=drv.id, vehicle_id=veh.id, depot_id=depot.id, date=today,
                       start_at=at_seconds(today, ZONE, 5 * 60), end_at=at_seconds(today, ZONE, 23 * 3600 + 55 * 60))
            s.add(sh)
            s.flush()
            out["shifts"].append(sh.id)
            if n > 2:
                continue
            r = Route(plan_id=plan.id, organization_id=org.id, vehicle_id=veh.id, driver_id=drv.id, shift_id=sh.id,
                      depot_id=depot.id, depart_at=sh.start_at, arrive_at=sh.start_at, distance_m=0, duration_s=0,
                      published=published)
            s.add(r)
            s.flush()
            out["routes"].append(r.id)
            for k, (lat, lon) in enumerate(PLACES[:4] if n == 1 else PLACES[4:], 1):
                o = Order(organization_id=org.id, depot_id=depot.id, date=today, lat=lat, lon=lon,
                          status="assigned" if published else "pending", reference=f"{tag[:1].upper()}{n}{k}",
                          contact_name=f"Cliente {n}{k}", contact_phone=f"+52 867 000 {n}{k:03d}",
                          address=f"{k} Calle {n}, Laredo", demand_parcels=1, service_s=300)
                s.add(o)
                s.flush()
                s.add(RouteStop(route_id=r.id, order_id=o.id, seq=k, arrival_at=sh.start_at, start_at=sh.start_at,
                                end_at=sh.start_at))
                out["orders"].append(o.id)
        s.flush()
        routes = list(s.query(Route).filter_by(plan_id=plan.id).order_by(Route.id))
        ld = load_day(s, org.id, today, routes=routes)
        for rid, rl in ld.routes.items():
            write_route(s, ld, rid, rl.seq)
        s.commit()
        out.update(org=org.id, plan=plan.id, email=f"reshape-{tag}@example.com")
    return out


def _sign_in(page, email: str) -> None:
    page.goto("/console")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)


def _remaining(live, route_id: str) -> list[str]:
    from lastmile.dispatch.models import RouteStop

    with live.db.session() as s:
        rows = s.query(RouteStop).filter_by(route_id=route_id).order_by(RouteStop.seq).all()
        return [x.order_id for x in rows if x.status not in ("done", "failed", "skipped")]


@pytest.fixture(scope="module")
def day(live):
    return _org(live, "live", drivers=3, published=True)


def test_split_merge_and_priority_from_the_console(page, live, day, screenshot, blocked, page_errors):
    from lastmile.dispatch.models import Route
    from lastmile.orders.models import Order

    shots = []
    r1, r2 = day["routes"]
    _sign_in(page, day["email"])
    expect(page.locator("#route-list .route")).to_have_count(2)

    # split: route 1's tail from stop 3 to Beto, who has no route yet
    page.click(f"#route-{r1} .route-head")
    page.click(f"#route-{r1} [data-action=split]")
    dialog = page.locator("#route-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#route-title")).to_have_text("Dividir ruta")
    page.fill("#split-from", "3")
    expect(page.locator("#split-stops input:checked")).to_have_count(2)
    page.select_option("#route-target", label="Ruta nueva: Beto (Van 3)")
    page.click("#route-check")
    expect(page.locator("#route-preview")).to_contain_text("Factible", timeout=30_000)
    expect(page.locator("#route-preview")).to_contain_text("2 paradas pasan")
    expect(page.locator("#route-preview")).to_contain_text("km")
    shots.append(screenshot(page, "console-split-es"))
    page.click("#route-apply")
    expect(dialog).to_be_hidden(timeout=30_000)
    expect(page.locator("#route-list .route")).to_have_count(3, timeout=20_000)
    tail = day["orders"][2:4]
    assert _remaining(live, r1) == day["orders"][:2]
    with live.db.session() as s:
        new = s.query(Route).filter_by(shift_id=day["shifts"][2]).one()
        assert new.published is True
    assert _remaining(live, new.id) == tail
    expect(page.locator(f"#route-{new.id} .progress-text")).to_have_text("0/2 paradas hechas")

    # merge by dragging: Lupita's route dropped on Jorge's -- Jorge takes her stops
    # (once the live messages of the split have come in: a redraw under the mouse would drop the drag)
    page.wait_for_timeout(500)
    page.wait_for_function("!window.__console.reloading", timeout=20_000)
    page.drag_and_drop(f"#route-{r2} .route-head", f"#route-{r1} .route-head")
    expect(dialog).to_be_visible()
    expect(page.locator("#route-title")).to_have_text("Unir rutas")
    expect(page.locator("#route-preview")).to_contain_text("4 paradas pasan", timeout=30_000)
    shots.append(screenshot(page, "console-merge-es"))
    page.click("#route-apply")
    expect(dialog).to_be_hidden(timeout=30_000)
    assert _remaining(live, r2) == []
    assert sorted(_remaining(live, r1)) == sorted(day["orders"][:2] + day["orders"][4:8])
    expect(page.locator(f"#route-{r1} .progress-text")).to_have_text("0/6 paradas hechas", timeout=20_000)

    # priority: the keyboard way (p on a stop), saved through the orders service
    first = page.locator(f"#route-{r1} .stop").first
    order_id = _remaining(live, r1)[0]
    first.focus()
    page.keyboard.press("p")
    expect(page.locator("#move-dialog")).to_be_visible()
    expect(page.locator("#move-priority")).to_be_focused()
    page.fill("#move-priority", "80")
    page.click("#move-priority-save")
    expect(page.locator("#toast")).to_contain_text("Prioridad cambiada a 80")
    shots.append(screenshot(page, "console-priority-es"))
    page.keyboard.press("Escape")
    expect(page.locator(f"#route-{r1} .stop").first.locator(".prio")).to_have_text("P80", timeout=20_000)
    with live.db.session() as s:
        assert s.get(Order, order_id).priority == 80

    # the stream says the page missed messages (kit/broadcast's resync): the day is read again
    from lastmile.kit.broadcast import publish

    loads = page.evaluate("window.__console.loads")
    publish(f"org:{day['org']}", {"type": "resync", "reason": "behind"})
    page.wait_for_function(f"window.__console.resyncs >= 1 && window.__console.loads > {loads}", timeout=20_000)
    expect(page.locator("#toast")).to_contain_text("Se perdieron actualizaciones")

    # English
    page.click(".topbar [data-lang=en]")
    page.locator(f"#route-{r1} .route-head").focus()
    page.keyboard.press("s")  # the keyboard way to split the focused route
    expect(page.locator("#route-title")).to_have_text("Split route")
    expect(page.locator("#route-target option")).to_contain_text(["Beto"])
    page.locator("#split-stops input").last.check()
    page.click("#route-check")
    expect(page.locator("#route-preview")).to_contain_text("1 stops move", timeout=30_000)
    shots.append(screenshot(page, "console-split-en"))
    page.keyboard.press("Escape")
    page.evaluate("localStorage.removeItem('lastmile.lang')")
    assert all(p.stat().st_size > 10_000 for p in shots)
    assert blocked == [] and page_errors == []


def test_a_draft_is_edited_in_the_console_then_published(page, live, screenshot, blocked, page_errors):
    from lastmile.dispatch.models import Route

    draft = _org(live, "draft", drivers=2, published=False)
    r1, r2 = draft["routes"]
    _sign_in(page, draft["email"])
    banner = page.locator("#draft-banner")
    expect(banner).to_be_visible()
    expect(page.locator("#route-list .route")).to_have_count(0)
    page.click("#show-draft")
    expect(page.locator("#draft-editing")).to_be_visible()
    expect(page.locator("#route-list .route")).to_have_count(2)
    expect(page.locator("#count-unassigned")).to_have_text("0")  # the draft's orders are planned
    # drag route 1's first stop to route 2
    page.click(f"#route-{r1} .route-head")
    moving = draft["orders"][0]
    stop_el = page.locator(f"#route-{r1} .stop").first
    page.drag_and_drop(f"#route-{r1} .stop >> nth=0", f"#route-{r2} .route-head")
    expect(page.locator("#move-dialog")).to_be_visible()
    expect(page.locator("#move-preview")).to_contain_text("Factible", timeout=30_000)
    page.click("#move-apply")
    expect(page.locator("#move-dialog")).to_be_hidden(timeout=30_000)
    assert moving in _remaining(live, r2) and moving not in _remaining(live, r1)
    # still a draft: nobody's phone has it
    with live.db.session() as s:
        assert s.get(Route, r2).published is False
    expect(stop_el).not_to_have_count(0)
    screenshot(page, "console-draft-edit-es")
    page.click("#publish")
    expect(banner).to_be_hidden(timeout=20_000)
    expect(page.locator(f"#route-{r2} .progress-text")).to_have_text("0/5 paradas hechas", timeout=20_000)
    with live.db.session() as s:
        assert s.get(Route, r2).published is True and s.get(Route, r1).published is True
    assert moving in _remaining(live, r2)
    assert blocked == [] and page_errors == []
