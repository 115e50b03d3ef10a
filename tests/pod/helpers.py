"""Small builders for driver-app actions and test images."""

from __future__ import annotations

import io
import uuid

from tests.server.conftest import TODAY

DEVICE_TIME = "2026-11-25T09:30:00-06:00"


def png(color=(200, 30, 30), size=(40, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg(color=(30, 30, 200), size=(64, 48)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def upload(client, headers, data: bytes, name="photo.png", content_type="image/png"):
    return client.post("/driver/files", files={"file": (name, data, content_type)}, headers=headers)


def action(type_: str, route_id: str, stop_id: str | None = None, data: dict | None = None, *,
           position: dict | None = None, device_time: str | None = None, id: str | None = None) -> dict:
    a = {"id": id or str(uuid.uuid4()), "type": type_, "route_id": route_id, "device_time": device_time or
         DEVICE_TIME, "data": data or {}}
    if stop_id is not None:
        a["stop_id"] = stop_id
    if position is not None:
        a["position"] = position
    return a


def send(client, headers, *actions):
    r = client.post("/driver/actions", json={"actions": list(actions)}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def today(client, headers) -> dict:
    r = client.get("/driver/today", params={"date": TODAY.isoformat()}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()
