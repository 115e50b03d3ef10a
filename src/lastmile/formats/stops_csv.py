"""Stops (orders) as CSV: one row per stop. Shared by ``lastmile plan`` and the
server's bulk import, so a file that plans also imports.

Columns (header names are case-insensitive; only ``id``, ``lat``, ``lon`` are required):

=================  ==========================================================
id                 your order / stop reference, unique in the file
name               customer name
address            as typed; kept verbatim
lat, lon           WGS84 decimal degrees
service_min        minutes at the door (default 5)
kg, litres,        demand per dimension (default 0, 0, 1)
parcels
window_start,      delivery window, local time HH:MM (service must start inside)
window_end
window2_start,     an optional second window (e.g. morning or evening)
window2_end
kind               delivery (default) or pickup (a return brought back to the depot)
skills             needed vehicle skills, separated by ``;`` (refrigerated; heavy-lift; bilingual)
priority           0-100 (default 0); higher is served first when not all fit
optional           yes/no (default no); optional stops may be left out at ``penalty``
penalty            cost in cents of leaving an optional stop out
phone, email       customer contact
language           es or en (default es)
cod_amount         cash on delivery, in currency units (e.g. 850 or 850.50)
cod_currency       MXN or USD (default MXN when cod_amount is given)
instructions       delivery instructions for the driver
depot              the depot this order ships from (optional)
shipper            the merchant the order belongs to (optional)
=================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..routing.domain import LatLon, Stop, StopKind, TimeWindow
from . import csvkit as ck
from .csvkit import FieldError, RowError

STOP_COLUMNS = {
    "id", "name", "address", "lat", "lon", "service_min", "kg", "litres", "parcels",
    "window_start", "window_end", "window2_start", "window2_end", "kind", "skills", "priority",
    "optional", "penalty", "phone", "email", "language", "cod_amount", "cod_currency",
    "instructions", "depot", "shipper",
}
REQUIRED = {"id", "lat", "lon"}


@dataclass(frozen=True)
class StopRow:
    line: int
    stop: Stop
    address: str = ""
    contact: str = ""
    phone: str = ""
    email: str = ""
    language: str = "es"
    cod_amount: int = 0  # minor units (cents / centavos)
    cod_currency: str = ""
    instructions: str = ""
    depot: str = ""
    shipper: str = ""


@dataclass
class ParseResult:
    rows: list[StopRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _window(row: dict[str, str], a: str, b: str) -> TimeWindow | None:
    start, end = ck.clock(row, a), ck.clock(row, b)
    if start is None and end is None:
        return None
    if start is None:
        raise FieldError(a, f"is required when {b} is given")
    if end is None:
        raise FieldError(b, f"is required when {a} is given")
    if end < start:
        raise FieldError(b, f"window ends ({row[b]}) before it starts ({row[a]})")
    return TimeWindow(start, end)


def _build(row: dict[str, str]) -> StopRow:
    sid = ck.text(row, "id", required=True)
    lat = ck.number(row, "lat", lo=-90, hi=90)
    lon = ck.number(row, "lon", lo=-180, hi=180)
    if lat == 0 and lon == 0:
        raise FieldError("lat", "0,0 is not an address (missing coordinates?)")
    windows = [w for w in (_window(row, "window_start", "window_end"), _window(row, "window2_start", "window2_end")) if w]
    if len(windows) == 2 and windows[1].start <= windows[0].end and windows[0].start <= windows[1].end:
        raise FieldError("window2_start", "the second window overlaps the first")
    kind_text = (row.get("kind") or "delivery").lower()
    kinds = {"delivery": StopKind.DELIVERY, "entrega": StopKind.DELIVERY, "pickup": StopKind.PICKUP,
             "return": StopKind.PICKUP, "recoleccion": StopKind.PICKUP, "recolección": StopKind.PICKUP}
    if kind_text not in kinds:
        raise FieldError("kind", f"{row.get('kind')!r} is not delivery or pickup")
    language = (row.get("language") or "es").lower()
    if language not in ("es", "en"):
        raise FieldError("language", f"{row.get('language')!r} is not es or en")
    cod = ck.number(row, "cod_amount", default=0.0, lo=0)
    currency = (row.get("cod_currency") or ("MXN" if cod else "")).upper()
    if currency and currency not in ("MXN", "USD"):
        raise FieldError("cod_currency", f"{row.get('cod_currency')!r} is not MXN or USD")
    optional = ck.flag(row, "optional")
    stop = Stop(
        id=sid,
        location=LatLon(lat, lon),
        service_s=round(ck.number(row, "service_min", default=5.0, lo=0, hi=24 * 60) * 60),
        demand=(ck.integer(row, "kg", default=0, lo=0), ck.integer(row, "litres", default=0, lo=0),
                ck.integer(row, "parcels", default=1, lo=0)),
        windows=tuple(windows),
        kind=kinds[kind_text],
        skills=ck.words(row, "skills"),
        priority=ck.integer(row, "priority", default=0, lo=0, hi=100),
        required=not optional,
        penalty=ck.integer(row, "penalty", default=0, lo=0),
        name=row.get("name", ""),
        address=row.get("address", ""),
    )
    return StopRow(0, stop, address=row.get("address", ""), contact=row.get("name", ""), phone=row.get("phone", ""),
                   email=row.get("email", ""), language=language, cod_amount=round(cod * 100),
                   cod_currency=currency, instructions=row.get("instructions", ""), depot=row.get("depot", ""),
                   shipper=row.get("shipper", ""))


def parse_stops_csv(data: bytes, source: str = "stops CSV") -> ParseResult:
    """Every row is checked; good rows come back in ``rows``, bad ones in ``errors``
    with line and column. Raises ``InputError`` only when the file as a whole is
    unusable (empty, binary, missing required columns)."""
    built, errors = ck.parse_rows(ck.decode(data, source), REQUIRED, STOP_COLUMNS, _build, source)
    result = ParseResult(errors=errors)
    seen: dict[str, int] = {}
    for line, r in built:
        if r.stop.id in seen:
            result.errors.append(RowError(line, "id", f"duplicate id {r.stop.id!r} (first on line {seen[r.stop.id]})"))
            continue
        seen[r.stop.id] = line
        result.rows.append(StopRow(line, r.stop, r.address, r.contact, r.phone, r.email, r.language, r.cod_amount,
                                   r.cod_currency, r.instructions, r.depot, r.shipper))
    result.errors.sort(key=lambda e: e.line)
    return result
