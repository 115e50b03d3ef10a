"""OSRM- and Valhalla-compatible HTTP matrix clients, against a real local
HTTP server that answers from our own road graph of a shipped OSM extract."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pytest

from lastmile.routing.domain import LatLon
from lastmile.routing.matrix.calibrate import sample_points
from lastmile.routing.matrix.road import (
    OSRMProvider,
    RoadServiceError,
    ValhallaProvider,
)
from lastmile.routing.matrix.road_graph import RoadGraphProvider
from lastmile.routing.ports import MatrixProvider

OSM = Path(__file__).resolve().parents[2] / ".." / "shared" / "osm"
EXTRACT = OSM / "harrisburg.osm.pbf"
pytestmark = pytest.mark.skipif(not EXTRACT.is_file(), reason=f"shipped OSM extracts not found in {OSM}")


class TableService(ThreadingHTTPServer):
    """OSRM /table and Valhalla /sources_to_targets over a RoadGraphProvider.
    ``mode`` switches on misbehaviour: "500", "garbage", "nulls", "nodist", "flat"."""

    daemon_threads = True

    def __init__(self, graph: RoadGraphProvider) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.graph = graph
        self.mode = "ok"
        self.calls: list[tuple[int, int]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def table(self, src: list[LatLon], dst: list[LatLon]):
        self.calls.append((len(src), len(dst)))
        m = self.graph.matrix(src + dst)
        k = len(src)
        return m.distances[:k, k:].astype(float), m.durations[:k, k:].astype(float)


class Handler(BaseHTTPRequestHandler):
    server: TableService

    def log_message(self, *a) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _misbehave(self) -> bool:
        mode = self.server.mode
        if mode == "500":
            self._send(500, json.dumps({"code": "InternalError", "message": "out of memory"}).encode())
        elif mode == "garbage":
            self._send(200, b"<html>gateway says hello</html>", "text/html")
        else:
            return False
        return True

    def do_GET(self) -> None:
        if self._misbehave():
            return
        u = urlsplit(self.path)
        coords = unquote(u.path.rsplit("/", 1)[-1]).split(";")
        pts = [LatLon(float(c.split(",")[1]), float(c.split(",")[0])) for c in coords]
        q = parse_qs(u.query)
        s = [int(x) for x in q["sources"][0].split(";")] if "sources" in q else list(range(len(pts)))
        d = [int(x) for x in q["destinations"][0].split(";")] if "destinations" in q else list(range(len(pts)))
        dist, dur = self.server.table([pts[i] for i in s], [pts[j] for j in d])
        body = {"code": "Ok", "durations": dur.tolist(), "distances": dist.tolist()}
        if self.server.mode == "nulls":
            body["durations"][0][-1] = None
        if self.server.mode == "nodist":
            del body["distances"]
        self._send(200, json.dumps(body).encode())

    def do_POST(self) -> None:
        if self._misbehave():
            return
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        src = [LatLon(p["lat"], p["lon"]) for p in req["sources"]]
        dst = [LatLon(p["lat"], p["lon"]) for p in req["targets"]]
        dist, dur = self.server.table(src, dst)
        if self.server.mode == "flat":
            table = {"distances": (dist / 1000).tolist(), "durations": dur.tolist()}
        else:
            table = [[{"from_index": i, "to_index": j, "distance": dist[i, j] / 1000, "time": dur[i, j]}
                      for j in range(len(dst))] for i in range(len(src))]
        self._send(200, json.dumps({"sources_to_targets": table, "units": "kilometers"}).encode())


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> RoadGraphProvider:
    return RoadGraphProvider.from_pbf(EXTRACT, tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def points(graph) -> list[LatLon]:
    return sample_points(graph.road, 23, seed=5)


@pytest.fixture()
def service(graph):
    srv = TableService(graph)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_osrm_matrix_in_chunks_equals_the_graph(service, graph, points):
    with OSRMProvider(service.url, chunk=10) as p:
        assert isinstance(p, MatrixProvider)
        m = p.matrix(points)
    ref = graph.matrix([LatLon(round(q.lat, 6), round(q.lon, 6)) for q in points])  # as sent
    assert m.provider == f"osrm:127.0.0.1:{service.server_address[1]}"
    assert p.requests == 9 and max(max(c) for c in service.calls) <= 10
    # each block is answered on its own, yet a location snaps the same way in each: equal tables
    assert (m.durations == ref.durations).all() and (m.distances == ref.distances).all()


def test_valhalla_matrix_nested_and_flat(service, graph, points):
    ref = graph.matrix(points[:12])  # JSON carries full float coordinates
    for mode in ("ok", "flat"):
        service.mode = mode
        m = ValhallaProvider(service.url, chunk=5).matrix(points[:12])
        assert m.provider.startswith("valhalla:")
        assert np.abs(m.distances - ref.distances).max() <= 1
        assert (m.durations == ref.durations).all()


def test_service_down_gives_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens here
    with pytest.raises(RoadServiceError, match=rf"cannot reach the road service at http://127.0.0.1:{port}"):
        OSRMProvider(f"http://127.0.0.1:{port}").matrix([LatLon(40.26, -76.88), LatLon(40.27, -76.87)])


@pytest.mark.parametrize("mode, message", [
    ("500", "HTTP 500: out of memory"),
    ("garbage", "not JSON"),
    ("nulls", r"no route between 1 pair\(s\) of locations, e.g. from #0"),
    ("nodist", "no distances"),
])
def test_bad_answers_give_clear_errors(service, points, mode, message):
    service.mode = mode
    with pytest.raises(RoadServiceError, match=message):
        OSRMProvider(service.url).matrix(points[:4])


def test_valhalla_bad_answers(service, points):
    service.mode = "500"
    with pytest.raises(RoadServiceError, match="HTTP 500"):
        ValhallaProvider(service.url).matrix(points[:3])


def test_bad_url_is_refused():
    with pytest.raises(ValueError, match="http"):
        OSRMProvider("127.0.0.1:5000")
