"""Cheapest feasible insertion of one stop into existing routes.

Used when a same-day order arrives, when a dispatcher drags a stop, and by the
solve loop to re-home stops a route had to let go. Candidate positions are
ranked by their free-flow detour (cheap, vectorized), then checked in that
order with the full time-dependent schedule; the first feasible position of a
route is that route's best, and routes whose cheapest detour cannot beat the
best found so far are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .schedule import Context, schedule


@dataclass(frozen=True)
class Spot:
    vehicle_id: str
    position: int  # index in the vehicle's stop sequence where the stop goes
    added_distance_m: int
    added_duration_s: int  # change in the route's duration (depart to return)


def best_insertion(ctx: Context, sequences: Mapping[str, Sequence[str]], stop_id: str,
                   vehicles: Sequence[str] | None = None) -> Spot | None:
    stop = ctx.stops[stop_id]
    demand = ctx.demand(stop)
    s = ctx.row(stop_id)
    dist = ctx.model.base.distances
    best: Spot | None = None
    best_key: float = float("inf")
    for v in ctx.problem.vehicles:
        if vehicles is not None and v.id not in vehicles:
            continue
        if not ctx.can_serve(v, stop):
            continue
        seq = list(sequences.get(v.id, ()))
        if stop_id in seq:
            continue
        if v.capacity:
            same = [ctx.demand(ctx.stops[x]) for x in seq if ctx.stops[x].kind is stop.kind]
            if any(sum(x[k] for x in same) + demand[k] > v.capacity[k] for k in range(len(demand))):
                continue
        rows = [ctx.depot_row(v.start_depot)] + [ctx.row(x) for x in seq] + [ctx.depot_row(v.end)]
        a = np.asarray(rows[:-1])
        b = np.asarray(rows[1:])
        detour = dist[a, s] + dist[s, b] - dist[a, b]
        order = np.argsort(detour, kind="stable")
        if detour[order[0]] >= best_key:
            continue
        base = schedule(ctx, v, seq) if seq else None
        for pos in order:
            if detour[pos] >= best_key:
                break
            trial = seq[:pos] + [stop_id] + seq[pos:]
            tm = schedule(ctx, v, trial)
            if not tm.ok:
                continue
            if v.max_distance_m is not None and tm.route.distance_m > v.max_distance_m:
                continue
            added_d = tm.route.distance_m - (base.route.distance_m if base else 0)
            added_t = tm.route.duration_s - (base.route.duration_s if base else 0)
            key = float(detour[pos])
            if key < best_key:
                best_key = key
                best = Spot(v.id, int(pos), int(added_d), int(added_t))
            break
    return best
