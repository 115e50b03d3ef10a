"""OwnTracks over the real Mosquitto: a location published by a phone ends as a stored
position and as a broadcast that crosses processes through the real Redis; wrong
topics, unknown devices, junk and oversized messages are refused and counted while
the ingest keeps going."""

from __future__ import annotations

import json
import uuid

import pytest

from .conftest import NOW
from .helpers import Listener, make_device, positions


@pytest.fixture
def ingest(db, mosquitto):
    """``lastmile ingest-mqtt`` in-process, on a topic prefix of its own (so parallel
    runs on the shared broker do not see each other's messages)."""
    from lastmile.tracking.mqtt import MqttIngest

    ing = MqttIngest(db, host=mosquitto[0], port=mosquitto[1], topics=("owntracks/#",))
    ing.start()
    yield ing
    ing.stop()


def _publisher(mosquitto):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"phone-{uuid.uuid4().hex[:8]}")
    c.connect(*mosquitto)
    c.loop_start()
    return c


def _send(pub, topic: str, payload: bytes | dict) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    pub.publish(topic, data, qos=1).wait_for_publish(5)


def test_an_owntracks_location_is_stored_and_broadcast_across_processes(
        db, client, world, clock, mosquitto, redis_url, ingest, monkeypatch):
    from lastmile.kit import broadcast

    # two broadcasters on the real Redis stand for two processes: the MQTT ingest
    # publishes through one, a web server's subscriber listens on the other
    ingest_side, web_side = broadcast.Broadcaster(redis_url), broadcast.Broadcaster(redis_url)
    monkeypatch.setattr(broadcast, "get_broadcaster", lambda *a, **k: ingest_side)
    user = f"u{uuid.uuid4().hex[:10]}"
    dev = make_device(client, world.headers["dispatcher"], world.ids["driver_id2"], kind="owntracks",
                      owntracks_user=user, owntracks_device="phone")
    pub = _publisher(mosquitto)
    try:
        with Listener([f"driver:{world.ids['driver_id2']}"], broadcaster=web_side) as sub:
            start = ingest.handled
            _send(pub, dev["topic"], {"_type": "location", "lat": 27.5036, "lon": -99.5076,
                                      "tst": int(NOW.timestamp()), "acc": 9, "vel": 54, "cog": 270, "batt": 81,
                                      "tid": "ph"})
            assert ingest.wait_handled(start + 1)
            got = sub.wait_for(1)
    finally:
        pub.loop_stop()
    [p] = positions(db, world.ids["driver_id2"])
    assert (p.lat, p.lon, p.at, p.source, p.device_id) == (27.5036, -99.5076, NOW, "owntracks", dev["id"])
    assert p.speed_mps == pytest.approx(15.0) and (p.accuracy_m, p.bearing, p.battery) == (9, 270, 81)
    assert got and got[0]["type"] == "position" and got[0]["lat"] == 27.5036 and got[0]["speed"] == pytest.approx(15)
    assert got[0]["topic"] == f"driver:{world.ids['driver_id2']}"


def test_bad_mqtt_messages_are_refused_counted_and_disturb_nothing(db, client, world, clock, mosquitto, ingest):
    from lastmile.tracking.config import TrackingSettings

    user = f"u{uuid.uuid4().hex[:10]}"
    dev = make_device(client, world.headers["dispatcher"], world.ids["driver_id1"], kind="owntracks",
                      owntracks_user=user, owntracks_device="phone")
    good = {"_type": "location", "lat": 27.53, "lon": -99.48, "tst": int(NOW.timestamp())}
    ingest.cfg = TrackingSettings(max_message_bytes=1024)
    pub = _publisher(mosquitto)
    start = ingest.handled
    try:
        _send(pub, f"owntracks/{user}/stranger", good)  # nobody registered this topic
        _send(pub, f"owntracks/{user}", good)  # not owntracks/<user>/<device>
        _send(pub, dev["topic"], b"\xff{not json")
        _send(pub, dev["topic"], {"_type": "location", "lat": "north", "lon": -99.48, "tst": 1})
        _send(pub, dev["topic"], {"_type": "location", "lat": 27.5, "lon": -99.5})  # no tst
        _send(pub, dev["topic"], {**good, "pad": "x" * 5000})  # oversized
        _send(pub, dev["topic"], {"_type": "lwt", "tst": 1})  # no position: ignored
        _send(pub, dev["topic"] + "/event", {"_type": "transition"})  # a subtopic: ignored
        _send(pub, dev["topic"], {**good, "lat": 0, "lon": 0})  # readable, filtered
        _send(pub, dev["topic"], good)  # and the phone's next good fix still goes through
        assert ingest.wait_handled(start + 10)
    finally:
        pub.loop_stop()
    assert [(p.lat, p.lon) for p in positions(db, world.ids["driver_id1"])] == [(27.53, -99.48)]
    stats = client.get("/tracking/stats", headers=world.headers["dispatcher"]).json()
    assert stats["by_source"]["owntracks"] == {"accepted": 1, "malformed": 3, "too_large": 1,
                                               "unknown_topic": 1, "bad_topic": 1, "ignored_type": 1,
                                               "ignored_topic": 1, "zero_coordinates": 1}
    assert stats["ignored"] == 2


def test_a_flooding_phone_is_limited_per_device(db, client, world, clock, mosquitto, ingest):
    from datetime import timedelta

    from lastmile.kit.ratelimit import RequestLimiter

    ingest.limiter = RequestLimiter(ingest.limiter.store, 5, 3600, 0)
    user = f"u{uuid.uuid4().hex[:10]}"
    dev = make_device(client, world.headers["dispatcher"], world.ids["driver_id1"], kind="owntracks",
                      owntracks_user=user, owntracks_device="phone")
    pub = _publisher(mosquitto)
    start = ingest.handled
    try:
        for i in range(8):
            _send(pub, dev["topic"], {"_type": "location", "lat": 27.53 + i * 1e-4, "lon": -99.48,
                                      "tst": int((NOW + timedelta(seconds=10 * i)).timestamp())})
        assert ingest.wait_handled(start + 8)
    finally:
        pub.loop_stop()
    assert len(positions(db, world.ids["driver_id1"])) == 5
    stats = client.get("/tracking/stats", headers=world.headers["dispatcher"]).json()
    assert stats["by_source"]["owntracks"]["rate_limited"] == 3


def _location(i: int) -> dict:
    from datetime import timedelta

    return {"_type": "location", "lat": 27.53 + i * 1e-5, "lon": -99.48,
            "tst": int((NOW - timedelta(seconds=3000 - i)).timestamp())}


def test_a_message_is_acknowledged_only_after_commit_and_redelivered_after_a_crash(
        db, client, world, clock, mosquitto):
    """A named ingest keeps its MQTT session: what it had not committed when it went
    down is delivered again to its next run (at least once; no loss)."""
    from lastmile.tracking.mqtt import MqttIngest

    user = f"u{uuid.uuid4().hex[:10]}"
    dev = make_device(client, world.headers["dispatcher"], world.ids["driver_id1"], kind="owntracks",
                      owntracks_user=user, owntracks_device="phone")
    cid = f"lastmile-test-{uuid.uuid4().hex[:8]}"
    first = MqttIngest(db, host=mosquitto[0], port=mosquitto[1], topics=(f"owntracks/{user}/#",), client_id=cid)

    def database_down(batch):
        raise RuntimeError("database unreachable")

    first.handle = database_down
    first.start()
    pub = _publisher(mosquitto)
    try:
        for i in range(3):
            _send(pub, dev["topic"], _location(i))
        import time

        time.sleep(1.0)  # delivered to the first ingest, which cannot commit them
        first.stop()  # "crashes" with the batch uncommitted: nothing acknowledged
        assert positions(db, world.ids["driver_id1"]) == []
        second = MqttIngest(db, host=mosquitto[0], port=mosquitto[1], topics=(f"owntracks/{user}/#",),
                            client_id=cid)
        second.start()
        try:
            assert second.wait_handled(3, timeout=10)
        finally:
            second.stop()
    finally:
        pub.loop_stop()
        pub.disconnect()
    assert len(positions(db, world.ids["driver_id1"])) == 3


def test_a_burst_beyond_the_brokers_queue_is_stored_whole_by_two_shared_ingests(
        db, client, world, clock, mosquitto):
    """3,000 messages published at once (Mosquitto queues 1,000 per client by default):
    two ingest processes in one shared-subscription group store every one, once."""
    from lastmile.tracking.mqtt import MqttIngest

    user = f"u{uuid.uuid4().hex[:10]}"
    devs = [make_device(client, world.headers["dispatcher"], world.ids[k], kind="owntracks", owntracks_user=user,
                        owntracks_device=f"p{n}") for n, k in enumerate(("driver_id1", "driver_id2"))]
    group = f"g{uuid.uuid4().hex[:8]}"
    ingests = [MqttIngest(db, host=mosquitto[0], port=mosquitto[1], topics=(f"owntracks/{user}/#",), share=group,
                          limit_store=None) for _ in range(2)]
    for ing in ingests:
        ing.limiter.limit = 10**9  # the flood limit is not what this test is about
        ing.start()
    import paho.mqtt.client as mqtt

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"phone-{uuid.uuid4().hex[:8]}")
    pub.max_inflight_messages_set(1000)
    pub.connect(*mosquitto)
    pub.loop_start()
    n = 1500
    try:
        infos = [pub.publish(d["topic"], json.dumps(_location(i)).encode(), qos=1) for i in range(n) for d in devs]
        for info in infos:
            info.wait_for_publish(30)
        import time

        deadline = time.monotonic() + 60
        while sum(i.handled for i in ingests) < 2 * n and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pub.loop_stop()
        pub.disconnect()
        for ing in ingests:
            ing.stop()
    assert sum(i.handled for i in ingests) == 2 * n
    assert all(i.handled > 0 for i in ingests)  # the broker shared the work
    assert len(positions(db, world.ids["driver_id1"])) == n and len(positions(db, world.ids["driver_id2"])) == n
