"""Analytics API: KPIs for a date range, grouped, as JSON or CSV; driver scorecards."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..errors import Invalid
from ..kit.schema import Id, ServiceDate
from ..kit.web import get_session
from . import service

router = APIRouter(tags=["analytics"])
SessionDep = Annotated[Session, Depends(get_session)]
Group = Literal["all", "depot", "driver", "shipper", "day"]
MAX_DAYS = 366
CSV_COLUMNS = ("key", "name", "stops", "delivered", "failed", "on_time_rate", "first_attempt_rate", "driver_hours",
               "deliveries_per_driver_hour", "km", "actual_km", "km_per_delivery", "cost", "cost_per_delivery", "csat", "ratings",
               "eta_mae_min", "speeding_fixes", "hours_source", "failed_by_reason")


def _range(start: date, end: date) -> None:
    if end < start:
        raise Invalid("end is before start", field="end")
    if (end - start).days >= MAX_DAYS:
        raise Invalid(f"a range is at most {MAX_DAYS} days", field="end")


def _rows(session: Session, p: Principal, start: date, end: date, group: str, depot_id: str | None,
          driver_id: str | None, shipper_id: str | None) -> list[dict[str, Any]]:
    _range(start, end)
    if p.role == "shipper":  # a shipper sees its own orders only
        shipper_id = p.shipper_id
    return service.summary(session, p.organization_id, start, end, group, depot_id=depot_id, driver_id=driver_id,
                           shipper_id=shipper_id)


@router.get("/analytics/kpis")
def kpis(
    session: SessionDep,
    start: Annotated[ServiceDate, Query()],
    end: Annotated[ServiceDate, Query()],
    group: Annotated[Group, Query()] = "all",
    depot_id: Annotated[Id | None, Query()] = None,
    driver_id: Annotated[Id | None, Query()] = None,
    shipper_id: Annotated[Id | None, Query()] = None,
    p: Principal = Depends(allow("admin", "dispatcher", "shipper")),
) -> dict[str, Any]:
    """On-time rate, first-attempt success, deliveries per driver-hour, km and cost per
    delivery, failures by reason, satisfaction and ETA error, per group."""
    rows = _rows(session, p, start, end, group, depot_id, driver_id, shipper_id)
    return {"start": start.isoformat(), "end": end.isoformat(), "group": group, "rows": rows}


@router.get("/analytics/kpis.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def kpis_csv(
    session: SessionDep,
    start: Annotated[ServiceDate, Query()],
    end: Annotated[ServiceDate, Query()],
    group: Annotated[Group, Query()] = "all",
    depot_id: Annotated[Id | None, Query()] = None,
    driver_id: Annotated[Id | None, Query()] = None,
    shipper_id: Annotated[Id | None, Query()] = None,
    p: Principal = Depends(allow("admin", "dispatcher", "shipper")),
) -> Response:
    rows = _rows(session, p, start, end, group, depot_id, driver_id, shipper_id)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in rows:
        reasons = ";".join(f"{k}={v}" for k, v in r["failed_by_reason"].items())
        w.writerow(["" if r[c] is None else (reasons if c == "failed_by_reason" else r[c]) for c in CSV_COLUMNS])
    name = f"lastmile-kpis-{group}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/analytics/scorecards")
def scorecards(
    session: SessionDep,
    start: Annotated[ServiceDate, Query()],
    end: Annotated[ServiceDate, Query()],
    p: Principal = Depends(allow("admin", "dispatcher", "driver")),
) -> dict[str, Any]:
    """Per-driver on-time, first-attempt, deliveries per hour and ratings. A driver sees
    only their own row."""
    _range(start, end)
    rows = service.summary(session, p.organization_id, start, end, "driver",
                           driver_id=p.driver_id or "-" if p.role == "driver" else None)
    return {"start": start.isoformat(), "end": end.isoformat(), "rows": rows}


@router.get("/analytics/roi")
def roi(
    session: SessionDep,
    start: Annotated[ServiceDate, Query()],
    end: Annotated[ServiceDate, Query()],
    p: Principal = Depends(allow("admin", "dispatcher")),
) -> dict[str, Any]:
    """The range's published plans against a naive dispatcher (first come, nearest
    driver with room, no optimization) on the same orders, drivers and travel model:
    km saved, deliveries per driver-hour, late stops and unserved orders avoided, cost."""
    _range(start, end)
    if (end - start).days > 31:
        raise Invalid("the ROI comparison re-plans every day: at most 31 days at a time", field="end")
    from .roi import compare

    return compare(session, p.organization_id, start, end)


@router.get("/analytics/roi.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
def roi_pdf(
    session: SessionDep,
    start: Annotated[ServiceDate, Query()],
    end: Annotated[ServiceDate, Query()],
    p: Principal = Depends(allow("admin", "dispatcher")),
) -> Response:
    """The ROI comparison as a PDF to send to management."""
    from ..auth.models import Organization
    from .pdf import roi_pdf as render

    data = roi(session, start, end, p)
    org = session.get(Organization, p.organization_id)
    name = f"lastmile-roi-{start.isoformat()}-{end.isoformat()}.pdf"
    return Response(render(data, org.name if org else ""), media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="{name}"'})
