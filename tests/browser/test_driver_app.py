"""The driver app (/driver) on an emulated phone in real Chromium: sign in, work a route
offline (proof of delivery with signature, photo, typed scan and cash on delivery; a
failed attempt), see the queue, come back online and find every action on the server
exactly once; the queue survives a reload while offline; screenshots in both languages.

Each test makes its own driver and published route in the live server's database, so
the tests do not see each other's work."""

from __future__ import annotations

import io
import itertools
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from .conftest import PASSWORD, open_page

PHONE = {"width": 360, "height": 740}
HERE = (27.5306, -99.4803)  # the driver, in Laredo
STOPS = [  # lat, lon, name, COD (minor units, currency) or None
    (27.5310, -99.4790, "Lupita Garza", (85000, "MXN")),
    (27.5036, -99.5076, "Mr. Peña", None),
    (27.5480, -99.4650, "Farmacia Benavides", (2500, "USD")),
    (27.5200, -99.4900, "Roberto Salinas", None),
    (27.5600, -99.4800, "Ana Treviño", None),
]
_n = itertools.count(1)


def _paths(live) -> dict:
    if not hasattr(live, "driver_app_paths"):
        live.driver_app_paths = httpx.get(f"{live.url}/openapi.json", timeout=60).json().get("paths", {})
    return live.driver_app_paths


def _has_pod_api(live) -> bool:
    paths = _paths(live)
    return "/driver/actions" in paths and "/driver/today" in paths


def seed_route(live, stops=STOPS, parcels: int = 1, kinds: dict[int, str] | None = None) -> dict:
    """A new driver (user + profile) with a published route of today at a Laredo depot."""
    from lastmile.auth.models import User
    from lastmile.auth.service import create_user
    from lastmile.depots.models import Depot
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.fleet.models import Driver, Vehicle
    from lastmile.orders.models import Order

    n = next(_n)
    zone = "America/Chicago"
    today = datetime.now(ZoneInfo(zone)).date()
    now = datetime.now(ZoneInfo("UTC")).replace(microsecond=0)
    with live.db.session() as s:
        org = s.query(User).filter_by(email=live.users["admin"][0]).one().organization_id
        email = f"driver{n}-{now.timestamp():.0f}@example.com"
        user = create_user(s, org, email, PASSWORD, "driver", name=f"Driver {n}")
        depot = Depot(organization_id=org, name=f"Laredo {n}", lat=27.5630, lon=-99.4870, timezone=zone)
        s.add(depot)
        s.flush()
        driver = Driver(organization_id=org, name=f"Jorge {n}", user_id=user.id)
        vehicle = Vehicle(organization_id=org, depot_id=depot.id, name=f"Van {n}")
        s.add_all([driver, vehicle])
        s.flush()
        plan = Plan(organization_id=org, date=today, depot_ids=[depot.id], status="done", created_by=user.id,
                    published_at=now)
        s.add(plan)
        s.flush()
        route = Route(plan_id=plan.id, organization_id=org, vehicle_id=vehicle.id, driver_id=driver.id,
                      depot_id=depot.id, depart_at=now, arrive_at=now + timedelta(hours=4), distance_m=30_000,
                      duration_s=4 * 3600, published=True)
        s.add(route)
        s.flush()
        out = {"email": email, "route_id": route.id, "driver_id": driver.id, "stops": [], "orders": [], "codes": []}
        for i, (lat, lon, name, cod) in enumerate(stops, start=1):
            codes = [f"LM{n:02d}{i:02d}{k}" for k in range(1, parcels + 1)]
            order = Order(organization_id=org, depot_id=depot.id, date=today, status="assigned", lat=lat, lon=lon,
                          kind=(kinds or {}).get(i, "delivery"),
                          address=f"{100 * i} Calle Hidalgo, Laredo, TX", contact_name=name,
                          contact_phone="+1 956 555 01%02d" % i, instructions="Tocar el timbre dos veces" if i == 1
                          else "", demand_parcels=parcels, cod_amount=cod[0] if cod else 0,
                          cod_currency=cod[1] if cod else None, reference=f"R{n}-{i}",
                          items=[{"sku": f"SKU{i}", "barcode": c, "quantity": 1} for c in codes])
            s.add(order)
            s.flush()
            at = now + timedelta(minutes=20 * i)
            stop = RouteStop(route_id=route.id, order_id=order.id, seq=i, arrival_at=at, start_at=at,
                             end_at=at + timedelta(minutes=5))
            s.add(stop)
            s.flush()
            out["stops"].append(stop.id)
            out["orders"].append(order.id)
            out["codes"].append(codes)
        s.commit()
    return out


@pytest.fixture
def phone(browser, live, blocked, page_errors, request):
    """A phone: 360×740, touch, a fixed GPS fix with permission, Spanish unless the test
    asks (``@pytest.mark.parametrize("phone", ["en-US"], indirect=True)``)."""
    locale = getattr(request, "param", "es-MX")
    context = browser.new_context(base_url=live.url, viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale=locale, timezone_id="America/Chicago", geolocation={"latitude": HERE[0], "longitude": HERE[1],
                                                                              "accuracy": 8},
                                  permissions=["geolocation"])

    yield open_page(context, blocked, page_errors)
    context.close()


@pytest.fixture(scope="module")
def jpeg(tmp_path_factory) -> Path:
    """A camera-sized test photo (3000×2000 JPEG) to feed the photo input."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (3000, 2000), (200, 160, 90))
    draw = ImageDraw.Draw(img)
    for x in range(0, 3000, 150):
        draw.rectangle([x, 600, x + 70, 1400], fill=(40, 40, 40))
    path = tmp_path_factory.mktemp("photos") / "door.jpg"
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    path.write_bytes(buf.getvalue())
    return path


def admin_api(live) -> httpx.Client:
    email, password = live.users["admin"]
    r = httpx.post(f"{live.url}/auth/token", json={"email": email, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {r.json()['access_token']}"}, timeout=10)


def fits(page) -> None:
    """Nothing wider than the 360-px screen (no sideways scrolling)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def sign_in(page, email: str) -> None:
    page.goto("/driver")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[data-form=login] button[type=submit]").tap()
    page.locator("ol.stops").wait_for(state="visible", timeout=15_000)
    # the service worker has the shell before we go offline
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def waiting(page) -> int:
    el = page.locator("#outbox")
    return int(el.get_attribute("data-waiting") or 0) if el.is_visible() else 0


def sign(page) -> None:
    canvas = page.locator("canvas#sig")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 200
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(1, 12):
        page.mouse.move(x + 25 * k, y + (25 if k % 2 else -25), steps=3)
    page.mouse.up()


def deliver(page, stop_index: int, seeded: dict, jpeg: Path, cod: str | None = None, recipient="Lupita") -> None:
    page.locator(f"button.stop[data-id='{seeded['stops'][stop_index]}']").tap()
    page.locator("[data-act=deliver]").tap()
    page.locator("form[data-form=deliver]").wait_for()
    for code in seeded["codes"][stop_index]:
        page.locator("input#code").fill(code)
        page.locator("[data-act=add-code]").tap()
    page.set_input_files("input#photo", str(jpeg))
    page.locator(".thumbs img").first.wait_for()
    sign(page)
    page.locator("input[name=recipient]").fill(recipient)
    if cod is not None:
        page.locator("input[name=codAmount]").fill(cod)
    page.locator("#complete").tap()
    page.locator("ol.stops").wait_for()


def test_the_shell_manifest_and_worker_are_served(page, live):
    r = page.request.get("/driver")
    assert r.status == 200 and "text/html" in r.headers["content-type"]
    html = r.text()
    assert "/static/driver/app.js" in html and "/static/vendor/signature_pad/" in html
    m = page.request.get("/driver/manifest.webmanifest").json()
    assert m["start_url"] == "/driver" and m["scope"] == "/driver" and m["display"] == "standalone"
    assert {i["sizes"] for i in m["icons"]} >= {"192x192", "512x512"}
    for icon in m["icons"]:
        got = page.request.get(icon["src"])
        assert got.status == 200 and got.body()[:8] == b"\x89PNG\r\n\x1a\n"
    sw = page.request.get("/driver/sw.js")
    assert sw.status == 200 and sw.headers["service-worker-allowed"] == "/driver"
    assert "__RELEASE__" not in sw.text() and "/static/driver/app.js" in sw.text()
    assert page.request.get("/static/driver/../driver.py").status == 404
    assert page.request.get("/static/driver/nothere.js").status == 404


def test_a_route_worked_offline_is_replayed_once(phone, live, jpeg, blocked, page_errors, screenshot):
    if not _has_pod_api(live):
        pytest.skip("the driver API (/driver/actions) is not in this build yet")
    seeded = seed_route(live)
    page = phone
    sign_in(page, seeded["email"])
    assert page.locator("button.stop").count() == 5
    screenshot(page, "driver-route-es")
    page.context.set_offline(True)
    page.locator("#net.net-off").wait_for()

    deliver(page, 0, seeded, jpeg, cod="850")
    deliver(page, 1, seeded, jpeg)
    deliver(page, 2, seeded, jpeg, cod="25.00")
    # a failed attempt: not home, with a photo
    page.locator(f"button.stop[data-id='{seeded['stops'][3]}']").tap()
    page.locator("[data-act=fail]").tap()
    page.locator("label.reason", has=page.locator("input[value=not_home]")).tap()
    page.set_input_files("input#photo", str(jpeg))
    page.locator(".thumbs img").first.wait_for()
    page.locator("#complete").tap()
    page.locator("ol.stops").wait_for()

    assert waiting(page) == 4
    assert "4 por enviar" in page.locator("#outbox").inner_text()
    assert page.locator(".tag-q").count() == 4
    screenshot(page, "driver-offline-queue-es")

    page.context.set_offline(False)
    page.wait_for_function("() => document.querySelector('#outbox').hidden", timeout=30_000)

    api = admin_api(live)
    statuses = [api.get(f"/orders/{o}").json()["status"] for o in seeded["orders"]]
    assert statuses[:3] == ["delivered"] * 3 and statuses[4] == "out_for_delivery", statuses
    for o, final in zip(seeded["orders"][:4], ["delivered"] * 3 + ["failed"], strict=True):
        history = [h["to_status"] for h in api.get(f"/orders/{o}/history").json()]
        assert history.count(final) == 1 and history.count("delivered" if final == "failed" else "failed") == 0, history
    from sqlalchemy import func, select

    from lastmile.pod.models import DriverAction

    with live.db.session() as s:
        rows = s.execute(select(DriverAction.type, DriverAction.stop_id, func.count())
                         .where(DriverAction.route_id == seeded["route_id"])
                         .group_by(DriverAction.type, DriverAction.stop_id)).all()
    assert sorted((t, st, c) for t, st, c in rows) == sorted(
        [("deliver", seeded["stops"][i], 1) for i in range(3)] + [("fail", seeded["stops"][3], 1)])
    pod = api.get(f"/pod/{seeded['orders'][0]}").json()
    assert pod  # a proof of delivery on the server
    _check_files(live, seeded["route_id"])
    assert blocked == [] and page_errors == []


def _check_files(live, route_id) -> None:
    """The photos arrived compressed on the phone (JPEG, longest side <= 1600 px from a
    3000-px camera picture), the signature as a PNG with ink on it, each under the
    SHA-256 the action names; the actions carry the phone's position."""
    from PIL import Image
    from sqlalchemy import select

    from lastmile.pod.files import storage_for
    from lastmile.pod.models import DriverAction

    storage = storage_for(live.settings)
    with live.db.session() as s:
        rows = s.execute(select(DriverAction.type, DriverAction.data, DriverAction.position)
                         .where(DriverAction.route_id == route_id)).all()
    photos = sigs = 0
    for kind, data, position in rows:
        assert position and abs(position["lat"] - HERE[0]) < 1e-6 and position["accuracy"] == 8
        for sha in data.get("photos", []):
            img = Image.open(io.BytesIO(storage.get(sha)))
            assert img.format == "JPEG" and max(img.size) <= 1600 and img.size == (1600, 1067), img.size
            photos += 1
        if data.get("signature"):
            img = Image.open(io.BytesIO(storage.get(data["signature"])))
            assert img.format == "PNG"
            assert img.convert("L").getextrema()[0] < 100  # some dark ink
            sigs += 1
    assert photos == 4 and sigs == 3


@pytest.mark.parametrize("phone", ["en-US"], indirect=True)
def test_the_queue_survives_a_reload_offline(phone, live, jpeg, page_errors):
    if not _has_pod_api(live):
        pytest.skip("the driver API (/driver/actions) is not in this build yet")
    seeded = seed_route(live, stops=STOPS[:3])
    page = phone
    sign_in(page, seeded["email"])
    page.context.set_offline(True)
    deliver(page, 1, seeded, jpeg)
    assert waiting(page) == 1
    page.reload()
    page.locator("ol.stops").wait_for(timeout=15_000)
    assert waiting(page) == 1
    assert page.locator("#outbox").inner_text() == "1 waiting to send"
    assert page.locator(f"button.stop[data-id='{seeded['stops'][1]}'] .tag-q").count() == 1
    page.context.set_offline(False)
    page.wait_for_function("() => document.querySelector('#outbox').hidden", timeout=30_000)
    api = admin_api(live)
    assert api.get(f"/orders/{seeded['orders'][1]}").json()["status"] == "delivered"
    assert page_errors == []


def test_the_app_says_why_a_delivery_cannot_complete(phone, live, jpeg):
    if not _has_pod_api(live):
        pytest.skip("the driver API (/driver/today) is not in this build yet")
    seeded = seed_route(live, stops=STOPS[:1])
    page = phone
    sign_in(page, seeded["email"])
    page.locator("button.stop").first.tap()
    page.locator("[data-act=deliver]").tap()
    page.locator("#complete").tap()
    missing = page.locator("#missing")
    assert "firma" in missing.inner_text() and "cobro" in missing.inner_text()  # signature; cash on delivery
    page.locator("input[name=codAmount]").fill("100")
    assert "850" in missing.inner_text()  # exactly $850.00 (the default rule)
    page.locator("input[name=codAmount]").fill("850")
    assert "850" not in missing.inner_text() and "firma" in missing.inner_text()
    assert waiting(page) == 0
    assert page.locator("form[data-form=deliver]").is_visible()  # still on the form


@pytest.mark.parametrize("phone", ["en-US"], indirect=True)
def test_screens_in_english_and_the_switch_is_remembered(phone, live, jpeg, screenshot, page_errors):
    if not _has_pod_api(live):
        pytest.skip("the driver API (/driver/today) is not in this build yet")
    seeded = seed_route(live)
    page = phone
    page.goto("/driver")
    page.locator("form[data-form=login]").wait_for()
    assert "Sign in" in page.locator("h1").inner_text()
    screenshot(page, "driver-login-en")
    fits(page)
    sign_in(page, seeded["email"])
    assert "Today's route" in page.locator("h1").inner_text()
    screenshot(page, "driver-route-en")
    fits(page)
    page.locator("button.stop").first.tap()
    assert page.locator("a[href^='tel:']").count() == 1 and page.locator("a[href^='geo:']").count() == 1
    assert page.locator("a[href*='osmand']").count() == 1
    screenshot(page, "driver-stop-en")
    fits(page)
    page.locator("[data-act=deliver]").tap()
    page.set_input_files("input#photo", str(jpeg))
    page.locator(".thumbs img").first.wait_for()
    screenshot(page, "driver-pod-en")
    fits(page)
    page.locator("[data-act=open]").first.tap()
    page.locator("[data-act=fail]").tap()
    screenshot(page, "driver-fail-en")
    fits(page)
    page.locator("[data-act=open]").first.tap()
    page.locator("[data-act=list]").first.tap()
    page.locator("[data-act=map]").tap()
    page.locator("#map .pin").first.wait_for()
    assert page.locator("#map .pin").count() == 5
    page.wait_for_function("() => window.lastmileDriver.state.position !== null", timeout=15_000)
    page.locator("[data-act=list]").first.tap()
    page.locator("[data-act=map]").tap()
    page.locator("#map .me-pin").wait_for()  # the driver's position
    screenshot(page, "driver-map-en")
    fits(page)
    # the switch: to Spanish, and it stays after a reload
    page.locator("#lang").tap()
    page.locator("[data-act=list]").first.tap()
    assert "Ruta de hoy" in page.locator("h1").inner_text()
    page.reload()
    page.locator("ol.stops").wait_for()
    assert "Ruta de hoy" in page.locator("h1").inner_text()
    page.locator("button.stop").first.tap()
    screenshot(page, "driver-stop-es")
    fits(page)
    page.locator("[data-act=deliver]").tap()
    screenshot(page, "driver-pod-es")
    fits(page)
    assert page_errors == []


def test_the_open_app_reports_its_position(phone, live):
    paths = _paths(live)
    if "/tracking/positions" not in paths or "/driver/today" not in paths:
        pytest.skip("the tracking ingest (/tracking/positions) is not in this build yet")
    from sqlalchemy import select

    from lastmile.tracking.models import Position

    seeded = seed_route(live, stops=STOPS[:2])
    page = phone
    sign_in(page, seeded["email"])
    page.wait_for_function("() => window.lastmileDriver.state.position !== null", timeout=15_000)
    fixes = []
    for _ in range(40):
        with live.db.session() as s:
            fixes = s.execute(select(Position.lat, Position.lon, Position.source)
                              .where(Position.driver_id == seeded["driver_id"])).all()
        if fixes:
            break
        page.wait_for_timeout(500)
    assert fixes, "no position reached the server"
    lat, lon, source = fixes[0]
    assert abs(lat - HERE[0]) < 1e-6 and abs(lon - HERE[1]) < 1e-6


def _actions(live, route_id) -> list[tuple[str, str | None]]:
    from sqlalchemy import select

    from lastmile.pod.models import DriverAction

    with live.db.session() as s:
        return [(t, st) for t, st in s.execute(select(DriverAction.type, DriverAction.stop_id)
                                               .where(DriverAction.route_id == route_id)
                                               .order_by(DriverAction.server_time, DriverAction.id))]


def test_a_shift_with_a_break_a_delay_a_pickup_and_the_scan_in(phone, live, jpeg, page_errors):
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    seeded = seed_route(live, stops=STOPS[:3], kinds={2: "pickup"})
    page = phone
    sign_in(page, seeded["email"])
    page.locator("[data-act=start-shift]").tap()
    page.locator("[data-act=break]").tap()
    page.locator("input[name=break_minutes]").fill("10")
    page.locator("[data-act=break-start][data-planned='0']").tap()
    page.locator("[data-act=end-break]").tap()
    page.locator("[data-act=delay]").tap()
    page.locator("[data-act=delay-pick][data-m='20']").tap()
    page.locator("form[data-form=delay] button[type=submit]").tap()
    deliver(page, 0, seeded, jpeg, cod="850.00")
    # the pickup: scan its parcel, damaged (which needs a photo)
    page.locator(f"button.stop[data-id='{seeded['stops'][1]}']").tap()
    page.locator("[data-act=pickup]").tap()
    page.locator("input#code").fill("RET-77")
    page.locator("[data-act=add-code]").tap()
    page.locator("label", has=page.locator("input[name=condition][value=damaged]")).tap()
    page.locator("#complete").tap()
    assert "foto" in page.locator("#missing").inner_text()
    page.set_input_files("input#photo", str(jpeg))
    page.locator(".thumbs img").first.wait_for()
    page.locator("#complete").tap()
    page.locator("ol.stops").wait_for()
    # end of shift: the third stop was never attempted; its parcel and the pickup come back
    page.locator("[data-act=end-shift]").tap()
    expected = {seeded["codes"][2][0], "RET-77"}
    assert {c.strip("○ ") for c in page.locator(".scans li").all_inner_texts()} == expected
    page.locator("[data-act=finish-shift]").tap()
    assert page.locator("[data-act=finish-shift]").is_visible()  # not all scanned in: it says so and stays
    for code in sorted(expected):
        page.locator("input#code").fill(code)
        page.locator("[data-act=add-code]").tap()
    page.locator("[data-act=finish-shift]").tap()
    page.locator("ol.stops").wait_for()
    page.wait_for_function("() => document.querySelector('#outbox').hidden", timeout=30_000)
    assert page.locator("text=Turno terminado").count() == 1
    got = _actions(live, seeded["route_id"])
    assert [t for t, _ in got] == ["start_shift", "break_start", "break_end", "delay", "deliver", "pickup",
                                   "end_shift"], got
    from sqlalchemy import select

    from lastmile.pod.models import DriverBreak

    with live.db.session() as s:  # the unplanned break, as a break of its own (not a note)
        (brk,) = s.scalars(select(DriverBreak).where(DriverBreak.route_id == seeded["route_id"])).all()
        assert brk.planned is False and brk.expected_s == 600 and brk.ended_at is not None
    api = admin_api(live)
    route = api.get(f"/routes/{seeded['route_id']}").json()
    assert route["status"] == "finished"
    assert page_errors == []


def test_the_route_follows_changes_from_the_server(phone, live):
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    from lastmile.dispatch import live as live_day
    from lastmile.dispatch.models import RouteStop

    seeded = seed_route(live, stops=STOPS[:3])
    page = phone
    sign_in(page, seeded["email"])
    page.wait_for_timeout(500)  # the event stream is connected
    with live.db.session() as s:
        stop = s.get(RouteStop, seeded["stops"][2])
        live_day.mark_stop(s, stop, "skipped", at=datetime.now(ZoneInfo("UTC")), actor="system")
        s.commit()
    page.locator(f"button.stop[data-id='{seeded['stops'][2]}'] .tag-st").wait_for(timeout=15_000)
    assert "Omitido" in page.locator(f"button.stop[data-id='{seeded['stops'][2]}']").inner_text()


def test_an_action_the_server_refuses_is_kept_and_shown(phone, live, jpeg, page_errors):
    """Delivered on the phone offline while dispatch failed the stop meanwhile: the replay
    is refused, the phone says so and keeps the action (nothing silently lost)."""
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    from lastmile.dispatch import live as live_day
    from lastmile.dispatch.models import RouteStop

    seeded = seed_route(live, stops=STOPS[1:3])
    page = phone
    sign_in(page, seeded["email"])
    page.context.set_offline(True)
    deliver(page, 0, seeded, jpeg)
    assert waiting(page) == 1
    with live.db.session() as s:
        live_day.mark_stop(s, s.get(RouteStop, seeded["stops"][0]), "failed", at=datetime.now(ZoneInfo("UTC")),
                           actor="system", reason="closed")
        s.commit()
    page.context.set_offline(False)
    page.locator("#outbox.outbox-bad").wait_for(timeout=30_000)
    assert waiting(page) == 0 and "1 rechazadas" in page.locator("#outbox").inner_text()
    page.locator("#outbox").tap()
    assert page.locator(".outbox-list li.bad").count() == 1
    assert "deliver" in page.locator(".outbox-list li.bad").inner_text()
    api = admin_api(live)
    history = [h["to_status"] for h in api.get(f"/orders/{seeded['orders'][0]}/history").json()]
    assert "delivered" not in history and history.count("failed") == 1
    assert _actions(live, seeded["route_id"]) == []  # refused actions are not recorded as applied
    assert page_errors == []


def _qr_video(browser, tmp: Path, text: str) -> Path:
    """A fake camera feed (MJPEG) showing a QR code of ``text``, drawn by @zxing/library's
    own encoder in the browser."""
    from lastmile.web.vendor import node_modules_dir

    page = browser.new_page()
    try:
        page.set_content("<canvas id=c></canvas>")
        page.add_script_tag(path=str(node_modules_dir() / "@zxing/library/umd/index.min.js"))
        url = page.evaluate("""(text) => {
          const m = new ZXing.MultiFormatWriter().encode(text, ZXing.BarcodeFormat.QR_CODE, 240, 240, new Map());
          const c = document.getElementById('c'); c.width = 640; c.height = 480;
          const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, 640, 480); g.fillStyle = '#000';
          const s = 400 / m.getWidth();
          for (let y = 0; y < m.getHeight(); y++) for (let x = 0; x < m.getWidth(); x++)
            if (m.get(x, y)) g.fillRect(120 + x * s, 40 + y * s, Math.ceil(s), Math.ceil(s));
          return c.toDataURL('image/jpeg', 0.95);
        }""", text)
    finally:
        page.close()
    import base64

    path = tmp / "camera.mjpeg"
    path.write_bytes(base64.b64decode(url.split(",", 1)[1]) * 30)
    return path


def test_a_parcel_is_scanned_with_the_camera(playwright_instance, browser, live, tmp_path, screenshot):
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    from .conftest import CHROMIUM, CHROMIUM_ARGS

    seeded = seed_route(live, stops=STOPS[1:2])
    code = seeded["codes"][0][0]
    video = _qr_video(browser, tmp_path, code)
    camera_browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"])
    try:
        context = camera_browser.new_context(base_url=live.url, viewport=PHONE, is_mobile=True, has_touch=True,
                                             locale="es-MX", permissions=["camera"])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        sign_in(page, seeded["email"])
        page.locator("button.stop").first.tap()
        page.locator("[data-act=deliver]").tap()
        page.locator("[data-act=camera]").tap()
        page.locator(".scans li.ok", has_text=code).wait_for(timeout=20_000)
        assert "Escaneados 1 de 1" in page.locator("form[data-form=deliver]").inner_text()
        # the camera stays on for the next parcel, saying what it got, until "Listo"
        assert page.locator("#scanner").is_visible()
        assert page.locator("#scan-status").inner_text() == f"Escaneados 1 de 1 · {code}"
        page.screenshot(path=str(screenshot(page, "driver-scanner-es")))  # the viewport: the overlay is fixed
        page.locator("#scan-done").tap()
        assert page.locator("#scanner").is_hidden()
        assert page.evaluate("document.getElementById('video').srcObject === null "
                             "|| document.getElementById('video').srcObject.active === false")
        assert errors == []
    finally:
        camera_browser.close()


def test_customer_messages_arrive_live_and_the_driver_replies(phone, live):
    paths = _paths(live)
    if "/orders/{order_id}/messages" not in paths or "/driver/today" not in paths:
        pytest.skip("customer messages are not in this build yet")
    from lastmile.orders.models import Order
    from lastmile.portal import service as portal

    seeded = seed_route(live, stops=STOPS[:2])
    order_id = seeded["orders"][0]
    with live.db.session() as s:
        portal.add_message(s, s.get(Order, order_id), "customer", "Estoy en la tienda de enfrente")
        s.commit()
    page = phone
    sign_in(page, seeded["email"])
    page.locator("button.stop").first.tap()
    page.locator(".msgs li", has_text="Estoy en la tienda de enfrente").wait_for(timeout=10_000)
    with live.db.session() as s:  # a new one while the stop is open: over the event stream
        portal.add_message(s, s.get(Order, order_id), "customer", "Toque fuerte, por favor")
        s.commit()
    page.locator(".msgs li", has_text="Toque fuerte, por favor").wait_for(timeout=15_000)
    assert "Cliente:" in page.locator(".msgs li").nth(1).inner_text()
    page.locator("form[data-form=message] input[name=body]").fill("Voy en 5 minutos")
    page.locator("form[data-form=message] button[type=submit]").tap()
    page.locator(".msgs li", has_text="Voy en 5 minutos").wait_for()
    api = admin_api(live)
    got = [(m["sender"], m["body"]) for m in api.get(f"/orders/{order_id}/messages").json()]
    assert got[-1] == ("driver", "Voy en 5 minutos") and len(got) == 3
    assert page.locator(".msgs li").count() == 3  # the echo over the stream is not shown twice


def test_the_map_loads_tiles_from_the_configured_url(phone, live, blocked):
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    seeded = seed_route(live, stops=STOPS[:3])
    tiles: list[str] = []
    phone.on("request", lambda req: tiles.append(req.url) if "tile=" in req.url else None)
    live.settings.map_tile_url = f"{live.url}/static/driver/icons/icon-192.png?tile={{z}}/{{x}}/{{y}}"
    live.settings.map_tile_attribution = "Test tiles"
    try:
        sign_in(phone, seeded["email"])
        phone.locator("[data-act=map]").tap()
        phone.locator("#map .leaflet-tile-loaded").first.wait_for(timeout=10_000)
        assert "Test tiles" in phone.locator("#map .leaflet-control-attribution").inner_text()
    finally:
        live.settings.map_tile_url = ""
        live.settings.map_tile_attribution = ""
    assert tiles and blocked == []


def add_route(live, seeded: dict, stops, hours_later: int = 5) -> dict:
    """A second published route of the same day for ``seeded``'s driver (same plan)."""
    from lastmile.dispatch.models import Route, RouteStop
    from lastmile.orders.models import Order

    with live.db.session() as s:
        first = s.get(Route, seeded["route_id"])
        depart = first.depart_at + timedelta(hours=hours_later)
        route = Route(plan_id=first.plan_id, organization_id=first.organization_id, vehicle_id=first.vehicle_id,
                      driver_id=first.driver_id, depot_id=first.depot_id, depart_at=depart,
                      arrive_at=depart + timedelta(hours=2), distance_m=10_000, duration_s=2 * 3600, published=True)
        s.add(route)
        s.flush()
        day = s.get(Order, seeded["orders"][0]).date
        out = {"route_id": route.id, "stops": [], "orders": [], "codes": []}
        for i, (lat, lon, name, cod) in enumerate(stops, start=1):
            code = f"AFT{route.id[-6:]}{i}"
            order = Order(organization_id=first.organization_id, depot_id=first.depot_id, date=day, status="assigned",
                          lat=lat, lon=lon, address=f"{20 * i} Av. Guerrero, Laredo, TX", contact_name=name,
                          contact_phone="+1 956 555 02%02d" % i, demand_parcels=1, cod_amount=cod[0] if cod else 0,
                          cod_currency=cod[1] if cod else None, reference=f"PM-{i}",
                          items=[{"sku": "X", "barcode": code, "quantity": 1}])
            s.add(order)
            s.flush()
            at = depart + timedelta(minutes=15 * i)
            stop = RouteStop(route_id=route.id, order_id=order.id, seq=i, arrival_at=at, start_at=at,
                             end_at=at + timedelta(minutes=5))
            s.add(stop)
            s.flush()
            out["stops"].append(stop.id)
            out["orders"].append(order.id)
            out["codes"].append([code])
        s.commit()
    return out


def test_every_route_of_the_day_can_be_picked(phone, live, jpeg, page_errors, screenshot):
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    seeded = seed_route(live, stops=STOPS[:3])
    second = add_route(live, seeded, [STOPS[3], STOPS[4]])
    page = phone
    sign_in(page, seeded["email"])
    picker = page.locator("nav.routes .route-pick")
    assert picker.count() == 2 and "2 rutas hoy" in page.locator("nav.routes").inner_text()
    assert picker.nth(0).get_attribute("aria-pressed") == "true"
    assert page.locator("button.stop").count() == 3
    fits(page)
    screenshot(page, "driver-two-routes-es")
    picker.nth(1).tap()
    page.wait_for_function("() => document.querySelectorAll('button.stop').length === 2")
    assert page.locator(f"button.stop[data-id='{second['stops'][0]}']").count() == 1
    assert "Salinas" in page.locator("ol.stops").inner_text()
    # work on the afternoon route: its actions name it
    page.locator("[data-act=start-shift]").tap()
    deliver(page, 0, {**second, "stops": second["stops"]}, jpeg, recipient="Roberto")
    page.wait_for_function("() => document.querySelector('#outbox').hidden", timeout=30_000)
    assert [t for t, _ in _actions(live, second["route_id"])] == ["start_shift", "deliver"]
    assert _actions(live, seeded["route_id"]) == []
    # the choice survives a reload; the morning route is one tap away
    page.reload()
    page.locator("ol.stops").wait_for(timeout=15_000)
    assert page.locator("nav.routes .route-pick.on").inner_text().startswith("Ruta 2")
    page.locator("#lang").tap()
    assert "2 routes today" in page.locator("nav.routes").inner_text()
    screenshot(page, "driver-two-routes-en")
    page.locator("nav.routes .route-pick").nth(0).tap()
    page.wait_for_function("() => document.querySelectorAll('button.stop').length === 3")
    fits(page)
    assert page_errors == []


def _sign_out(page) -> None:
    page.once("dialog", lambda d: d.accept())
    page.locator("[data-act=logout]").first.tap()
    page.locator("form[data-form=login]").wait_for(timeout=15_000)


def test_the_queue_belongs_to_the_driver_who_made_it(phone, live, jpeg, page_errors, screenshot):
    """Driver A works offline and signs out with an action queued; driver B signs in on
    the same phone: B neither sends nor loses A's action; A signs in again and it goes."""
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    a = seed_route(live, stops=STOPS[1:3])
    b = seed_route(live, stops=STOPS[3:5])
    page = phone
    sign_in(page, a["email"])
    page.context.set_offline(True)
    deliver(page, 0, a, jpeg)
    assert waiting(page) == 1
    _sign_out(page)
    note = page.locator(".others-waiting")
    assert "Hay 1 acción de otro conductor" in note.inner_text()
    fits(page)
    screenshot(page, "driver-login-others-queue-es")
    page.context.set_offline(False)
    sign_in(page, b["email"])
    page.wait_for_timeout(1500)  # B's session is up and its (empty) queue has been flushed
    assert waiting(page) == 0 and page.locator(".tag-q").count() == 0
    assert page.locator(f"button.stop[data-id='{a['stops'][0]}']").count() == 0  # B sees B's route only
    api = admin_api(live)
    assert api.get(f"/orders/{a['orders'][0]}").json()["status"] == "assigned"  # not sent as B
    assert _actions(live, a["route_id"]) == [] and _actions(live, b["route_id"]) == []
    assert page.evaluate("window.lastmileDriver.store.all('outbox').then((r) => r.length)") == 1  # kept
    assert page.evaluate("window.lastmileDriver.store.all('rejected').then((r) => r.length)") == 0
    _sign_out(page)
    sign_in(page, a["email"])
    page.wait_for_function("() => document.querySelector('#outbox').hidden", timeout=30_000)
    assert api.get(f"/orders/{a['orders'][0]}").json()["status"] == "delivered"
    assert _actions(live, a["route_id"]) == [("deliver", a["stops"][0])]
    assert page.evaluate("window.lastmileDriver.store.all('outbox').then((r) => r.length)") == 0
    assert page_errors == []


def test_a_new_version_is_offered_with_a_reload_button(phone, live, page_errors, screenshot, monkeypatch):
    from lastmile.web import driver as driver_pages

    seeded = seed_route(live, stops=STOPS[:1])
    page = phone
    sign_in(page, seeded["email"])
    page.wait_for_function("() => !!navigator.serviceWorker.controller", timeout=15_000)
    old = driver_pages.release()
    banner = page.locator("#update")
    page.wait_for_timeout(300)
    assert banner.is_hidden()
    page.evaluate("window.lastmileDriver.checkForUpdate()")  # nothing new: no prompt
    page.wait_for_timeout(1000)
    assert banner.is_hidden()
    monkeypatch.setattr(driver_pages, "release", lambda: "feedfacecafe")  # a new release on the server
    page.evaluate("window.lastmileDriver.checkForUpdate()")
    banner.wait_for(state="visible", timeout=20_000)
    assert "Hay una versión nueva de la app." in banner.inner_text()
    assert banner.locator("button").inner_text() == "Recargar"
    fits(page)
    screenshot(page, "driver-update-es")
    page.locator("#lang").tap()
    assert "A new version of the app is available." in banner.inner_text()
    assert banner.locator("button").inner_text() == "Reload"
    screenshot(page, "driver-update-en")
    with page.expect_navigation(timeout=20_000):
        banner.locator("button").tap()
    page.locator("ol.stops").wait_for(timeout=15_000)
    caches = page.evaluate("caches.keys()")
    assert "lastmile-driver-feedfacecafe" in caches and f"lastmile-driver-{old}" not in caches
    assert page.locator("#update").is_hidden()
    assert page_errors == []


def test_a_phone_whose_clock_is_days_off_still_records_its_work(phone, live, jpeg, page_errors):
    """The phone's own clock is three days ahead (more than the server accepts): the app
    stamps its actions on the server's clock (X-Server-Time, learned from every answer),
    so the delivery is recorded -- at the right time -- instead of refused as clock skew.
    The demo's simulated day relies on the same thing."""
    if not _has_pod_api(live):
        pytest.skip("the driver API is not in this build yet")
    from sqlalchemy import select

    from lastmile.pod.models import DriverAction

    seeded = seed_route(live, stops=STOPS[:1])
    page = phone
    page.clock.set_system_time(datetime.now(ZoneInfo("UTC")) + timedelta(days=3))
    sign_in(page, seeded["email"])
    assert page.evaluate("Date.now()") > (datetime.now(ZoneInfo("UTC")) + timedelta(days=2)).timestamp() * 1000
    deliver(page, 0, seeded, jpeg, cod="850")
    page.wait_for_function("() => !document.querySelector('#outbox') || "
                           "document.querySelector('#outbox').dataset.waiting === '0'", timeout=30_000)
    assert "rechaz" not in (page.locator("#outbox").inner_text() if page.locator("#outbox").is_visible() else "")
    with live.db.session() as s:
        rows = s.execute(select(DriverAction.type, DriverAction.skew_s, DriverAction.skew_flagged)
                         .where(DriverAction.route_id == seeded["route_id"])).all()
    assert [r.type for r in rows if r.type == "deliver"] == ["deliver"], rows
    assert all(abs(r.skew_s) < 120 and not r.skew_flagged for r in rows), rows
    assert page_errors == []
