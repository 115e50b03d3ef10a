"""Cheapest feasible insertion of one stop into existing routes.

Used when a same-day order arrives, when a dispatcher drags a stop, and by the
solve loop to re-home stops a route had to let go. Candidate positions are
ranked by their free-flow detour (cheap, vectorized), then checked in that
order with the full time-dependent schedule and priced at the vehicle's rates
(distance and working time, waiting included); a few feasible positions per
route are priced, and routes whose cheapest detour cannot beat the best found
so far are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .costs import cost_terms
from .schedule import Context, schedule


@dataclass(frozen=True)
class Spot:
    vehicle_id: str
    position: int  # index in the vehicle's stop sequence where the stop goes
    added_distance_m: int
    added_duration_s: int  # change in the route's duration (depart to return)


def best_insertion(ctx: Context, sequences: Mapping[str, Sequence[str]], stop_id: str,
                   vehicles: Sequence[str] | None = None, objective: str = "cost",
                   tries_per_route: int = 4) -> Spot | None:
    """The feasible position that adds the least cost (distance and working time
    at each vehicle's rates; waiting counts, since the driver is paid for it)."""
    stop = ctx.stops[stop_id]
    s = ctx.row(stop_id)
    dist = ctx.model.base.distances
    best: Spot | None = None
    best_cost = float("inf")
    for v in ctx.problem.vehicles:
        if vehicles is not None and v.id not in vehicles:
            continue
        if not ctx.can_serve(v, stop):
            continue
        seq = list(sequences.get(v.id, ()))
        if stop_id in seq:
            continue
        if not ctx.may_fit(v, seq, stop):
            continue
        per_m, per_s, fixed = cost_terms(v, objective)
        rows = [ctx.depot_row(v.start_depot)] + [ctx.row(x) for x in seq] + [ctx.depot_row(v.end)]
        a = np.asarray(rows[:-1])
        b = np.asarray(rows[1:])
        detour = dist[a, s] + dist[s, b] - dist[a, b]
        order = np.argsort(detour, kind="stable")
        # The detour's distance cost is a lower bound on any position's added cost.
        if per_m * float(detour[order[0]]) + (fixed if not seq else 0) >= best_cost:
            continue
        base = schedule(ctx, v, seq) if seq else None
        feasible = 0
        for pos in order:
            if per_m * float(detour[pos]) >= best_cost or feasible >= tries_per_route:
                break
            trial = seq[:pos] + [stop_id] + seq[pos:]
            tm = schedule(ctx, v, trial)
            if not tm.ok:
                continue
            if v.max_distance_m is not None and tm.route.distance_m > v.max_distance_m:
                continue
            feasible += 1
            added_d = tm.route.distance_m - (base.route.distance_m if base else 0)
            added_t = tm.route.duration_s - (base.route.duration_s if base else 0)
            cost = per_m * added_d + per_s * added_t + (fixed if not seq else 0)
            if cost < best_cost:
                best_cost = cost
                best = Spot(v.id, int(pos), int(added_d), int(added_t))
    return best
