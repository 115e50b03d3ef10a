"""ETA accuracy on held-out days: the static model vs the learned ones, side by side.

For each route driven on the given days (as recorded: stops in the order they
were reached, actual arrival and departure times, the break from the driver app),
ETAs are predicted the way live ETAs are (``routing.eta.predict``: travel,
waiting for windows, service, the break still owed) at every point the driver
leaves -- the depot, then each stop -- for all stops still ahead, and compared
with the actual arrivals:

* ETA mean absolute error over all those predictions (and by how far ahead);
* the share of arrivals inside the promised window: the one-hour window centred
  on the ETA given when the route started (the morning message to the customer).

``static``: the time-of-day model and the orders' planned service times (what the
platform does without a learned model). ``learned``: the newest (or given)
travel model over the same static model, and learned service times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from ..routing.domain import Break, LatLon, TimeWindow
from ..routing.eta import EtaStop, chain_model, predict
from ..routing.learned import TravelFactors, with_learned
from ..routing.matrix.profiles import profile_named
from .history import DrivenRoute, driven_routes, visit_of

PROMISE_S = 3600  # width of the promised window
HORIZONS = ((0, 30), (30, 120), (120, 24 * 60))  # minutes ahead


@dataclass
class Score:
    errors: list[float] = field(default_factory=list)  # predicted - actual, seconds
    ahead: list[float] = field(default_factory=list)  # minutes between prediction and arrival
    promised: list[bool] = field(default_factory=list)  # arrival inside the morning's promised window

    @property
    def mae_s(self) -> float:
        return float(np.mean(np.abs(self.errors))) if self.errors else math.nan

    @property
    def bias_s(self) -> float:
        return float(np.mean(self.errors)) if self.errors else math.nan

    @property
    def in_window(self) -> float:
        return float(np.mean(self.promised)) if self.promised else math.nan

    def mae_by_horizon(self) -> dict[str, float]:
        e, a = np.abs(np.array(self.errors)), np.array(self.ahead)
        out = {}
        for lo, hi in HORIZONS:
            m = (a >= lo) & (a < hi)
            out[f"{lo}-{hi}min"] = float(e[m].mean()) if m.any() else math.nan
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"predictions": len(self.errors), "mae_s": self.mae_s, "bias_s": self.bias_s,
                "in_promised_window": self.in_window, "arrivals": len(self.promised),
                "mae_by_horizon_s": self.mae_by_horizon()}


@dataclass
class Comparison:
    static: Score
    learned: Score
    days: int
    routes: int

    @property
    def mae_reduction(self) -> float:
        s, m = self.static.mae_s, self.learned.mae_s
        return (s - m) / s if s and not math.isnan(s) else math.nan


def _windows(route: DrivenRoute, k: int) -> tuple[TimeWindow, ...]:
    from datetime import datetime

    from ..kit.time import seconds_since_midnight

    out = []
    for w in route.stops[k].order.windows or ():
        try:
            a = seconds_since_midnight(datetime.fromisoformat(w["start"]), route.day, route.zone)
            b = seconds_since_midnight(datetime.fromisoformat(w["end"]), route.day, route.zone)
        except (KeyError, TypeError, ValueError):
            continue
        out.append(TimeWindow(a, b))
    return tuple(out)


def score_route(route: DrivenRoute, model, service_s: list[int], score: Score) -> None:
    """Predict from the depot and from every stop left; add the errors to ``score``."""
    stops = route.stops
    eta_stops = [EtaStop(s.stop_id, LatLon(s.order.lat, s.order.lon), service_s[k], _windows(route, k))
                 for k, s in enumerate(stops)]
    brk = None
    if route.break_window:
        b0, b1, secs = route.break_window
        brk = Break(TimeWindow(b0, b1), secs)
    points = [(0, route.started_s)] + [(k + 1, s.left_s) for k, s in enumerate(stops)]
    for origin, t0 in points:
        if t0 is None or origin >= len(stops) + 1:
            continue
        ahead = eta_stops[origin:]
        if not ahead:
            continue
        breaks: tuple[Break, ...] = ()
        ready = None
        if brk is not None:
            taken = route.break_at
            if taken is None or taken[0] >= t0:
                breaks = (brk,)
            elif taken[1] > t0:
                ready = taken[1]
        eta = predict(model, t0, ahead, origin=origin, rows=list(range(origin + 1, len(stops) + 1)),
                      breaks=breaks, ready_at=ready)
        for k, p in enumerate(eta.stops):
            actual = stops[origin + k].arrived_s
            score.errors.append(float(p.arrival - actual))
            score.ahead.append((actual - t0) / 60.0)
            if origin == 0:
                score.promised.append(abs(actual - p.arrival) <= PROMISE_S / 2)


def compare(session: Session, days: set[date], *, travel: TravelFactors | None, service=None,
            profile: str = "laredo") -> Comparison:
    """Static vs learned ETAs on the routes driven on ``days``."""
    prof = profile_named(profile)
    routes = driven_routes(session, days=days)
    static_score, learned_score = Score(), Score()
    for r in routes:
        points = [r.depot, *(LatLon(s.order.lat, s.order.lon) for s in r.stops)]
        static = chain_model(points, prof, r.weekday)
        planned = [s.order.service_s for s in r.stops]
        score_route(r, static, planned, static_score)
        learned_model = with_learned(static, travel)
        if service is not None:
            # the service model is asked at the time the stop was expected (the plan's ETA
            # is not kept per stop here: its arrival as the static model predicts from the depot)
            first = predict(static, r.started_s, [EtaStop(s.stop_id, LatLon(s.order.lat, s.order.lon), planned[k],
                                                           _windows(r, k)) for k, s in enumerate(r.stops)])
            visits = [visit_of(s.order, p.arrival, r.weekday) for s, p in zip(r.stops, first.stops)]
            learned_service = [int(x) for x in service.service_s(visits)]
        else:
            learned_service = planned
        score_route(r, learned_model, learned_service, learned_score)
    return Comparison(static_score, learned_score, len({r.day for r in routes}), len(routes))


def format_comparison(c: Comparison, target: float = 0.25) -> list[str]:
    s, m = c.static, c.learned

    def pct(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{100 * x:5.1f} %"

    def sec(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:7.0f} s"

    lines = [f"held-out days: {c.days}, routes: {c.routes}, ETA predictions: {len(s.errors)}",
             f"{'':34}{'static':>12}{'learned':>12}",
             f"{'ETA mean absolute error':34}{sec(s.mae_s):>12}{sec(m.mae_s):>12}",
             f"{'ETA bias (predicted - actual)':34}{sec(s.bias_s):>12}{sec(m.bias_s):>12}"]
    for (k, a), b in zip(s.mae_by_horizon().items(), m.mae_by_horizon().values()):
        lines.append(f"{'  MAE, ' + k + ' ahead':34}{sec(a):>12}{sec(b):>12}")
    lines.append(f"{'arrivals in promised 1 h window':34}{pct(s.in_window):>12}{pct(m.in_window):>12}")
    red = c.mae_reduction
    verdict = "MET" if not math.isnan(red) and red >= target else "NOT MET"
    lines.append(f"ETA MAE reduction learned vs static: {pct(red).strip()} (target >= {target:.0%}): {verdict}")
    return lines
