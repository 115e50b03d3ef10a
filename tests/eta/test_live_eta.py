"""dispatch/eta.py on a real published day (SQLite and PostgreSQL): a driver's fixes
start the route, mark stops en_route / arrived / departed, keep ETAs and their history,
tell customers "approaching" once, and broadcast the ETAs."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from sqlalchemy import func, select

from lastmile.config import Settings

from tests.server.conftest import utc

CFG = Settings(env="test", eta_traffic_profile="laredo", eta_refresh_s=30, geofence_radius_m=75,
               geofence_dwell_s=60, approaching_stops=1, approaching_minutes=10)
SHIFT_START = utc(2026, 11, 25, 14, 0)  # 08:00 in Laredo


def _route(db, published_day, n=0):
    from lastmile.dispatch.models import Route

    rid = sorted(rt["id"] for rt in published_day["routes"].values())[n]
    with db.session() as s:
        r = s.get(Route, rid)
        return {"id": r.id, "driver_id": r.driver_id, "depot_id": r.depot_id}


def _stops(db, route_id):
    from lastmile.dispatch.models import RouteStop
    from lastmile.orders.models import Order

    with db.session() as s:
        rows = s.execute(select(RouteStop, Order).join(Order, Order.id == RouteStop.order_id)
                         .where(RouteStop.route_id == route_id).order_by(RouteStop.seq)).all()
        return [dict(id=st.id, order_id=o.id, lat=o.lat, lon=o.lon, status=st.status, eta_at=st.eta_at,
                     arrived_at=st.arrived_at, departed_at=st.departed_at) for st, o in rows]


def _depot(db, depot_id):
    from lastmile.depots.models import Depot

    with db.session() as s:
        d = s.get(Depot, depot_id)
        return d.lat, d.lon


def fix(db, route, lat, lon, at, speed=None, route_id="same"):
    from lastmile.dispatch.eta import on_position

    with db.session() as s:
        on_position(s, driver_id=route["driver_id"], route_id=route["id"] if route_id == "same" else route_id,
                    lat=lat, lon=lon, at=at, speed_mps=speed, settings=CFG)
        s.commit()


def _events(db, subject_id, type_):
    from lastmile.events.models import Event

    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Event).where(Event.subject_id == subject_id,
                                                                       Event.type == type_))


def _history(db, route_id):
    from lastmile.dispatch.models import StopEtaHistory

    with db.session() as s:
        return s.scalar(select(func.count()).select_from(StopEtaHistory).where(StopEtaHistory.route_id == route_id))


def _route_status(db, route_id):
    from lastmile.dispatch.models import Route

    with db.session() as s:
        return s.get(Route, route_id).status


def _toward(a, b, frac):
    return a[0] + (b[0] - a[0]) * frac, a[1] + (b[1] - a[1]) * frac


def test_sitting_at_a_stop_marks_it_arrived_once_then_departed(db, published_day):
    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, s2, *_ = _stops(db, route["id"])
    t = SHIFT_START + timedelta(minutes=30)
    fix(db, route, *depot, t, speed=0.0)  # at the depot, not moving: the day has not begun
    assert _route_status(db, route["id"]) == "planned"
    assert _stops(db, route["id"])[0]["eta_at"] is None
    p = _toward(depot, (s1["lat"], s1["lon"]), 0.3)
    fix(db, route, *p, t + timedelta(minutes=1), speed=12.0)  # first movement after the shift start
    assert _route_status(db, route["id"]) == "started"
    now = _stops(db, route["id"])
    assert now[0]["status"] == "en_route" and now[1]["status"] == "planned"
    assert all(x["eta_at"] is not None for x in now)
    near = (s1["lat"] + 0.0003, s1["lon"])  # ~33 m from the door
    t2 = t + timedelta(minutes=8)
    fix(db, route, *near, t2, speed=4.0)  # enters the fence, still rolling
    assert _stops(db, route["id"])[0]["status"] == "en_route"
    fix(db, route, *near, t2 + timedelta(seconds=30), speed=None)  # 30 s inside: not yet
    assert _stops(db, route["id"])[0]["status"] == "en_route"
    fix(db, route, *near, t2 + timedelta(seconds=65), speed=None)  # 65 s inside: arrived
    st = _stops(db, route["id"])[0]
    assert st["status"] == "arrived" and st["arrived_at"] == t2 + timedelta(seconds=65)
    for k in range(3):  # sitting there
        fix(db, route, *near, t2 + timedelta(seconds=90 + 30 * k), speed=0.0)
    assert _events(db, s1["id"], "stop.arrived") == 1
    assert _stops(db, route["id"])[0]["departed_at"] is None
    away = _toward((s1["lat"], s1["lon"]), (s2["lat"], s2["lon"]), 0.3)
    fix(db, route, *away, t2 + timedelta(minutes=6), speed=11.0)  # drives off without completing it
    st = _stops(db, route["id"])[0]
    assert st["status"] == "arrived" and st["departed_at"] == t2 + timedelta(minutes=6)
    assert _events(db, s1["id"], "stop.departed") == 1
    fix(db, route, *away, t2 + timedelta(minutes=7), speed=11.0)
    assert _stops(db, route["id"])[1]["status"] == "en_route"  # heading to the next one


def test_a_drive_by_is_not_an_arrival(db, published_day):
    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, *_ = _stops(db, route["id"])
    t = SHIFT_START + timedelta(minutes=10)
    fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.5), t, speed=12.0)
    fix(db, route, s1["lat"] + 0.0004, s1["lon"], t + timedelta(minutes=5), speed=12.0)  # inside, moving
    fix(db, route, s1["lat"] + 0.0030, s1["lon"], t + timedelta(minutes=5, seconds=20), speed=12.0)  # gone
    fix(db, route, s1["lat"] + 0.0004, s1["lon"], t + timedelta(minutes=6, seconds=30), speed=12.0)  # back: new dwell
    assert _stops(db, route["id"])[0]["status"] == "en_route"
    assert _events(db, s1["id"], "stop.arrived") == 0


def test_approaching_is_sent_once_per_customer(db, published_day):
    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, s2, *_ = _stops(db, route["id"])
    t = SHIFT_START + timedelta(minutes=5)
    fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.2), t, speed=12.0)
    assert _events(db, s1["order_id"], "order.approaching") == 1  # the driver heads to them
    assert _events(db, s2["order_id"], "order.approaching") == 0  # one stop in between, > 10 min away
    for k in range(1, 6):
        fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.2 + 0.1 * k), t + timedelta(minutes=k), speed=12.0)
    assert _events(db, s1["order_id"], "order.approaching") == 1
    near = (s1["lat"] + 0.0002, s1["lon"])
    fix(db, route, *near, t + timedelta(minutes=9), speed=0.0)  # stopped inside: arrived at once
    assert _stops(db, route["id"])[0]["status"] == "arrived"
    away = _toward((s1["lat"], s1["lon"]), (s2["lat"], s2["lon"]), 0.2)
    fix(db, route, *away, t + timedelta(minutes=15), speed=12.0)  # left: stop 2 is next
    fix(db, route, *away, t + timedelta(minutes=16), speed=12.0)
    assert _events(db, s2["order_id"], "order.approaching") == 1
    assert _events(db, s1["order_id"], "order.approaching") == 1


def test_etas_move_later_when_the_driver_is_stuck_and_history_accumulates(db, published_day):
    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, *_ = _stops(db, route["id"])
    p = _toward(depot, (s1["lat"], s1["lon"]), 0.4)
    t = SHIFT_START + timedelta(minutes=80)  # 09:20: every window (09:00-12:00) is open, no waiting to absorb it
    fix(db, route, *p, t, speed=12.0)
    first = [x["eta_at"] for x in _stops(db, route["id"])]
    rows = _history(db, route["id"])
    assert rows == len(first)  # one row per stop still ahead
    fix(db, route, *p, t + timedelta(seconds=10), speed=0.0)  # throttled: no recompute
    assert [x["eta_at"] for x in _stops(db, route["id"])] == first
    for k in range(1, 11):  # stuck for 10 minutes
        fix(db, route, *p, t + timedelta(minutes=k), speed=0.0)
    later = [x["eta_at"] for x in _stops(db, route["id"])]
    for a, b in zip(first, later):
        assert b - a >= timedelta(minutes=9)
    assert _history(db, route["id"]) > rows


def test_nothing_happens_for_a_route_that_is_not_live(db, published_day):
    from lastmile.dispatch.models import Route, RouteEtaState

    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, *_ = _stops(db, route["id"])
    p = _toward(depot, (s1["lat"], s1["lon"]), 0.5)
    fix(db, route, *p, SHIFT_START - timedelta(minutes=30), speed=12.0)  # before the shift starts
    assert _route_status(db, route["id"]) == "planned"
    assert all(x["eta_at"] is None and x["status"] == "planned" for x in _stops(db, route["id"]))
    with db.session() as s:
        s.get(Route, route["id"]).published = False
        s.commit()
    fix(db, route, *p, SHIFT_START + timedelta(minutes=30), speed=12.0)
    fix(db, route, s1["lat"], s1["lon"], SHIFT_START + timedelta(minutes=40), speed=0.0)
    assert _route_status(db, route["id"]) == "planned"
    assert all(x["eta_at"] is None and x["status"] == "planned" for x in _stops(db, route["id"]))
    assert _history(db, route["id"]) == 0
    with db.session() as s:  # fixes remembered, nothing predicted
        assert s.get(RouteEtaState, route["id"]).refreshed_at is None
    other = _route(db, published_day, 1)  # someone else's route id: ignored
    with db.session() as s:
        s.get(Route, route["id"]).published = True
        s.commit()
    fix(db, {"id": other["id"], "driver_id": route["driver_id"]}, *p, SHIFT_START + timedelta(minutes=50), 12.0)
    assert _route_status(db, other["id"]) == "planned"


def test_without_a_route_id_the_drivers_live_route_is_found(db, published_day):
    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, *_ = _stops(db, route["id"])
    fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.5), SHIFT_START + timedelta(minutes=3), 12.0,
        route_id=None)
    assert _route_status(db, route["id"]) == "started"


def test_refresh_route_after_a_delay_and_late_stops(db, published_day):
    from lastmile.dispatch.eta import late_stops, refresh_route
    from lastmile.dispatch.models import Route

    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, *_ = _stops(db, route["id"])
    t = SHIFT_START + timedelta(minutes=80)  # 09:20: windows open, no waiting absorbs the delay
    fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.3), t, speed=12.0)
    before = [x["eta_at"] for x in _stops(db, route["id"])]
    with db.session() as s:
        r = s.get(Route, route["id"])
        assert late_stops(s, r) == []
        etas = refresh_route(s, r, t + timedelta(minutes=1), source="delay", delay_s=45 * 60, settings=CFG)
        s.commit()
    after = [x["eta_at"] for x in _stops(db, route["id"])]
    assert [e["stop_id"] for e in etas] == [x["id"] for x in _stops(db, route["id"])]
    assert all(b - a >= timedelta(minutes=44) for a, b in zip(before, after))
    with db.session() as s:  # held 5 hours: every window (09:00-12:00) is missed
        r = s.get(Route, route["id"])
        etas = refresh_route(s, r, t + timedelta(minutes=2), source="delay", delay_s=5 * 3600, settings=CFG)
        s.commit()
        assert all(e["late_by_s"] > 0 for e in etas)
        late = late_stops(s, r)
    assert {x["stop_id"] for x in late} == {e["stop_id"] for e in etas}
    assert all(x["late_by_s"] > 0 for x in late)


class Collector:
    """Subscribes to broadcast topics on an event loop in a thread."""

    def __init__(self, topics):
        self.topics, self.got, self.ready = topics, [], threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._stop = None

    async def _run(self):
        from lastmile.kit.broadcast import get_broadcaster

        q: asyncio.Queue = asyncio.Queue()
        hub = get_broadcaster().hub
        hub.add(self.topics, q)
        self._stop = asyncio.Event()
        self.ready.set()
        try:
            while not self._stop.is_set():
                try:
                    self.got.append(await asyncio.wait_for(q.get(), 0.1))
                except TimeoutError:
                    pass
        finally:
            hub.remove(self.topics, q)

    def __enter__(self):
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc):
        time.sleep(0.3)
        self._stop.set()
        self.thread.join(5)


def test_etas_are_broadcast_to_the_route_and_each_order_its_own(db, published_day):
    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, s2, *_ = _stops(db, route["id"])
    with Collector([f"route:{route['id']}", f"order:{s2['order_id']}"]) as c:
        fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.3), SHIFT_START + timedelta(minutes=5), 12.0)
    etas = [m for m in c.got if m["type"] == "eta"]
    on_route = [m for m in etas if m["topic"].startswith("route:")]
    on_order = [m for m in etas if m["topic"].startswith("order:")]
    assert len(on_route) == 1 and len(on_route[0]["etas"]) == len(_stops(db, route["id"]))
    assert {"stop_id", "order_id", "eta_at", "late_by_s"} <= set(on_route[0]["etas"][0])
    assert len(on_order) == 1 and on_order[0]["order_id"] == s2["order_id"] and on_order[0]["eta_at"]
    assert "etas" not in on_order[0]  # a customer sees only their own ETA


def test_eta_accuracy_measures_predictions_against_arrivals(db, published_day):
    from lastmile.dispatch.eta import eta_accuracy

    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, *_ = _stops(db, route["id"])
    t = SHIFT_START + timedelta(minutes=5)
    fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.2), t, speed=12.0)
    fix(db, route, s1["lat"], s1["lon"], t + timedelta(minutes=12), speed=0.0)
    with db.session() as s:
        acc = eta_accuracy(s, [route["id"]])
    # predicted at 08:05 for an arrival at 08:17: one prediction 12 minutes ahead
    assert acc["<=15min"]["n"] == 1 and acc["<=15min"]["mean_abs_s"] is not None
    assert sum(v["n"] for v in acc.values()) == 1


def test_the_break_is_owed_then_taken_then_over(db, published_day):
    from lastmile.dispatch.eta import refresh_route
    from lastmile.dispatch.models import Route
    from lastmile.fleet.models import Shift

    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    s1, *_ = _stops(db, route["id"])
    t = SHIFT_START + timedelta(minutes=80)  # 09:20
    fix(db, route, *_toward(depot, (s1["lat"], s1["lon"]), 0.3), t, speed=12.0)
    e0 = [x["eta_at"] for x in _stops(db, route["id"])]

    def refresh(at, **kw):
        with db.session() as s:
            refresh_route(s, s.get(Route, route["id"]), at, settings=CFG, **kw)
            s.commit()
        return [x["eta_at"] for x in _stops(db, route["id"])]

    def shifted(a, b, minutes):
        # (legs driven later are a little faster or slower with the time of day)
        return all(abs((y - x) - timedelta(minutes=minutes)) <= timedelta(minutes=4) for x, y in zip(a, b))

    with db.session() as s:  # a 30-minute break to start between 09:00 and 11:00: open now
        shift = s.get(Shift, s.get(Route, route["id"]).shift_id)
        shift.break_s, shift.break_start_at, shift.break_end_at = 1800, utc(2026, 11, 25, 15), utc(2026, 11, 25, 17)
        s.commit()
    assert shifted(e0, refresh(t + timedelta(seconds=30)), 30)  # owed: taken before driving on
    assert shifted(e0, refresh(t + timedelta(minutes=1), source="break", break_taken=True), 31)  # on it
    assert shifted(e0, refresh(t + timedelta(minutes=11), source="break_end", delay_s=0, break_taken=True), 11)


def test_the_route_finishes_when_the_driver_is_back_at_the_depot(db, published_day):
    """Leaving the depot with stops still to serve changes nothing; once every stop is
    done, failed or skipped, the first fix inside the depot's fence finishes the route
    (dispatch.live.finish_route: event, version bump, broadcast)."""
    from lastmile.dispatch import live
    from lastmile.dispatch.models import Route, RouteStop

    route = _route(db, published_day)
    depot = _depot(db, route["depot_id"])
    stops = _stops(db, route["id"])
    t = SHIFT_START + timedelta(minutes=30)
    fix(db, route, *_toward(depot, (stops[0]["lat"], stops[0]["lon"]), 0.3), t, speed=12.0)
    assert _route_status(db, route["id"]) == "started"
    fix(db, route, *depot, t + timedelta(minutes=5), speed=0.0)  # back at the depot, stops still to serve
    assert _route_status(db, route["id"]) == "started"
    with db.session() as s:
        for k, st in enumerate(stops):
            live.mark_stop(s, s.get(RouteStop, st["id"]), "done" if k else "failed", actor="system",
                           at=t + timedelta(minutes=20 + k), reason="" if k else "not_home")
        s.commit()
    away = _toward(depot, (stops[-1]["lat"], stops[-1]["lon"]), 0.5)
    fix(db, route, *away, t + timedelta(minutes=60), speed=12.0)  # driving home
    assert _route_status(db, route["id"]) == "started"
    fix(db, route, depot[0] + 0.0002, depot[1], t + timedelta(minutes=75), speed=2.0)
    assert _route_status(db, route["id"]) == "finished"
    with db.session() as s:
        assert s.get(Route, route["id"]).finished_at == t + timedelta(minutes=75)
    assert _events(db, route["id"], "route.finished") == 1
    fix(db, route, *depot, t + timedelta(minutes=80), speed=0.0)  # nothing more happens
    assert _events(db, route["id"], "route.finished") == 1
