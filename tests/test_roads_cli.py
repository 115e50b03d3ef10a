"""``lastmile roads build`` and ``lastmile roads fetch``: the build path on the
shipped extracts, the download path against a local HTTP server that serves
one of them (with Range support, so a partial download resumes)."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from lastmile.roads_cli import roads_app
from lastmile.roads_fetch import FetchError, bbox_name, parse_bbox
from lastmile.routing.matrix.road_graph import RoadGraph

OSM = Path(__file__).resolve().parents[1] / ".." / "shared" / "osm"
BALTIMORE = OSM / "baltimore.osm.pbf"
pytestmark = pytest.mark.skipif(not BALTIMORE.is_file(), reason=f"shipped OSM extracts not found in {OSM}")
DOWNTOWN = "-76.610,39.280,-76.590,39.300"  # a piece of downtown Baltimore
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(roads_app, list(args), catch_exceptions=False)


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single ``Range: bytes=N-`` support; records each Range asked for."""

    ranges: ClassVar[list[str | None]] = []

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, directory=str(OSM), **kw)

    def log_message(self, *a) -> None:
        pass

    def do_GET(self) -> None:
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        path = Path(self.translate_path(self.path))
        if self.path.endswith(".sha256") and path.with_suffix("").is_file():
            digest = hashlib.sha256(path.with_suffix("").read_bytes()).hexdigest()
            body = f"{digest}  {path.with_suffix('').name}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if not m or not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        start = int(m.group(1))
        if start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture()
def server():
    RangeHandler.ranges = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


# --- build ---

def test_build_prints_the_figures_and_caches(tmp_path):
    r = _run("build", str(BALTIMORE), "--cache-dir", str(tmp_path))
    assert r.exit_code == 0, r.output
    assert "baltimore: built" in r.output
    for word in ("nodes", "edges", "components", "OpenStreetMap contributors"):
        assert word in r.output
    assert "laredo" not in r.output.lower()
    again = _run("build", str(BALTIMORE), "--cache-dir", str(tmp_path))
    assert again.exit_code == 0 and "loaded from cache" in again.output
    assert len(list(tmp_path.glob("baltimore-*.npz"))) == 1


def test_build_of_a_corrupt_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x89PNG garbage" * 100)
    r = _run("build", str(bad), "--cache-dir", str(tmp_path))
    assert r.exit_code == 1
    assert "error:" in r.output and "bad.osm.pbf" in r.output and "Traceback" not in r.output
    missing = _run("build", str(tmp_path / "none.osm.pbf"), "--cache-dir", str(tmp_path))
    assert missing.exit_code == 1 and "no such file" in missing.output


# --- fetch ---

def test_fetch_downloads_clips_and_builds(server, tmp_path):
    r = _run("fetch", "--url", f"{server}/baltimore.osm.pbf", "--checksum-url", f"{server}/baltimore.osm.pbf.sha256",
             "--bbox", DOWNTOWN, "--out", str(tmp_path), "--cache-dir", str(tmp_path / "cache"))
    assert r.exit_code == 0, r.output
    got = tmp_path / "downloads" / "baltimore.osm.pbf"
    assert got.read_bytes() == BALTIMORE.read_bytes()
    assert "checksum ok" in r.output
    clip = tmp_path / f"{bbox_name(parse_bbox(DOWNTOWN))}.osm.pbf"
    assert clip.is_file() and clip.stat().st_size < BALTIMORE.stat().st_size
    assert "laredo" not in clip.name
    whole, part = RoadGraph.from_pbf(BALTIMORE, tmp_path / "c"), RoadGraph.from_pbf(clip, tmp_path / "c")
    assert 100 < part.segments < whole.segments
    w, s, e, n = part.bbox
    assert w < -76.605 and e > -76.595 and s < 39.285 and n > 39.295  # it covers the box...
    assert w < -76.61 or e > -76.59 or s < 39.28 or n > 39.30  # ...with whole ways, a little past it
    assert "components" in r.output


def test_fetch_resumes_a_partial_download(server, tmp_path):
    data = BALTIMORE.read_bytes()
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / "baltimore.osm.pbf.part").write_bytes(data[:200_000])
    sha = hashlib.sha256(data).hexdigest()
    r = _run("fetch", "--url", f"{server}/baltimore.osm.pbf", "--sha256", sha, "--bbox", DOWNTOWN,
             "--out", str(tmp_path), "--no-build")
    assert r.exit_code == 0, r.output
    assert RangeHandler.ranges == ["bytes=200000-"]
    assert (tmp_path / "downloads" / "baltimore.osm.pbf").read_bytes() == data
    assert not (tmp_path / "downloads" / "baltimore.osm.pbf.part").exists()


def test_fetch_with_a_wrong_checksum_removes_the_download(server, tmp_path):
    r = _run("fetch", "--url", f"{server}/baltimore.osm.pbf", "--sha256", "0" * 64, "--bbox", DOWNTOWN,
             "--out", str(tmp_path))
    assert r.exit_code == 1 and "checksum mismatch" in r.output
    assert not list((tmp_path / "downloads").iterdir())


def test_fetch_of_a_box_the_extract_does_not_cover(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LASTMILE_ROADS_URL", f"{server}/aguascalientes.osm.pbf")
    r = _run("fetch", "--out", str(tmp_path))  # default box: Laredo, not in Aguascalientes' extract
    assert r.exit_code == 1 and "no roads inside bbox" in r.output and "Traceback" not in r.output


def test_fetch_without_network_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = _run("fetch", "--url", f"http://127.0.0.1:{port}/texas-latest.osm.pbf", "--out", str(tmp_path), "--timeout", "3")
    assert r.exit_code == 1
    assert "no network" in r.output and "Traceback" not in r.output


def test_fetch_rejects_bad_options(tmp_path):
    assert "four numbers" in _run("fetch", "--bbox", "1,2,3", "--out", str(tmp_path)).output
    r = _run("fetch", "--url", "http://127.0.0.1:9/a.osm.pbf", "--url", "http://127.0.0.1:9/b.osm.pbf",
             "--sha256", "ab" * 32, "--out", str(tmp_path))
    assert r.exit_code == 1 and "one per URL" in r.output
    with pytest.raises(FetchError):
        parse_bbox("10,10,5,5")


def test_clip_merges_and_deduplicates_extracts(tmp_path):
    from lastmile.roads_fetch import clip_roads

    box = parse_bbox(DOWNTOWN)
    one = clip_roads([BALTIMORE], box, tmp_path / "one.osm.pbf")
    twice = clip_roads([BALTIMORE, BALTIMORE], box, tmp_path / "twice.osm.pbf")  # overlapping inputs
    assert (one.ways, one.nodes) == (twice.ways, twice.nodes)
    both = clip_roads([BALTIMORE, OSM / "harrisburg.osm.pbf"], (-77.0, 39.2, -76.5, 40.4), tmp_path / "both.osm.pbf")
    g = RoadGraph.from_pbf(both.path, tmp_path / "c")
    w, s, e, n = g.bbox
    assert s < 39.3 and n > 40.2  # Baltimore and Harrisburg in one file
