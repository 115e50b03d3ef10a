"""The ``lastmile`` command. Each command is thin: parse, call the domain, print.

User errors (missing files, bad rows, bad options) print a clear message and
exit non-zero; they never show a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="lastmile: route optimization and delivery operations for Laredo / Nuevo Laredo and beyond.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console()
err = Console(stderr=True, soft_wrap=True)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAY = REPO_ROOT / "examples" / "laredo-day"


class OutFormat(str, Enum):
    lastmile = "lastmile"
    vroom = "vroom"


class Backend(str, Enum):
    auto = "auto"
    pyvrp = "pyvrp"
    ortools = "ortools"


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@app.command()
def plan(
    input: Annotated[Path, typer.Argument(help="A folder with stops.csv, vehicles.csv and depots.csv; a stops CSV "
                                                "(vehicles.csv and depots.csv beside it unless given); or VROOM JSON.")],
    vehicles: Annotated[Optional[Path], typer.Option(help="vehicles CSV (default: vehicles.csv beside the input)")] = None,
    depots: Annotated[Optional[Path], typer.Option(help="depots CSV (default: depots.csv beside the input)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for plan.json, plan.geojson and plan.csv")] = Path("out"),
    format: Annotated[OutFormat, typer.Option("--format", help="lastmile files, or VROOM's solution JSON")] = OutFormat.lastmile,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="seconds to optimize")] = 10.0,
    iterations: Annotated[Optional[int], typer.Option(min=1, help="stop after N iterations instead of on time "
                                                               "(same input + seed -> same plan)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    backend: Annotated[Backend, typer.Option(help="solver backend")] = Backend.auto,
    traffic: Annotated[str, typer.Option(help="laredo, laredo-commercial (trucks: commercial bridges), none (no slowdowns; the border stays) or off (no slowdowns, no border)")] = "laredo",
    date: Annotated[Optional[str], typer.Option(help="the day planned, YYYY-MM-DD (picks weekday traffic); default today")] = None,
    balance: Annotated[float, typer.Option(min=0.0, help="0 = cheapest; higher spreads work more evenly over drivers")] = 1.0,
    objective: Annotated[str, typer.Option(help="cost (vehicle rates), distance, time, or vehicles (fewest first)")] = "cost",
    roads: Annotated[Optional[Path], typer.Option(help="travel on the roads of this OpenStreetMap extract "
                                                       "(.osm.pbf; graph cached after the first use)")] = None,
    osrm_url: Annotated[Optional[str], typer.Option(help="travel times from an OSRM-compatible table service")] = None,
    valhalla_url: Annotated[Optional[str], typer.Option(help="travel times from a Valhalla-compatible service")] = None,
) -> None:
    """Plan routes for a day and write them as JSON, GeoJSON and CSV.

    Travel is straight-line estimates unless --roads, --osrm-url or --valhalla-url gives road data."""
    from .formats.csvkit import InputError
    from .formats.plan_out import estimates_note, plan_to_csv, plan_to_geojson, plan_to_json
    from .formats.problem_io import ProblemErrors, load
    from .formats.vroom import write_vroom
    from .routing.domain import Objective, Options
    from .routing.matrix.profiles import profile_named
    from .routing.solve import build_model, solve
    from .routing.validate import validate

    try:
        day = dt.date.fromisoformat(date) if date else dt.date.today()
    except ValueError:
        _fail(f"--date {date!r} is not a date like 2026-11-25")
    try:
        profile = profile_named(traffic)
    except ValueError as e:
        _fail(str(e))
    try:
        loaded = load(input, vehicles, depots, weekday=day.weekday())
    except InputError as e:
        _fail(str(e))
    except ProblemErrors as e:
        err.print(f"[bold red]error:[/] {len(e.errors)} problem(s) in the input:", highlight=False)
        for f, row_err in e.errors:
            err.print(f"  {f} line {row_err.line}, {row_err.field}: {row_err.message}", highlight=False)
        raise typer.Exit(2)
    problem = loaded.problem
    if loaded.vroom is not None and traffic == "laredo":
        profile = profile_named("off")  # VROOM problems come with their own times and no border
    try:
        goal = Objective(objective)
    except ValueError:
        _fail(f"--objective {objective!r}: choose cost, distance, time or vehicles")
    options = Options(objective=goal, balance=balance, time_limit_s=time_limit, iterations=iterations,
                      seed=seed, backend=backend.value)
    console.print(f"Planning [bold]{len(problem.stops)}[/] stops with [bold]{len(problem.vehicles)}[/] vehicles "
                  f"from {len(problem.depots)} depot(s), {day:%A %Y-%m-%d}, traffic: {profile.name}")
    provider = _matrix_provider(roads, osrm_url, valhalla_url)
    matrix = loaded.matrix if loaded.matrix is not None else _travel_matrix(provider, problem, profile)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True, disable=not sys.stdout.isatty()) as bar:
        task = bar.add_task("starting", total=1.0)
        try:
            result = solve(problem, options, matrix=matrix, traffic=profile,
                           progress=lambda f, m: bar.update(task, completed=f, description=m))
        except ValueError as e:
            _fail(str(e))
    index, model = build_model(problem, matrix=matrix, traffic=profile)
    violations = validate(result, problem, model, index)

    _print_summary(result, problem)
    console.print(f"Travel matrix: {result.matrix_provider}" + (" (given with the problem)" if loaded.matrix is not None
                                                                 else ""), highlight=False)
    note = estimates_note(result)
    if note:
        console.print(f"[yellow]Note:[/] {note}.")
    if violations:
        err.print(f"[bold red]{len(violations)} constraint violation(s) found by the validator:[/]")
        for v in violations[:20]:
            err.print(f"  {v}")
    out.mkdir(parents=True, exist_ok=True)
    if format is OutFormat.vroom:
        if loaded.vroom is None:
            from .formats.vroom import VroomProblem

            vp = VroomProblem(problem, None, 0, {s.id: s.id for s in problem.stops}, {v.id: v.id for v in problem.vehicles})
        else:
            vp = loaded.vroom
        (out / "vroom-solution.json").write_text(json.dumps(write_vroom(result, vp), indent=1))
        console.print(f"Wrote {out / 'vroom-solution.json'}")
    else:
        (out / "plan.json").write_text(json.dumps(plan_to_json(result, problem), indent=1, ensure_ascii=False))
        road_lines = getattr(provider, "road_route", None)  # a local road graph draws routes on its roads
        geometry = (lambda pts: road_lines(pts).coordinates()) if road_lines and loaded.matrix is None else None
        (out / "plan.geojson").write_text(json.dumps(plan_to_geojson(result, problem, geometry), ensure_ascii=False))
        (out / "plan.csv").write_text(plan_to_csv(result, problem), encoding="utf-8")
        console.print(f"Wrote {out / 'plan.json'}, {out / 'plan.geojson'}, {out / 'plan.csv'}")
    if violations:
        raise typer.Exit(1)


def _matrix_provider(roads: Path | None, osrm_url: str | None, valhalla_url: str | None):
    """The matrix provider the plan options ask for; straight lines when none."""
    from .routing.matrix.haversine import HaversineProvider

    given = [name for name, v in (("--roads", roads), ("--osrm-url", osrm_url), ("--valhalla-url", valhalla_url)) if v]
    if len(given) > 1:
        _fail(f"choose one source of travel times, not {' and '.join(given)}")
    try:
        if roads is not None:
            from .routing.matrix.osm_read import RoadDataError
            from .routing.matrix.road_graph import RoadGraphProvider

            console.print(f"Loading road data from {roads} ...", highlight=False)
            try:
                return RoadGraphProvider.from_pbf(roads)
            except RoadDataError as e:
                _fail(f"road data: {e}")
        if osrm_url or valhalla_url:
            from .routing.matrix.road import OSRMProvider, ValhallaProvider

            return OSRMProvider(osrm_url) if osrm_url else ValhallaProvider(valhalla_url or "")
    except ValueError as e:
        _fail(str(e))
    return HaversineProvider()


def _travel_matrix(provider, problem, profile):
    """One matrix for the whole run (with the border bridges' rows when a leg crosses);
    stops the road data cannot reach are named, and the run stops."""
    from .routing.matrix.road import RoadServiceError
    from .routing.matrix.road_snap import OffNetworkError
    from .routing.matrix.timedep import matrix_with_bridges
    from .routing.ports import LocationIndex

    index = LocationIndex.of(problem)
    ids = [f"depot {d.id}" for d in problem.depots] + [s.id for s in problem.stops]
    try:
        matrix = matrix_with_bridges(provider, index.locations, profile, ids)
    except OffNetworkError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        for s in e.stops:
            err.print(f"  {s.id}: {s.distance_m:,.0f} m from the nearest drivable road", highlight=False)
        raise typer.Exit(2) from None
    except RoadServiceError as e:
        _fail(f"road service: {e}")
    except ValueError as e:
        _fail(str(e))
    for w in getattr(getattr(provider, "last_snap", None), "warnings", ()):
        console.print(f"[yellow]Note:[/] {w}", highlight=False)
    return matrix


def _print_summary(result, problem) -> None:
    from .kit.time import hhmm

    vehicles = {v.id: v for v in problem.vehicles}
    stops = {s.id: s for s in problem.stops}
    t = Table(title=f"Plan ({result.backend}, {result.stats.solve_s:.1f} s)")
    for col in ("vehicle", "driver", "stops", "km", "hours", "leaves", "back", "on time"):
        t.add_column(col, justify="right" if col not in ("vehicle", "driver") else "left")
    for r in result.routes:
        v = vehicles[r.vehicle_id]
        on_time = sum(1 for vis in r.visits if vis.kind.value == "stop"
                      and (not stops[vis.ref].windows or any(w.contains(vis.start) for w in stops[vis.ref].windows)))
        t.add_row(v.id, v.driver or "-", str(len(r.stop_ids)), f"{r.distance_m / 1000:.1f}", f"{r.duration_s / 3600:.2f}",
                  hhmm(r.depart), hhmm(r.arrive), f"{on_time}/{len(r.stop_ids)}")
    s = result.stats
    t.add_section()
    t.add_row("total", "", str(s.assigned), f"{s.distance_m / 1000:.1f}", f"{s.duration_s / 3600:.2f}", "", "", "")
    console.print(t)
    console.print(f"Cost: {s.cost / 100:,.2f}   Routes: {s.routes}   Assigned: {s.assigned}   Unassigned: {s.unassigned}")
    if result.unassigned:
        u = Table(title="Unassigned")
        u.add_column("stop")
        u.add_column("reason")
        for x in result.unassigned:
            u.add_row(x.stop_id, x.reason)
        console.print(u)


@app.command()
def demo(
    headless: Annotated[bool, typer.Option("--headless", help="no server: run the day at full speed and print "
                                                              "its outcome")] = False,
    hours: Annotated[float, typer.Option(min=0.5, max=24, help="simulated hours at most, from 20 min before the "
                                                                 "first shift (drivers running late get to finish)")] = 14.0,
    speed: Annotated[float, typer.Option(min=1, max=3600, help="how much faster than real time the live day runs")] = 30.0,
    orders: Annotated[int, typer.Option(min=1, max=5000, help="orders of the day (about 5 % arrive during it)")] = 300,
    drivers: Annotated[int, typer.Option(min=1, max=18, help="drivers on shift")] = 15,
    seed: Annotated[int, typer.Option(min=0, help="which simulated day")] = 1,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.5, max=600, help="seconds to optimize")] = 10.0,
    port: Annotated[int, typer.Option(min=1, max=65535, help="the server's port")] = 8000,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="the demo's database and files (wiped and "
                                                              "re-created on every run)")] = Path("out/demo"),
    mqtt: Annotated[Optional[str], typer.Option(help="HOST:PORT of an MQTT broker: some drivers report by OwnTracks "
                                                     "(with `lastmile ingest-mqtt`)")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="headless: also write the outcome as JSON")] = None,
) -> None:
    """A living Laredo day on the real system: seed, optimize, publish, then simulated
    drivers drive it through the ingest and driver APIs while you watch the console.

    The bundled CSV example is planned with `lastmile plan examples/laredo-day`."""
    from .demo.run import Options, main

    opts = Options(data_dir=data_dir, seed=seed, orders=orders, drivers=drivers, hours=hours, speed=speed,
                   time_limit=time_limit, port=port, mqtt=mqtt)
    raise typer.Exit(main(opts, headless_run=headless, json_out=json_out, console=console))


def _register_optional() -> None:
    """Sub-commands from other parts of the platform, when installed."""
    try:
        from .roads_cli import roads_app

        app.add_typer(roads_app, name="roads")
    except ImportError:
        pass
    try:
        from .server_cli import register

        register(app)
    except ImportError:
        pass
    try:
        from .learn.cli import register as register_learn

        register_learn(app)
    except ImportError:
        pass


_register_optional()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
