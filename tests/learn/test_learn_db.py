"""Training from a database that recorded simulated days, on SQLite and PostgreSQL:
versioned model rows, a clear error without history, the migration both ways,
and live ETAs that use the newest model when there is one."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, inspect, select, text

from lastmile.learn import store
from lastmile.learn.history import driven_routes, legs_of, visits_of
from lastmile.learn.models import LearnedModel
from lastmile.learn.simulate import simulate_day
from lastmile.learn.train import NotEnoughHistory, train
from lastmile.routing.matrix.profiles import laredo
from lastmile.tracking.models import Position

from tests.server.conftest import utc


@pytest.fixture(autouse=True)
def _fresh_cache():
    store.forget()
    yield
    store.forget()


def _record(db) -> None:
    """Two small simulated days: the first through dispatch/live.py (events,
    notifications), the second writing the same columns directly."""
    with db.session() as s:
        simulate_day(s, 11, date(2026, 3, 2), orders=36, drivers=3, iterations=10, via_live=True)
        s.commit()
    with db.session() as s:
        simulate_day(s, 12, date(2026, 3, 3), orders=36, drivers=3, iterations=10, via_live=False)
        s.commit()


def test_training_stores_versioned_models_and_a_second_training_increments(db):
    _record(db)
    with db.session() as s:
        routes = driven_routes(s)
        assert {r.day for r in routes} == {date(2026, 3, 2), date(2026, 3, 3)}
        assert s.scalar(select(func.count()).select_from(Position)) > 500  # the pings are recorded
        legs, visits = legs_of(routes, laredo()), visits_of(routes)
        assert len(legs) >= 40 and len(visits) >= 40
        assert all(20 <= leg.actual_s <= 4 * 3600 for leg in legs)
        assert all(v.dwell_s > 0 for v in visits)
        first = train(s, min_rows=20)
        s.commit()
    assert sorted((m.kind, m.version) for m in first) == [("service", 1), ("travel", 1)]
    with db.session() as s:
        second = train(s, ("travel",), min_rows=20)
        s.commit()
        rows = s.execute(select(LearnedModel.kind, LearnedModel.version, LearnedModel.training_rows)
                         .order_by(LearnedModel.kind, LearnedModel.version)).all()
        assert [(k, v) for k, v, _ in rows] == [("service", 1), ("travel", 1), ("travel", 2)]
        assert all(n >= 20 for _, _, n in rows)
        assert second[0].metrics["rows_train"] > 0 and "mae_learned_s" in second[0].metrics
        travel = store.newest(s, "travel")
        assert travel is not None and travel.version == 2
        cols = {c: np.array([leg.cols[c] for leg in legs[:30]]) for c in legs[0].cols}
        f = travel.factors(cols)
        assert f.shape == (30,) and np.isfinite(f).all() and (f > 0).all()
        service = store.newest(s, "service")
        assert service is not None and service.version == 1
        secs = service.service_s([v.visit for v in visits[:10]])
        assert (secs >= 30).all()


def test_an_empty_database_is_a_clear_error(db):
    with db.session() as s:
        with pytest.raises(NotEnoughHistory, match="only 0 driven legs recorded.*simulate-history"):
            train(s)
        assert store.newest(s, "travel") is None and store.newest(s, "service") is None


def test_the_cli_says_what_is_missing_on_an_empty_database(tmp_path):
    from typer.testing import CliRunner

    from lastmile.cli import app

    r = CliRunner().invoke(app, ["learn", "--database-url", f"sqlite:///{tmp_path}/empty.db"])
    assert r.exit_code == 2
    assert "cannot learn yet: only 0 driven legs" in r.output
    r = CliRunner().invoke(app, ["learn", "--database-url", f"sqlite:///{tmp_path}/empty.db", "--list"])
    assert r.exit_code == 0 and "no learned models yet" in r.output


def test_migration_down_and_up(db):
    from alembic import command

    from lastmile.db import alembic_config

    cfg = alembic_config(db.url)
    try:
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0013_learn@-1")
            conn.commit()
        assert "learned_models" not in inspect(db.engine).get_table_names()
    finally:
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            conn.commit()
    assert "learned_models" in inspect(db.engine).get_table_names()
    with db.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM learned_models")).scalar_one() == 0


def _constant_model(kind: str, factor: float):
    """A real LightGBM model trained to answer ``factor`` everywhere."""
    import lightgbm as lgb

    from lastmile.learn.features import SERVICE_FEATURES, TRAVEL_FEATURES, SpeedMap

    width = len(TRAVEL_FEATURES if kind == "travel" else SERVICE_FEATURES)
    X = np.random.default_rng(1).uniform(0, 1, (200, width))
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
                        lgb.Dataset(X, np.full(200, np.log(factor))), 5)
    if kind == "travel":
        return store.TravelPredictor(booster, SpeedMap())
    return store.ServicePredictor(booster, {})


def test_live_etas_use_the_newest_model_and_the_static_one_without(db, published_day):
    from lastmile.dispatch.eta import refresh_route
    from lastmile.dispatch.models import Route

    route_id = next(iter(published_day["routes"].values()))["id"]
    at = utc(2026, 11, 25, 14, 0)  # 08:00 in Laredo

    def etas() -> list[int]:
        with db.session() as s:
            out = refresh_route(s, s.get(Route, route_id), at, source="refresh")
            s.rollback()
        return [int(x["eta_at"][11:13]) * 3600 + int(x["eta_at"][14:16]) * 60 + int(x["eta_at"][17:19]) for x in out]

    static = etas()
    assert len(static) >= 2
    with db.session() as s:
        store.save(s, "travel", _constant_model("travel", 2.0), training_rows=200, features=[], metrics={})
        s.commit()
    store.forget()
    slower = etas()
    # every leg takes twice as long: each stop is reached later, the first by about its first leg
    assert all(b > a for a, b in zip(static, slower))
    with db.session() as s:
        store.save(s, "service", _constant_model("service", 3.0), training_rows=200, features=[], metrics={})
        s.commit()
    store.forget()
    slowest = etas()
    assert slowest[0] == slower[0]  # dwell times only move the stops after the first
    assert all(b > a for a, b in zip(slower[1:], slowest[1:]))
    with db.session() as s:  # back to no model: the static ETAs again
        s.execute(text("DELETE FROM learned_models"))
        s.commit()
    store.forget()
    assert etas() == static


def test_the_plan_job_uses_the_newest_travel_model(db, client, world, published_day):
    from lastmile.dispatch.service import run_plan
    from lastmile.jobs.queue import huey

    from tests.server.conftest import TODAY, order_body

    d = world.headers["dispatcher"]

    def plan_new_orders(ref: str) -> dict:
        for i, (lat, lon) in enumerate(((27.5400, -99.4900), (27.5520, -99.4700))):
            r = client.post("/orders", json=order_body(world, lat=lat, lon=lon, reference=f"{ref}{i}",
                                                       shipper_id=world.ids["shipper"]), headers=d)
            assert r.status_code == 201, r.text
        r = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]],
                                        "options": {"time_limit_s": 1, "seed": 1}}, headers=d)
        assert r.status_code == 202, r.text
        huey.flush()
        assert run_plan(db, r.json()["id"]) == "done"
        return client.get(f"/plans/{r.json()['id']}", headers=d).json()

    # published_day was planned without a model: no note
    assert not any("learned" in n for n in published_day["plan"]["stats"]["notes"])
    with db.session() as s:
        store.save(s, "travel", _constant_model("travel", 1.5), training_rows=200, features=[], metrics={})
        s.commit()
    store.forget()
    plan = plan_new_orders("P")
    assert "travel times learned from history (model v1)" in plan["stats"]["notes"]
    assert plan["routes"]
