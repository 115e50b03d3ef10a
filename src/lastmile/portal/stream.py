"""What of the live day reaches a customer's tracking page, message by message.

The page's stream listens to ``order:<id>`` (this order's stop changes, positions while
the driver heads here, ETAs, messages) and ``route:<id>`` (only to learn that stops
before this one were served: "2 stops before yours"). Everything is filtered again
here, whatever the publishers promise: a position passes only while this order's stop
is ``en_route`` and only from the order topic; route traffic is reduced to a bare
"refresh" hint; field names and ids the customer has no business with are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..dispatch.models import STOP_FINAL
from .service import POSITION_VISIBLE, eta_window

POSITION_FIELDS = ("lat", "lon", "at", "bearing")


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


@dataclass
class CustomerFilter:
    order_id: str
    stop_id: str | None
    route_id: str | None
    stop_status: str | None
    order_status: str

    @property
    def order_topic(self) -> str:
        return f"order:{self.order_id}"

    def topics(self) -> list[str]:
        return [self.order_topic] + ([f"route:{self.route_id}"] if self.route_id else [])

    @property
    def driver_visible(self) -> bool:
        return self.stop_status in POSITION_VISIBLE and self.order_status not in ("delivered", "failed", "returned",
                                                                                  "cancelled")

    def __call__(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        kind = msg.get("type")
        mine = msg.get("topic") == self.order_topic
        if kind == "resync":  # the stream fell behind (or lost Redis): the page reloads its state
            return {"type": "refresh"}
        if kind == "stop":
            if msg.get("order_id") == self.order_id and (self.stop_id is None or msg.get("stop_id") == self.stop_id):
                if self.stop_status == msg.get("stop_status"):
                    return None  # the same change heard on the route topic too
                self.stop_status = msg.get("stop_status")
                self.order_status = msg.get("order_status") or self.order_status
                return {"type": "stop", "stop_status": self.stop_status, "order_status": self.order_status}
            return {"type": "refresh"}  # another stop on the route moved: "stops before yours" changed
        if kind == "position":
            if not mine or not self.driver_visible:
                return None
            if msg.get("route_id") not in (None, self.route_id):
                return None
            lat, lon = _number(msg.get("lat")), _number(msg.get("lon"))
            if lat is None or lon is None:
                return None
            return {"type": "position", "lat": lat, "lon": lon, "at": msg.get("at"),
                    "bearing": _number(msg.get("bearing"))}
        if kind == "eta":
            eta = self._my_eta(msg)
            if eta is None or self.stop_status in STOP_FINAL:
                return None
            out: dict[str, Any] = {"type": "eta", "eta": eta_window(eta)}
            ahead = msg.get("stops_before")
            if isinstance(ahead, int) and msg.get("order_id") == self.order_id:
                out["stops_before"] = ahead
            return out
        if kind == "message":
            return {"type": "message", "message": msg["message"]} if mine and "message" in msg else None
        if kind == "route" and mine:
            return {"type": "refresh"}
        return None

    def _my_eta(self, msg: dict[str, Any]) -> datetime | None:
        """The ETA of this order's stop in an ``eta`` message: either the message is about
        this stop/order (``eta_at``), or it lists a route's stops (``etas: [...]``)."""
        listed = [*(msg.get("etas") or ()), *(msg.get("stops") or ())]
        cands = [msg] + [s for s in listed if isinstance(s, dict)]
        for c in cands:
            if (self.stop_id and c.get("stop_id") == self.stop_id) or c.get("order_id") == self.order_id:
                value = c.get("eta_at") or c.get("eta")
                if isinstance(value, str):
                    try:
                        return datetime.fromisoformat(value.replace("Z", "+00:00"))
                    except ValueError:
                        return None
        return None
