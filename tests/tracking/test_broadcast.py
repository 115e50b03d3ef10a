"""kit/broadcast.py on the real Redis: the sender's outbox (one round trip for many
messages, a driver's older position replaced by the newer one), per-topic relay
subscriptions, and the resync a subscriber gets instead of silently lost messages."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest


def in_thread(coro_fn):
    """asyncio.run in its own thread (Playwright keeps a loop in the main thread)."""
    out: dict = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro_fn())
        except BaseException as e:
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join(30)
    if "error" in out:
        raise out["error"]
    return out["value"]


async def _take(sub, n: int, timeout: float = 3.0) -> list[dict]:
    got = []
    for _ in range(n):
        try:
            got.append(await asyncio.wait_for(sub.__anext__(), timeout))
        except TimeoutError:
            break
    return got


def test_a_subscriber_hears_what_is_published_after_subscribe_returns(redis_url):
    from lastmile.kit.broadcast import Broadcaster

    pub, web = Broadcaster(redis_url), Broadcaster(redis_url)
    topic = f"order:{uuid.uuid4().hex}"

    async def run() -> list[dict]:
        sub = web.subscribe([topic])
        first = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0)  # subscribe() runs up to its first wait: Redis confirms the channel
        for _ in range(100):
            if web.hub.subscriber_count(topic):
                break
            await asyncio.sleep(0.01)
        relay = next(iter(web._relays.values()))
        for _ in range(300):  # confirmed by Redis
            if f"lastmile:{topic}" in relay.channels and not relay.confirm:
                break
            await asyncio.sleep(0.01)
        pub.publish(topic, {"type": "eta", "n": 1})
        got = [await asyncio.wait_for(first, 5)]
        got += await _take(sub, 1, 0.5)
        await sub.aclose()
        return got

    got = in_thread(run)
    assert got == [{"type": "eta", "n": 1, "topic": topic}]


def test_the_relay_listens_only_to_topics_with_local_subscribers(redis_url):
    from lastmile.kit.broadcast import CHANNEL_PREFIX, Broadcaster

    web = Broadcaster(redis_url)
    mine, other = f"order:{uuid.uuid4().hex}", f"order:{uuid.uuid4().hex}"

    async def run() -> tuple[set, set]:
        sub = web.subscribe([mine])
        task = asyncio.ensure_future(sub.__anext__())
        for _ in range(300):
            relays = list(web._relays.values())
            if relays and CHANNEL_PREFIX + mine in relays[0].channels:
                break
            await asyncio.sleep(0.01)
        during = set(relays[0].channels)
        task.cancel()  # the page goes away
        await asyncio.gather(task, return_exceptions=True)
        for _ in range(300):
            if CHANNEL_PREFIX + mine not in relays[0].channels:
                break
            await asyncio.sleep(0.01)
        return during, set(relays[0].channels)

    during, after = in_thread(run)
    assert CHANNEL_PREFIX + mine in during and CHANNEL_PREFIX + other not in during
    assert CHANNEL_PREFIX + mine not in after  # the last subscriber left: unsubscribed


def test_a_drivers_waiting_position_is_replaced_by_the_newer_one(redis_url):
    from lastmile.kit.broadcast import Broadcaster

    b = Broadcaster(redis_url)
    b.flush()
    with b._out_lock:  # hold the sender back so the outbox fills
        b._busy = True
        b.publish_many(["driver:d1", "org:o"], {"type": "position", "driver_id": "d1", "lat": 1.0})
        b.publish_many(["route:r"], {"type": "eta", "route_id": "r"})
        b.publish_many(["driver:d1", "org:o"], {"type": "position", "driver_id": "d1", "lat": 2.0})
        b.publish_many(["driver:d2", "org:o"], {"type": "position", "driver_id": "d2", "lat": 3.0})
        waiting = [m for _, m in b._out if m is not None]
        b._busy = False
        b._out_lock.notify_all()
    assert [m.get("lat") for m in waiting] == [None, 2.0, 3.0]  # d1's first fix dropped, order kept
    assert b.coalesced == 1
    assert b.flush(5)


def test_a_subscriber_that_falls_behind_is_told_to_resync():
    from lastmile.kit.broadcast import QUEUE_SIZE, Broadcaster

    b = Broadcaster(None)

    async def run() -> list[dict]:
        sub = b.subscribe(["route:r1"])
        task = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0.01)  # subscribed, waiting for its first message
        # many messages arrive before the subscriber gets to run again
        for i in range(QUEUE_SIZE + 10):
            b.publish("route:r1", {"type": "eta", "n": i})
        got = [await asyncio.wait_for(task, 1)]
        got += await _take(sub, 3, 0.3)
        await sub.aclose()
        return got

    got = in_thread(run)
    assert got[0]["type"] == "resync" and got[0]["topic"] == "route:r1"
    # what followed the overflow arrives after the resync, nothing before it
    assert all(m["type"] == "eta" and m["n"] >= QUEUE_SIZE for m in got[1:])
    assert b.hub.resyncs == 1


def test_the_tracking_page_stream_turns_a_resync_into_a_reload():
    from lastmile.portal.stream import CustomerFilter

    f = CustomerFilter(order_id="o1", stop_id="s1", route_id="r1", stop_status="en_route",
                       order_status="out_for_delivery")
    assert f({"type": "resync", "topic": "order:o1", "reason": "behind"}) == {"type": "refresh"}


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
