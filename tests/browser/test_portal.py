"""The customer's tracking page (/t/<token>) on a 360 px phone in real Chromium: a
customer watches the driver approach -- the stops before theirs are served, the driver
heads to them (positions through the real ingest endpoint), the marker moves and the ETA
changes without a reload -- messages the driver and gets an answer, switches language,
and rates the delivery. Unknown links get the friendly page. Screenshots in es and en.

Each test makes its own driver, route and orders in the live server's database."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from .conftest import PASSWORD, open_page

PHONE = {"width": 360, "height": 740}
ZONE = "America/Chicago"
STOPS = [(27.5310, -99.4790), (27.5036, -99.5076), (27.5480, -99.4650)]  # the customer is the last one
START = (27.5150, -99.5300)  # where the driver is when heading to the customer (~3 km away)
_n = itertools.count(1)


def seed(live, language: str = "es") -> dict:
    """A new driver "Jorge" with a published route of today: three stops, the customer's
    the last; tracking links for each; a bearer token for the driver."""
    from lastmile.auth.models import User
    from lastmile.auth.service import create_user, issue_token
    from lastmile.depots.models import Depot
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.fleet.models import Driver, Vehicle
    from lastmile.orders.models import Order
    from lastmile.orders.service import issue_tracking_token

    n = next(_n)
    today = datetime.now(ZoneInfo(ZONE)).date()
    now = datetime.now(UTC).replace(microsecond=0)
    with live.db.session() as s:
        org = s.query(User).filter_by(email=live.users["admin"][0]).one().organization_id
        user = create_user(s, org, f"portal-driver{n}-{now.timestamp():.0f}@example.com", PASSWORD, "driver",
                           name=f"Jorge Portal {n}")
        depot = Depot(organization_id=org, name=f"Portal {n}", lat=27.5630, lon=-99.4870, timezone=ZONE)
        s.add(depot)
        s.flush()
        driver = Driver(organization_id=org, name=f"Jorge Ramírez {n}", user_id=user.id)
        vehicle = Vehicle(organization_id=org, depot_id=depot.id, name=f"Van P{n}")
        s.add_all([driver, vehicle])
        s.flush()
        plan = Plan(organization_id=org, date=today, depot_ids=[depot.id], status="done", created_by=user.id,
                    published_at=now)
        s.add(plan)
        s.flush()
        route = Route(plan_id=plan.id, organization_id=org, vehicle_id=vehicle.id, driver_id=driver.id,
                      depot_id=depot.id, depart_at=now, arrive_at=now + timedelta(hours=3), distance_m=20_000,
                      duration_s=3 * 3600, published=True)
        s.add(route)
        s.flush()
        out: dict = {"route_id": route.id, "driver_id": driver.id, "stops": [], "orders": [], "tokens": []}
        for i, (lat, lon) in enumerate(STOPS, start=1):
            at = now + timedelta(minutes=25 * i)
            window = [{"start": (at - timedelta(hours=1)).isoformat(), "end": (at + timedelta(hours=1)).isoformat()}]
            order = Order(organization_id=org, depot_id=depot.id, date=today, status="assigned", lat=lat, lon=lon,
                          address=f"{100 * i} Calle Hidalgo, Laredo, TX", contact_name=f"Cliente {i}",
                          contact_phone=f"+1 956 555 02{i:02d}", language=language, reference=f"PT{n}-{i}",
                          windows=window, instructions="Tocar el timbre" if i == 3 else "")
            s.add(order)
            s.flush()
            stop = RouteStop(route_id=route.id, order_id=order.id, seq=i, arrival_at=at, start_at=at,
                             end_at=at + timedelta(minutes=5))
            s.add(stop)
            s.flush()
            out["stops"].append(stop.id)
            out["orders"].append(order.id)
            out["tokens"].append(issue_tracking_token(s, order))
        out["driver_token"], _ = issue_token(s, live.settings, user, "bearer")
        s.commit()
    return out


def mark(live, stop_id: str, status: str) -> None:
    from lastmile.dispatch import live as day
    from lastmile.dispatch.models import RouteStop

    with live.db.session() as s:
        day.mark_stop(s, s.get(RouteStop, stop_id), status, at=datetime.now(UTC), actor="system")
        s.commit()


def start(live, route_id: str) -> None:
    from lastmile.dispatch import live as day
    from lastmile.dispatch.models import Route

    with live.db.session() as s:
        day.start_route(s, s.get(Route, route_id), datetime.now(UTC), "system")
        s.commit()


def has_ingest(live) -> bool:
    return "/tracking/positions" in httpx.get(f"{live.url}/openapi.json", timeout=10).json().get("paths", {})


def send_position(live, w: dict, lat: float, lon: float) -> None:
    """The driver's phone reports a fix: through POST /tracking/positions when the
    tracking ingest is installed, else straight onto the broadcast as it would."""
    at = datetime.now(UTC)
    if has_ingest(live):
        r = httpx.post(f"{live.url}/tracking/positions", timeout=10,
                       headers={"Authorization": f"Bearer {w['driver_token']}"},
                       json={"positions": [{"lat": lat, "lon": lon, "at": at.isoformat(), "accuracy": 6, "speed": 9}]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    else:
        from lastmile.kit.broadcast import publish

        publish(f"order:{w['orders'][2]}", {"type": "position", "driver_id": w["driver_id"], "route_id": w["route_id"],
                                            "lat": lat, "lon": lon, "at": at.isoformat().replace("+00:00", "Z")})


@pytest.fixture
def phone(browser, live, blocked, page_errors, request):
    """A 360×740 phone in Laredo's time zone; Spanish unless the test asks for another locale."""
    locale = getattr(request, "param", "es-MX")
    context = browser.new_context(base_url=live.url, viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale=locale, timezone_id=ZONE)

    yield open_page(context, blocked, page_errors)
    context.close()


def driver_at(page) -> tuple[float, float] | None:
    got = page.eval_on_selector("#map", "el => [el.dataset.driverLat, el.dataset.driverLon]")
    return (float(got[0]), float(got[1])) if got[0] else None


def test_a_customer_watches_the_driver_approach(live, phone, screenshot, blocked, page_errors):
    from lastmile.kit.broadcast import publish

    w = seed(live, language="es")
    page = phone
    page.goto(f"/t/{w['tokens'][2]}")
    page.wait_for_selector("body[data-stream='open']")
    page.evaluate("window.__sameDocument = true")  # a reload would lose it
    assert page.inner_text("#headline") == "Su entrega está programada"
    assert "Faltan 2 paradas antes de la suya" in page.inner_text("#eta")
    assert "Llegada estimada" in page.inner_text("#eta")
    assert page.is_hidden("#map-card")

    # the two stops before are served: the page counts down by itself
    mark(live, w["stops"][0], "done")
    page.wait_for_function("document.getElementById('eta').textContent.includes('Falta 1 parada')")
    mark(live, w["stops"][1], "done")
    page.wait_for_function("document.getElementById('eta').textContent.includes('Usted es la siguiente entrega')")
    assert page.is_hidden("#map-card")  # no driver on the map before heading here

    # the driver heads to the customer: the map appears with the driver's first name
    start(live, w["route_id"])
    mark(live, w["stops"][2], "en_route")
    page.wait_for_selector("#map-card:not([hidden])")
    page.wait_for_function("document.getElementById('headline').textContent === 'Jorge va hacia usted'")
    assert "Ramírez" not in page.content()

    # positions move the marker, without a reload
    lat, lon = START
    send_position(live, w, lat, lon)
    page.wait_for_function(f"document.getElementById('map').dataset.driverLat === '{lat}'")
    assert page.locator(".driver-marker").count() == 1
    first_box = page.locator(".driver-marker").bounding_box()
    time.sleep(1.1)  # a plausible speed between fixes for the ingest's jump filter
    lat2, lon2 = lat + 0.0002, lon + 0.0002
    send_position(live, w, lat2, lon2)
    page.wait_for_function(f"document.getElementById('map').dataset.driverLat === '{lat2}'")
    assert driver_at(page) == (lat2, lon2)
    assert page.locator(".driver-marker").bounding_box() != first_box

    # a new ETA (as the ETA service publishes it) changes the text in place
    eta = datetime.now(ZoneInfo(ZONE)).replace(hour=10, minute=47, second=0, microsecond=0).astimezone(UTC)
    publish(f"order:{w['orders'][2]}", {"type": "eta", "route_id": w["route_id"], "stop_id": w["stops"][2],
                                        "order_id": w["orders"][2], "seq": 3,
                                        "eta_at": eta.isoformat().replace("+00:00", "Z")})
    page.wait_for_function("document.getElementById('eta').textContent.includes('10:40')")
    assert "11:00" in page.inner_text("#eta")

    # the customer writes; the driver answers from the app; both show without a reload
    page.fill("#message-input", "Hola, estoy en casa. El timbre no sirve, toque la puerta.")
    page.click("#message-form button[type=submit]")
    page.wait_for_selector("#messages li.mine")
    r = httpx.post(f"{live.url}/orders/{w['orders'][2]}/messages", json={"body": "Llego en 5 minutos"},
                   headers={"Authorization": f"Bearer {w['driver_token']}"}, timeout=10)
    assert r.status_code == 201, r.text
    page.wait_for_function("document.getElementById('messages').textContent.includes('Llego en 5 minutos')")
    assert "Jorge" in page.locator("#messages li:not(.mine)").inner_text()
    r = httpx.get(f"{live.url}/orders/{w['orders'][2]}/messages", timeout=10,
                  headers={"Authorization": f"Bearer {w['driver_token']}"})
    assert [m["sender"] for m in r.json()] == ["customer", "driver"]
    assert "+1 956" not in page.content()

    assert page.evaluate("window.__sameDocument") is True
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "portal-en-route-es-360")

    page.click("[data-lang=en]")
    assert page.inner_text("#headline") == "Jorge is heading to you"
    assert "You are the next stop" in page.inner_text("#eta") and "ETA" in page.inner_text("#eta")
    assert page.inner_text("#messages-card h2") == "Messages with your driver"
    screenshot(page, "portal-en-route-en-360")

    # delivered: the driver leaves the map, the customer rates
    mark(live, w["stops"][2], "done")
    page.wait_for_selector("#map-card", state="hidden")
    page.wait_for_function("document.getElementById('headline').textContent === 'Delivered'")
    page.wait_for_selector("#rate-card:not([hidden])")
    assert page.locator(".driver-marker").count() == 0
    page.click("#stars button[data-score='5']")
    page.fill("#rate-comment", "Muy amable")
    screenshot(page, "portal-rate-en-360")
    page.click("#rate-send")
    page.wait_for_selector("#rate-thanks:not([hidden])")
    screenshot(page, "portal-delivered-en-360")
    r = httpx.get(f"{live.url}/t/{w['tokens'][2]}/state", timeout=10)
    assert r.json()["rating"] == {"score": 5, "comment": "Muy amable"} and r.json()["position"] is None

    # the switch is remembered
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert page.inner_text("#headline") == "Delivered"
    assert not page_errors, page_errors
    assert not blocked, blocked


def test_preferences_and_reschedule_from_the_phone(live, phone, screenshot, page_errors):
    w = seed(live, language="en")
    page = phone
    page.goto(f"/t/{w['tokens'][0]}")
    page.wait_for_selector("body[data-ready='true']")
    assert page.inner_text("#headline") == "Your delivery is scheduled"  # the order's language, not the browser's
    page.fill("#pref-safe-place", "Behind the blue gate")
    page.check("#pref-contactless")
    page.click("#prefs-form button[type=submit]")
    page.wait_for_selector("#prefs-saved:not([hidden])")
    r = httpx.get(f"{live.url}/t/{w['tokens'][0]}/state", timeout=10).json()
    assert r["preferences"]["safe_place"] == "Behind the blue gate" and r["preferences"]["contactless"] is True

    has_slots = "/slots/offer" in httpx.get(f"{live.url}/openapi.json", timeout=10).json().get("paths", {})
    if has_slots:
        page.click("#resched-show")
        page.wait_for_selector("#resched-form:not([hidden])")
        if page.locator("#slots input[type=radio]").count():
            page.locator("#slots input[type=radio]").first.check()
            page.click("#resched-confirm")
            page.wait_for_selector("#resched-result:not([hidden])")
            assert "Done: your delivery is now on" in page.inner_text("#resched-result")
            assert page.inner_text("#headline") == "Your order is confirmed"  # back to planning
    screenshot(page, "portal-preferences-en-360")
    assert not page_errors, page_errors


def test_an_unknown_link_gets_a_friendly_page(live, phone, screenshot):
    resp = phone.goto("/t/" + "Z" * 32)
    assert resp.status == 404
    text = phone.inner_text("body")
    assert "Enlace no encontrado" in text and "Link not found" in text
    screenshot(phone, "portal-not-found-360")
