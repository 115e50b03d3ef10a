"""Positions over HTTP: OsmAnd / Traccar Client, the driver app, OwnTracks HTTP mode;
bad input refused with a reason and counted; devices; the live view."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from .conftest import NOW
from .helpers import Listener, make_device, positions

LAREDO = (27.5306, -99.4803)


def _ts(dt) -> str:
    return str(int(dt.timestamp()))


def test_an_osmand_ping_is_stored_normalized_and_broadcast(client, world, db, clock):
    d = world.headers["dispatcher"]
    driver = world.ids["driver_id1"]
    dev = make_device(client, d, driver)
    assert dev["token"].startswith("lm_dv_") and len(dev["token"]) >= 6 + 32  # >= 192 bits
    with Listener([f"org:{world.org}", f"driver:{driver}"]) as sub:
        r = client.get("/tracking/osmand", params={
            "id": dev["token"], "lat": "27.5306", "lon": "-99.4803", "timestamp": _ts(NOW), "speed": "10",
            "bearing": "90", "altitude": "130", "accuracy": "8", "batt": "77"})
        assert r.status_code == 200, r.text
        assert r.json() == {"accepted": 1, "rejected": []}
        got = sub.wait_for(2)
    [p] = positions(db, driver)
    assert (p.lat, p.lon, p.at, p.source, p.device_id) == (27.5306, -99.4803, NOW, "osmand", dev["id"])
    assert p.speed_mps == pytest.approx(10 * 1852 / 3600)  # OsmAnd speed is in knots
    assert (p.bearing, p.altitude_m, p.accuracy_m, p.battery) == (90, 130, 8, 77)
    assert {m["topic"] for m in got} == {f"org:{world.org}", f"driver:{driver}"}
    msg = got[0]
    assert msg["type"] == "position" and msg["driver_id"] == driver and msg["at"] == "2026-11-25T16:00:00Z"
    assert msg["lat"] == 27.5306 and msg["speed"] == pytest.approx(5.144, abs=1e-3) and msg["state"] == "driving"


def test_osmand_form_body_iso_and_millisecond_timestamps(client, world, db, clock):
    dev = make_device(client, world.headers["dispatcher"], world.ids["driver_id1"])
    r = client.post("/tracking/osmand", content=f"id={dev['token']}&lat=27.53&lon=-99.48&timestamp="
                    f"{int(NOW.timestamp() * 1000)}", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.json()["accepted"] == 1, r.text
    r = client.get("/tracking/osmand", params={"id": dev["token"], "lat": "27.531", "lon": "-99.481",
                                               "timestamp": "2026-11-25T16:00:30Z"})
    assert r.json()["accepted"] == 1, r.text
    r = client.get("/tracking/osmand", params={"id": dev["token"], "lat": "27.532", "lon": "-99.482",
                                               "timestamp": "2026-11-25 16:01:00"})
    assert r.json()["accepted"] == 1, r.text
    assert [p.at for p in positions(db, world.ids["driver_id1"])] == [
        NOW, NOW + timedelta(seconds=30), NOW + timedelta(seconds=60)]


def test_the_driver_app_batch_rejects_bad_fixes_with_reasons(client, world, db, clock):
    at = NOW - timedelta(minutes=5)
    iso = lambda dt: dt.isoformat()  # noqa: E731
    batch = [
        {"lat": 27.5306, "lon": -99.4803, "at": iso(at), "accuracy": 5, "speed": 8.0},  # 0 ok
        {"lat": 0, "lon": 0, "at": iso(at + timedelta(seconds=10))},  # 1 zero
        {"lat": 95, "lon": -99.48, "at": iso(at + timedelta(seconds=20))},  # 2 out of range
        {"lat": 27.531, "lon": -99.481, "at": iso(at + timedelta(seconds=30)), "accuracy": 900},  # 3 inaccurate
        {"lat": 27.531, "lon": -99.481, "at": iso(NOW + timedelta(hours=1))},  # 4 future
        {"lat": 27.531, "lon": -99.481, "at": iso(NOW - timedelta(days=3))},  # 5 too old
        {"lat": 27.5306, "lon": -99.4803, "at": iso(at)},  # 6 duplicate of 0
        {"lat": 26.0, "lon": -98.0, "at": iso(at + timedelta(seconds=40))},  # 7 200 km in 40 s
        {"lat": 27.5316, "lon": -99.4803, "at": iso(at + timedelta(seconds=60)), "accuracy": 10},  # 8 ok, 111 m later
    ]
    r = client.post("/tracking/positions", json={"positions": batch}, headers=world.headers["driver"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2
    assert {x["index"]: x["reason"] for x in body["rejected"]} == {
        1: "zero_coordinates", 2: "out_of_range", 3: "inaccurate", 4: "future", 5: "too_old", 6: "duplicate",
        7: "impossible_jump"}
    assert [(p.lat, p.source) for p in positions(db, world.ids["driver_id1"])] == [(27.5306, "app"), (27.5316, "app")]
    # the same fix again later: a duplicate of the stored live fix
    r = client.post("/tracking/positions", json={"positions": [batch[8]]}, headers=world.headers["driver"])
    assert r.json() == {"accepted": 0, "rejected": [{"index": 0, "reason": "duplicate"}]}
    stats = client.get("/tracking/stats", headers=world.headers["dispatcher"]).json()
    assert stats["accepted"] == 2 and stats["by_source"]["app"]["duplicate"] == 2
    assert stats["rejected_by_reason"] == {"duplicate": 2, "future": 1, "impossible_jump": 1, "inaccurate": 1,
                                           "out_of_range": 1, "too_old": 1, "zero_coordinates": 1}


def test_bad_requests_get_the_error_shape_and_are_counted(client, world, db, clock, app):
    d = world.headers["dispatcher"]
    dev = make_device(client, d, world.ids["driver_id1"])
    cases = [
        (client.get("/tracking/osmand", params={"lat": "27.5", "lon": "-99.5"}), 400, "malformed"),
        (client.get("/tracking/osmand", params={"id": "lm_dv_guessed", "lat": "27.5", "lon": "-99.5"}), 401,
         "unknown_device"),
        (client.get("/tracking/osmand", params={"id": dev["token"], "lat": "abc", "lon": "-99.5"}), 400, "malformed"),
        (client.get("/tracking/osmand", params={"id": dev["token"], "lat": "27.5", "lon": "-99.5",
                                                "timestamp": "yesterday"}), 400, "malformed"),
        (client.get("/tracking/osmand", params={"id": dev["token"], "lat": "nan", "lon": "-99.5"}), 400, "malformed"),
        (client.post("/tracking/positions", json={"positions": []}, headers=world.headers["driver"]), 422, None),
        (client.post("/tracking/positions", json={"positions": [{"lat": "x", "lon": 1, "at": "2026-11-25T16:00:00Z"}]},
                     headers=world.headers["driver"]), 422, None),
        (client.post("/tracking/positions", content=b"{not json", headers={**world.headers["driver"],
                                                                           "content-type": "application/json"}), 422, None),
        (client.post("/tracking/positions", json={"positions": [{"lat": 27.5, "lon": -99.5, "at": "2026-11-25T16:00:00Z"}]},
                     headers=d), 403, None),
        (client.post("/tracking/positions", json={"positions": [{"lat": 27.5, "lon": -99.5, "at": "x"}] * 20000},
                     headers=world.headers["driver"]), 413, "too_large"),
        (client.post("/tracking/owntracks", json={"_type": "location"}), 401, None),
        (client.post("/tracking/owntracks", json={"_type": "location"}, headers=d), 403, None),
    ]
    for i, (r, status, code) in enumerate(cases):
        assert r.status_code == status, (i, r.status_code, r.text)
        err = r.json()["error"]
        assert err["code"] and err["message"], (i, r.text)
        if code:
            assert err["code"] == code, (i, r.text)
    # a revoked device is refused at once
    assert client.delete(f"/devices/{dev['id']}", headers=d).status_code == 204
    assert client.delete(f"/devices/{dev['id']}", headers=d).status_code == 204  # harmless again
    r = client.get("/tracking/osmand", params={"id": dev["token"], "lat": "27.5", "lon": "-99.5"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unknown_device"
    stats = client.get("/tracking/stats", headers=d).json()
    assert stats["accepted"] == 0
    assert stats["rejected_by_reason"]["unknown_device"] == 3  # guessed, revoked, OwnTracks without credentials
    assert stats["rejected_by_reason"]["malformed"] == 4 and stats["rejected_by_reason"]["too_large"] == 1
    assert positions(db, world.ids["driver_id1"]) == []


def test_a_flooding_device_is_limited_and_others_are_not(client, world, db, clock, app):
    from lastmile.tracking.config import TrackingSettings

    app.state.tracking_settings = TrackingSettings(device_requests_per_window=3, device_window_s=3600)
    d = world.headers["dispatcher"]
    noisy, quiet = make_device(client, d, world.ids["driver_id1"]), make_device(client, d, world.ids["driver_id2"])
    codes = []
    for i in range(5):
        r = client.get("/tracking/osmand", params={"id": noisy["token"], "lat": "27.5", "lon": "-99.5",
                                                   "timestamp": _ts(NOW + timedelta(seconds=i * 10))})
        codes.append(r.status_code)
    assert codes == [200, 200, 200, 429, 429]
    assert r.headers["retry-after"].isdigit() and r.json()["error"]["code"] == "too_many_requests"
    r = client.get("/tracking/osmand", params={"id": quiet["token"], "lat": "27.5", "lon": "-99.5",
                                               "timestamp": _ts(NOW)})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert len(positions(db, world.ids["driver_id1"])) == 3
    assert client.get("/tracking/stats", headers=d).json()["rejected_by_reason"]["rate_limited"] == 2


def test_owntracks_http_mode_with_basic_auth(client, world, db, clock):
    dev = make_device(client, world.headers["dispatcher"], world.ids["driver_id2"], kind="owntracks",
                      owntracks_user="maria", owntracks_device="phone")
    assert dev["topic"] == "owntracks/maria/phone"
    auth = {"Authorization": "Basic " + base64.b64encode(f"maria:{dev['token']}".encode()).decode()}
    msg = {"_type": "location", "lat": 27.5, "lon": -99.5, "tst": int(NOW.timestamp()), "acc": 12, "vel": 36,
           "cog": 180, "batt": 55, "tid": "ph"}
    r = client.post("/tracking/owntracks", json=msg, headers=auth)
    assert r.status_code == 200 and r.json() == []
    assert client.post("/tracking/owntracks", json={"_type": "lwt", "tst": 1}, headers=auth).json() == []
    [p] = positions(db, world.ids["driver_id2"])
    assert p.speed_mps == pytest.approx(10.0) and p.source == "owntracks" and p.accuracy_m == 12
    wrong = {"Authorization": "Basic " + base64.b64encode(b"maria:lm_dv_nope").decode()}
    assert client.post("/tracking/owntracks", json=msg, headers=wrong).status_code == 401
    r = client.post("/tracking/owntracks", content=b"[1,2", headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed"


def test_devices_are_created_by_staff_and_keep_only_a_hash(client, world, db):
    from lastmile.tracking.models import Device

    d = world.headers["dispatcher"]
    dev = make_device(client, d, world.ids["driver_id1"], kind="owntracks", owntracks_user="jorge",
                      owntracks_device="android")
    listed = client.get("/devices", headers=d).json()
    assert [x["id"] for x in listed] == [dev["id"]] and "token" not in listed[0]
    with db.session() as s:
        stored = s.get(Device, dev["id"])
        assert dev["token"] not in (stored.token_hash, stored.name, stored.topic)
    r = client.post("/devices", json={"driver_id": world.ids["driver_id2"], "kind": "owntracks",
                                      "owntracks_user": "jorge", "owntracks_device": "android"}, headers=d)
    assert r.status_code == 409 and r.json()["error"]["field"] == "owntracks_device"
    r = client.post("/devices", json={"driver_id": world.ids["driver_id2"], "kind": "owntracks"}, headers=d)
    assert r.status_code == 422
    r = client.post("/devices", json={"driver_id": "drv_01JD0000000000000000000000", "kind": "osmand"}, headers=d)
    assert r.status_code == 422 and r.json()["error"]["field"] == "driver_id"
    # revoking frees the topic for a new phone
    assert client.delete(f"/devices/{dev['id']}", headers=d).status_code == 204
    make_device(client, d, world.ids["driver_id2"], kind="owntracks", owntracks_user="jorge",
                owntracks_device="android")
