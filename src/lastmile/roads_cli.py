"""``lastmile roads``: build a road graph from an OpenStreetMap extract, or fetch one.

    lastmile roads build FILE.osm.pbf      # read, contract, cache; prints the figures
    lastmile roads fetch [--bbox W,S,E,N]  # download, clip to the box, merge, build

``fetch`` defaults to Laredo, TX / Nuevo Laredo (-99.62,27.38,-99.36,27.70),
which needs both a Texas and a Mexico extract; ``--url`` (repeatable) or
``LASTMILE_ROADS_URL`` point it elsewhere. Downloads resume where they
stopped; ``--sha256`` / ``--checksum-url`` (one per URL, in order) are checked.

Road data © OpenStreetMap contributors (ODbL 1.0).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from .roads_fetch import (
    LAREDO_BBOX,
    FetchError,
    bbox_name,
    checksum_from,
    clip_roads,
    download,
    parse_bbox,
    urls_from,
)
from .routing.matrix.osm_read import ATTRIBUTION, RoadDataError
from .routing.matrix.road_graph import RoadGraph

roads_app = typer.Typer(help="Road data from OpenStreetMap: build the graph, fetch extracts.",
                        no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _build(path: Path, cache_dir: Path | None, rebuild: bool) -> RoadGraph:
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task(f"reading {path.name}", total=1.0)

        def tick(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        t0 = time.perf_counter()
        g = RoadGraph.from_pbf(path, cache_dir, rebuild=rebuild, progress=tick)
        g.build_s = time.perf_counter() - t0
    return g


def _report(g: RoadGraph) -> None:
    how = "loaded from cache" if g.loaded_from_cache else "built"
    km = float(g.seg_len.sum()) / 1000
    out.print(f"[bold]{g.name}[/]: {how} in {g.build_s:.2f} s", highlight=False)
    out.print(f"  nodes (intersections and ends): {g.vertices:,}", highlight=False)
    out.print(f"  edges (directed): {g.edges:,} over {g.segments:,} road segments, {km:,.1f} km", highlight=False)
    out.print(f"  components (strongly connected): {g.components:,}; main network has "
              f"{g.main_share:.1%} of the road length", highlight=False)
    w, s, e, n = g.bbox
    out.print(f"  covers {w:.4f},{s:.4f},{e:.4f},{n:.4f}", highlight=False)
    if g.cache_path:
        out.print(f"  cache: {g.cache_path}", highlight=False)
    out.print(f"  road data {ATTRIBUTION}", highlight=False)


@roads_app.command("build")
def build_cmd(
    file: Annotated[Path, typer.Argument(help="an OpenStreetMap extract (.osm.pbf)")],
    cache_dir: Annotated[Path | None, typer.Option(help="where built graphs are kept")] = None,
    rebuild: Annotated[bool, typer.Option(help="ignore a cached graph and build again")] = False,
) -> None:
    """Build (or load from cache) the drivable road graph of FILE and print its figures."""
    try:
        g = _build(file, cache_dir, rebuild)
    except RoadDataError as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"{file}: {e.strerror or e}") from None
    _report(g)


@roads_app.command("fetch")
def fetch_cmd(
    bbox: Annotated[str, typer.Option(help="min_lon,min_lat,max_lon,max_lat")] = ",".join(map(str, LAREDO_BBOX)),
    url: Annotated[list[str] | None, typer.Option(
        "--url", help="extract(s) to download (repeat for several); default: $LASTMILE_ROADS_URL, "
                      "else Texas and Mexico from Geofabrik")] = None,
    sha256: Annotated[list[str] | None, typer.Option(
        "--sha256", help="expected SHA-256 of each download, in --url order")] = None,
    checksum_url: Annotated[list[str] | None, typer.Option(
        "--checksum-url", help="URL of a checksum file for each download, in --url order")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="where downloads and the clip go")] = None,
    name: Annotated[str | None, typer.Option(help="name of the clipped extract")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="where built graphs are kept")] = None,
    no_build: Annotated[bool, typer.Option("--no-build", help="download and clip only")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the server")] = 30.0,
) -> None:
    """Download the extract(s) covering a bounding box, clip and merge them, build the graph."""
    try:
        box = parse_bbox(bbox)
        urls = urls_from(url)
        for label, given in (("--sha256", sha256), ("--checksum-url", checksum_url)):
            if given and len(given) != len(urls):
                raise FetchError(f"{label} was given {len(given)} time(s) for {len(urls)} URL(s); give one per URL")
        import platformdirs

        base = out_dir or Path(platformdirs.user_data_dir("lastmile")) / "roads"
        files: list[Path] = []
        for k, u in enumerate(urls):
            expected = (sha256[k] if sha256 else None) or (checksum_from(checksum_url[k], timeout) if checksum_url else None)
            dest = base / "downloads" / (u.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or f"extract-{k}.osm.pbf")
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          console=err, transient=True) as bar:
                task = bar.add_task(f"downloading {dest.name}", total=None)
                download(u, dest, checksum=expected, timeout=timeout,
                         progress=lambda done, total, _m, t=task: bar.update(t, completed=done, total=total))
            out.print(f"downloaded {u} -> {dest} ({dest.stat().st_size:,} bytes"
                      + (", checksum ok)" if expected else ")"), highlight=False)
            files.append(dest)
        clip_path = base / f"{name or bbox_name(box)}.osm.pbf"
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("clipping", total=len(files))
            stats = clip_roads(files, box, clip_path,
                               progress=lambda done, total, m: bar.update(task, completed=done, description=m))
        out.print(f"clipped {stats.ways:,} roads ({stats.nodes:,} nodes) inside {bbox} -> {clip_path}",
                  highlight=False)
        if not no_build:
            _report(_build(clip_path, cache_dir, rebuild=False))
    except (FetchError, RoadDataError) as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"{e.filename or ''}: {e.strerror or e}") from None
