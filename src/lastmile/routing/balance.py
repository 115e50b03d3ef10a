"""Spreading the work: move stops off the longest working day while it pays.

Backends balance on their own static view of time; the real working day (with
traffic, breaks and waits) only exists after ``schedule.py``. This pass works on
real schedules: it takes the driver with the longest day and moves one of their
stops to the cheapest feasible place on another route, as long as the longest
day shrinks by more than the extra cost is worth. ``weight`` prices an hour of
imbalance at that many times the drivers' mean hourly cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .insertion import best_insertion
from .schedule import Context, schedule


def rebalance(ctx: Context, sequences: dict[str, list[str]], weight: float, deadline: float,
              clock: Callable[[], float] = time.perf_counter, max_moves: int = 500) -> dict[str, list[str]]:
    if weight <= 0:
        return sequences
    vehicles = ctx.problem.vehicles
    hourly = [v.cost_per_hour for v in vehicles if v.cost_per_hour] or [2000]
    per_s = weight * (sum(hourly) / len(hourly)) / 3600  # cents per second of the longest day
    seqs = {v.id: list(sequences.get(v.id, [])) for v in vehicles}
    dur = {vid: (schedule(ctx, ctx.vehicles[vid], s).route.duration_s if s else 0) for vid, s in seqs.items()}
    tried: set[tuple[str, str]] = set()
    for _ in range(max_moves):
        if clock() > deadline:
            break
        longest = max(dur, key=lambda k: dur[k])
        top = dur[longest]
        second = max((d for k, d in dur.items() if k != longest), default=0)
        best = None
        v_long = ctx.vehicles[longest]
        for sid in list(seqs[longest]):
            if (longest, sid) in tried or clock() > deadline:
                continue
            rest = [x for x in seqs[longest] if x != sid]
            after = schedule(ctx, v_long, rest).route.duration_s if rest else 0
            others = {k: s for k, s in seqs.items() if k != longest}
            shorter = [k for k in others if dur[k] < top - 1800]  # only days with room to grow
            spot = best_insertion(ctx, others, sid, vehicles=shorter) if shorter else None
            if spot is None:
                tried.add((longest, sid))
                continue
            new_other = dur[spot.vehicle_id] + spot.added_duration_s
            new_top = max(after, new_other, second)
            gain_s = top - new_top
            v_to = ctx.vehicles[spot.vehicle_id]
            extra = spot.added_distance_m / 1000 * v_to.cost_per_km + (v_to.fixed_cost if not seqs[v_to.id] else 0)
            value = gain_s * per_s - extra
            if gain_s > 0 and value > 0 and (best is None or value > best[0]):
                best = (value, sid, spot, after, new_other)
            if gain_s <= 0:
                tried.add((longest, sid))
        if best is None:
            break
        _, sid, spot, after, new_other = best
        seqs[longest].remove(sid)
        seqs[spot.vehicle_id].insert(spot.position, sid)
        dur[longest] = after
        dur[spot.vehicle_id] = schedule(ctx, ctx.vehicles[spot.vehicle_id], seqs[spot.vehicle_id]).route.duration_s
    return {k: s for k, s in seqs.items() if s}
