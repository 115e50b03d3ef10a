"""Loading a day to plan from files: a folder (stops.csv, vehicles.csv,
depots.csv), a stops CSV with its vehicles/depots files beside it or named, or
VROOM JSON. Every bad row in every file is reported before giving up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..routing.domain import Problem
from ..routing.ports import Matrix
from .csvkit import InputError, RowError
from .fleet_csv import parse_depots_csv, parse_vehicles_csv
from .stops_csv import StopRow, parse_stops_csv
from .vroom import VroomProblem, read_vroom


@dataclass
class Loaded:
    problem: Problem
    matrix: Matrix | None = None
    rows: dict[str, StopRow] = field(default_factory=dict)  # extra order data by stop id (CSV only)
    timezone: str = "America/Chicago"
    vroom: VroomProblem | None = None


@dataclass
class ProblemErrors(Exception):
    errors: list[tuple[str, RowError]]  # (file name, error)

    def __str__(self) -> str:
        return "\n".join(f"{f}: {e}" for f, e in self.errors)


def _read(path: Path) -> bytes:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None


def load(path: Path, vehicles: Path | None = None, depots: Path | None = None, weekday: int = 0,
         name: str = "") -> Loaded:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        stops_p = path / "stops.csv"
        vehicles = vehicles or path / "vehicles.csv"
        depots = depots or path / "depots.csv"
    else:
        stops_p = path
        if path.suffix.lower() == ".json":
            vp = read_vroom(_read(path), path.name)
            p = vp.problem
            return Loaded(Problem(p.stops, p.vehicles, p.depots, p.dimensions, weekday, name or path.stem),
                          vp.matrix, vroom=vp)
        vehicles = vehicles or path.with_name("vehicles.csv")
        depots = depots or path.with_name("depots.csv")
    for p, what in ((stops_p, "stops"), (vehicles, "vehicles"), (depots, "depots")):
        if not p.exists():
            raise InputError(f"{p}: no such file (the {what} file; see `lastmile plan --help` for the columns)")

    errors: list[tuple[str, RowError]] = []
    stop_res = parse_stops_csv(_read(stops_p), stops_p.name)
    errors += [(stops_p.name, e) for e in stop_res.errors]
    depot_rows, derr = parse_depots_csv(_read(depots), depots.name)
    errors += [(depots.name, e) for e in derr]
    vehicle_rows, verr = parse_vehicles_csv(_read(vehicles), vehicles.name)
    errors += [(vehicles.name, e) for e in verr]

    depot_ids = {d.id for _, d, _ in depot_rows}
    seen: set[str] = set()
    for line, v in vehicle_rows:
        if v.id in seen:
            errors.append((vehicles.name, RowError(line, "id", f"duplicate vehicle id {v.id!r}")))
        seen.add(v.id)
        for col, did in (("start_depot", v.start_depot), ("end_depot", v.end)):
            if did not in depot_ids:
                errors.append((vehicles.name, RowError(line, col, f"unknown depot {did!r}")))
    seen = set()
    for line, d, _ in depot_rows:
        if d.id in seen:
            errors.append((depots.name, RowError(line, "id", f"duplicate depot id {d.id!r}")))
        seen.add(d.id)
    for r in stop_res.rows:
        if r.depot and r.depot not in depot_ids:
            errors.append((stops_p.name, RowError(r.line, "depot", f"unknown depot {r.depot!r}")))
    if errors:
        raise ProblemErrors(errors)
    problem = Problem(tuple(r.stop for r in stop_res.rows), tuple(v for _, v in vehicle_rows),
                      tuple(d for _, d, _ in depot_rows), weekday=weekday, name=name or path.stem)
    tz = depot_rows[0][2] if depot_rows else "America/Chicago"
    return Loaded(problem, None, {r.stop.id: r for r in stop_res.rows}, tz)
