"""The live day's shared core: dispatch/live.py status changes and kit/broadcast.py."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lastmile.errors import Conflict
from lastmile.kit.broadcast import Broadcaster

from .conftest import utc


def _stops(db, route_id):
    from sqlalchemy import select

    from lastmile.dispatch.models import RouteStop

    with db.session() as s:
        return [(st.id, st.order_id) for st in s.scalars(select(RouteStop).where(RouteStop.route_id == route_id)
                                                          .order_by(RouteStop.seq))]


def test_a_delivered_stop_delivers_its_order_once_and_bumps_the_route(db, client, world, published_day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route, RouteStop

    route = next(iter(published_day["routes"].values()))
    (stop_id, order_id), *_ = _stops(db, route["id"])
    with db.session() as s:
        stop = s.get(RouteStop, stop_id)
        assert live.mark_stop(s, stop, "arrived", at=utc(2026, 11, 25, 15, 10), actor="system")
        assert live.mark_stop(s, stop, "done", at=utc(2026, 11, 25, 15, 14), actor="system")
        assert not live.mark_stop(s, stop, "done", at=utc(2026, 11, 25, 15, 15), actor="system")  # repeat: no-op
        with pytest.raises(Conflict):
            live.mark_stop(s, stop, "failed", at=utc(2026, 11, 25, 15, 16), actor="system")
        s.commit()
    with db.session() as s:
        r = s.get(Route, route["id"])
        assert r.status == "started" and r.version >= 3
        stop = s.get(RouteStop, stop_id)
        assert stop.status == "done" and stop.arrived_at == utc(2026, 11, 25, 15, 10)
    d = world.headers["dispatcher"]
    assert client.get(f"/orders/{order_id}", headers=d).json()["status"] == "delivered"
    history = [h["to_status"] for h in client.get(f"/orders/{order_id}/history", headers=d).json()]
    assert history == ["pending", "assigned", "out_for_delivery", "delivered"] or history[-2:] == [
        "out_for_delivery", "delivered"]
    assert history.count("delivered") == 1


def test_route_view_lists_stops_in_order_with_what_a_driver_needs(db, published_day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route

    for rt in published_day["routes"].values():
        with db.session() as s:
            view = live.route_view(s, s.get(Route, rt["id"]))
        assert [st["seq"] for st in view["stops"]] == list(range(1, len(view["stops"]) + 1))
        assert all(st["status"] == "planned" and st["contact"]["name"] for st in view["stops"])


def test_broadcast_reaches_a_subscriber_only_after_commit(db, published_day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import RouteStop
    from lastmile.kit import broadcast

    route = next(iter(published_day["routes"].values()))
    (stop_id, order_id), *_ = _stops(db, route["id"])
    got: list[dict] = []

    async def listen(ready: threading.Event, stop_after: int) -> None:
        sub = broadcast.get_broadcaster().subscribe([f"order:{order_id}"])
        task = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0.05)
        ready.set()
        while len(got) < stop_after:
            try:
                got.append(await asyncio.wait_for(task, 3))
            except TimeoutError:
                break
            task = asyncio.ensure_future(sub.__anext__())
        task.cancel()

    ready = threading.Event()
    t = threading.Thread(target=lambda: asyncio.run(listen(ready, 1)))
    t.start()
    ready.wait(3)
    with db.session() as s:  # rolled back: nothing is broadcast
        live.mark_stop(s, s.get(RouteStop, stop_id), "arrived", at=utc(2026, 11, 25, 15, 10), actor="system")
        s.rollback()
    with db.session() as s:
        live.mark_stop(s, s.get(RouteStop, stop_id), "failed", at=utc(2026, 11, 25, 15, 12), actor="system",
                       reason="not_home")
        s.commit()
    t.join(5)
    assert len(got) == 1 and got[0]["stop_status"] == "failed" and got[0]["order_status"] == "failed"


def in_thread(coro_fn):
    """asyncio.run in a thread of its own: a session-scoped Playwright (browser tests)
    keeps an event loop running in the main thread for the rest of the run."""
    out: dict = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro_fn())
        except BaseException as e:  # re-raised in the test's thread
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join(30)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_redis_broadcast_crosses_processes():
    """Two broadcasters on the real Redis stand for two server processes."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=2).ping()
    except Exception:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    a, b = Broadcaster("redis://127.0.0.1:6379/0"), Broadcaster("redis://127.0.0.1:6379/0")

    async def run() -> dict:
        sub = b.subscribe(["route:r1"])
        task = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0.3)  # the relay subscribes
        a.publish("route:r2", {"type": "noise"})
        a.publish("route:r1", {"type": "stop", "n": 1})
        msg = await asyncio.wait_for(task, 5)
        await sub.aclose()
        return msg

    msg = in_thread(run)
    assert msg == {"type": "stop", "n": 1, "topic": "route:r1"}


def _serve(app):
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    import time

    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _read_events(url, headers, out: list, ready: threading.Event, want: int) -> None:
    import json

    import httpx

    with httpx.stream("GET", url + "/live/stream", headers=headers, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                msg = json.loads(line[6:])
                if msg["type"] == "hello":
                    ready.set()
                    continue
                out.append(msg)
                if len(out) >= want:
                    return


def test_live_stream_tells_dispatchers_everything_and_drivers_only_their_routes(app, db, world, published_day):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import RouteStop

    routes = published_day["routes"]
    mine, theirs = routes[world.ids["driver_id1"]], routes[world.ids["driver_id2"]]
    server, url = _serve(app)
    try:
        seen: dict[str, list] = {"dispatcher": [], "driver": []}
        readers = []
        for who, want in (("dispatcher", 2), ("driver", 1)):
            ready = threading.Event()
            t = threading.Thread(target=_read_events, args=(url, world.headers[who], seen[who], ready, want), daemon=True)
            t.start()
            assert ready.wait(5), f"{who} stream did not open"
            readers.append(t)
        for rt in (theirs, mine):  # the other driver's stop first
            stop_id, _ = _stops(db, rt["id"])[0]
            with db.session() as s:
                live.mark_stop(s, s.get(RouteStop, stop_id), "arrived", at=utc(2026, 11, 25, 15, 0), actor="system")
                s.commit()
        for t in readers:
            t.join(5)
        assert [m["route_id"] for m in seen["dispatcher"] if m["type"] == "stop"] == [theirs["id"], mine["id"]]
        assert [m["route_id"] for m in seen["driver"]] == [mine["id"]]
    finally:
        server.should_exit = True


def test_live_stream_needs_a_login(client):
    r = client.get("/live/stream")
    assert r.status_code == 401 and r.json()["error"]["code"]


def test_event_listeners_run_in_the_emitting_transaction(db, world):
    from sqlalchemy import select

    from lastmile.events import service
    from lastmile.events.models import Event

    seen: list[str] = []

    def good(session, ev):
        seen.append(ev.type)

    def broken(session, ev):
        raise RuntimeError("bug in a listener")

    service.on("test.thing")(good)
    service.on("test.")(broken)
    try:
        with db.session() as s:
            service.emit(s, world.org, "test.thing", "order", "ord_x", "system", {"n": 1})
            service.emit(s, world.org, "other.thing", "order", "ord_x", "system")
            s.commit()
        with db.session() as s:  # the broken listener lost nothing
            assert len(list(s.scalars(select(Event).where(Event.subject_id == "ord_x")))) == 2
        assert seen == ["test.thing"]
    finally:
        service._listeners[:] = [(p, f) for p, f in service._listeners if f not in (good, broken)]


def test_after_commit_waits_for_the_outer_commit_and_respects_savepoints(db):
    from sqlalchemy import text

    from lastmile.jobs.queue import after_commit

    ran: list[str] = []
    with db.session() as s:
        s.execute(text("select 1"))
        sp = s.begin_nested()
        after_commit(s, ran.append, "kept")
        sp.commit()  # releasing a savepoint is not the commit
        assert ran == []
        sp = s.begin_nested()
        after_commit(s, ran.append, "dropped with its savepoint")
        sp.rollback()
        after_commit(s, ran.append, "outer")
        s.commit()
    assert ran == ["kept", "outer"]
    with db.session() as s:
        after_commit(s, ran.append, "rolled back")
        s.rollback()
    assert ran == ["kept", "outer"]
