"""Small helpers shared by the tracking tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import select


class Listener:
    """Subscribes to topics on a broadcaster from its own event loop thread and
    collects what arrives (a browser's SSE connection, without the browser)."""

    def __init__(self, topics: list[str], broadcaster: Any = None) -> None:
        from lastmile.kit import broadcast

        self.b = broadcaster or broadcast.get_broadcaster()
        self.topics = topics
        self.got: list[dict[str, Any]] = []
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        sub = self.b.subscribe(self.topics)
        task = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0.3 if self.b.redis_url else 0.05)
        self._ready.set()
        while not self._stop.is_set():
            done, _ = await asyncio.wait({task}, timeout=0.1)
            if done:
                with self._cond:
                    self.got.append(task.result())
                    self._cond.notify_all()
                task = asyncio.ensure_future(sub.__anext__())
        task.cancel()

    def __enter__(self) -> Listener:
        self._thread.start()
        assert self._ready.wait(5), "subscriber did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)

    def wait_for(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.got) >= n, timeout)
            return list(self.got)


def make_device(client, headers, driver_id: str, kind: str = "osmand", **extra) -> dict:
    r = client.post("/devices", json={"driver_id": driver_id, "kind": kind, "name": f"{kind} phone", **extra},
                    headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def positions(db, driver_id: str) -> list:
    from lastmile.tracking.models import Position

    with db.session() as s:
        return list(s.scalars(select(Position).where(Position.driver_id == driver_id).order_by(Position.at)))


def stops_of(db, route_id: str) -> list[tuple[str, str, float, float]]:
    from lastmile.dispatch.models import RouteStop
    from lastmile.orders.models import Order

    with db.session() as s:
        rows = s.execute(select(RouteStop.id, RouteStop.order_id, Order.lat, Order.lon)
                         .join(Order, Order.id == RouteStop.order_id)
                         .where(RouteStop.route_id == route_id).order_by(RouteStop.seq)).all()
    return [tuple(r) for r in rows]
