"""The tracking page's live stream, over a real server: a customer hears the driver's
position only while the driver heads to their stop, ETAs and stop changes of their own
order, and nothing of another order on the same route."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

from lastmile.kit.broadcast import publish

from tests.server.conftest import utc

AT = utc(2026, 11, 25, 15, 0)
SENTINEL = {"type": "route", "route_id": "x", "status": "started", "version": 0}  # -> "refresh"


def _serve(app):
    import socket

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


class Reader(threading.Thread):
    """Collects a tracking stream's messages until told to stop."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.got, self.ready, self.stop = url, [], threading.Event(), False

    def run(self) -> None:
        import httpx

        with httpx.stream("GET", self.url, timeout=20) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("data: "):
                    msg = json.loads(line[6:])
                    if msg["type"] == "state":
                        self.ready.set()
                    self.got.append(msg)
                if self.stop:
                    return

    def wait_for(self, pred, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in self.got:
                if pred(m):
                    return m
            time.sleep(0.02)
        raise AssertionError(f"not seen; got {self.got}")


def _mark(db, stop_id, status, at):
    from lastmile.dispatch import live
    from lastmile.dispatch.models import RouteStop

    with db.session() as s:
        live.mark_stop(s, s.get(RouteStop, stop_id), status, at=at, actor="system")
        s.commit()


def _position(order_id, route_id, lat, n):
    publish(f"order:{order_id}", {"type": "position", "driver_id": "drv_secret", "route_id": route_id, "lat": lat,
                                  "lon": -99.49, "at": f"2026-11-25T15:0{n}:00Z", "speed": 9.0, "accuracy": 5.0})


def test_the_stream_shows_the_driver_only_while_heading_here(app, db, day):
    first, second = day["stops"][0], day["stops"][1]
    rid = day["route_id"]
    server, url = _serve(app)
    try:
        me, neighbour = Reader(f"{url}/t/{first['token']}/stream"), Reader(f"{url}/t/{second['token']}/stream")
        for r in (me, neighbour):
            r.start()
            assert r.ready.wait(10), "stream did not open"
        initial = me.got[0]["state"]
        assert initial["live"] is False and initial["position"] is None

        # before en route: positions (even on this order's topic, even on the route) are dropped
        _position(first["order_id"], rid, 27.500, 1)
        publish(f"route:{rid}", {"type": "position", "driver_id": "d", "route_id": rid, "lat": 27.501, "lon": -99.4})
        publish(f"order:{first['order_id']}", SENTINEL)
        me.wait_for(lambda m: m["type"] == "refresh")
        assert not [m for m in me.got if m["type"] == "position"]

        # en route: the customer sees the stop change, then the positions -- without the driver's id
        _mark(db, first["stop_id"], "en_route", AT)
        me.wait_for(lambda m: m["type"] == "stop" and m["stop_status"] == "en_route")
        _position(first["order_id"], rid, 27.510, 2)
        pos = me.wait_for(lambda m: m["type"] == "position")
        assert pos == {"type": "position", "lat": 27.51, "lon": -99.49, "at": "2026-11-25T15:02:00Z", "bearing": None}
        # an ETA for this stop (as the ETA service publishes it on the order's topic)
        publish(f"order:{first['order_id']}", {"type": "eta", "route_id": rid, "stop_id": first["stop_id"],
                                               "order_id": first["order_id"], "seq": 1,
                                               "eta_at": "2026-11-25T15:47:00Z", "late_by_s": 0})
        eta = me.wait_for(lambda m: m["type"] == "eta")
        assert eta["eta"] == {"at": "2026-11-25T15:47:00Z", "start": "2026-11-25T15:40:00Z",
                              "end": "2026-11-25T16:00:00Z"}

        # delivered: no position any more
        _mark(db, first["stop_id"], "done", AT + timedelta(minutes=4))
        me.wait_for(lambda m: m["type"] == "stop" and m["stop_status"] == "done")
        n_positions = len([m for m in me.got if m["type"] == "position"])
        _position(first["order_id"], rid, 27.520, 3)
        publish(f"order:{first['order_id']}", {**SENTINEL, "version": 1})
        time.sleep(0.3)
        me.wait_for(lambda m: m["type"] == "refresh" and m is not me.got[0])
        assert len([m for m in me.got if m["type"] == "position"]) == n_positions == 1

        # the next customer on the same route heard nothing of the first one's order
        neighbour_text = json.dumps(neighbour.got[1:])
        assert "position" not in neighbour_text and first["order_id"] not in neighbour_text
        assert first["stop_id"] not in neighbour_text and "27.51" not in neighbour_text
        assert {m["type"] for m in neighbour.got[1:]} <= {"refresh"}
        me.stop = neighbour.stop = True
    finally:
        server.should_exit = True


def test_an_unknown_link_gets_no_stream(client):
    r = client.get("/t/" + "n" * 40 + "/stream")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
