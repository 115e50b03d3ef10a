"""The message log, the development outbox, per-shipper templates."""

from __future__ import annotations

from lastmile.notifications.sender import deliver_due

from .helpers import TOKEN_RE, make_order, move, rows


def quiet_off(settings):
    settings.notify_quiet_start = settings.notify_quiet_end = ""
    return settings


def test_message_log_by_order_with_status_and_no_secrets(db, client, world, settings):
    oid = make_order(client, world)
    other = client.post("/orders", json={**__import__("tests.server.conftest", fromlist=["x"]).order_body(world)},
                        headers=world.headers["shipper2"]).json()["id"]
    move(db, oid, "assigned")
    move(db, other, "assigned")
    deliver_due(db, quiet_off(settings))
    for role in ("admin", "dispatcher", "shipper"):
        r = client.get(f"/notifications?order_id={oid}", headers=world.headers[role])
        assert r.status_code == 200, r.text
        [item] = r.json()
        assert (item["kind"], item["status"], item["provider"], item["tries"]) == ("confirmed", "sent", "log", 1)
        assert "/t/…" in item["body"] and not TOKEN_RE.search(item["body"])  # the link's secret is not shown
    # a shipper sees only its own orders' messages
    assert client.get(f"/notifications?order_id={other}", headers=world.headers["shipper"]).status_code == 404
    mine = client.get("/notifications", headers=world.headers["shipper"]).json()
    assert {i["order_id"] for i in mine} == {oid}
    assert {i["order_id"] for i in client.get("/notifications", headers=world.headers["dispatcher"]).json()} == {
        oid, other}
    assert client.get("/notifications", headers=world.headers["driver"]).status_code == 403
    assert client.get("/notifications?order_id=nope", headers=world.headers["admin"]).status_code == 422


def test_outbox_shows_what_the_log_channel_sent(db, client, world, settings):
    oid = make_order(client, world, language="es")
    move(db, oid, "assigned")
    deliver_due(db, quiet_off(settings))
    r = client.get("/outbox", headers=world.headers["dispatcher"])
    assert r.status_code == 200
    [item] = r.json()
    assert item["order_id"] == oid and item["to"] == "pena@example.com" and item["channel"] == "email"
    token = TOKEN_RE.search(item["body"]).group(1)  # links intact: the demo clicks them
    assert client.get(f"/track/{token}").status_code == 200
    page = client.get("/outbox?format=html", headers=world.headers["admin"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Bandeja de salida" in page.text and "tu pedido" in page.text
    assert client.get("/outbox", headers=world.headers["shipper"]).status_code == 403


def test_shipper_template_override_is_used_and_rendered_safely(db, client, world, settings):
    h = world.headers["shipper"]
    body = {"kind": "confirmed", "format": "email", "language": "es", "subject": "¡$shipper confirmó $reference!",
            "body": "Hola $name, {{ 7*7 }} ${reference}: $link -- 100$$"}
    r = client.put("/notifications/templates", json=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["custom"] is True and r.json()["shipper_id"] == world.ids["shipper"]
    oid = make_order(client, world, language="es", reference="T-1",
                     contact={"name": "${link} {{ config }} $shipper", "phone": "+1 956 555 0100",
                              "email": "x@example.com"})
    move(db, oid, "assigned")
    [row] = rows(db, oid)
    assert row.subject == "¡Farmacia confirmó T-1!"
    # values are inserted once, never expanded again; no other syntax means anything
    assert row.body.startswith("Hola ${link} {{ config }} $shipper, {{ 7*7 }} T-1: http://127.0.0.1:8000/t/")
    assert row.body.endswith(" -- 100$")
    # the other shipper, and the English customer, keep the defaults
    listed = client.get("/notifications/templates", headers=world.headers["shipper2"]).json()
    assert not any(t["custom"] for t in listed) and len(listed) == 20
    mine = client.get("/notifications/templates", headers=h).json()
    assert [t["kind"] for t in mine if t["custom"]] == ["confirmed"]
    # back to the default
    q = "kind=confirmed&format=email&language=es"
    assert client.delete(f"/notifications/templates?{q}", headers=h).status_code == 204
    assert not any(t["custom"] for t in client.get("/notifications/templates", headers=h).json())


def test_template_input_is_checked(client, world):
    h = world.headers["shipper"]
    base = {"kind": "approaching", "format": "short", "language": "en"}
    for text, field in (("${name.__class__}", "body"), ("$password", "body"), ("50 $", "body"),
                        ("x" * 481, "body")):
        r = client.put("/notifications/templates", json={**base, "body": text}, headers=h)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (text, r.text)
    r = client.put("/notifications/templates", json={**base, "format": "email", "body": "hi $link"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "subject"
    r = client.put("/notifications/templates", json={**base, "kind": "exploded", "body": "x"}, headers=h)
    assert r.status_code == 422
    # a shipper cannot write another shipper's wording; an admin must name the shipper
    r = client.put("/notifications/templates", json={**base, "body": "x", "shipper_id": world.ids["shipper2"]},
                   headers=h)
    assert r.status_code == 404
    r = client.put("/notifications/templates", json={**base, "body": "x"}, headers=world.headers["admin"])
    assert r.status_code == 422 and r.json()["error"]["field"] == "shipper_id"
    r = client.put("/notifications/templates", json={**base, "body": "Hi $name: $link",
                                                     "shipper_id": world.ids["shipper2"]},
                   headers=world.headers["admin"])
    assert r.status_code == 200
