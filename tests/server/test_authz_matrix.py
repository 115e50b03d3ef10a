"""The authorization matrix: every route declares who may call it; each role is
tried on each route (allowed: gets past auth; denied: 401/403), and every route
that names an object is tried with someone else's object (404)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from lastmile.auth.access import Principal  # noqa: F401

from .conftest import TODAY, bearer, order_body

A, D, V, S = "admin", "dispatcher", "driver", "shipper"
STAFF = {A, D}
PUBLIC = {"public"}
MATRIX: dict[tuple[str, str], set[str]] = {
    ("POST", "/auth/token"): PUBLIC,
    ("POST", "/auth/login"): PUBLIC,
    ("POST", "/auth/logout"): {A, D, V},
    ("GET", "/auth/me"): {A, D, V, S},
    ("POST", "/users"): {A},
    ("GET", "/users"): {A},
    ("POST", "/shippers"): {A},
    ("GET", "/shippers"): STAFF,
    ("GET", "/shippers/{shipper_id}"): {A, D, S},
    ("POST", "/shippers/{shipper_id}/api-keys"): {A},
    ("DELETE", "/shippers/{shipper_id}/api-keys/{key_id}"): {A},
    ("GET", "/audit"): {A},
    ("POST", "/depots"): {A},
    ("GET", "/depots"): {A, D, V},
    ("GET", "/depots/{depot_id}"): {A, D, V},
    ("PATCH", "/depots/{depot_id}"): {A},
    ("POST", "/vehicles"): STAFF,
    ("GET", "/vehicles"): STAFF,
    ("GET", "/vehicles/{vehicle_id}"): STAFF,
    ("PATCH", "/vehicles/{vehicle_id}"): STAFF,
    ("POST", "/drivers"): STAFF,
    ("GET", "/drivers"): STAFF,
    ("GET", "/drivers/{driver_id}"): {A, D, V},
    ("POST", "/shifts"): STAFF,
    ("GET", "/shifts"): {A, D, V},
    ("PATCH", "/shifts/{shift_id}"): STAFF,
    ("POST", "/orders"): {A, D, S},
    ("GET", "/orders"): {A, D, S},
    ("GET", "/orders/{order_id}"): {A, D, V, S},
    ("PATCH", "/orders/{order_id}"): {A, D, S},
    ("POST", "/orders/{order_id}/cancel"): {A, D, S},
    ("POST", "/orders/{order_id}/events"): {A, D, V},
    ("GET", "/orders/{order_id}/history"): {A, D, V, S},
    ("POST", "/orders/{order_id}/tracking-token"): {A, D, S},
    ("POST", "/orders/import"): {A, D, S},
    ("GET", "/track/{token}"): PUBLIC,
    ("POST", "/plans"): STAFF,
    ("GET", "/plans"): STAFF,
    ("GET", "/plans/{plan_id}"): STAFF,
    ("POST", "/plans/{plan_id}/publish"): STAFF,
    ("GET", "/routes"): {A, D, V},
    ("GET", "/routes/{route_id}"): {A, D, V},
    ("POST", "/webhooks/subscriptions"): {A, S},
    ("GET", "/webhooks/subscriptions"): {A, S},
    ("GET", "/webhooks/subscriptions/{sub_id}"): {A, S},
    ("PATCH", "/webhooks/subscriptions/{sub_id}"): {A, S},
    ("DELETE", "/webhooks/subscriptions/{sub_id}"): {A, S},
    ("POST", "/webhooks/subscriptions/{sub_id}/rotate-secret"): {A, S},
    ("GET", "/webhooks/subscriptions/{sub_id}/messages"): {A, S},
    ("GET", "/webhooks/subscriptions/{sub_id}/deliveries"): {A, S},
    ("GET", "/events"): {A, D, S},
    ("GET", "/live/stream"): {A, D, V},
    ("POST", "/routes/moves/preview"): STAFF,
    ("POST", "/routes/moves"): STAFF,
    ("POST", "/routes/split/preview"): STAFF,
    ("POST", "/routes/split"): STAFF,
    ("POST", "/routes/merge/preview"): STAFF,
    ("POST", "/routes/merge"): STAFF,
    ("GET", "/dispatch/free-shifts"): STAFF,
    ("POST", "/orders/{order_id}/priority"): STAFF,
    ("POST", "/route-stops/{stop_id}/lock"): STAFF,
    ("POST", "/route-stops/{stop_id}/unlock"): STAFF,
    ("POST", "/slots/offer"): {A, D, S},
    ("GET", "/proposals"): STAFF,
    ("POST", "/proposals/{proposal_id}/apply"): STAFF,
    ("POST", "/proposals/{proposal_id}/reject"): STAFF,
    ("POST", "/routes/{route_id}/unavailable"): STAFF,
    ("GET", "/dispatch/policy"): STAFF,
    ("PATCH", "/dispatch/policy"): {A},
    ("GET", "/alerts"): STAFF,
    ("GET", "/search"): STAFF,
    ("GET", "/console/day"): STAFF,
    ("GET", "/console"): PUBLIC,
    ("GET", "/analytics"): PUBLIC,  # the page shell; its data comes from the staff-only API
    ("GET", "/analytics/kpis"): {A, D, S},
    ("GET", "/analytics/kpis.csv"): {A, D, S},
    ("GET", "/analytics/scorecards"): {A, D, V},
    ("GET", "/analytics/roi"): {A, D},
    ("GET", "/analytics/roi.pdf"): {A, D},
    ("GET", "/driver/today"): {V},
    ("POST", "/driver/actions"): {V},
    ("POST", "/driver/files"): {V},
    ("GET", "/pod/{order_id}"): {A, D, S},
    ("GET", "/pod/{order_id}/page"): {A, D, S},
    ("GET", "/pod/{order_id}/pdf"): {A, D, S},
    ("GET", "/pod/{order_id}/files/{sha256}"): {A, D, S},
    ("GET", "/shippers/{shipper_id}/pod-rules"): {A, D, S},
    ("PATCH", "/shippers/{shipper_id}/pod-rules"): STAFF,
    ("GET", "/orders/{order_id}/pod-rules"): {A, D, S},
    ("PATCH", "/orders/{order_id}/pod-rules"): {A, D, S},
    ("GET", "/depots/{depot_id}/returns"): STAFF,
    ("POST", "/devices"): STAFF,
    ("GET", "/devices"): STAFF,
    ("DELETE", "/devices/{device_id}"): STAFF,
    ("POST", "/tracking/positions"): {V},
    ("GET", "/tracking/osmand"): PUBLIC,
    ("POST", "/tracking/osmand"): PUBLIC,
    ("POST", "/tracking/owntracks"): {"device"},  # HTTP Basic with a device token; user logins get 403
    ("GET", "/tracking/live"): STAFF,
    ("GET", "/tracking/stats"): STAFF,
    ("GET", "/notifications"): {A, D, S},
    ("GET", "/outbox"): STAFF,
    ("GET", "/notifications/templates"): {A, D, S},
    ("PUT", "/notifications/templates"): {A, S},
    ("DELETE", "/notifications/templates"): {A, S},
    ("POST", "/notifications/sms/inbound"): PUBLIC,  # signed by the SMS provider (400 without)
    ("GET", "/notifications/unsubscribe"): PUBLIC,  # signed link in every email
    ("POST", "/notifications/unsubscribe"): PUBLIC,
    ("GET", "/notifications/push/key"): PUBLIC,
    ("POST", "/notifications/push/subscriptions"): PUBLIC,  # names the order by its tracking token
    ("GET", "/t/{token}"): PUBLIC,  # the customer's tracking page and its API, by the token in the link
    ("GET", "/t/{token}/state"): PUBLIC,
    ("GET", "/t/{token}/stream"): PUBLIC,
    ("GET", "/t/{token}/messages"): PUBLIC,
    ("POST", "/t/{token}/messages"): PUBLIC,
    ("PATCH", "/t/{token}/preferences"): PUBLIC,
    ("GET", "/t/{token}/slots"): PUBLIC,
    ("POST", "/t/{token}/reschedule"): PUBLIC,
    ("POST", "/t/{token}/rating"): PUBLIC,
    ("GET", "/t/{token}/pickup-points"): PUBLIC,
    ("GET", "/t/push-sw.js"): PUBLIC,
    ("PUT", "/t/{token}/pickup"): PUBLIC,
    ("DELETE", "/t/{token}/pickup"): PUBLIC,
    ("GET", "/pickup-points"): STAFF,
    ("POST", "/pickup-points"): STAFF,
    ("PATCH", "/pickup-points/{point_id}"): STAFF,
    ("GET", "/orders/{order_id}/messages"): {A, D, V},
    ("POST", "/orders/{order_id}/messages"): {A, D, V},
    ("GET", "/healthz"): PUBLIC,
}
# Server-Sent Event streams never end: allowed callers are checked by their own tests
# (tests/server/test_live.py); here only the refusals are walked.
STREAMS = {("GET", "/t/{token}/stream"), ("GET", "/live/stream")}
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

BODIES = {
    ("POST", "/t/{token}/messages"): {"body": "x"},
    ("PATCH", "/t/{token}/preferences"): {"contactless": True},
    ("POST", "/orders/{order_id}/messages"): {"body": "x"},
    ("PATCH", "/orders/{order_id}"): {"instructions": "x"},
    ("POST", "/orders/{order_id}/cancel"): {},
    ("POST", "/orders/{order_id}/events"): {"type": "approaching"},
    ("PATCH", "/webhooks/subscriptions/{sub_id}"): {"description": "x"},
    ("POST", "/shippers/{shipper_id}/api-keys"): {},
    ("PATCH", "/depots/{depot_id}"): {"name": "North"},
    ("PATCH", "/vehicles/{vehicle_id}"): {"name": "Van"},
    ("PATCH", "/shifts/{shift_id}"): {"available": True},
    ("POST", "/routes/moves/preview"): {"order_id": "ord_none", "to_route_id": None},
    ("POST", "/routes/moves"): {"order_id": "ord_none", "to_route_id": None},
    ("POST", "/routes/split/preview"): {"route_id": "rte_none", "from_position": 1, "to_route_id": "rte_none"},
    ("POST", "/routes/split"): {"route_id": "rte_none", "from_position": 1, "to_route_id": "rte_none"},
    ("POST", "/routes/merge/preview"): {"route_id": "rte_none", "from_route_id": "rte_none"},
    ("POST", "/routes/merge"): {"route_id": "rte_none", "from_route_id": "rte_none"},
    ("POST", "/orders/{order_id}/priority"): {"priority": 50},
    ("POST", "/slots/offer"): {"lat": 27.53, "lon": -99.48, "depot_id": "dep_none", "start": "2026-11-25"},
    ("PATCH", "/dispatch/policy"): {"allow_next_stop": False},
    ("POST", "/driver/actions"): {"actions": []},
    ("PATCH", "/shippers/{shipper_id}/pod-rules"): {"signature": True},
    ("PATCH", "/orders/{order_id}/pod-rules"): {"photo": True},
    ("POST", "/pickup-points"): {"name": "Locker", "lat": 27.53, "lon": -99.48},
    ("PATCH", "/pickup-points/{point_id}"): {"capacity": 5},
}


def declared_roles(route: APIRoute) -> set[str]:
    roles: set[str] = set()
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if dep.call is not None and hasattr(dep.call, "__roles__"):
            roles |= set(dep.call.__roles__)
        stack.extend(dep.dependencies)
    return roles


def _flatten(routes):
    for r in routes:
        inner = getattr(r, "original_router", None)  # FastAPI >= 0.16x keeps included routers whole
        if inner is not None:
            yield from _flatten(inner.routes)
        else:
            yield r


def api_routes(app):
    for r in _flatten(app.routes):
        if isinstance(r, APIRoute):
            for m in sorted(r.methods - {"HEAD", "OPTIONS"}):
                yield m, r


def test_every_route_declares_who_may_call_it(app):
    seen = {}
    for method, route in api_routes(app):
        roles = declared_roles(route)
        assert roles, f"{method} {route.path} declares no callers"
        seen[(method, route.path)] = roles
    assert seen == MATRIX


@pytest.fixture
def objects(client, world, db, settings):
    """Objects owned by the first of each pair (shipper, driver), and the same for the second."""
    from lastmile.auth.models import Organization, Shipper
    from lastmile.auth.service import create_api_key, create_user, issue_token
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.kit.time import utcnow
    from lastmile.orders.models import Order
    from lastmile.orders.service import issue_tracking_token

    order_a = client.post("/orders", json=order_body(world), headers=world.headers["shipper"]).json()["id"]
    order_b = client.post("/orders", json=order_body(world), headers=world.headers["shipper2"]).json()["id"]
    sub = lambda h: client.post("/webhooks/subscriptions", json={"url": "https://example.com/h",  # noqa: E731
                                                                 "events": ["order.created"]}, headers=h).json()["id"]
    sub_a, sub_b = sub(world.headers["shipper"]), sub(world.headers["shipper2"])
    with db.session() as s:
        plan = Plan(organization_id=world.org, date=TODAY, depot_ids=[world.ids["depot"]], status="done",
                    created_by="x")
        s.add(plan)
        s.flush()
        routes, stops = {}, {}
        for n, oid in ((1, order_a), (2, order_b)):
            r = Route(plan_id=plan.id, organization_id=world.org, vehicle_id=world.ids[f"vehicle{n}"],
                      driver_id=world.ids[f"driver_id{n}"], depot_id=world.ids["depot"], depart_at=utcnow(),
                      arrive_at=utcnow(), distance_m=0, duration_s=0, published=True)
            s.add(r)
            s.flush()
            rs = RouteStop(route_id=r.id, order_id=oid, seq=1, arrival_at=utcnow(), start_at=utcnow(),
                           end_at=utcnow())
            s.add(rs)
            s.flush()
            stops[n] = rs.id
            s.get(Order, oid).status = "assigned"
            routes[n] = r.id
        from lastmile.dispatch.models import Proposal

        prop = Proposal(organization_id=world.org, date=TODAY, kind="insert", trigger="test", subject_id=order_a,
                        status="open", summary={}, delta={}, changes=[], versions={}, decided_by="")
        s.add(prop)
        s.flush()
        ids_prop = prop.id
        from lastmile.tracking.models import Device

        device = Device(organization_id=world.org, driver_id=world.ids["driver_id1"], kind="osmand",
                        token_hash="0" * 64, created_by="test")
        s.add(device)
        s.flush()
        device_id = device.id
        from lastmile.portal.models import PickupPoint

        point = PickupPoint(organization_id=world.org, name="Locker Centro", lat=27.50, lon=-99.50, hours={},
                            capacity=5, timezone="America/Chicago", kind="locker", address="", active=True)
        s.add(point)
        s.flush()
        point_id = point.id
        token = issue_tracking_token(s, s.get(Order, order_a))
        _, throwaway = create_api_key(s, s.get(Shipper, world.ids["shipper"]), "throwaway")
        other_org = Organization(name="Another fleet")
        s.add(other_org)
        s.flush()
        outsider = create_user(s, other_org.id, "admin@other.example", "correct horse battery", "admin")
        outsider_token, _ = issue_token(s, settings, outsider, "bearer")
        s.commit()
        # a proof of delivery with one photo on the first order (GET /pod/{order_id}/files/{sha256})
        from lastmile.pod import chain
        from lastmile.pod.files import sha256_hex, storage_for

        photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
        pod_sha = sha256_hex(photo)
        storage_for(settings).put(pod_sha, photo, "image/png")
        chain.append(s, organization_id=world.org, route_id=routes[1], kind="delivered", order_id=order_a,
                     stop_id=stops[1], server_time=utcnow(), actor="test",
                     body={"files": [{"sha256": pod_sha, "role": "photo", "size": len(photo),
                                      "content_type": "image/png"}]})
        s.commit()
        ids = dict(plan=plan.id, route1=routes[1], route2=routes[2], key=throwaway.id, stop1=stops[1], stop2=stops[2])
    own = {
        "order_id": order_a, "route_id": ids["route1"], "driver_id": world.ids["driver_id1"],
        "shipper_id": world.ids["shipper"], "sub_id": sub_a, "key_id": ids["key"], "plan_id": ids["plan"],
        "depot_id": world.ids["depot"], "vehicle_id": world.ids["vehicle1"], "shift_id": world.ids["shift1"],
        "token": token, "stop_id": ids["stop1"], "device_id": device_id, "proposal_id": ids_prop,
        "sha256": pod_sha, "point_id": point_id,
    }
    others = {"order_id": order_b, "route_id": ids["route2"], "driver_id": world.ids["driver_id2"],
              "shipper_id": world.ids["shipper2"], "sub_id": sub_b, "stop_id": ids["stop2"]}
    return {"own": own, "others": others, "outsider": bearer(outsider_token)}


def fresh_headers(db, settings, world, role):
    """A new credential per call, so logout or key revocation in one call cannot spoil the next."""
    from lastmile.auth.models import Shipper, User
    from lastmile.auth.service import create_api_key, issue_token

    if role == "anonymous":
        return {}
    with db.session() as s:
        if role == "shipper":
            secret, _ = create_api_key(s, s.get(Shipper, world.ids["shipper"]))
        else:
            secret, _ = issue_token(s, settings, s.get(User, world.ids[f"user_{role}"]), "bearer")
        s.commit()
    return bearer(secret)


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_role_by_endpoint_matrix(app, client, world, db, settings, objects):
    failures = []
    for (method, path), allowed in sorted(MATRIX.items()):
        for role in ("anonymous", A, D, V, S):
            if (method, path) in STREAMS and (role in allowed or "public" in allowed):
                continue
            headers = fresh_headers(db, settings, world, role)
            url = fill(path, objects["own"])
            kw = {"json": BODIES.get((method, path), {})} if method in ("POST", "PATCH") else {}
            r = client.request(method, url, headers=headers, **kw)
            ok_public = "public" in allowed
            if ok_public or role in allowed:
                if r.status_code in (401, 403) or (r.status_code == 404 and "{" in path):
                    failures.append(f"{role} {method} {path}: expected allowed, got {r.status_code} {r.text[:100]}")
            else:
                expected = 401 if role == "anonymous" else 403
                if r.status_code != expected:
                    failures.append(f"{role} {method} {path}: expected {expected}, got {r.status_code}")
            assert r.status_code < 500, (role, method, path, r.text)
    assert not failures, "\n".join(failures)


def test_someone_elses_objects_are_not_found(client, world, objects):
    """Shippers, drivers and other organizations get 404 for objects that are not theirs."""
    cases = [(S, world.headers["shipper"]), (V, world.headers["driver"]), ("outsider", objects["outsider"])]
    failures = []
    for role, headers in cases:
        for (method, path), allowed in sorted(MATRIX.items()):
            params = re.findall(r"\{(\w+)\}", path)
            if not params or "public" in allowed or (role in (S, V) and role not in allowed):
                continue
            values = dict(objects["own"])
            if role == "outsider":
                pass  # everything in the first organization is someone else's
            else:
                theirs = [p for p in params if p in objects["others"]]
                if not theirs:
                    continue
                values.update({p: objects["others"][p] for p in theirs})
            kw = {"json": BODIES.get((method, path), {})} if method in ("POST", "PATCH") else {}
            r = client.request(method, fill(path, values), headers=headers, **kw)
            if r.status_code != 404:
                failures.append(f"{role} {method} {fill(path, values)}: expected 404, got {r.status_code}")
    assert not failures, "\n".join(failures)
