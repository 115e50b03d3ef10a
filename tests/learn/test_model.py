"""The learned travel model in the engine (pure: no database) and the two LightGBM
models on synthetic history with a known effect."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from lastmile.learn.features import SpeedMap, Visit, building_type
from lastmile.learn.history import Leg, VisitRow
from lastmile.learn.train import NotEnoughHistory, fit_service, fit_travel
from lastmile.routing import domain as d
from lastmile.routing.eta import chain_model
from lastmile.routing.learned import LearnedTravelModel, leg_columns, with_learned
from lastmile.routing.matrix.profiles import laredo
from lastmile.routing.solve import solve

POINTS = [d.LatLon(27.5930, -99.5050), d.LatLon(27.5306, -99.4803), d.LatLon(27.5560, -99.4900),
          d.LatLon(27.5065, -99.5070), d.LatLon(27.4780, -99.5080), d.LatLon(27.5780, -99.4700)]


class Constant:
    """A TravelFactors that multiplies every leg by ``k``."""

    version = 1
    id = "constant"

    def __init__(self, k: float) -> None:
        self.k = k

    def factors(self, cols):
        return np.full(len(cols["olat"]), self.k)


class RushHour:
    """x3 between 07:00 and 08:00, x0.5 otherwise: a steep drop at 08:00."""

    version = 1

    def factors(self, cols):
        h = cols["tod_h"]
        return np.where((h >= 7) & (h < 8), 3.0, 0.5)


def test_without_factors_the_static_model_is_used():
    static = chain_model(POINTS, laredo(), 1)
    assert with_learned(static, None) is static


def test_the_learned_model_is_fifo_even_when_the_factor_drops():
    static = chain_model(POINTS, laredo(), 1)
    model = LearnedTravelModel(static, RushHour())
    n = len(POINTS)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            arrivals = [t + model.travel(i, j, t) for t in range(6 * 3600, 10 * 3600, 37)]
            assert all(b >= a for a, b in zip(arrivals, arrivals[1:])), (i, j)
    # the factor is applied: in the rush hour a leg takes about three times the static estimate
    t = 7 * 3600 + 600
    assert model.travel(1, 2, t) > 2.0 * static.travel(1, 2, t)
    assert model.travel(1, 2, 11 * 3600) < 0.7 * static.travel(1, 2, 11 * 3600)


def test_base_stays_a_lower_bound_of_every_learned_leg():
    static = chain_model(POINTS, laredo(), 1)
    model = LearnedTravelModel(static, RushHour())
    base = model.base.durations
    for t in range(5 * 3600, 22 * 3600, 900):
        for i in range(len(POINTS)):
            for j in range(len(POINTS)):
                if i != j:
                    assert base[i, j] <= model.travel(i, j, t)
    assert (model.static_durations(np.full(len(POINTS), 7 * 3600 + 900)) >= base).all()


def test_the_engine_plans_with_the_learned_model_when_given_one():
    stops = tuple(d.Stop(id=f"s{k}", location=p, service_s=60) for k, p in enumerate(POINTS[1:4]))
    problem = d.Problem(stops=stops, vehicles=(d.Vehicle(id="v", start_depot="dep", shift=d.TimeWindow(8 * 3600, 20 * 3600)),),
                        depots=(d.Depot(id="dep", location=POINTS[0]),), weekday=1)
    opts = d.Options(iterations=50, seed=1)
    plain = solve(problem, opts)  # free flow: the learned factor is the only difference
    slow = solve(problem, opts, learned=Constant(2.0))
    travel = lambda plan: sum(v.travel_s for r in plan.routes for v in r.visits) + sum(r.end_travel_s for r in plan.routes)  # noqa: E731
    assert len(slow.routes[0].stop_ids) == 3
    assert 1.95 * travel(plain) <= travel(slow) <= 2.05 * travel(plain)
    assert sorted(slow.routes[0].stop_ids) == sorted(plain.routes[0].stop_ids)


# --- known effects, learned from synthetic history ---


def _legs(days: list[date], rng: np.random.Generator) -> list[Leg]:
    """Legs whose truth is the static estimate x1.8 when they leave the east side of
    town (east of -99.50) between 07:00 and 10:00, x1.0 otherwise, with noise."""
    prof = laredo()
    out = []
    for day in days:
        lat = rng.uniform(27.52, 27.62, 40)
        lon = rng.uniform(-99.53, -99.45, 40)
        pts = [d.LatLon(float(a), float(b)) for a, b in zip(lat, lon)]
        static = chain_model(pts, prof, day.weekday())
        grid = LearnedTravelModel(static, Constant(1.0))
        for _ in range(200):
            i, j = (int(x) for x in rng.choice(40, 2, replace=False))
            t = int(rng.uniform(6.5 * 3600, 12 * 3600))
            s = grid.travel(i, j, t)
            corridor = 7 * 3600 <= t < 10 * 3600 and pts[i].lon > -99.50
            actual = s * (1.8 if corridor else 1.0) * math.exp(rng.normal(0, 0.05))
            cols = leg_columns(pts[i].lat, pts[i].lon, pts[j].lat, pts[j].lon, t, day.weekday(), s, 0.0, 1.0)
            out.append(Leg(day, f"r{day}", {c: float(v[0]) for c, v in cols.items()}, actual, float(static.travel(i, j, t))))
    return out


def test_the_travel_model_learns_a_rush_hour_the_static_model_does_not_know():
    rng = np.random.default_rng(3)
    days = [date(2026, 3, 2) + timedelta(days=k) for k in range(6)]
    legs = _legs(days, rng)
    train = [leg for leg in legs if leg.day != days[-1]]
    held = [leg for leg in legs if leg.day == days[-1]]
    model = fit_travel(train, SpeedMap()).predictor
    cols = {c: np.array([leg.cols[c] for leg in held]) for c in held[0].cols}
    learned = cols["static_s"] * model.factors(cols)
    actual = np.array([leg.actual_s for leg in held])
    static = np.array([leg.static_s for leg in held])
    mae_static, mae_learned = np.abs(static - actual).mean(), np.abs(learned - actual).mean()
    assert mae_learned < 0.6 * mae_static, (mae_static, mae_learned)


def _visits(days: list[date], rng: np.random.Generator) -> list[VisitRow]:
    """Apartments take 1.35x the planned time and cash on delivery 90 s more."""
    out = []
    for day in days:
        for k in range(150):
            building = int(rng.integers(0, 3))
            cod = bool(rng.random() < 0.3)
            planned = int(rng.choice([180, 240, 300, 360]))
            v = Visit(customer=f"c{day}{k}", parcels=int(rng.integers(1, 4)), kg=int(rng.integers(1, 20)), cod=cod,
                      pickup=False, planned_s=planned, tod_s=int(rng.uniform(8, 18) * 3600), weekday=day.weekday(),
                      building=building, lat=27.5, lon=-99.5)
            dwell = planned * (1.35 if building == 1 else 1.0) * math.exp(rng.normal(0, 0.1)) + (90 if cod else 0)
            out.append(VisitRow(day, v, dwell))
    return out


def test_the_service_model_learns_buildings_and_cash_on_delivery():
    rng = np.random.default_rng(5)
    days = [date(2026, 3, 2) + timedelta(days=k) for k in range(5)]
    rows = _visits(days, rng)
    model = fit_service([r for r in rows if r.day != days[-1]]).predictor
    held = [r for r in rows if r.day == days[-1]]
    learned = model.service_s([r.visit for r in held])
    actual = np.array([r.dwell_s for r in held])
    planned = np.array([r.visit.planned_s for r in held])
    assert np.abs(learned - actual).mean() < 0.5 * np.abs(planned - actual).mean()


def test_too_little_history_is_a_clear_error():
    with pytest.raises(NotEnoughHistory, match="only 0 driven legs recorded"):
        fit_travel([], SpeedMap())
    with pytest.raises(NotEnoughHistory, match="completed visits"):
        fit_service([])


def test_building_type_from_the_order_text():
    assert building_type("Calle Madero 120, Col. Madero", explicit="business") == 2
    assert building_type("3400 Del Mar Blvd Apt 4B, Laredo, TX") == 1
    assert building_type("Calle Bravo 12; Depto 2A, subir por la escalera B") == 1
    assert building_type("1200 San Bernardo Ave; Deliver to the front desk office") == 2
    assert building_type("1902 E Saunders St, Laredo, TX") == 0
