"""The people of the day, simulated: drivers who drive their published routes and act
through the driver app's API, and a dispatcher who reacts to the day (a driver falling
ill, proposals to accept). They see the platform only through its HTTP API and feel the
world only through the hidden truth (travel and service times, who is at home).

Each agent schedules its next moment on a :class:`Timeline` (seconds after local
midnight); the runner executes them in time order, at full speed (headless, the clock
stepped) or paced by the running simulation clock (live)."""

from __future__ import annotations

import heapq
import io
import itertools
import json
import logging
import math
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..kit.time import at_seconds
from .api import Api, ApiError
from .seed import Seeded, SeededDriver, create_order
from .spec import DemoDay, DriverSpec, Point

log = logging.getLogger("lastmile.demo")
FINAL = ("done", "failed", "skipped")
MAX_WAIT_S = 20 * 60  # an early driver waits for the window at most this long beyond the plan


class Timeline:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (float(t), next(self._seq), fn))

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop(self) -> tuple[float, Callable[[], None]]:
        t, _, fn = heapq.heappop(self._heap)
        return t, fn

    def __len__(self) -> int:
        return len(self._heap)


@dataclass
class Stats:
    actions: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    positions: Counter[str] = field(default_factory=Counter)
    fail_reasons: Counter[str] = field(default_factory=Counter)
    proposals_seen: set[str] = field(default_factory=set)
    proposals_applied: int = 0
    proposals_stale: int = 0
    new_orders: int = 0
    ill: str | None = None


class Publisher:
    """Where a driver's phone sends its position: the driver app endpoint, OsmAnd, or
    OwnTracks over MQTT."""

    def __init__(self, api: Api, mqtt: Any = None) -> None:
        self.api, self.mqtt = api, mqtt

    def send(self, drv: SeededDriver, fixes: list[tuple[float, Point, float, float]], iso: Callable[[float], str],
             stats: Stats) -> None:
        """``fixes``: (time, position, speed m/s, bearing)."""
        if not fixes:
            return
        if drv.source == "osmand" and drv.device_token:
            for t, (lat, lon), v, b in fixes:
                self.api.get("/tracking/osmand", params={
                    "id": drv.device_token, "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                    "timestamp": str(int(at_unix(iso(t)))), "speed": f"{v / 0.514444:.1f}", "bearing": f"{b:.0f}",
                    "accuracy": "8", "batt": "81"})
        elif drv.source == "owntracks" and self.mqtt is not None and drv.topic:
            for t, (lat, lon), v, b in fixes:
                payload = {"_type": "location", "lat": round(lat, 6), "lon": round(lon, 6), "tst": int(at_unix(iso(t))),
                           "acc": 10, "vel": round(v * 3.6), "cog": round(b), "batt": 77, "tid": drv.key[:2]}
                self.mqtt.publish(drv.topic, json.dumps(payload), qos=1)
        else:
            self.api.post("/tracking/positions", token=drv.token, json={"positions": [
                {"lat": lat, "lon": lon, "at": iso(t), "speed": v, "bearing": b, "accuracy": 8.0, "battery": 80}
                for t, (lat, lon), v, b in fixes]})
        stats.positions[drv.source] += len(fixes)


def at_unix(iso_text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_text).timestamp()


def bearing(a: Point, b: Point) -> float:
    y = math.sin(math.radians(b[1] - a[1])) * math.cos(math.radians(b[0]))
    x = math.cos(math.radians(a[0])) * math.sin(math.radians(b[0])) - \
        math.sin(math.radians(a[0])) * math.cos(math.radians(b[0])) * math.cos(math.radians(b[1] - a[1]))
    return (math.degrees(math.atan2(y, x)) + 360) % 360


def metres(a: Point, b: Point) -> float:
    la, lb = math.radians(a[0]), math.radians(b[0])
    h = math.sin((lb - la) / 2) ** 2 + math.cos(la) * math.cos(lb) * math.sin(math.radians(b[1] - a[1]) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


def along(path: list[tuple[float, Point]], t: float) -> tuple[Point, float, float]:
    """Position, speed (m/s) and bearing at time ``t`` on a timed path."""
    if t <= path[0][0]:
        return path[0][1], 0.0, 0.0
    for (t0, p0), (t1, p1) in zip(path, path[1:], strict=False):
        if t <= t1:
            f = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
            pos = (p0[0] + (p1[0] - p0[0]) * f, p0[1] + (p1[1] - p0[1]) * f)
            v = metres(p0, p1) / (t1 - t0) if t1 > t0 else 0.0
            return pos, v, bearing(p0, p1)
    return path[-1][1], 0.0, 0.0


class World:
    """What every agent shares: the API, the day, the seeded ids, the timeline."""

    def __init__(self, api: Api, day: DemoDay, seeded: Seeded, timeline: Timeline, publisher: Publisher, *,
                 ping_s: float = 30.0, end_s: float = 24 * 3600) -> None:
        self.api, self.day, self.seeded, self.timeline, self.publisher = api, day, seeded, timeline, publisher
        self.ping_s, self.end_s = ping_s, end_s
        self.stats = Stats()
        self.order_keys: dict[str, str] = {}
        self.files = itertools.count(1)
        self.dispatcher: Any = None

    def iso(self, t: float) -> str:
        return at_seconds(self.day.date, self.day.zone, int(t)).isoformat()

    def refresh_keys(self) -> None:
        self.order_keys = self.seeded.order_keys


def _image(n: int, kind: str) -> tuple[bytes, str, str]:
    """A small distinct image: a signature (PNG) or a photo at the door (JPEG)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (96, 48), (255, 255, 255) if kind == "signature" else (120, 110, 100))
    draw = ImageDraw.Draw(img)
    pts = [(8 + i * 8, 24 + int(14 * math.sin(n * 0.7 + i))) for i in range(11)]
    draw.line(pts, fill=(20, 20, 90), width=2)
    buf = io.BytesIO()
    if kind == "signature":
        img.save(buf, "PNG")
        return buf.getvalue(), "firma.png", "image/png"
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue(), "puerta.jpg", "image/jpeg"


class DriverAgent:
    def __init__(self, w: World, spec: DriverSpec, drv: SeededDriver) -> None:
        self.w, self.spec, self.drv = w, spec, drv
        depot = w.day.depot(spec.depot_key)
        self.depot: Point = (depot.lat, depot.lon)
        self.pos: Point = self.depot
        self.place = spec.depot_key  # the last place (depot or order key) the driver was at
        self.route: dict[str, Any] | None = None
        self.state = "off"  # off | driving | at_stop | on_break | returning | done | ill
        self.gen = 0  # bumps when plans change (illness): stale scheduled moments do nothing
        self.break_taken = not spec.break_s
        self.expected_back: set[str] = set()
        self.visited: set[str] = set()
        self.deferred: set[str] = set()  # stops left for another day (their windows are not today)
        self.km = 0.0

    # -- plumbing ----------------------------------------------------------------------
    def _at(self, t: float, fn: Callable[[], None]) -> None:
        gen = self.gen
        self.w.timeline.at(t, lambda: fn() if gen == self.gen else None)

    def act(self, t: float, type_: str, stop_id: str | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.route is not None
        a: dict[str, Any] = {"id": str(uuid.uuid4()), "type": type_, "route_id": self.route["id"],
                             "device_time": self.w.iso(t), "data": data or {},
                             "position": {"lat": self.pos[0], "lon": self.pos[1], "accuracy": 8.0}}
        if stop_id is not None:
            a["stop_id"] = stop_id
        res = self.w.api.post("/driver/actions", token=self.drv.token, json={"actions": [a]})["results"][0]
        self.w.stats.actions[f"{type_}:{res['status']}"] += 1
        if res["status"] == "rejected":
            self.w.stats.rejected.append(f"{self.spec.key} {type_}: {res['error'].get('message', '')}")
        return res

    def upload(self, kind: str) -> str:
        data, name, ctype = _image(next(self.w.files), kind)
        return self.w.api.post("/driver/files", token=self.drv.token, files={"file": (name, data, ctype)})["sha256"]

    def fetch(self) -> dict[str, Any] | None:
        today = self.w.api.get("/driver/today", token=self.drv.token, params={"date": self.w.day.date.isoformat()})
        live = [r for r in today["routes"] if r["status"] != "finished"]
        self.route = live[0] if live else (today["routes"][0] if today["routes"] else None)
        return self.route

    # -- the day -----------------------------------------------------------------------
    def plan_start(self) -> None:
        if self.fetch() is None:
            self.state = "done"  # no route today (nothing planned for this driver)
            return
        from datetime import datetime

        from ..kit.time import seconds_since_midnight

        depart = datetime.fromisoformat(self.route["depart_at"].replace("Z", "+00:00"))  # type: ignore[index]
        t = max(self.spec.shift_start_s, seconds_since_midnight(depart, self.w.day.date, self.w.day.zone) - 300)
        self._at(t, lambda: self.start(t))

    def start(self, t: float) -> None:
        self.act(t, "start_shift", data={"note": ""})
        self.w.publisher.send(self.drv, [(t, self.pos, 0.0, 0.0)], self.w.iso, self.w.stats)
        self.next_leg(t)

    def next_leg(self, t: float) -> None:
        if self.state in ("ill", "done"):
            return
        if self.fetch() is None:
            return
        if not self.break_taken and self.spec.break_earliest_s is not None and t >= self.spec.break_earliest_s:
            self.take_break(t)
            return
        stops = [s for s in self.route["stops"] if s["status"] not in FINAL]  # type: ignore[index]
        for s in stops:  # a stop whose every window is on a later day is not for today
            if s["windows"] and all(self._secs(w["start"]) >= 86400 for w in s["windows"]):
                self.deferred.add(s["id"])
        stops = [s for s in stops if s["id"] not in self.deferred]
        if not stops or t >= self.w.end_s:
            self.drive(t, self.spec.depot_key, self.at_depot, "returning")
            return
        stop = stops[0]
        if stop["status"] != "arrived":
            self.act(t, "en_route", stop["id"])
        self.drive(t, stop["reference"], lambda ta: self.arrive(ta, stop), "driving",
                   opens=lambda ta: self.opens(stop, ta))

    def opens(self, stop: dict[str, Any], t: float) -> float:
        """When to ring the bell on arriving at ``t``: at once, or -- early for the
        customer's window -- when it opens, if the plan meant the driver to wait about
        that long. A much later window (the driver missed the first of two) is not
        waited for: the driver rings now, as a real one would."""
        starts = []
        for w in stop.get("windows") or []:
            a, b = self._secs(w["start"]), self._secs(w["end"])
            if b >= t:
                starts.append(a)
        opens = min(starts) if starts else t
        planned = self._secs(stop["planned"]["start_at"]) if (stop.get("planned") or {}).get("start_at") else t
        if opens - t > MAX_WAIT_S and opens > planned + MAX_WAIT_S:
            return t
        return opens

    def _secs(self, iso_text: str) -> float:
        from datetime import datetime

        from ..kit.time import seconds_since_midnight

        return seconds_since_midnight(datetime.fromisoformat(iso_text.replace("Z", "+00:00")), self.w.day.date,
                                      self.w.day.zone)

    def drive(self, t: float, to: str, then: Callable[[float], None], state: str,
              opens: Callable[[float], float] | None = None) -> None:
        """Drive from the last place to ``to`` (a depot or order key) on the true
        traffic, reporting positions every ``ping_s``; then ``then(arrival time)``.
        ``opens(arrival)``: when the customer's window opens -- an early driver waits
        round the corner until then."""
        self.state = state
        path = [(float(a), (float(p[0]), float(p[1]))) for a, p in self.w.day.truth.path(self.place, to, t)]
        if len(path) < 2:
            path = [(t, self.pos), (t + 30, path[-1][1] if path else self.pos)]
        path[0] = (path[0][0], self.pos)  # from where the driver is (a turn back starts mid-leg)
        end, dest = path[-1][0], path[-1][1]
        self.km += sum(metres(a[1], b[1]) for a, b in zip(path, path[1:], strict=False)) / 1000
        for k in range(1, int((end - t) // self.w.ping_s) + 1):
            tick = t + k * self.w.ping_s
            self._at(tick, lambda tick=tick: self._ping(path, tick))

        at = max(end, opens(end)) if opens is not None else end

        def arrived() -> None:
            self.pos, self.place = dest, to
            self.w.publisher.send(self.drv, [(at, dest, 0.0, 0.0)], self.w.iso, self.w.stats)
            then(at)

        self._at(at, arrived)

    def _ping(self, path: list[tuple[float, Point]], t: float) -> None:
        pos, v, b = along(path, t)
        self.pos = pos
        self.w.publisher.send(self.drv, [(t, pos, v, b)], self.w.iso, self.w.stats)

    def arrive(self, t: float, stop: dict[str, Any]) -> None:
        # the route may have changed on the way (a proposal applied, the stop moved to
        # another driver): the app shows the route as it is now
        current = next((s for s in (self.fetch() or {}).get("stops", []) if s["id"] == stop["id"]), None)
        if current is None or current["status"] in FINAL:
            self.next_leg(t)
            return
        stop = current
        self.state = "at_stop"
        self.act(t, "arrive", stop["id"])
        key = stop["reference"]
        first = key not in self.visited
        self.visited.add(key)
        truth = self.w.day.truth
        service = max(30.0, truth.service_s(key, t, first))
        home = stop["kind"] == "pickup" or truth.at_home(key, t, self.notified(stop["order_id"]))
        if not home:
            service = min(service, 240.0)  # knock, call, photo of the door, leave
        if service > 90:  # still at the door: the phone keeps reporting (dwell at the stop)
            self._at(t + service / 2, lambda: self.w.publisher.send(self.drv, [(t + service / 2, self.pos, 0.0, 0.0)],
                                                                    self.w.iso, self.w.stats))
        self._at(t + service, lambda: self.finish_stop(t + service, stop, home))

    def notified(self, order_id: str) -> bool:
        """Did the platform tell this customer the driver is close (approaching / on the
        way)? Read as the dispatcher sees it: the notification log."""
        try:
            rows = self.w.api.get("/notifications", token=self.w.seeded.dispatcher_token,
                                  params={"order_id": order_id, "limit": 50})
        except ApiError:
            return False
        return any(n["kind"] in ("approaching", "out_for_delivery") and n["status"] == "sent" for n in rows)

    def finish_stop(self, t: float, stop: dict[str, Any], home: bool) -> None:
        rules = stop.get("pod_rules") or {}
        codes = list(stop.get("parcels_codes") or [])
        if stop["kind"] == "pickup":
            res = self.act(t, "pickup", stop["id"], {"scans": codes or [f"{stop['order_id']}-1"], "condition": "good"})
            if res["status"] == "applied":
                self.expected_back.update(codes or [f"{stop['order_id']}-1"])
        elif home:
            data: dict[str, Any] = {"recipient_name": (stop.get("contact") or {}).get("name") or "Cliente"}
            if rules.get("signature", True) and not rules.get("contactless"):
                data["signature"] = self.upload("signature")
            if rules.get("photo") or rules.get("contactless"):
                data["photos"] = [self.upload("photo")]
                data["contactless"] = bool(rules.get("contactless"))
            if rules.get("scan_all"):
                data["scans"] = codes
            if stop.get("cod"):
                data["cod"] = {"amount": stop["cod"]["amount"], "currency": stop["cod"]["currency"], "method": "cash"}
            res = self.act(t, "deliver", stop["id"], data)
            if res["status"] == "rejected":  # a rule we did not meet: record the attempt as failed
                self._fail(t, stop, "refused", codes)
        else:
            self._fail(t, stop, "not_home", codes)
        self.next_leg(t + 20)

    def _fail(self, t: float, stop: dict[str, Any], reason: str, codes: list[str]) -> None:
        res = self.act(t, "fail", stop["id"], {"reason": reason, "photos": [self.upload("photo")],
                                               "note": "nadie en casa / nobody home" if reason == "not_home" else ""})
        if res["status"] == "applied":
            self.w.stats.fail_reasons[reason] += 1
            self.expected_back.update(codes)
            if self.w.dispatcher is not None:
                self.w.dispatcher.poke(t)  # a failed attempt brings a reattempt proposal

    def take_break(self, t: float) -> None:
        self.state = "on_break"
        self.act(t, "break_start", data={"note": ""})
        self.break_taken = True
        end = t + (self.spec.break_s or 1800)
        self._at(end, lambda: (self.act(end, "break_end", data={"note": ""}), self.next_leg(end)))

    def at_depot(self, t: float) -> None:
        if self.state == "ill":
            return
        if self.fetch() is not None and t < self.w.end_s and self.state != "ill" and \
                any(s["status"] not in FINAL and s["id"] not in self.deferred
                    for s in self.route["stops"]):  # type: ignore[index]
            self.next_leg(t)  # stops were added while driving back
            return
        self.end_shift(t)

    def end_shift(self, t: float) -> None:
        """Back at the depot: scan in what comes back (failed deliveries, pickups, stops
        never attempted) and end the shift through the driver API."""
        if self.route is None or self.route["status"] == "finished":
            self.state = "done"
            return
        scans = set(self.expected_back)
        for s in self.route["stops"]:
            if s["kind"] != "pickup" and s["status"] not in ("done", "skipped"):
                scans.update(s.get("parcels_codes") or [])
        for _ in range(3):
            res = self.act(t, "end_shift", data={"scans": sorted(scans)})
            if res["status"] != "rejected":
                break
            missing = res["error"].get("parcels") or []
            if not missing:
                break
            scans.update(missing)
        self.state = "done"

    def fall_ill(self, t: float) -> None:
        """From now on this driver serves nothing and heads back to the depot."""
        self.gen += 1  # what was scheduled (the next stop, pings) no longer happens
        self.w.stats.ill = self.spec.key
        self.drive(t, self.spec.depot_key, self._ill_home, "ill")

    def _ill_home(self, t: float) -> None:
        if self.fetch() is not None and self.route["status"] != "finished":  # type: ignore[index]
            self.end_shift(t)
        self.state = "done"


class Dispatcher:
    """The dispatcher's side of the day, through the staff API: the ill driver's route is
    marked unavailable, and open proposals are accepted after a short look -- looked at
    when something happened that makes proposals (a new order, a failed attempt, the
    illness) and every ``every_s`` besides."""

    def __init__(self, w: World, drivers: dict[str, DriverAgent], *, look_s: float = 5.0,
                 every_s: float = 300.0) -> None:
        self.w, self.drivers, self.look_s, self.every_s = w, drivers, look_s, every_s
        self._poked_for: float = -1.0
        self.releases_left = 0  # new orders still to come in today
        w.dispatcher = self

    def start(self, t0: float) -> None:
        ill = self.w.day.illness
        if ill is not None and ill.driver_key in self.drivers:
            self.w.timeline.at(ill.at_s, lambda: self.illness(ill.at_s, ill.driver_key))
        for o in self.w.day.orders:
            if o.release_s is not None:
                self.releases_left += 1
                self.w.timeline.at(o.release_s, lambda o=o: self.new_order(o))
        self.w.timeline.at(t0 + self.every_s, lambda: self.review(t0 + self.every_s))

    def _secs(self, iso_text: str) -> float:
        from datetime import datetime

        from ..kit.time import seconds_since_midnight

        return seconds_since_midnight(datetime.fromisoformat(iso_text.replace("Z", "+00:00")), self.w.day.date,
                                      self.w.day.zone)

    def poke(self, t: float) -> None:
        """Something happened: look at the proposals shortly (and once more a little later)."""
        at = t + self.look_s + 1
        if at <= self._poked_for:
            return
        self._poked_for = at
        self.w.timeline.at(at, lambda: self.review(at, reschedule=False))
        self.w.timeline.at(at + 60, lambda: self.review(at + 60, reschedule=False))

    def new_order(self, o: Any) -> None:
        self.releases_left -= 1
        create_order(self.w.api, self.w.seeded, o)
        self.w.refresh_keys()
        self.w.stats.new_orders += 1
        self.poke(o.release_s)

    def illness(self, t: float, key: str) -> None:
        agent = self.drivers[key]
        if agent.state in ("off", "done") or agent.route is None:
            # the world's ill driver is not on the road (finished early, or has no route): so
            # the demo still shows the dispatcher's side, the driver with most left falls ill
            on_road = [a for a in self.drivers.values() if a.state not in ("off", "done") and a.route is not None]
            if not on_road:
                return
            agent = max(on_road, key=lambda a: sum(s["status"] not in FINAL for s in a.route["stops"]))
        agent.fall_ill(t)
        try:
            self.w.api.post(f"/routes/{agent.route['id']}/unavailable", token=self.w.seeded.dispatcher_token)
        except ApiError as e:
            log.warning("could not mark %s unavailable: %s", key, e)
        self.poke(t)

    def review(self, t: float, reschedule: bool = True) -> None:
        props = self.w.api.get("/proposals", token=self.w.seeded.dispatcher_token,
                               params={"status": "open", "date": self.w.day.date.isoformat()})["proposals"]
        for p in reversed(props):  # oldest first
            self.w.stats.proposals_seen.add(p["id"])
            made = self._secs(p["created_at"]) if p.get("created_at") else t
            if t - made < self.look_s:
                continue
            try:
                self.w.api.post(f"/proposals/{p['id']}/apply", token=self.w.seeded.dispatcher_token)
                self.w.stats.proposals_applied += 1
            except ApiError as e:
                if e.status != 409:
                    raise
                # a route it changes moved on meanwhile: the dispatcher turns it down
                self.w.stats.proposals_stale += 1
                self.w.stats.rejected.append(f"proposal {p['kind']} at {t:.0f}: {e.body[:200]}")
                try:
                    self.w.api.post(f"/proposals/{p['id']}/reject", token=self.w.seeded.dispatcher_token)
                except ApiError:
                    pass
        if reschedule and t + self.every_s < self.w.end_s + 3600:
            self.w.timeline.at(t + self.every_s, lambda: self.review(t + self.every_s))
