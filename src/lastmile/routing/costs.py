"""Costs as the backends see them: integers in milli-cents.

A vehicle's cost per km in cents is, conveniently, milli-cents per metre; per hour
in cents becomes milli-cents per second. When the caller gave no costs at all,
distance is the cost.
"""

from __future__ import annotations

from .domain import Objective, Vehicle

VEHICLE_COUNT_COST = 1_000_000_000  # per vehicle used, when minimizing vehicles first


def cost_terms(v: Vehicle, objective: str) -> tuple[int, int, int]:
    """(per metre, per second, fixed) in milli-cents for the chosen objective."""
    if objective == Objective.DISTANCE.value:
        return 1, 0, 0
    if objective == Objective.TIME.value:
        return 0, 1, 0
    if objective == Objective.VEHICLES.value:
        return 1, 0, VEHICLE_COUNT_COST
    per_m, per_s, fixed = v.cost_per_km, round(v.cost_per_hour * 1000 / 3600), v.fixed_cost * 1000
    if per_m == 0 and per_s == 0:
        per_m = 1
    return per_m, per_s, fixed
