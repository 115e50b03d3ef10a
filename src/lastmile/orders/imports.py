"""CSV import: the columns of ``lastmile plan`` (parsed by ``lastmile.formats.stops_csv``),
turned into orders. Each row is validated as if created through the API; valid rows
are added in the caller's transaction, bad rows reported with line and field.

The ``depot`` and ``shipper`` columns name a depot or shipper by its code (or id);
rows without them use the depot and shipper given with the upload."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..auth.models import Shipper
from ..depots.models import Depot
from ..errors import DomainError, Invalid
from ..kit.time import at_seconds
from .geocoding import Geocoder
from .schemas import ImportError_, ImportReport, OrderCreate
from .service import check_depot, create_order, resolve_shipper


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out or "row"


def row_to_order(row: Any, day: date, depot: Depot, shipper_id: str | None) -> dict[str, Any]:
    stop = row.stop
    demand = list(stop.demand) + [0, 0, 1][len(stop.demand):]
    zone = depot.timezone
    body: dict[str, Any] = {
        "depot_id": depot.id,
        "reference": stop.id,
        "date": day.isoformat(),
        "kind": getattr(stop.kind, "value", str(stop.kind)),
        "address": row.address or stop.address or "",
        "lat": stop.location.lat,
        "lon": stop.location.lon,
        "contact": {"name": row.contact or stop.name or "", "phone": row.phone or "", "email": row.email or None},
        "language": row.language or "es",
        "windows": [
            {"start": at_seconds(day, zone, w.start).isoformat(), "end": at_seconds(day, zone, w.end).isoformat()}
            for w in stop.windows
        ],
        "service_s": stop.service_s,
        "demand": {"kg": demand[0], "litres": demand[1], "parcels": demand[2]},
        "skills": sorted(stop.skills),
        "priority": stop.priority,
        "instructions": row.instructions or "",
    }
    if row.cod_amount:
        body["cod"] = {"amount": row.cod_amount, "currency": row.cod_currency or "MXN"}
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
    from ..formats.csvkit import InputError
    from ..formats.stops_csv import parse_stops_csv

    shipper_id = resolve_shipper(session, p, shipper_id)
    default_depot = check_depot(session, p, depot_id)
    depots = {d.id: d for d in session.scalars(select(Depot).where(Depot.organization_id == p.organization_id))}
    depots.update({d.code: d for d in list(depots.values()) if d.code})
    shippers = {s.id: s.id for s in session.scalars(select(Shipper).where(Shipper.organization_id == p.organization_id))}
    shippers.update({s.code: s.id for s in session.scalars(select(Shipper).where(
        Shipper.organization_id == p.organization_id, Shipper.code.is_not(None)))})
    try:
        parsed = parse_stops_csv(data)
    except (InputError, ValueError, csv.Error) as e:  # not a CSV we can read at all
        raise Invalid(f"the file cannot be read as a stops CSV: {str(e)[:200]}", field="file") from None
    errors = [ImportError_(line=e.line, field=e.field, message=e.message) for e in parsed.errors]
    ids: list[str] = []
    for row in parsed.rows:
        try:
            depot = depots.get(row.depot) if row.depot else default_depot
            if depot is None:
                raise Invalid(f"unknown depot {row.depot!r}", field="depot")
            row_shipper = shipper_id
            if row.shipper:
                named = shippers.get(row.shipper)
                if named is None or (p.role == "shipper" and named != p.shipper_id):
                    raise Invalid(f"unknown shipper {row.shipper!r}", field="shipper")
                row_shipper = named
            body = OrderCreate.model_validate(row_to_order(row, day, depot, row_shipper))
            with session.begin_nested():
                created = create_order(session, p, body, geocoder)
            ids.append(created["id"])
        except ValidationError as e:
            first = e.errors()[0]
            errors.append(ImportError_(line=row.line, field=_field(first["loc"]), message=first["msg"]))
        except DomainError as e:
            errors.append(ImportError_(line=row.line, field=e.field, message=e.message))
    errors.sort(key=lambda e: e.line)
    return ImportReport(created=len(ids), order_ids=ids, errors=errors)
