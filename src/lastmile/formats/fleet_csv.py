"""Depots and vehicles as CSV, for ``lastmile plan``.

depots.csv: ``id, name, lat, lon, open, close, timezone`` (id, lat, lon required;
open/close HH:MM; timezone e.g. America/Chicago or America/Matamoros).

vehicles.csv (id and start_depot required):

==================  ======================================================
id, name, driver    vehicle reference, a label, the driver's name
start_depot         depot id where the shift starts
end_depot           depot id where it ends (default: start_depot)
shift_start/end     HH:MM (default 08:00-18:00)
break_start/end     window in which the break must start, HH:MM
break_min           break length in minutes (default 30 when a window is given)
max_hours           hours of service: most hours from leaving to returning
max_km              most kilometres per day
kg, litres,         capacity per dimension (empty: unlimited in that dimension)
parcels
skills              ``;``-separated (refrigerated; heavy-lift; cross-border; bilingual)
fixed_cost          cents per day when used
cost_per_km         cents per km
cost_per_hour       cents per hour
==================  ======================================================
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..routing.domain import Break, Depot, LatLon, TimeWindow, Vehicle
from . import csvkit as ck
from .csvkit import FieldError, RowError

DEPOT_COLUMNS = {"id", "name", "lat", "lon", "open", "close", "timezone"}
VEHICLE_COLUMNS = {
    "id", "name", "driver", "start_depot", "end_depot", "shift_start", "shift_end", "break_start", "break_end",
    "break_min", "max_hours", "max_km", "kg", "litres", "parcels", "skills", "fixed_cost", "cost_per_km",
    "cost_per_hour",
}
UNLIMITED = 10**12


def _depot(row: dict[str, str]) -> tuple[Depot, str]:
    did = ck.text(row, "id", required=True)
    lat, lon = ck.number(row, "lat", lo=-90, hi=90), ck.number(row, "lon", lo=-180, hi=180)
    opens, closes = ck.clock(row, "open"), ck.clock(row, "close")
    hours = None
    if opens is not None or closes is not None:
        hours = TimeWindow(opens or 0, closes if closes is not None else 24 * 3600)
        if hours.end <= hours.start:
            raise FieldError("close", "closes before it opens")
    tz = row.get("timezone") or "America/Chicago"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise FieldError("timezone", f"{tz!r} is not a known time zone") from None
    return Depot(did, LatLon(lat, lon), row.get("name", ""), hours), tz


def _vehicle(row: dict[str, str]) -> Vehicle:
    vid = ck.text(row, "id", required=True)
    start = ck.text(row, "start_depot", required=True)
    s0 = ck.clock(row, "shift_start", 8 * 3600)
    s1 = ck.clock(row, "shift_end", 18 * 3600)
    assert s0 is not None and s1 is not None
    if s1 <= s0:
        raise FieldError("shift_end", "shift ends before it starts")
    breaks: tuple[Break, ...] = ()
    b0, b1 = ck.clock(row, "break_start"), ck.clock(row, "break_end")
    if (b0 is None) != (b1 is None):
        raise FieldError("break_end" if b1 is None else "break_start", "give both break_start and break_end")
    if b0 is not None and b1 is not None:
        if b1 < b0:
            raise FieldError("break_end", "break window ends before it starts")
        minutes = ck.number(row, "break_min", default=30.0, lo=1, hi=8 * 60)
        breaks = (Break(TimeWindow(b0, b1), round(minutes * 60), id=f"{vid}-break"),)
    cap_cols = ("kg", "litres", "parcels")
    capacity = tuple(ck.integer(row, c, default=UNLIMITED, lo=0) for c in cap_cols)
    max_hours = ck.number(row, "max_hours", default=0.0, lo=0, hi=24)
    max_km = ck.number(row, "max_km", default=0.0, lo=0)
    return Vehicle(
        id=vid, start_depot=start, end_depot=row.get("end_depot") or None,
        capacity=capacity if any(c != UNLIMITED for c in capacity) else (),
        shift=TimeWindow(s0, s1), breaks=breaks,
        max_work_s=round(max_hours * 3600) if max_hours else None,
        max_distance_m=round(max_km * 1000) if max_km else None,
        skills=ck.words(row, "skills"),
        fixed_cost=ck.integer(row, "fixed_cost", default=0, lo=0),
        cost_per_km=ck.integer(row, "cost_per_km", default=0, lo=0),
        cost_per_hour=ck.integer(row, "cost_per_hour", default=0, lo=0),
        name=row.get("name", ""), driver=row.get("driver", ""),
    )


def parse_depots_csv(data: bytes, source: str = "depots CSV") -> tuple[list[tuple[int, Depot, str]], list[RowError]]:
    built, errors = ck.parse_rows(ck.decode(data, source), {"id", "lat", "lon"}, DEPOT_COLUMNS, _depot, source)
    return [(line, d, tz) for line, (d, tz) in built], errors


def parse_vehicles_csv(data: bytes, source: str = "vehicles CSV") -> tuple[list[tuple[int, Vehicle]], list[RowError]]:
    return ck.parse_rows(ck.decode(data, source), {"id", "start_depot"}, VEHICLE_COLUMNS, _vehicle, source)
