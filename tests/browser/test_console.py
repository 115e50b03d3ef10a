"""The dispatch console in real Chromium: a dispatcher signs in, imports a CSV,
optimizes, publishes, drags a stop to another route and applies the move, watches a
driver move, sees an alert and opens its stop, and switches language -- with a
screenshot of every screen in Spanish and English (tests/browser/screenshots/console-*)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

ZONE = "America/Chicago"
PASSWORD = "correct horse battery staple"
DEPOT = (27.5630, -99.4870)
# ten good rows (one parcel each; vans carry six, so two routes) and one bad row
ROWS = [(f"C{i:02d}", name, lat, lon) for i, (name, lat, lon) in enumerate([
    ("Ana Peña", 27.5306, -99.4803), ("Luis Garza", 27.5036, -99.5076), ("Marta Ruiz", 27.5480, -99.4650),
    ("Jorge Sosa", 27.5200, -99.4900), ("Rosa Vela", 27.5600, -99.4800), ("Iván Cruz", 27.5150, -99.4700),
    ("Elsa Lara", 27.5400, -99.5000), ("Tomás Gil", 27.5250, -99.4600), ("Nora Paz", 27.5550, -99.4950),
    ("Raúl Ortiz", 27.5100, -99.4850)], start=1)]
CSV = "id,name,address,lat,lon,kg,parcels,window_start,window_end,language,phone\n" + "".join(
    f"{ref},{name},{i * 100} Main St Laredo,{lat},{lon},1,1,00:10,23:50,es,+1 956 555 01{i:02d}\n"
    for i, (ref, name, lat, lon) in enumerate(ROWS, start=1)) + "C99,Bad Row,x,127.5,-99.48,1,1,,,es,\n"


@pytest.fixture(scope="module")
def fleet(live):
    """An organization of its own (other browser tests share the server): a depot, two
    vans with shifts today, a dispatcher and two drivers; and a worker thread that runs
    queued plans (what `lastmile worker` does)."""
    from lastmile.auth.service import create_user, issue_token
    from lastmile.auth.models import Organization
    from lastmile.depots.models import Depot
    from lastmile.dispatch.models import Plan
    from lastmile.dispatch.service import run_plan
    from lastmile.fleet.models import Driver, Shift, Vehicle
    from lastmile.kit.time import at_seconds

    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    with live.db.session() as s:
        org = Organization(name="Console Fleet")
        s.add(org)
        s.flush()
        create_user(s, org.id, "console-dispatcher@example.com", PASSWORD, "dispatcher", name="Dora")
        depot = Depot(organization_id=org.id, name="Laredo Norte", lat=DEPOT[0], lon=DEPOT[1], timezone=ZONE)
        s.add(depot)
        s.flush()
        drivers, tokens = [], []
        for n, name in ((1, "Jorge"), (2, "Lupita")):
            user = create_user(s, org.id, f"console-driver{n}@example.com", PASSWORD, "driver", name=name)
            veh = Vehicle(organization_id=org.id, depot_id=depot.id, name=f"Van {n}", capacity_kg=500,
                          capacity_litres=2000, capacity_parcels=6)
            drv = Driver(organization_id=org.id, name=name, user_id=user.id)
            s.add_all([veh, drv])
            s.flush()
            s.add(Shift(organization_id=org.id, driver_id=drv.id, vehicle_id=veh.id, depot_id=depot.id, date=today,
                        start_at=at_seconds(today, ZONE, 5 * 60), end_at=at_seconds(today, ZONE, 23 * 3600 + 55 * 60)))
            drivers.append(drv.id)
            tokens.append(issue_token(s, live.settings, user, "bearer")[0])
        s.commit()
        org_id, depot_id = org.id, depot.id

    stop = threading.Event()

    def worker() -> None:
        from sqlalchemy import select

        while not stop.is_set():
            with live.db.session() as s:
                queued = list(s.scalars(select(Plan.id).where(Plan.organization_id == org_id, Plan.status == "queued")))
            for plan_id in queued:
                run_plan(live.db, plan_id)
            stop.wait(0.3)

    thread = threading.Thread(target=worker, name="console-test-worker", daemon=True)
    thread.start()
    yield {"org": org_id, "depot": depot_id, "day": today, "drivers": drivers, "driver_tokens": tokens}
    stop.set()
    thread.join(10)


def _login(page, email=("console-dispatcher@example.com", PASSWORD)) -> None:
    page.fill("input[name=email]", email[0])
    page.fill("input[name=password]", email[1])
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)


def _routes(live, org_id):
    from sqlalchemy import select

    from lastmile.dispatch.models import Route, RouteStop

    with live.db.session() as s:
        out = {}
        for r in s.scalars(select(Route).where(Route.organization_id == org_id, Route.published.is_(True))
                           .order_by(Route.id)):
            out[r.id] = [x.id for x in s.scalars(select(RouteStop).where(RouteStop.route_id == r.id,
                                                                         RouteStop.status != "skipped")
                                                 .order_by(RouteStop.seq))]
        return out


def _post_positions(live, token: str, positions: list[dict]) -> int:
    req = urllib.request.Request(f"{live.url}/tracking/positions", data=json.dumps({"positions": positions}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_a_dispatcher_runs_the_day_from_the_console(page, live, fleet, screenshot, blocked, page_errors):
    shots: list = []
    page.goto("/console")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("button[type=submit]")).to_have_text("Entrar")  # es-MX browser: Spanish
    shots.append(screenshot(page, "console-login-es"))
    _login(page)
    expect(page.locator(".topbar .title")).to_have_text("Consola de despacho")
    expect(page.locator("#route-list")).to_contain_text("No hay rutas publicadas")

    # import the CSV: ten orders saved, the bad row reported with its line
    page.click("[data-tab=unassigned]")
    page.set_input_files("#import-file", files=[{"name": "dia.csv", "mimeType": "text/csv", "buffer": CSV.encode()}])
    report = page.locator("#import-report")
    expect(report).to_contain_text("10 pedidos importados, 1 filas con error")
    expect(report).to_contain_text("Línea 12")
    expect(page.locator("#unassigned-list .order")).to_have_count(10)
    expect(page.locator("#count-unassigned")).to_have_text("10")
    shots.append(screenshot(page, "console-import-es"))

    # optimize: progress, then the draft banner with the plan; publish it
    page.click("#optimize")
    banner = page.locator("#draft-banner")
    expect(banner).to_be_visible(timeout=90_000)
    expect(banner).to_contain_text("Plan listo: 2 rutas, 10 pedidos asignados, 0 sin asignar")
    expect(page.locator("#route-list .route")).to_have_count(2)
    shots.append(screenshot(page, "console-draft-es"))
    page.click("#publish")
    expect(banner).to_be_hidden(timeout=20_000)
    expect(page.locator("#count-unassigned")).to_have_text("0")
    expect(page.locator("#route-list .route")).to_have_count(2)
    before = _routes(live, fleet["org"])
    assert sorted(len(v) for v in before.values()) in ([4, 6], [5, 5])
    src_route, dst_route = sorted(before, key=lambda r: -len(before[r]))
    expect(page.locator(f"#route-{src_route} .progress-text")).to_have_text(f"0/{len(before[src_route])} paradas hechas")
    assert page.locator(".leaflet-overlay-pane canvas").count() >= 1  # stops and lines on the canvas

    # drag the first stop of the longer route onto the other route: preview, then apply
    page.click(f"#route-{src_route} .route-head")
    moving = before[src_route][0]
    page.drag_and_drop(f"#stop-{moving}", f"#route-{dst_route} .route-head")
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#move-preview")).to_contain_text("min", timeout=30_000)
    expect(page.locator("#move-preview")).to_contain_text("Factible")
    shots.append(screenshot(page, "console-move-es"))
    page.click("#move-apply")
    expect(dialog).to_be_hidden(timeout=30_000)
    after = _routes(live, fleet["org"])
    assert moving not in after[src_route] and len(after[dst_route]) == len(before[dst_route]) + 1
    expect(page.locator(f"#route-{dst_route} .progress-text")).to_have_text(
        f"0/{len(after[dst_route])} paradas hechas", timeout=20_000)

    # a driver drives: positions through the tracking API arrive over the live stream
    driver_of = {}
    from lastmile.dispatch.models import Route

    with live.db.session() as s:
        for rid in after:
            driver_of[rid] = s.get(Route, rid).driver_id
    token = fleet["driver_tokens"][fleet["drivers"].index(driver_of[dst_route])]
    now = datetime.now(UTC)
    track = [(27.5630, -99.4870), (27.5600, -99.4860), (27.5570, -99.4850), (27.5540, -99.4840)]
    status = _post_positions(live, token, [{"lat": lat, "lon": lon, "at": (now - timedelta(seconds=100 - 10 * i)).isoformat(),
                                            "accuracy": 8, "speed": 9.0, "bearing": 170}
                                           for i, (lat, lon) in enumerate(track)])
    if status == 404:  # tracking not installed: publish what it would
        from lastmile.kit.broadcast import publish

        for lat, lon in track:
            publish(f"org:{fleet['org']}", {"type": "position", "driver_id": driver_of[dst_route],
                                            "route_id": dst_route, "lat": lat, "lon": lon,
                                            "at": now.isoformat(), "speed": 9.0, "bearing": 170})
    else:
        assert status == 200
    expect(page.locator(".driver-icon")).to_have_count(1, timeout=20_000)
    page.wait_for_function("window.__console.positions >= 1", timeout=20_000)
    box1 = page.locator(".driver-icon").bounding_box()
    second = [(27.5520, -99.4830), (27.5510, -99.4825)]  # ~10 m/s: plausible for the tracking filters
    if status == 404:
        from lastmile.kit.broadcast import publish

        for lat, lon in second:
            publish(f"org:{fleet['org']}", {"type": "position", "driver_id": driver_of[dst_route],
                                            "route_id": dst_route, "lat": lat, "lon": lon,
                                            "at": datetime.now(UTC).isoformat(), "speed": 9.0, "bearing": 150})
    else:
        assert _post_positions(live, token, [{"lat": lat, "lon": lon, "accuracy": 8, "speed": 9.0, "bearing": 150,
                                              "at": (now - timedelta(seconds=20 - 10 * i)).isoformat()}
                                             for i, (lat, lon) in enumerate(second)]) == 200
    page.wait_for_function(f"(() => {{ const b = document.querySelector('.driver-icon').getBoundingClientRect();"
                           f" return Math.abs(b.y - {box1['y']}) > 3 || Math.abs(b.x - {box1['x']}) > 3; }})()",
                           timeout=20_000)
    shots.append(screenshot(page, "console-live-es"))

    # a failed attempt raises an alert; one click opens its stop
    from lastmile.dispatch import live as live_day
    from lastmile.dispatch.models import RouteStop

    failing = after[dst_route][-1]
    with live.db.session() as s:
        live_day.mark_stop(s, s.get(RouteStop, failing), "failed", at=datetime.now(UTC), actor="system",
                           reason="not_home")
        s.commit()
    expect(page.locator("#count-alerts")).not_to_have_text("0", timeout=20_000)
    page.click("[data-tab=alerts]")
    alert = page.locator(f"#alert-list [data-stop='{failing}']")
    expect(alert).to_contain_text("Fallida")
    expect(alert).to_contain_text("intento de entrega fallido")
    shots.append(screenshot(page, "console-alerts-es"))
    alert.click()
    expect(page.locator(f"#stop-{failing}")).to_be_visible()
    expect(page.locator(f"#stop-{failing}")).to_contain_text("fallida")
    expect(page.locator(".leaflet-popup-content")).to_contain_text("fallida")
    shots.append(screenshot(page, "console-stop-es"))

    # a customer writes from the tracking page: a message alert, answered from the panel
    from lastmile.orders.models import Order
    from lastmile.orders.service import issue_tracking_token

    with live.db.session() as s:
        asking = s.get(RouteStop, after[dst_route][0])
        tracking = issue_tracking_token(s, s.get(Order, asking.order_id))
        s.commit()
    req = urllib.request.Request(f"{live.url}/t/{tracking}/messages", data=json.dumps(
        {"body": "¿Puede tocar el timbre dos veces?"}).encode(), headers={"Content-Type": "application/json"})
    try:
        posted = urllib.request.urlopen(req, timeout=20).status
    except urllib.error.HTTPError as e:
        posted = e.code
    if posted != 404:  # the portal is installed
        assert posted == 201
        page.click("[data-tab=alerts]")
        message = page.locator(f"#alert-list li:has([data-stop='{asking.id}'])")
        expect(message).to_contain_text("timbre dos veces", timeout=20_000)
        expect(message).to_contain_text("Mensaje")
        shots.append(screenshot(page, "console-message-es"))
        message.locator("input[name=body]").fill("Claro, con gusto")
        message.locator("button[type=submit]").click()
        expect(page.locator(f"#alert-list [data-stop='{asking.id}']")).to_have_count(0, timeout=20_000)
        page.click(f"#alert-list [data-stop='{failing}']")

    # search by phone, however typed
    page.keyboard.press("Escape")
    page.locator("#map").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("956 555 0103")
    expect(page.locator("#search-results li[data-order]")).to_have_count(1)
    expect(page.locator("#search-results")).to_contain_text("C03")
    shots.append(screenshot(page, "console-search-es"))
    page.keyboard.press("Enter")
    expect(page.locator("#search-results")).to_be_hidden()

    # English: the switch overrides the browser and is remembered
    page.click(".topbar [data-lang=en]")
    expect(page.locator(".topbar .title")).to_have_text("Dispatch console")
    expect(page.locator("[data-tab=alerts]")).to_contain_text("Alerts")
    expect(page.locator(f"#stop-{failing}")).to_contain_text("failed")
    shots.append(screenshot(page, "console-stop-en"))
    page.click("[data-tab=alerts]")
    expect(page.locator(f"#alert-list [data-stop='{failing}']")).to_contain_text("delivery attempt failed")
    shots.append(screenshot(page, "console-alerts-en"))
    page.click("[data-tab=unassigned]")
    expect(page.locator("#import-report")).to_contain_text("10 orders imported, 1 rows with errors")
    expect(page.locator("#live-state")).to_have_text("Live")
    shots.append(screenshot(page, "console-import-en"))
    page.click("[data-tab=routes]")
    page.locator(f"#route-{dst_route} .stop").first.focus()
    page.keyboard.press("m")  # the keyboard way to move a stop
    expect(page.locator("#move-dialog")).to_be_visible()
    expect(page.locator("#move-dialog h2")).to_have_text("Move stop")
    page.click("#move-check")
    expect(page.locator("#move-preview")).to_contain_text("late stops", timeout=30_000)
    shots.append(screenshot(page, "console-move-en"))
    page.keyboard.press("Escape")
    expect(page.locator("#move-dialog")).to_be_hidden()
    shots.append(screenshot(page, "console-live-en"))
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(".topbar .title")).to_have_text("Dispatch console")  # remembered
    page.evaluate("localStorage.removeItem('lastmile.lang')")

    assert all(p.stat().st_size > 10_000 for p in shots)
    assert blocked == [] and page_errors == []


def test_the_login_screen_follows_an_english_browser_and_refuses_bad_passwords(browser, live, screenshot, fleet):
    context = browser.new_context(base_url=live.url, locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto("/console")
        expect(page.locator("button[type=submit]")).to_have_text("Sign in")
        page.fill("input[name=email]", "console-dispatcher@example.com")
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("Wrong email or password")
        screenshot(page, "console-login-en")
        # a driver who signs in is told the console is not for them
        page.fill("input[name=email]", "console-driver1@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("body")).to_contain_text("The console is for dispatchers")
    finally:
        context.close()
