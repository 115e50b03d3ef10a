"""ROI: lastmile's published plans against a naive dispatcher on the same orders.

For every published plan in the range, the same orders, drivers, shifts and travel
model are handed to ``routing.naive.naive_plan`` (first come, nearest driver with
room, no optimization); the plan's own figures come from what the engine stored when
it planned. Customer contact: notifications sent against messages customers wrote
(the "where is my order?" proxy) for the same orders.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..dispatch.models import Plan, Route, RouteStop
from ..dispatch.problem import build_problem
from ..routing.matrix.profiles import profile_named
from ..routing.naive import naive_plan


def _side(distance_m: float, duration_s: float, assigned: int, unassigned: int, late: int, cost: float,
          routes: int) -> dict[str, Any]:
    hours = duration_s / 3600
    return {
        "km": round(distance_m / 1000, 1), "driver_hours": round(hours, 1), "routes": routes,
        "deliveries": assigned, "not_served": unassigned, "late_stops": late, "cost": int(round(cost)),
        "deliveries_per_driver_hour": round(assigned / hours, 2) if hours else None,
        "km_per_delivery": round(distance_m / 1000 / assigned, 2) if assigned else None,
        "cost_per_delivery": int(round(cost / assigned)) if assigned else None,
    }


def compare(session: Session, organization_id: str, start: date, end: date, traffic: str | None = None) -> dict[str, Any]:
    plans = list(session.scalars(
        select(Plan).where(Plan.organization_id == organization_id, Plan.status == "published",
                           Plan.date >= start, Plan.date <= end).order_by(Plan.date, Plan.id)))
    ours = {"distance_m": 0.0, "duration_s": 0.0, "assigned": 0, "unassigned": 0, "late": 0, "cost": 0.0, "routes": 0}
    naive = dict(ours)
    days = []
    from ..config import get_settings

    profile = profile_named(traffic or get_settings().traffic_profile)  # the model the plans were made on
    for plan in plans:
        order_ids = list(session.scalars(
            select(RouteStop.order_id).join(Route, Route.id == RouteStop.route_id).where(Route.plan_id == plan.id)))
        order_ids += [u["order_id"] for u in plan.unassigned or []]
        if not order_ids:
            continue
        built = build_problem(session, plan, order_ids=order_ids)
        if not built.problem.vehicles or not built.problem.stops:
            continue
        base = naive_plan(built.problem, traffic=profile)
        st = plan.stats or {}
        for acc, vals in ((ours, (st.get("distance_m", 0), st.get("duration_s", 0), st.get("assigned", 0),
                                  st.get("unassigned", 0), st.get("late_stops", 0), st.get("cost", 0),
                                  st.get("routes", 0))),
                          (naive, (base.stats.distance_m, base.stats.duration_s, base.stats.assigned,
                                   base.stats.unassigned, base.stats.late_stops, base.stats.cost, base.stats.routes))):
            for k, v in zip(("distance_m", "duration_s", "assigned", "unassigned", "late", "cost", "routes"), vals):
                acc[k] += v
        days.append({"date": plan.date.isoformat(), "plan_id": plan.id,
                     "lastmile_km": round(st.get("distance_m", 0) / 1000, 1),
                     "naive_km": round(base.stats.distance_m / 1000, 1),
                     "lastmile_deliveries": st.get("assigned", 0), "naive_deliveries": base.stats.assigned})
    a = _side(ours["distance_m"], ours["duration_s"], int(ours["assigned"]), int(ours["unassigned"]), int(ours["late"]),
              ours["cost"], int(ours["routes"]))
    b = _side(naive["distance_m"], naive["duration_s"], int(naive["assigned"]), int(naive["unassigned"]),
              int(naive["late"]), naive["cost"], int(naive["routes"]))
    savings = {
        "km_saved": round(b["km"] - a["km"], 1),
        "km_saved_pct": round(100 * (b["km"] - a["km"]) / b["km"], 1) if b["km"] else None,
        "km_per_delivery_saved_pct": (round(100 * (b["km_per_delivery"] - a["km_per_delivery"]) / b["km_per_delivery"], 1)
                                      if a["km_per_delivery"] and b["km_per_delivery"] else None),
        "deliveries_per_driver_hour_gain_pct": (
            round(100 * (a["deliveries_per_driver_hour"] / b["deliveries_per_driver_hour"] - 1), 1)
            if a["deliveries_per_driver_hour"] and b["deliveries_per_driver_hour"] else None),
        "more_deliveries": a["deliveries"] - b["deliveries"],
        "late_stops_avoided": b["late_stops"] - a["late_stops"],
        "cost_saved": b["cost"] - a["cost"],
    }
    return {"start": start.isoformat(), "end": end.isoformat(), "plans": len(days), "lastmile": a, "naive": b,
            "savings": savings, "days": days, "contact": _contact(session, organization_id, start, end)}


def _contact(session: Session, organization_id: str, start: date, end: date) -> dict[str, Any]:
    """Notifications sent vs messages customers wrote, for orders in the range."""
    from ..orders.models import Order

    orders = select(Order.id).where(Order.organization_id == organization_id, Order.date >= start, Order.date <= end)
    from ..notifications.models import Notification

    out: dict[str, Any] = {}
    out["notifications_sent"] = int(session.scalar(
        select(func.count()).select_from(Notification).where(Notification.order_id.in_(orders),
                                                             Notification.status == "sent")) or 0)
    from ..portal.models import PortalMessage

    out["customer_messages"] = int(session.scalar(
        select(func.count()).select_from(PortalMessage).where(PortalMessage.order_id.in_(orders),
                                                              PortalMessage.sender == "customer")) or 0)
    return out
