"""A driver's whole day through the driver API: start, deliver, fail, pickup, scan-in,
end; replays; POD rules; someone else's stops; clocks."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.server.conftest import TODAY

from .helpers import action, jpeg, png, send, today, upload


def _count(db, model, **where):
    with db.session() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.scalar(q)


def _deliver_data(stop, sig, photo, **over):
    data = {"recipient_name": "Mr. Peña", "signature": sig, "photos": [photo], "scans": stop["parcels_codes"],
            "cod": ({"amount": stop["cod"]["amount"], "currency": stop["cod"]["currency"], "method": "cash"}
                    if stop["cod"] else None), "contactless": False}
    data.update(over)
    return data


def test_today_lists_the_route_with_pod_rules_and_parcel_codes(client, world, driver_day):
    stops = driver_day["stops"]
    assert [s["seq"] for s in stops] == list(range(1, len(stops) + 1))
    first = stops[0]
    assert first["pod_rules"] == {"signature": True, "photo": False, "scan_all": False, "exact_cod": True,
                                  "contactless": False}
    # no barcodes recorded on the order: one derived code per parcel
    assert first["parcels_codes"] == [f"{first['order_id']}-{n}" for n in range(1, 21)]
    assert first["cod"] == {"amount": 125000, "currency": "MXN"}
    t = today(client, world.headers["driver2"])
    assert t["driver"]["name"] == "Driver2" and all(r["id"] != driver_day["id"] for r in t["routes"])
    assert client.get("/driver/today", headers=world.headers["dispatcher"]).status_code == 403


def test_a_whole_route_start_deliver_fail_pickup_scan_in_end(client, world, db, driver_day):
    from lastmile.orders.models import Order
    from lastmile.pod.models import PodRecord

    h, d = world.headers["driver"], world.headers["dispatcher"]
    r = client.patch(f"/shippers/{world.ids['shipper']}/pod-rules", json={"photo": True, "scan_all": True},
                     headers=d)
    assert r.status_code == 200 and r.json()["scan_all"] is True
    rid = driver_day["id"]
    deliver_stop, fail_stop, skipped_stop, pickup_stop = driver_day["stops"]
    assert pickup_stop["kind"] == "pickup"
    sig = upload(client, h, png(), "signature.png").json()["sha256"]
    photo = upload(client, h, jpeg(), "door.jpg", "image/jpeg").json()["sha256"]
    fail_photo = upload(client, h, jpeg((10, 120, 10)), "closed.jpg", "image/jpeg").json()["sha256"]
    box_photo = upload(client, h, png((90, 60, 10)), "box.png").json()["sha256"]
    at_door = {"lat": deliver_stop["lat"] + 0.0003, "lon": deliver_stop["lon"], "accuracy": 6.5}

    res = send(client, h,
               action("start_shift", rid),
               action("en_route", rid, deliver_stop["id"]),
               action("arrive", rid, deliver_stop["id"], position=at_door),
               action("deliver", rid, deliver_stop["id"], _deliver_data(deliver_stop, sig, photo), position=at_door),
               action("arrive", rid, fail_stop["id"]),
               action("fail", rid, fail_stop["id"], {"reason": "not_home", "photos": [fail_photo],
                                                     "note": "nadie en casa"}),
               action("pickup", rid, pickup_stop["id"], {"scans": ["RET-7-A", "RET-7-B"], "condition": "damaged",
                                                         "photos": [box_photo], "note": "caja mojada"}))
    assert [x["status"] for x in res] == ["applied"] * 7, res
    delivered = res[3]["result"]
    assert delivered["seq"] == 1 and len(delivered["record_hash"]) == 64
    assert res[5]["result"]["reattempt"] == "next_day" and res[5]["result"]["order_status"] == "pending"

    # the stop not attempted and the failed one's parcels must come back before the shift ends
    end = send(client, h, action("end_shift", rid))[0]
    assert end["status"] == "rejected" and end["error"]["code"] == "parcels_not_scanned_in"
    expected_back = set(fail_stop["parcels_codes"]) | set(skipped_stop["parcels_codes"]) | {"RET-7-A", "RET-7-B"}
    assert set(end["error"]["parcels"]) == expected_back
    scan = send(client, h, action("scan_in", rid, data={"scans": sorted(expected_back) + ["STRAY-1"]}))[0]
    assert scan["status"] == "applied", scan
    assert scan["result"]["unexpected"] == ["STRAY-1"] and scan["result"]["missing"] == []
    end = send(client, h, action("end_shift", rid))[0]
    assert end["status"] == "applied", end
    assert end["result"]["not_attempted"] == [skipped_stop["id"]]

    orders = {s["order_id"]: client.get(f"/orders/{s['order_id']}", headers=d).json() for s in driver_day["stops"]}
    assert orders[deliver_stop["order_id"]]["status"] == "delivered"
    for stop in (fail_stop, skipped_stop):  # reattempt next day: back to pending, for tomorrow
        o = orders[stop["order_id"]]
        assert o["status"] == "pending" and o["date"] == "2026-11-26"
        assert o["windows"][0]["start"].startswith("2026-11-26")
    assert orders[pickup_stop["order_id"]]["status"] == "delivered"  # a pickup done
    view = today(client, h)["routes"][0]
    assert view["status"] == "finished"
    assert [s["status"] for s in view["stops"]] == ["done", "failed", "failed", "done"]

    pod = client.get(f"/pod/{deliver_stop['order_id']}", headers=d).json()
    (rec,) = pod["records"]
    body = rec["payload"]
    assert body["recipient_name"] == "Mr. Peña" and body["cod"] == {"amount": 125000, "currency": "MXN",
                                                                     "method": "cash", "reference": ""}
    assert {f["role"] for f in body["files"]} == {"signature", "photo"}
    assert body["position"] == at_door and 20 <= body["distance_m"] <= 45
    assert body["device_time"] == "2026-11-25T15:30:00Z" and body["server_time"] == rec["server_time"]
    assert body["scans"] == deliver_stop["parcels_codes"] and body["rules"]["scan_all"] is True
    assert client.get(f"/pod/{deliver_stop['order_id']}", headers=world.headers["shipper"]).status_code == 200
    assert client.get(f"/pod/{deliver_stop['order_id']}", headers=world.headers["shipper2"]).status_code == 404
    with db.session() as s:
        kinds = [r.kind for r in s.scalars(select(PodRecord).where(PodRecord.route_id == rid).order_by(PodRecord.seq))]
        assert kinds == ["delivered", "failed", "pickup", "scan_in", "failed"]
        assert s.get(Order, deliver_stop["order_id"]).status == "delivered"

    manifest = client.get(f"/depots/{world.ids['depot']}/returns", params={"date": TODAY.isoformat()}, headers=d)
    assert manifest.status_code == 200
    m = manifest.json()
    assert {p["code"] for p in m["parcels"]} == expected_back
    assert m["summary"] == {"parcels": len(expected_back), "scanned_in": len(expected_back), "missing": 0,
                            "pickups": 2}
    ret = {p["code"]: p for p in m["parcels"]}
    assert ret["RET-7-A"]["condition"] == "damaged" and ret["RET-7-A"]["source"] == "pickup"
    assert ret[fail_stop["parcels_codes"][0]]["reason"] == "not_home"
    assert ret[fail_stop["parcels_codes"][0]]["reattempt"] == "next_day" and ret["RET-7-A"]["reattempt"] is None
    assert ret[skipped_stop["parcels_codes"][0]]["source"] == "not_attempted"
    assert client.get(f"/depots/{world.ids['depot']}/returns", headers=h).status_code == 403


def test_replaying_a_batch_applies_nothing_twice(client, world, db, driver_day):
    from lastmile.events.models import Event
    from lastmile.orders.models import OrderStatusChange
    from lastmile.pod.models import DriverAction, PodRecord

    h = world.headers["driver"]
    rid, stop = driver_day["id"], driver_day["stops"][0]
    sig = upload(client, h, png()).json()["sha256"]
    photo = upload(client, h, jpeg()).json()["sha256"]
    batch = [action("start_shift", rid), action("arrive", rid, stop["id"]),
             action("deliver", rid, stop["id"], _deliver_data(stop, sig, photo)),
             action("delay", rid, data={"minutes": 10, "note": "tráfico en el puente"})]
    first = send(client, h, *batch)
    assert [x["status"] for x in first] == ["applied"] * 4, first
    again = send(client, h, *batch)
    assert [x["status"] for x in again] == ["duplicate"] * 4
    assert [x["result"] for x in again] == [x["result"] for x in first]
    assert [x["id"] for x in again] == [a["id"] for a in batch]
    # the same id twice in one batch: the second is a duplicate
    twice = action("en_route", rid, driver_day["stops"][1]["id"])
    assert [x["status"] for x in send(client, h, twice, twice)] == ["applied", "duplicate"]
    assert _count(db, PodRecord, route_id=rid) == 1
    assert _count(db, DriverAction, route_id=rid) == 5
    assert _count(db, OrderStatusChange, order_id=stop["order_id"], to_status="delivered") == 1
    assert _count(db, Event, subject_id=stop["id"], type="stop.done") == 1


def test_pod_rules_refuse_with_a_reason_and_the_rest_of_the_batch_applies(client, world, db, driver_day):
    h, d = world.headers["driver"], world.headers["dispatcher"]
    rid, stop, other = driver_day["id"], driver_day["stops"][0], driver_day["stops"][1]
    sig = upload(client, h, png()).json()["sha256"]
    photo = upload(client, h, jpeg()).json()["sha256"]
    not_uploaded = "ab" * 32
    client.patch(f"/orders/{stop['order_id']}/pod-rules", json={"scan_all": True, "photo": True}, headers=d)
    cases = [
        ({"signature": None}, "pod_rule", "data.signature"),
        ({"recipient_name": ""}, "pod_rule", "data.recipient_name"),
        ({"photos": []}, "pod_rule", "data.photos"),
        ({"scans": stop["parcels_codes"][:-1]}, "pod_rule", "data.scans"),
        ({"scans": [*stop["parcels_codes"], "NOT-OURS"]}, "pod_rule", "data.scans"),
        ({"cod": None}, "pod_rule", "data.cod"),
        ({"cod": {"amount": 120000, "currency": "MXN", "method": "cash"}}, "pod_rule", "data.cod.amount"),
        ({"cod": {"amount": 125000, "currency": "USD", "method": "cash"}}, "pod_rule", "data.cod.amount"),
        ({"cod": {"amount": 125000, "currency": "MXN", "method": "card"}}, "pod_rule", "data.cod.reference"),
        ({"cod": {"amount": 125000, "currency": "EUR", "method": "cash"}}, "validation_error", "data.cod.currency"),
        ({"photos": [not_uploaded]}, "file_not_uploaded", "data.photos[0]"),
        ({"signature": "not-a-hash"}, "validation_error", "data.signature"),
        ({"surprise": 1}, "validation_error", "data.surprise"),
    ]
    batch = [action("deliver", rid, stop["id"], _deliver_data(stop, sig, photo, **over)) for over, _, _ in cases]
    batch.append(action("arrive", rid, other["id"]))  # a good action after the bad ones
    res = send(client, h, *batch)
    for (over, code, field), r in zip(cases, res, strict=False):
        assert r["status"] == "rejected", (over, r)
        assert (r["error"]["code"], r["error"].get("field")) == (code, field), (over, r)
        assert r["error"]["message"]
    assert res[-1]["status"] == "applied"
    assert client.get(f"/orders/{stop['order_id']}", headers=d).json()["status"] == "assigned"  # nothing applied
    # a refused action can be fixed and sent again under the same id
    fixed = dict(batch[0], data=_deliver_data(stop, sig, photo))
    assert send(client, h, fixed)[0]["status"] == "applied"
    assert client.get(f"/orders/{stop['order_id']}", headers=d).json()["status"] == "delivered"
    # delivering twice (a new id) is a conflict, not a second delivery
    again = send(client, h, action("deliver", rid, stop["id"], _deliver_data(stop, sig, photo)))[0]
    assert again["status"] == "rejected" and again["error"]["code"] == "conflict"


def test_contactless_needs_a_photo_and_no_signature(client, world, driver_day):
    h = world.headers["driver"]
    rid, stop = driver_day["id"], driver_day["stops"][1]
    photo = upload(client, h, jpeg()).json()["sha256"]
    no_photo = send(client, h, action("deliver", rid, stop["id"], {"contactless": True, "photos": []}))[0]
    assert no_photo["error"]["field"] == "data.photos"
    ok = send(client, h, action("deliver", rid, stop["id"], {"contactless": True, "photos": [photo]}))[0]
    assert ok["status"] == "applied", ok
    pod = client.get(f"/pod/{stop['order_id']}", headers=world.headers["dispatcher"]).json()
    assert pod["records"][0]["payload"]["contactless"] is True


def test_customer_preference_makes_the_stop_contactless(client, world, db, driver_day):
    from lastmile.orders.models import Order

    stop = driver_day["stops"][1]
    try:
        from lastmile.portal.service import set_preferences
    except ImportError:
        import pytest

        pytest.skip("the customer portal is not installed")
    with db.session() as s:
        set_preferences(s, s.get(Order, stop["order_id"]), {"contactless": True})
        s.commit()
    view = today(client, world.headers["driver"])["routes"][0]
    assert view["stops"][1]["pod_rules"]["contactless"] is True


def test_another_drivers_route_or_stop_is_not_found(client, world, published_day, driver_day):
    h = world.headers["driver"]
    theirs = published_day["routes"][world.ids["driver_id2"]]
    their_stop = today(client, world.headers["driver2"])["routes"][0]["stops"][0]
    res = send(client, h,
               action("start_shift", theirs["id"]),
               action("arrive", theirs["id"], their_stop["id"]),
               action("arrive", driver_day["id"], their_stop["id"]),  # their stop under my route
               action("arrive", "rte_01ABCDEFGHJKMNPQRSTVWXYZ00", driver_day["stops"][0]["id"]))
    assert [(r["status"], r["error"]["code"], r["error"]["field"]) for r in res] == [
        ("rejected", "not_found", "route_id"), ("rejected", "not_found", "route_id"),
        ("rejected", "not_found", "stop_id"), ("rejected", "not_found", "route_id")]
    view = today(client, world.headers["driver2"])["routes"][0]
    assert view["status"] == "planned" and view["stops"][0]["status"] == "planned"


def test_bad_actions_are_refused_one_by_one(client, world, driver_day):
    h = world.headers["driver"]
    rid, stop = driver_day["id"], driver_day["stops"][0]
    res = send(client, h,
               action("teleport", rid),
               action("arrive", rid),
               action("start_shift", rid, stop["id"]),
               action("fail", rid, stop["id"], {"reason": "aliens"}),
               action("delay", rid, data={"minutes": 0}),
               action("arrive", rid, stop["id"], position={"lat": 95, "lon": 0}),
               action("arrive", rid, stop["id"], device_time="yesterday"),
               action("break_end", rid),
               action("arrive", rid, stop["id"]))
    fields = [(r["status"], r.get("error", {}).get("field")) for r in res]
    assert fields == [("rejected", "type"), ("rejected", "stop_id"), ("rejected", "stop_id"),
                      ("rejected", "data.reason"), ("rejected", "data.minutes"), ("rejected", "position.lat"),
                      ("rejected", "device_time"), ("rejected", "type"), ("applied", None)]
    # a body that is not a batch at all is a 422 in the one error shape
    r = client.post("/driver/actions", json={"actions": [{"type": "arrive"}]}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "actions[0].id"
    r = client.post("/driver/actions", json={"actions": [{}] * 201}, headers=h)
    assert r.status_code == 422


def test_clock_skew_is_kept_flagged_or_refused(client, world, db, driver_day):
    from lastmile.dispatch.models import RouteStop
    from lastmile.kit.time import utcnow
    from lastmile.pod.models import DriverAction

    h = world.headers["driver"]
    rid, s1, s2, s3 = driver_day["id"], *driver_day["stops"][:3]
    now = utcnow()
    offline = (now - __import__("datetime").timedelta(hours=2)).isoformat()
    ahead = (now + __import__("datetime").timedelta(minutes=20)).isoformat()
    way_off = (now - __import__("datetime").timedelta(days=5)).isoformat()
    res = send(client, h, action("arrive", rid, s1["id"], device_time=offline),
               action("arrive", rid, s2["id"], device_time=ahead),
               action("arrive", rid, s3["id"], device_time=way_off))
    assert res[0]["status"] == "applied" and res[0]["result"]["flags"] == []
    assert res[1]["status"] == "applied" and res[1]["result"]["flags"] == ["clock_ahead"]
    assert res[2]["status"] == "rejected" and res[2]["error"]["code"] == "clock_skew"
    with db.session() as s:
        a1 = s.scalar(select(DriverAction).where(DriverAction.stop_id == s1["id"]))
        assert 7190 <= a1.skew_s <= 7300 and not a1.skew_flagged
        # an action queued offline happened when the phone says (it is behind, not ahead)
        assert abs((s.get(RouteStop, s1["id"]).arrived_at - a1.device_time).total_seconds()) < 1
        a2 = s.scalar(select(DriverAction).where(DriverAction.stop_id == s2["id"]))
        assert a2.skew_flagged and a2.skew_s < -1100
        # a phone ahead of the server: the server's time is used
        assert abs((s.get(RouteStop, s2["id"]).arrived_at - a2.server_time).total_seconds()) < 1


def test_breaks_and_delays_retime_the_route(client, world, driver_day):
    h = world.headers["driver"]
    rid = driver_day["id"]
    res = send(client, h, action("start_shift", rid), action("break_start", rid), action("break_start", rid),
               action("break_end", rid), action("break_end", rid), action("delay", rid, data={"minutes": 15}))
    assert [r["status"] for r in res] == ["applied", "applied", "rejected", "applied", "rejected", "applied"]
    assert res[2]["error"]["code"] == "on_break" and res[4]["error"]["code"] == "not_on_break"
    assert res[1]["result"]["retimed"] in ("refresh_route", "none")
    assert res[5]["result"]["retimed"] in ("refresh_route", "shifted") and res[5]["result"]["delay_s"] == 900


def test_reattempt_policies(client, world, db, driver_day):
    h, d = world.headers["driver"], world.headers["dispatcher"]
    rid, s1, s2 = driver_day["id"], driver_day["stops"][0], driver_day["stops"][1]
    photo = upload(client, h, jpeg()).json()["sha256"]
    client.patch(f"/orders/{s1['order_id']}/pod-rules", json={"reattempt": "customer_choice"}, headers=d)
    r = client.patch(f"/orders/{s2['order_id']}/pod-rules", json={"reattempt": "return_to_depot"}, headers=d)
    assert r.status_code == 200 and r.json()["reattempt"] == "return_to_depot"
    eff = client.get(f"/orders/{s2['order_id']}/pod-rules", headers=world.headers["shipper"]).json()
    assert eff["effective"]["reattempt"] == "return_to_depot" and eff["effective"]["signature"] is True
    res = send(client, h,
               action("fail", rid, s1["id"], {"reason": "refused", "photos": [photo]}),
               action("fail", rid, s2["id"], {"reason": "address_not_found", "photos": [photo]}),
               action("fail", rid, driver_day["stops"][2]["id"], {"reason": "unsafe"}))  # no photo when unsafe
    assert [r["status"] for r in res] == ["applied"] * 3, res
    assert client.get(f"/orders/{s1['order_id']}", headers=d).json()["status"] == "failed"  # waits for the customer
    assert client.get(f"/orders/{s2['order_id']}", headers=d).json()["status"] == "failed"
    scan = send(client, h, action("scan_in", rid, data={"scans": s2["parcels_codes"]}))[0]
    assert scan["result"]["returned_orders"] == [s2["order_id"]]
    assert client.get(f"/orders/{s2['order_id']}", headers=d).json()["status"] == "returned"
    failed_photo = send(client, h, action("fail", rid, driver_day["stops"][3]["id"], {"reason": "not_home"}))[0]
    assert failed_photo["error"]["field"] == "data.photos"


def test_the_same_batch_sent_twice_at_once_applies_once(client, world, db, driver_day):
    """Two phones' retries racing (or a retry while the first request is still running)."""
    import threading

    from lastmile.pod.models import PodRecord

    h = world.headers["driver"]
    rid, stop = driver_day["id"], driver_day["stops"][0]
    sig = upload(client, h, png()).json()["sha256"]
    photo = upload(client, h, jpeg()).json()["sha256"]
    batch = [action("start_shift", rid), action("deliver", rid, stop["id"], _deliver_data(stop, sig, photo))]
    answers: list = []

    def post():
        r = client.post("/driver/actions", json={"actions": batch}, headers=h)
        answers.append((r.status_code, r.json()))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [code for code, _ in answers] == [200, 200], answers
    for i in range(len(batch)):
        statuses = sorted(body["results"][i]["status"] for _, body in answers)
        assert statuses == ["applied", "duplicate"], answers
    assert _count(db, PodRecord, route_id=rid) == 1
