"""The portal tests reuse the server fixtures (SQLite and PostgreSQL, a world of two of
everything) and add a small published day built by hand -- three stops on the first
driver's route, one on the second's -- each with a tracking link."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.server.conftest import (  # noqa: F401 -- fixtures
    TODAY,
    app,
    client,
    db,
    order_body,
    pg_database,
    settings,
    sqlite_template,
    utc,
    world,
)

STOPS = [(27.5306, -99.4803), (27.5036, -99.5076), (27.5480, -99.4650)]
FIRST_ARRIVAL = utc(2026, 11, 25, 15, 0)  # 09:00 in Laredo


@pytest.fixture
def day(client, db, world):
    """``{"route_id", "other_route_id", "stops": [...], "other_stops": [...]}``; each stop
    ``{"stop_id", "order_id", "seq", "token"}``, in route order."""
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.orders.models import Order
    from lastmile.orders.service import issue_tracking_token, transition

    def new_order(lat, lon, ref):
        body = order_body(world, lat=lat, lon=lon, reference=ref, shipper_id=world.ids["shipper"])
        r = client.post("/orders", json=body, headers=world.headers["dispatcher"])
        assert r.status_code == 201, r.text
        return r.json()["id"]

    mine = [new_order(lat, lon, f"P{i}") for i, (lat, lon) in enumerate(STOPS)]
    theirs = [new_order(27.5200, -99.4900, "Q0")]
    out: dict = {"stops": [], "other_stops": []}
    with db.session() as s:
        plan = Plan(organization_id=world.org, date=TODAY, depot_ids=[world.ids["depot"]], status="published",
                    created_by="test")
        s.add(plan)
        s.flush()
        for n, orders, key in ((1, mine, "stops"), (2, theirs, "other_stops")):
            route = Route(plan_id=plan.id, organization_id=world.org, vehicle_id=world.ids[f"vehicle{n}"],
                          driver_id=world.ids[f"driver_id{n}"], depot_id=world.ids["depot"],
                          depart_at=FIRST_ARRIVAL - timedelta(minutes=30),
                          arrive_at=FIRST_ARRIVAL + timedelta(hours=2), distance_m=20_000, duration_s=9000,
                          published=True)
            s.add(route)
            s.flush()
            out["route_id" if n == 1 else "other_route_id"] = route.id
            for seq, oid in enumerate(orders, start=1):
                at = FIRST_ARRIVAL + timedelta(minutes=20 * (seq - 1))
                stop = RouteStop(route_id=route.id, order_id=oid, seq=seq, arrival_at=at, start_at=at,
                                 end_at=at + timedelta(minutes=5))
                s.add(stop)
                s.flush()
                order = s.get(Order, oid)
                transition(s, "system", order, "assigned")
                out[key].append({"stop_id": stop.id, "order_id": oid, "seq": seq,
                                 "token": issue_tracking_token(s, order)})
        s.commit()
    return out
