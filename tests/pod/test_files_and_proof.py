"""Uploads, the tamper-evident chain (`lastmile pod verify`), the POD page and PDF."""

from __future__ import annotations

import re
import zlib

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from .helpers import action, jpeg, png, send, upload


def test_uploads_are_images_checked_by_their_bytes(client, world, settings):
    h = world.headers["driver"]
    data = png()
    r = upload(client, h, data)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["content_type"] == "image/png" and body["size"] == len(data) and len(body["sha256"]) == 64
    # stored content-addressed on disk
    stored = settings.data_dir / "pod-files" / body["sha256"][:2] / body["sha256"][2:4] / body["sha256"]
    assert stored.read_bytes() == data
    assert upload(client, h, data).json() == body  # the same bytes again: harmless
    # what it is, not what it claims
    assert upload(client, h, jpeg(), "x.png", "image/png").json()["content_type"] == "image/jpeg"
    webp = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24
    assert upload(client, h, webp, "x.webp", "image/webp").json()["content_type"] == "image/webp"
    for payload, name, ctype in ((b"%PDF-1.4 not an image", "x.png", "image/png"),
                                 (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg", "image/svg+xml"),
                                 (b"GIF89a......", "x.gif", "image/gif")):
        r = upload(client, h, payload, name, ctype)
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", r.text
    big = data + b"\x00" * (8 * 1024 * 1024)
    r = upload(client, h, big)
    assert r.status_code == 413 and r.json()["error"]["field"] == "file"
    r = upload(client, h, b"")
    assert r.status_code == 422 and r.json()["error"]["field"] == "file"
    r = client.post("/driver/files", data={"nothing": "here"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "file"
    assert upload(client, world.headers["dispatcher"], data).status_code == 403
    assert upload(client, {}, data).status_code == 401


@pytest.fixture
def delivered(client, world, driver_day):
    """Stop 1 delivered (signature + photo), stop 2 failed (photo): a chain of two."""
    h = world.headers["driver"]
    rid, s1, s2 = driver_day["id"], driver_day["stops"][0], driver_day["stops"][1]
    sig = upload(client, h, png((0, 0, 0), (120, 50))).json()["sha256"]
    photo = upload(client, h, jpeg((200, 180, 20), (160, 120)), "door.jpg", "image/jpeg").json()["sha256"]
    photo2 = upload(client, h, jpeg((20, 180, 200), (160, 120)), "gate.jpg", "image/jpeg").json()["sha256"]
    res = send(client, h,
               action("deliver", rid, s1["id"], {
                   "recipient_name": "Mr. Peña", "signature": sig, "photos": [photo], "scans": s1["parcels_codes"][:2],
                   "cod": {"amount": 125000, "currency": "MXN", "method": "card", "reference": "AUTH-99812"}},
                   position={"lat": s1["lat"], "lon": s1["lon"], "accuracy": 5}),
               action("fail", rid, s2["id"], {"reason": "closed", "photos": [photo2], "note": "portón cerrado"}))
    assert [r["status"] for r in res] == ["applied", "applied"], res
    return {"route_id": rid, "order_id": s1["order_id"], "failed_order_id": s2["order_id"], "signature": sig,
            "photo": photo, "photo2": photo2}


def _verify(db, settings, route_id):
    from lastmile.cli import app

    env = {"LASTMILE_DATABASE_URL": db.url, "LASTMILE_DATA_DIR": str(settings.data_dir), "LASTMILE_ENV": "test"}
    return CliRunner().invoke(app, ["pod", "verify", route_id], env=env)


def test_verify_passes_an_untouched_chain(db, settings, delivered):
    r = _verify(db, settings, delivered["route_id"])
    assert r.exit_code == 0, r.output
    assert "2 POD record(s) and 3 file(s) verified" in r.output
    assert _verify(db, settings, "rte_01ABCDEFGHJKMNPQRSTVWXYZ00").exit_code == 2


def test_verify_catches_an_edited_record(db, settings, delivered):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE pod_records SET payload = replace(payload, 'Mr. Peña', 'Someone else') "
                          "WHERE seq = 1 AND route_id = :r"), {"r": delivered["route_id"]})
    r = _verify(db, settings, delivered["route_id"])
    assert r.exit_code == 1
    assert "record 1" in r.output and "edited" in r.output


def test_verify_catches_a_record_rehashed_after_editing(db, settings, delivered):
    """Editing a record and recomputing its own hash still breaks the link from the next one."""
    from lastmile.pod import chain
    from lastmile.pod.models import PodRecord

    with db.session() as s:
        rec = s.scalar(select(PodRecord).where(PodRecord.route_id == delivered["route_id"], PodRecord.seq == 1))
        rec.payload = rec.payload.replace("AUTH-99812", "AUTH-00000")
        rec.record_hash = chain.digest(rec.payload)
        s.commit()
    r = _verify(db, settings, delivered["route_id"])
    assert r.exit_code == 1 and "record 1" in r.output and "event log" in r.output


def test_verify_catches_a_removed_record(db, settings, delivered):
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM pod_records WHERE seq = 1 AND route_id = :r"), {"r": delivered["route_id"]})
    r = _verify(db, settings, delivered["route_id"])
    assert r.exit_code == 1 and "record 2" in r.output and "removed" in r.output


def test_verify_catches_a_changed_or_missing_file(db, settings, delivered):
    from lastmile.pod.files import storage_for

    path = storage_for(settings).path(delivered["photo2"])
    path.write_bytes(jpeg((0, 255, 0)))
    r = _verify(db, settings, delivered["route_id"])
    assert r.exit_code == 1 and "record 2" in r.output and delivered["photo2"] in r.output and "changed" in r.output
    path.unlink()
    r = _verify(db, settings, delivered["route_id"])
    assert r.exit_code == 1 and "missing" in r.output


def _pdf_text(data: bytes) -> bytes:
    out = [data]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    return b"\n".join(out)


def test_pdf_is_a_pdf_with_the_recipient_and_the_images(client, world, delivered):
    r = client.get(f"/pod/{delivered['order_id']}/pdf", headers=world.headers["dispatcher"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    data = r.content
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    content = _pdf_text(data)
    assert "Mr. Peña".encode("latin-1") in content
    assert b"AUTH-99812" in content
    assert len(re.findall(rb"/Subtype\s*/Image", data)) >= 2  # signature and photo embedded
    failed = client.get(f"/pod/{delivered['failed_order_id']}/pdf", headers=world.headers["shipper"])
    assert failed.status_code == 200 and b"Failed attempt" in _pdf_text(failed.content)
    assert client.get(f"/pod/{delivered['order_id']}/pdf", headers=world.headers["shipper2"]).status_code == 404


def test_pod_page_for_staff_and_for_the_customer_link(client, world, db, delivered):
    from lastmile.orders.models import Order
    from lastmile.orders.service import issue_tracking_token

    page = client.get(f"/pod/{delivered['order_id']}/page", headers=world.headers["dispatcher"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Mr. Peña" in page.text and "Proof of delivery" in page.text and "Prueba de entrega" in page.text
    assert page.text.count("data:image/") == 2
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    with db.session() as s:
        token = issue_tracking_token(s, s.get(Order, delivered["order_id"]))
        other = issue_tracking_token(s, s.get(Order, delivered["failed_order_id"]))
        s.commit()
    mine = client.get(f"/pod/{delivered['order_id']}/page", params={"t": token})
    assert mine.status_code == 200 and "Mr. Peña" in mine.text
    assert client.get(f"/pod/{delivered['order_id']}/pdf", params={"t": token}).status_code == 200
    assert client.get(f"/pod/{delivered['order_id']}/page", params={"t": other}).status_code == 404
    assert client.get(f"/pod/{delivered['order_id']}/page", params={"t": "x" * 30}).status_code == 404
    assert client.get(f"/pod/{delivered['order_id']}/page").status_code == 401
    assert client.get(f"/pod/{delivered['order_id']}", params={"t": token}).status_code == 401  # JSON: staff only
    assert client.get(f"/pod/{delivered['order_id']}/page", headers=world.headers["driver"]).status_code == 403


def test_html_in_pod_fields_is_escaped(client, world, driver_day):
    h = world.headers["driver"]
    rid, s1 = driver_day["id"], driver_day["stops"][0]
    sig = upload(client, h, png()).json()["sha256"]
    res = send(client, h, action("deliver", rid, s1["id"], {
        "recipient_name": "<script>alert(1)</script>", "signature": sig,
        "cod": {"amount": 125000, "currency": "MXN", "method": "cash"}}))
    assert res[0]["status"] == "applied", res
    page = client.get(f"/pod/{s1['order_id']}/page", headers=world.headers["dispatcher"]).text
    assert "<script>" not in page and "&lt;script&gt;" in page
