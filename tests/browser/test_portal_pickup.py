"""A customer sends the order to a locker from the tracking page (real Chromium, a
360 px phone, Spanish), then back to the door."""

from __future__ import annotations

import httpx

from .test_portal import phone, seed  # noqa: F401  (fixture)


def _locker(live, w: dict, name: str, capacity: int = 10) -> str:
    from lastmile.orders.models import Order
    from lastmile.portal.models import WEEKDAYS, PickupPoint

    with live.db.session() as s:
        org = s.get(Order, w["orders"][0]).organization_id
        point = PickupPoint(organization_id=org, kind="locker", name=name, address="Av. Guerrero 1200",
                            lat=27.5330, lon=-99.4800, timezone="America/Chicago", capacity=capacity, active=True,
                            hours={d: [["08:00", "21:00"]] for d in WEEKDAYS})
        s.add(point)
        s.commit()
        return point.id


def test_a_customer_sends_the_order_to_a_locker_and_back(live, phone, screenshot, page_errors):  # noqa: F811
    w = seed(live, language="es")
    name = f"Locker Centro {w['route_id'][-6:]}"
    point_id = _locker(live, w, name)
    token = w["tokens"][0]
    page = phone
    page.goto(f"/t/{token}")
    page.wait_for_selector("body[data-ready='true']")
    assert page.is_visible("#pickup-card")
    page.click("#pickup-show")
    page.wait_for_selector("#pickup-form:not([hidden])")
    item = page.locator(f"#pickup-points li[data-point-id='{point_id}']")
    assert name in item.inner_text() and "Locker" in item.inner_text()
    item.locator("input[type=radio]").check()
    page.click("#pickup-confirm")
    page.wait_for_selector("#pickup-chosen:not([hidden])")
    assert f"Su pedido irá a {name}" in page.inner_text("#pickup-chosen")
    screenshot(page, "portal-pickup-es-360")

    state = httpx.get(f"{live.url}/t/{token}/state", timeout=10).json()
    assert state["pickup"]["id"] == point_id
    assert state["order"]["address"].startswith(name) and state["destination"] == {"lat": 27.5330, "lon": -99.4800}
    assert state["order"]["status"] == "pending"  # off today's route, waiting for re-planning at the locker

    page.click("#pickup-door")
    page.wait_for_function("() => document.getElementById('pickup-chosen').textContent.includes('domicilio')")
    state = httpx.get(f"{live.url}/t/{token}/state", timeout=10).json()
    assert state["pickup"] is None and state["order"]["address"] == "100 Calle Hidalgo, Laredo, TX"
    assert not page_errors, page_errors
