"""/docs renders Swagger UI from our own server, with every other host unreachable."""

from __future__ import annotations

import re


def test_docs_render_the_operations_offline(page, live, blocked, page_errors, screenshot):
    loaded: list[str] = []
    page.on("requestfinished", lambda req: loaded.append(req.url))
    response = page.goto("/docs")
    assert response is not None and response.status == 200
    post_orders = page.locator(".opblock-post", has=page.locator(".opblock-summary-path", has_text=re.compile(r"^/orders$")))
    post_orders.first.wait_for(state="visible", timeout=45_000)  # 120+ operations render slowly on a busy 2-core machine
    assert page.locator(".opblock").count() > 20  # the whole API, not just a shell
    assert page.locator(".info .title").inner_text().startswith("lastmile")
    path = screenshot(page, "docs")
    assert path.stat().st_size > 10_000
    assert blocked == [] and page_errors == []
    assert any(u.endswith("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js") for u in loaded)
    assert any(u.endswith("/openapi.json") for u in loaded)


def test_an_operation_opens_and_shows_its_schema(page, blocked):
    page.goto("/docs")
    summary = page.locator(".opblock-post .opblock-summary", has=page.locator(".opblock-summary-path",
                                                                              has_text=re.compile(r"^/orders$")))
    summary.first.click()
    page.get_by_text("Try it out").first.wait_for(state="visible", timeout=10_000)
    assert blocked == []


def test_login_gives_the_page_a_session(page, login, live):
    out = login(page, "dispatcher")
    assert out["csrf_token"]
    me = page.request.get("/auth/me")
    assert me.ok and me.json()["role"] == "dispatcher"
    cookies = {c["name"] for c in page.context.cookies()}
    assert "lastmile_session" in cookies
