"""Learned models in and out of the ``learned_models`` table, and the newest one of
each kind for the engine and live ETAs (cached per process, re-checked every
``CHECK_S`` seconds so a new ``lastmile learn`` is picked up without a restart).

Why LightGBM and not scikit-learn's HistGradientBoostingRegressor (the same
algorithm family, similar accuracy on tabular data like ours): one extra package
(numpy and scipy are already here; scikit-learn would add itself, joblib and
threadpoolctl), faster prediction on the hundreds of thousands of legs x departure
times a plan asks about, and -- the deciding point -- a documented text format for
the trained model: a model read back from the database is data, whereas a pickled
scikit-learn estimator runs code when it is loaded.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..routing.learned import FACTOR_MAX, FACTOR_MIN
from .features import SpeedMap, Visit, service_matrix, travel_matrix
from .models import LearnedModel

log = logging.getLogger("lastmile.learn")
CHECK_S = 30.0
SERVICE_MIN, SERVICE_MAX = 0.25, 6.0  # learned dwell stays within these factors of the planned one


def _booster(text: str):
    import lightgbm as lgb

    return lgb.Booster(model_str=text)


@dataclass
class TravelPredictor:
    """``routing.learned.TravelFactors`` from a trained LightGBM model (log factor)."""

    booster: Any
    speed: SpeedMap
    version: int = 0
    id: str = ""
    scale: float = 1.0  # exp(log prediction) is a median; x scale makes it a mean (sums of legs)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def factors(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        X = travel_matrix(cols, self.speed)
        with self.lock:  # one booster shared by the server's threads: one prediction at a time
            pred = self.booster.predict(X, num_threads=1) if len(X) else np.zeros(0)
        return np.clip(np.exp(pred) * self.scale, FACTOR_MIN, FACTOR_MAX)

    def artifact(self) -> dict[str, Any]:
        return {"booster": self.booster.model_to_string(), "speed": self.speed.to_json(), "scale": self.scale}

    @classmethod
    def from_artifact(cls, data: dict[str, Any], version: int, id: str) -> "TravelPredictor":
        return cls(_booster(data["booster"]), SpeedMap.from_json(data.get("speed", [])), version, id,
                   float(data.get("scale", 1.0)))


@dataclass
class ServicePredictor:
    """Dwell seconds at a stop: the planned service time x a learned factor."""

    booster: Any
    customers: dict[str, tuple[int, float]] = field(default_factory=dict)
    version: int = 0
    id: str = ""
    scale: float = 1.0  # as TravelPredictor.scale
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def factors(self, visits: list[Visit]) -> np.ndarray:
        X = service_matrix(visits, self.customers)
        with self.lock:
            pred = self.booster.predict(X, num_threads=1)
        return np.clip(np.exp(pred) * self.scale, SERVICE_MIN, SERVICE_MAX)

    def service_s(self, visits: list[Visit]) -> np.ndarray:
        if not visits:
            return np.zeros(0, np.int64)
        planned = np.array([max(v.planned_s, 30) for v in visits], np.float64)
        return np.rint(planned * self.factors(visits)).astype(np.int64)

    def artifact(self) -> dict[str, Any]:
        return {"booster": self.booster.model_to_string(), "scale": self.scale,
                "customers": {k: [n, None if math.isnan(r) else r] for k, (n, r) in self.customers.items()}}

    @classmethod
    def from_artifact(cls, data: dict[str, Any], version: int, id: str) -> "ServicePredictor":
        cust = {k: (int(n), math.nan if r is None else float(r)) for k, (n, r) in data.get("customers", {}).items()}
        return cls(_booster(data["booster"]), cust, version, id, float(data.get("scale", 1.0)))


def pack(data: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(data, separators=(",", ":")).encode(), 6)


def unpack(blob: bytes) -> dict[str, Any]:
    return json.loads(gzip.decompress(blob).decode())


def next_version(session: Session, kind: str) -> int:
    return int(session.scalar(select(func.coalesce(func.max(LearnedModel.version), 0))
                              .where(LearnedModel.kind == kind)) or 0) + 1


def save(session: Session, kind: str, predictor, *, training_rows: int, features: list[str],
         metrics: dict[str, Any]) -> LearnedModel:
    """Store a trained model as the next version of its kind (the caller commits)."""
    row = LearnedModel(kind=kind, version=next_version(session, kind), training_rows=training_rows,
                       features=list(features), metrics=_finite(metrics), artifact=pack(predictor.artifact()))
    session.add(row)
    session.flush()
    predictor.version, predictor.id = row.version, row.id
    return row


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def load(row: LearnedModel):
    data = unpack(row.artifact)
    cls = TravelPredictor if row.kind == "travel" else ServicePredictor
    return cls.from_artifact(data, row.version, row.id)


# --- the newest model of a kind, cached ---

_CACHE: dict[tuple[str, str], tuple[float, str | None, Any]] = {}
_LOCK = threading.Lock()


def newest(session: Session, kind: str):
    """The newest model of ``kind`` as a predictor, or None (no model, or it cannot
    be loaded: the callers then use the static model). Checked against the table at
    most every ``CHECK_S`` seconds per process and database."""
    key = (str(session.get_bind().url), kind)
    now = time.monotonic()
    with _LOCK:
        hit = _CACHE.get(key)
    if hit is not None and now - hit[0] < CHECK_S:
        return hit[2]
    try:
        # in a savepoint: on PostgreSQL a failed query (an older schema without the
        # table) would otherwise abort the caller's whole transaction
        with session.begin_nested():
            head = session.execute(select(LearnedModel.id, LearnedModel.version).where(LearnedModel.kind == kind)
                                   .order_by(LearnedModel.version.desc()).limit(1)).first()
    except Exception as e:  # e.g. the table is not there yet (an older schema): static model
        log.info("no learned %s model (%s)", kind, type(e).__name__)
        head = None
    if head is None:
        pred = None
    elif hit is not None and hit[1] == head[0]:
        pred = hit[2]
    else:
        try:
            row = session.get(LearnedModel, head[0])
            pred = load(row) if row is not None else None
        except Exception:
            log.exception("learned %s model %s could not be loaded; using the static model", kind, head[0])
            pred = None
    with _LOCK:
        _CACHE[key] = (now, head[0] if head else None, pred)
    return pred


def forget() -> None:
    """Drop the cache (tests; after training in this process)."""
    with _LOCK:
        _CACHE.clear()
