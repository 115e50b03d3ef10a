"""CSV import: the columns of ``lastmile plan`` (parsed by ``lastmile.formats.stops_csv``),
turned into orders. Each row is validated as if created through the API; valid rows
are added in the caller's transaction, bad rows reported with line and field."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..errors import DomainError
from ..kit.time import at_seconds
from .geocoding import Geocoder
from .schemas import ImportError_, ImportReport, OrderCreate
from .service import check_depot, create_order, resolve_shipper


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc) or "row"


def row_to_order(row: Any, day: date, depot_id: str, zone: str, shipper_id: str | None) -> dict[str, Any]:
    stop = row.stop
    demand = list(stop.demand) + [0, 0, 1][len(stop.demand):]
    cod_amount = getattr(row, "cod_amount", None)
    body: dict[str, Any] = {
        "depot_id": getattr(row, "depot", None) or depot_id,
        "reference": stop.id,
        "date": day.isoformat(),
        "kind": getattr(stop.kind, "value", str(stop.kind)),
        "address": getattr(row, "address", "") or stop.address or "",
        "lat": stop.location.lat,
        "lon": stop.location.lon,
        "contact": {
            "name": getattr(row, "contact", "") or stop.name or "",
            "phone": getattr(row, "phone", "") or "",
            "email": getattr(row, "email", None) or None,
        },
        "language": getattr(row, "language", None) or "es",
        "windows": [
            {"start": at_seconds(day, zone, w.start).isoformat(), "end": at_seconds(day, zone, w.end).isoformat()}
            for w in stop.windows
        ],
        "service_s": stop.service_s,
        "demand": {"kg": demand[0], "litres": demand[1], "parcels": demand[2]},
        "skills": sorted(stop.skills),
        "priority": stop.priority,
        "instructions": getattr(row, "instructions", "") or "",
    }
    if cod_amount:
        body["cod"] = {"amount": cod_amount, "currency": getattr(row, "cod_currency", None) or "MXN"}
    if shipper_id:
        body["shipper_id"] = shipper_id
    return body


def import_csv(
    session: Session,
    p: Principal,
    data: bytes,
    day: date,
    depot_id: str,
    shipper_id: str | None,
    geocoder: Geocoder,
) -> ImportReport:
    from ..formats.stops_csv import parse_stops_csv

    shipper_id = resolve_shipper(session, p, shipper_id)
    depot = check_depot(session, p, depot_id)
    try:
        parsed = parse_stops_csv(data)
    except ValueError as e:
        return ImportReport(created=0, order_ids=[], errors=[ImportError_(line=0, field="file", message=str(e))])
    errors = [ImportError_(line=e.line, field=e.field, message=e.message) for e in parsed.errors]
    ids: list[str] = []
    for row in parsed.rows:
        try:
            body = OrderCreate.model_validate(row_to_order(row, day, depot.id, depot.timezone, shipper_id))
            with session.begin_nested():
                order = create_order(session, p, body, geocoder)
            ids.append(order.id)
        except ValidationError as e:
            first = e.errors()[0]
            errors.append(ImportError_(line=row.line, field=_field(first["loc"]), message=first["msg"]))
        except DomainError as e:
            errors.append(ImportError_(line=row.line, field=e.field, message=e.message))
    errors.sort(key=lambda e: e.line)
    return ImportReport(created=len(ids), order_ids=ids, errors=errors)
