"""The POD tests reuse the server fixtures (SQLite and PostgreSQL, a world of two of
everything, a published day planned by the engine)."""

from tests.server.conftest import (  # noqa: F401 -- fixtures
    app,
    client,
    db,
    pg_database,
    published_day,
    settings,
    sqlite_template,
    world,
)


import pytest  # noqa: E402

from tests.server.conftest import TODAY, order_body  # noqa: E402


@pytest.fixture
def driver_day(client, world, db, published_day):
    """Driver 1's published route with a pickup stop added at the end and cash on
    delivery on the first stop; returns the route as /driver/today shows it."""
    from sqlalchemy import func, select

    from lastmile.dispatch.models import Route, RouteStop
    from lastmile.orders.models import Order

    route_id = published_day["routes"][world.ids["driver_id1"]]["id"]
    body = order_body(world, kind="pickup", reference="RET-7", shipper_id=world.ids["shipper"], cod=None,
                      demand={"kg": 1, "litres": 1, "parcels": 1}, contact={"name": "Sra. Garza", "phone": "+52 867 555 0101"})
    r = client.post("/orders", json=body, headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    pickup_id = r.json()["id"]
    with db.session() as s:
        route = s.get(Route, route_id)
        last = s.scalar(select(func.max(RouteStop.seq)).where(RouteStop.route_id == route_id))
        s.add(RouteStop(route_id=route_id, order_id=pickup_id, seq=last + 1, arrival_at=route.arrive_at,
                        start_at=route.arrive_at, end_at=route.arrive_at))
        s.get(Order, pickup_id).status = "assigned"
        first = s.scalar(select(RouteStop).where(RouteStop.route_id == route_id, RouteStop.seq == 1))
        o = s.get(Order, first.order_id)
        o.cod_amount, o.cod_currency = 125000, "MXN"
        s.commit()
    r = client.get("/driver/today", params={"date": TODAY.isoformat()}, headers=world.headers["driver"])
    assert r.status_code == 200, r.text
    routes = r.json()["routes"]
    assert len(routes) == 1 and routes[0]["id"] == route_id
    return routes[0]
