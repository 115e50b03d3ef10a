"""The server fixtures (SQLite and PostgreSQL, two of everything) plus a live day:
a published plan with two routes of several stops around Laredo North."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.server.conftest import (  # noqa: F401 -- fixtures
    TODAY,
    app,
    client,
    db,
    pg_database,
    settings,
    sqlite_template,
    world,
)

ZONE = "America/Chicago"
PLACES = [(27.5306, -99.4803), (27.5420, -99.4910), (27.5510, -99.4700), (27.5200, -99.4950),
          (27.5600, -99.5000), (27.5380, -99.4600), (27.5150, -99.4750), (27.5700, -99.4800)]
NOW = datetime.fromisoformat("2026-11-25T08:00:00-06:00")


def make_order(s, world, lat, lon, *, status="assigned", window=None, skills=(), parcels=1, ref=""):
    from lastmile.orders.models import Order

    o = Order(organization_id=world.org, depot_id=world.ids["depot"], date=TODAY, lat=lat, lon=lon,
              status=status, reference=ref, demand_parcels=parcels, service_s=300, skills=list(skills),
              windows=[{"start": a, "end": b} for a, b in ([window] if window else [])],
              shipper_id=world.ids["shipper"])
    s.add(o)
    s.flush()
    return o


@pytest.fixture(autouse=True)
def replay_clock(monkeypatch):
    """The live day is replayed at 08:00 local on TODAY, whatever the wall clock says."""
    from lastmile.dispatch import moves

    monkeypatch.setattr(moves, "clock", lambda: NOW)


@pytest.fixture
def live_day(db, world):
    """Two published routes (shift1: 4 stops, shift2: 4 stops), timed by the engine."""
    from lastmile.dispatch.models import Plan, Route, RouteStop
    from lastmile.dispatch.moves import load_day, write_route
    from lastmile.fleet.models import Shift

    ids = {"orders": {}, "routes": {}, "stops": {}}
    with db.session() as s:
        plan = Plan(organization_id=world.org, date=TODAY, depot_ids=[world.ids["depot"]], status="published",
                    created_by="test")
        s.add(plan)
        s.flush()
        for n in (1, 2):
            shift = s.get(Shift, world.ids[f"shift{n}"])
            r = Route(plan_id=plan.id, organization_id=world.org, vehicle_id=world.ids[f"vehicle{n}"],
                      driver_id=world.ids[f"driver_id{n}"], shift_id=shift.id, depot_id=world.ids["depot"],
                      depart_at=shift.start_at, arrive_at=shift.start_at, distance_m=0, duration_s=0,
                      published=True)
            s.add(r)
            s.flush()
            ids["routes"][n] = r.id
            places = PLACES[:4] if n == 1 else PLACES[4:]
            for k, (lat, lon) in enumerate(places, 1):
                o = make_order(s, world, lat, lon, ref=f"r{n}s{k}")
                st = RouteStop(route_id=r.id, order_id=o.id, seq=k, arrival_at=shift.start_at,
                               start_at=shift.start_at, end_at=shift.start_at)
                s.add(st)
                s.flush()
                ids["orders"][(n, k)] = o.id
                ids["stops"][(n, k)] = st.id
        s.flush()
        ld = load_day(s, world.org, TODAY, now=NOW)
        for rid, rl in ld.routes.items():
            write_route(s, ld, rid, rl.seq)
        s.commit()
    return ids
