"""``lastmile learn``: train the travel and service models from the database and
store them as the next version of each kind.

Both are LightGBM regressors (why LightGBM: ``store.py``) of the log of a
multiplicative factor over the static figure -- travel: actual / static leg
seconds; service: actual dwell / the order's planned service time -- so a
prediction is never far from the static model where history is thin (the factor
is clipped), and the static model is the fallback when there is no model at all.
The last fifth of the days (by date) is held out for early stopping and for the
metrics stored with the model; the model is then used as trained on the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from ..routing.matrix.profiles import profile_named
from . import store
from .features import SERVICE_FEATURES, TRAVEL_FEATURES, SpeedMap, service_matrix, travel_matrix
from .history import Leg, VisitRow, customer_history, driven_routes, legs_of, speed_map, visits_of
from .models import LearnedModel

MIN_ROWS = 50
PARAMS: dict[str, Any] = {
    "objective": "regression", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
    "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "deterministic": True, "force_row_wise": True, "seed": 7, "verbose": -1,
    # one thread: OpenMP workers spin while waiting, and on a busy 2-core machine two of
    # them made a small training 50x slower (18 s instead of 0.3 s); our data is small
    "num_threads": 1,
}
ROUNDS, EARLY_STOP = 600, 40


class NotEnoughHistory(ValueError):
    """The database holds too little driven history to learn from."""


@dataclass
class Trained:
    kind: str
    predictor: Any
    rows: int
    metrics: dict[str, Any]
    features: tuple[str, ...]


def split_days(days: list[date], holdout: float = 0.2) -> tuple[set[date], set[date]]:
    """(training days, validation days): the latest ``holdout`` share of the days."""
    ds = sorted(set(days))
    if len(ds) < 2:
        return set(ds), set()
    k = max(1, int(round(len(ds) * holdout)))
    return set(ds[:-k]), set(ds[-k:])


def _fit(X: np.ndarray, y: np.ndarray, train: np.ndarray, valid: np.ndarray):
    import lightgbm as lgb

    dtrain = lgb.Dataset(X[train], y[train], free_raw_data=False)
    if valid.any():
        dvalid = lgb.Dataset(X[valid], y[valid], reference=dtrain)
        return lgb.train(PARAMS, dtrain, ROUNDS, valid_sets=[dvalid],
                         callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)])
    return lgb.train(PARAMS, dtrain, 200)


def _smearing(booster, X: np.ndarray, y: np.ndarray, rows: np.ndarray) -> float:
    """Duan's smearing factor: the model predicts the mean log factor, whose exp is a
    median; ETAs add up many legs and visits, so they need the mean (E[exp(residual)])."""
    resid = y[rows] - booster.predict(X[rows], num_threads=1)
    return float(np.clip(np.mean(np.exp(resid)), 0.8, 1.5)) if len(resid) else 1.0


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b))) if len(a) else math.nan


def train_travel(session: Session, *, profile: str = "laredo", legs: list[Leg] | None = None,
                 days: set[date] | None = None, min_rows: int = MIN_ROWS) -> Trained:
    legs = legs if legs is not None else legs_of(driven_routes(session, days=days), profile_named(profile))
    _enough(len(legs), "driven legs", min_rows)
    return fit_travel(legs, speed_map(session, sorted({leg.route_id for leg in legs})), profile=profile,
                      min_rows=min_rows)


def fit_travel(legs: list[Leg], speed: SpeedMap, *, profile: str = "laredo", min_rows: int = MIN_ROWS) -> Trained:
    """The travel model from legs (the last fifth of their days validates)."""
    _enough(len(legs), "driven legs", min_rows)
    cols = {c: np.array([leg.cols[c] for leg in legs]) for c in legs[0].cols}
    X = travel_matrix(cols, speed)
    grid_static = cols["static_s"]
    actual = np.array([leg.actual_s for leg in legs])
    live_static = np.array([leg.static_s for leg in legs])
    y = np.log(actual / np.maximum(grid_static, 1.0))
    tr_days, va_days = split_days([leg.day for leg in legs])
    train = np.array([leg.day in tr_days for leg in legs])
    valid = ~train
    booster = _fit(X, y, train, valid)
    pred = store.TravelPredictor(booster, speed, scale=_smearing(booster, X, y, train))
    learned = grid_static * pred.factors(cols)
    metrics = {
        "rows_train": int(train.sum()), "rows_valid": int(valid.sum()),
        "days_train": len(tr_days), "days_valid": len(va_days), "profile": profile,
        "mae_static_s": _mae(actual[valid], live_static[valid]), "mae_learned_s": _mae(actual[valid], learned[valid]),
        "iterations": int(booster.best_iteration or booster.current_iteration()), "speed_cells": len(speed.cells),
    }
    return Trained("travel", pred, len(legs), metrics, TRAVEL_FEATURES)


def train_service(session: Session, *, visits: list[VisitRow] | None = None, days: set[date] | None = None,
                  min_rows: int = MIN_ROWS) -> Trained:
    return fit_service(visits if visits is not None else visits_of(driven_routes(session, days=days)),
                       min_rows=min_rows)


def fit_service(visits: list[VisitRow], *, min_rows: int = MIN_ROWS) -> Trained:
    """The service model from completed visits (the last fifth of their days validates)."""
    _enough(len(visits), "completed visits", min_rows)
    before, customers = customer_history(visits)
    X = service_matrix([v.visit for v in visits], customers, history=before)
    planned = np.array([max(v.visit.planned_s, 30) for v in visits], np.float64)
    actual = np.array([v.dwell_s for v in visits])
    y = np.log(actual / planned)
    tr_days, va_days = split_days([v.day for v in visits])
    train = np.array([v.day in tr_days for v in visits])
    valid = ~train
    booster = _fit(X, y, train, valid)
    pred = store.ServicePredictor(booster, customers, scale=_smearing(booster, X, y, train))
    f = np.clip(np.exp(booster.predict(X, num_threads=1)) * pred.scale, store.SERVICE_MIN, store.SERVICE_MAX)
    metrics = {
        "rows_train": int(train.sum()), "rows_valid": int(valid.sum()),
        "days_train": len(tr_days), "days_valid": len(va_days),
        "mae_static_s": _mae(actual[valid], planned[valid]), "mae_learned_s": _mae(actual[valid], (planned * f)[valid]),
        "iterations": int(booster.best_iteration or booster.current_iteration()), "customers": len(customers),
    }
    return Trained("service", pred, len(visits), metrics, SERVICE_FEATURES)


def _enough(n: int, what: str, min_rows: int = MIN_ROWS) -> None:
    if n < max(min_rows, 2):
        raise NotEnoughHistory(f"only {n} {what} recorded (need at least {max(min_rows, 2)}): record some days first "
                               "(real ones, or `lastmile learn --simulate-history N`)")


def train(session: Session, kinds: tuple[str, ...] = ("travel", "service"), *, profile: str = "laredo",
          days: set[date] | None = None, min_rows: int = MIN_ROWS) -> list[LearnedModel]:
    """Train and store the next version of each kind (flushes; the caller commits)."""
    routes = driven_routes(session, days=days)
    out = []
    for kind in kinds:
        if kind == "travel":
            t = train_travel(session, profile=profile, legs=legs_of(routes, profile_named(profile)), days=days,
                             min_rows=min_rows)
        elif kind == "service":
            t = train_service(session, visits=visits_of(routes), days=days, min_rows=min_rows)
        else:
            raise ValueError(f"unknown model kind {kind!r}; choose travel or service")
        out.append(store.save(session, kind, t.predictor, training_rows=t.rows, features=list(t.features),
                              metrics=t.metrics))
    store.forget()
    return out


__all__ = ["NotEnoughHistory", "Trained", "fit_service", "fit_travel", "split_days", "train", "train_service",
           "train_travel"]
