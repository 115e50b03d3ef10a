from __future__ import annotations

from .conftest import PLACES, make_order


def test_preview_changes_nothing_and_apply_moves(client, world, db, live_day):
    from lastmile.dispatch.models import Route, RouteStop

    oid = live_day["orders"][(1, 2)]
    r2 = live_day["routes"][2]
    h = world.headers["dispatcher"]
    with db.session() as s:
        v2 = s.get(Route, r2).version
    body = {"order_id": oid, "to_route_id": r2}
    prev = client.post("/routes/moves/preview", json=body, headers=h)
    assert prev.status_code == 200, prev.text
    out = prev.json()
    assert out["feasible"] is True, out
    assert set(out["delta"]) == {"duration_s", "distance_m", "late_stops", "cost"}
    assert {r["id"] for r in out["routes"]} == {live_day["routes"][1], r2}
    target = next(r for r in out["routes"] if r["id"] == r2)
    assert oid in [x["order_id"] for x in target["stops"] if x["status"] != "skipped"]
    with db.session() as s:  # nothing stored
        assert s.get(Route, r2).version == v2
        assert s.query(RouteStop).filter_by(route_id=r2, order_id=oid).count() == 0
    done = client.post("/routes/moves", json=body, headers=h)
    assert done.status_code == 200, done.text
    with db.session() as s:
        assert s.get(Route, r2).version == v2 + 1
        moved = s.query(RouteStop).filter_by(route_id=r2, order_id=oid).one()
        assert moved.status == "planned"
        old = s.query(RouteStop).filter_by(route_id=live_day["routes"][1], order_id=oid).one()
        assert old.status == "skipped"
        seqs = [x.seq for x in s.query(RouteStop).filter_by(route_id=r2).order_by(RouteStop.seq)]
        assert seqs == list(range(1, len(seqs) + 1))
