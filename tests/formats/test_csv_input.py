"""Stops, vehicles and depots from CSV: bad rows are reported with line and
column while the rest are still checked; encodings people actually use work."""

import pytest

from lastmile.formats.csvkit import InputError
from lastmile.formats.fleet_csv import parse_depots_csv, parse_vehicles_csv
from lastmile.formats.stops_csv import parse_stops_csv
from lastmile.routing.domain import StopKind

HEADER = "id,name,address,lat,lon,window_start,window_end,kg,kind,skills,cod_amount\n"


def test_good_rows_parse_and_bad_rows_are_listed_with_line_and_field():
    data = (HEADER
            + "A1,Sra. Garza,Calle Victoria 14,27.478,-99.508,09:00,11:00,3,delivery,,850\n"
            + "A2,Mr. Peña,1200 Saunders St,127.5,-99.46,,,2,delivery,,\n"  # latitude out of range
            + "A3,Ana,Clark Blvd,27.52,-99.50,12:00,10:00,1,delivery,,\n"  # window ends before it starts
            + "A4,Luis,Mines Rd,27.60,-99.52,,,-4,delivery,,\n"  # negative demand
            + "A5,Rosa,Del Mar,27.57,-99.47,,,1,pickup,refrigerated;heavy-lift,\n"
            + "A1,Dup,Somewhere,27.5,-99.5,,,1,delivery,,\n").encode()
    res = parse_stops_csv(data)
    assert [r.stop.id for r in res.rows] == ["A1", "A5"]
    errs = [(e.line, e.field) for e in res.errors]
    assert errs == [(3, "lat"), (4, "window_end"), (5, "kg"), (7, "id")]
    assert "before it starts" in res.errors[1].message
    garza = res.rows[0]
    assert garza.cod_amount == 85000 and garza.cod_currency == "MXN"
    assert garza.stop.windows[0].start == 9 * 3600
    rosa = res.rows[1].stop
    assert rosa.kind is StopKind.PICKUP and rosa.skills == {"refrigerated", "heavy-lift"}


def test_latin1_excel_file_with_semicolons_and_accents():
    text = "id;name;lat;lon;address\nB1;José Peña;27,50;-99,50;Calle Niños Héroes 5\n"
    res = parse_stops_csv(text.encode("cp1252"))
    assert not res.errors
    row = res.rows[0]
    assert row.stop.name == "José Peña" and row.address == "Calle Niños Héroes 5"
    assert row.stop.location.lat == pytest.approx(27.5)


def test_utf8_with_bom():
    res = parse_stops_csv("\ufeffid,lat,lon\nC1,27.5,-99.5\n".encode("utf-8"))
    assert [r.stop.id for r in res.rows] == ["C1"]


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"id,lat,lon\n", "no rows"),
    (b"id,name\nX,Y\n", "missing column(s): lat, lon"),
    (b"id,lat,lon,colour\nX,1,2,red\n", "unknown column(s): colour"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
])
def test_unusable_files_get_one_clear_message(data, words):
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_stops_csv(data)


def test_vehicles_and_depots():
    depots, derr = parse_depots_csv(b"id,name,lat,lon,open,close,timezone\nN,North,27.59,-99.50,06:00,21:00,America/Chicago\n"
                                    b"X,Bad,27.4,-99.5,,,Mars/Olympus\n")
    assert [d.id for _, d, _ in depots] == ["N"] and derr[0].field == "timezone"
    vehicles, verr = parse_vehicles_csv(
        b"id,start_depot,shift_start,shift_end,break_start,break_end,break_min,kg,skills,max_hours\n"
        b"v1,N,07:00,16:00,11:00,14:00,30,900,refrigerated;cross-border,9\n"
        b"v2,N,16:00,07:00,,,,,,\n"
        b"v3,N,07:00,15:00,11:00,,,,,\n")
    v1 = vehicles[0][1]
    assert v1.breaks[0].duration_s == 1800 and v1.max_work_s == 9 * 3600 and "cross-border" in v1.skills
    assert v1.capacity[0] == 900
    assert [(e.line, e.field) for e in verr] == [(3, "shift_end"), (4, "break_end")]
