"""POD files in the two stores: the disk and an S3-compatible object store. The S3 peer
is moto's S3 server (a real HTTP server speaking the S3 protocol, on a free local
port); boto3 talks to it exactly as it would to MinIO, Ceph or R2 (path-style)."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from lastmile.config import ConfigError, Settings

from .helpers import action, jpeg, png, send, upload

KEYS = {"storage_s3_access_key_id": "lastmile-test", "storage_s3_secret_access_key": "lastmile-test-secret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str, **keys):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=keys.get("key", KEYS["storage_s3_access_key_id"]),
                        aws_secret_access_key=keys.get("secret", KEYS["storage_s3_secret_access_key"]),
                        config=Config(s3={"addressing_style": "path"}))


def s3_settings(tmp_path, endpoint: str, bucket: str, **over) -> Settings:
    return Settings(env="test", data_dir=tmp_path / "data", auto_migrate=False, tracking_token_ttl_s=3600,
                    storage_url=f"s3://{bucket}/pod/files", storage_s3_endpoint_url=endpoint, **{**KEYS, **over})


@pytest.fixture
def bucket(s3_endpoint):
    name = f"lastmile-{uuid.uuid4().hex[:12]}"
    s3_client(s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["disk", "s3"])
def settings(request, tmp_path):
    if request.param == "disk":
        return Settings(env="test", data_dir=tmp_path / "data", auto_migrate=False, tracking_token_ttl_s=3600)
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_settings(tmp_path, endpoint, request.getfixturevalue("bucket"))


def _key(sha: str) -> str:
    return f"pod/files/{sha[:2]}/{sha[2:4]}/{sha}"


def test_upload_lands_in_the_configured_store_with_its_type(client, world, settings):
    h = world.headers["driver"]
    data, photo = png((10, 120, 10), (50, 40)), jpeg((90, 10, 10), (80, 60))
    r = upload(client, h, data)
    assert r.status_code == 201, r.text
    sha = r.json()["sha256"]
    r2 = upload(client, h, photo, "door.png", "image/png")  # it is a JPEG, whatever it claims
    assert r2.status_code == 201 and r2.json()["content_type"] == "image/jpeg"
    on_disk = settings.data_dir / "pod-files" / sha[:2] / sha[2:4] / sha
    if settings.storage_url:
        s3 = s3_client(settings.storage_s3_endpoint_url)
        bucket = settings.storage_url[5:].split("/")[0]
        head = s3.head_object(Bucket=bucket, Key=_key(sha))
        assert head["ContentType"] == "image/png" and head["ContentLength"] == len(data)
        assert s3.get_object(Bucket=bucket, Key=_key(sha))["Body"].read() == data
        jhead = s3.head_object(Bucket=bucket, Key=_key(r2.json()["sha256"]))
        assert jhead["ContentType"] == "image/jpeg"
        assert not on_disk.exists()  # nothing written beside the bucket
    else:
        assert on_disk.read_bytes() == data
    assert upload(client, h, data).json()["sha256"] == sha  # again: harmless
    # the server-side checks are the same whatever the store
    assert upload(client, h, b"%PDF-1.4 nope", "x.png", "image/png").status_code == 415
    assert upload(client, h, data + b"\x00" * (8 * 1024 * 1024)).status_code == 413


@pytest.fixture
def delivered(client, world, driver_day):
    h = world.headers["driver"]
    rid, s1, s2 = driver_day["id"], driver_day["stops"][0], driver_day["stops"][1]
    sig = upload(client, h, png((0, 0, 0), (120, 50))).json()["sha256"]
    photo = upload(client, h, jpeg((200, 180, 20), (160, 120)), "door.jpg", "image/jpeg").json()["sha256"]
    photo2 = upload(client, h, jpeg((20, 180, 200), (160, 120)), "gate.jpg", "image/jpeg").json()["sha256"]
    res = send(client, h,
               action("deliver", rid, s1["id"], {
                   "recipient_name": "Mr. Peña", "signature": sig, "photos": [photo], "scans": [],
                   "cod": {"amount": 125000, "currency": "MXN", "method": "cash"}}),
               action("fail", rid, s2["id"], {"reason": "closed", "photos": [photo2]}))
    assert [r["status"] for r in res] == ["applied", "applied"], res
    return {"order_id": s1["order_id"], "failed_order_id": s2["order_id"], "signature": sig, "photo": photo,
            "photo2": photo2, "route_id": rid}


def test_pod_files_are_served_only_to_who_may_see_the_proof(client, world, db, settings, delivered):
    from lastmile.orders.models import Order
    from lastmile.orders.service import issue_tracking_token

    oid, photo = delivered["order_id"], delivered["photo"]
    url = f"/pod/{oid}/files/{photo}"
    for who in ("dispatcher", "admin", "shipper"):
        r = client.get(url, headers=world.headers[who])
        assert r.status_code == 200, (who, r.text)
        assert r.headers["content-type"] == "image/jpeg" and r.content[:3] == b"\xff\xd8\xff"
        assert r.headers["x-content-type-options"] == "nosniff" and "no-store" in r.headers["cache-control"]
    sig = client.get(f"/pod/{oid}/files/{delivered['signature']}", headers=world.headers["dispatcher"])
    assert sig.status_code == 200 and sig.headers["content-type"] == "image/png"
    assert client.get(url, headers=world.headers["shipper2"]).status_code == 404  # another shipper's order
    assert client.get(url, headers=world.headers["driver"]).status_code == 403
    assert client.get(url).status_code == 401
    # a file of another order is not reachable through this one (nor the other way round)
    assert client.get(f"/pod/{oid}/files/{delivered['photo2']}", headers=world.headers["dispatcher"]).status_code == 404
    assert client.get(f"/pod/{delivered['failed_order_id']}/files/{photo}",
                      headers=world.headers["dispatcher"]).status_code == 404
    assert client.get(f"/pod/{oid}/files/{'0' * 64}", headers=world.headers["dispatcher"]).status_code == 404
    bad = client.get(f"/pod/{oid}/files/not-a-sha", headers=world.headers["dispatcher"])
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "sha256"
    # the customer's tracking link sees its own order's proof, not another's
    with db.session() as s:
        token = issue_tracking_token(s, s.get(Order, oid))
        other = issue_tracking_token(s, s.get(Order, delivered["failed_order_id"]))
        s.commit()
    assert client.get(url, params={"t": token}).status_code == 200
    assert client.get(url, params={"t": other}).status_code == 404
    # the page and the PDF embed the same bytes, read from the store
    page = client.get(f"/pod/{oid}/page", headers=world.headers["dispatcher"])
    assert page.status_code == 200 and page.text.count("data:image/") == 2


def test_presigned_downloads_after_the_same_authorization(app, client, world, settings, delivered):
    if not settings.storage_url:
        app.state.settings.storage_presign_s = 300
        r = client.get(f"/pod/{delivered['order_id']}/files/{delivered['photo']}",
                       headers=world.headers["dispatcher"], follow_redirects=False)
        assert r.status_code == 200  # the disk store has no URLs of its own: streamed
        return
    app.state.settings.storage_presign_s = 300
    url = f"/pod/{delivered['order_id']}/files/{delivered['photo']}"
    assert client.get(url, headers=world.headers["shipper2"], follow_redirects=False).status_code == 404
    r = client.get(url, headers=world.headers["dispatcher"], follow_redirects=False)
    assert r.status_code == 307, r.text
    location = r.headers["location"]
    assert location.startswith(settings.storage_s3_endpoint_url + "/") and "X-Amz-Signature=" in location
    got = httpx.get(location)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.content[:3] == b"\xff\xd8\xff"
    tampered = location.replace(delivered["photo"], delivered["photo2"])
    assert httpx.get(tampered).status_code == 403  # the signature covers the key


def test_verify_reads_the_chain_files_from_the_store(db, settings, delivered):
    from lastmile.pod.chain import verify
    from lastmile.pod.files import storage_for

    with db.session() as s:
        report = verify(s, storage_for(settings), delivered["route_id"])
    assert report.ok, report.broken
    if settings.storage_url:
        s3 = s3_client(settings.storage_s3_endpoint_url)
        bucket = settings.storage_url[5:].split("/")[0]
        s3.put_object(Bucket=bucket, Key=_key(delivered["photo2"]), Body=b"\xff\xd8\xffchanged")
        with db.session() as s:
            report = verify(s, storage_for(settings), delivered["route_id"])
        assert not report.ok and delivered["photo2"] in report.broken and "changed" in report.broken


# --- misconfiguration: clear errors, at start-up or per request, never a 500

def _start(db, settings):
    from lastmile.app import create_app

    with TestClient(create_app(settings, database=db), base_url="https://testserver"):
        pass


def test_a_missing_bucket_stops_the_server_at_start(db, tmp_path, s3_endpoint):
    settings = s3_settings(tmp_path, s3_endpoint, f"nope-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ConfigError, match=r"bucket 'nope-\w+' at http://127\.0\.0\.1:\d+ does not exist"):
        _start(db, settings)


def test_refused_credentials_stop_the_server_at_start(db, tmp_path, s3_endpoint, bucket):
    settings = s3_settings(tmp_path, s3_endpoint, bucket, storage_s3_access_key_id="AKIAWRONGWRONG",
                           storage_s3_secret_access_key="wrong")
    # moto checks signatures once authentication is switched on (off by default)
    httpx.post(f"{s3_endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    try:
        with pytest.raises(ConfigError, match="refused the credentials"):
            _start(db, settings)
    finally:
        httpx.post(f"{s3_endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()


@pytest.mark.parametrize("url", ["ftp://bucket/x", "s3://", "s3:///prefix", "/var/pod"])
def test_a_malformed_storage_url_is_refused(db, tmp_path, url):
    with pytest.raises(ConfigError, match="LASTMILE_STORAGE_URL"):
        _start(db, Settings(env="test", data_dir=tmp_path, auto_migrate=False, storage_url=url))


def test_a_store_gone_after_start_answers_503_not_500(db, tmp_path, s3_endpoint, bucket, world):
    from lastmile.app import create_app

    settings = s3_settings(tmp_path, s3_endpoint, bucket)
    with TestClient(create_app(settings, database=db), base_url="https://testserver",
                    raise_server_exceptions=False) as c:
        s3_client(s3_endpoint).delete_bucket(Bucket=bucket)
        r = upload(c, world.headers["driver"], png())
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["code"] == "storage_unavailable" and f"bucket '{bucket}'" in err["message"], err
        assert "does not exist" in err["message"] and "Traceback" not in r.text


def test_an_unreachable_store_lets_the_server_start_and_answers_503(db, tmp_path, world):
    from lastmile.app import create_app

    settings = s3_settings(tmp_path, f"http://127.0.0.1:{_free_port()}", "pod", storage_s3_timeout_s=1)
    with TestClient(create_app(settings, database=db), base_url="https://testserver",
                    raise_server_exceptions=False) as c:
        r = upload(c, world.headers["driver"], png())
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "storage_unavailable" and "cannot reach" in r.json()["error"]["message"]


def _cli_env(settings: Settings) -> dict[str, str]:
    env = {"LASTMILE_ENV": "test", "LASTMILE_DATA_DIR": str(settings.data_dir)}
    if settings.storage_url:
        env.update({"LASTMILE_STORAGE_URL": settings.storage_url,
                    "LASTMILE_STORAGE_S3_ENDPOINT_URL": settings.storage_s3_endpoint_url,
                    "LASTMILE_STORAGE_S3_ACCESS_KEY_ID": settings.storage_s3_access_key_id,
                    "LASTMILE_STORAGE_S3_SECRET_ACCESS_KEY": settings.storage_s3_secret_access_key.get_secret_value()})
    return env


def test_check_storage_says_what_is_wrong(settings, tmp_path, s3_endpoint):
    from typer.testing import CliRunner

    from lastmile.cli import app

    r = CliRunner().invoke(app, ["pod", "check-storage"], env=_cli_env(settings))
    assert r.exit_code == 0 and "can write and read" in r.output, r.output
    gone = s3_settings(tmp_path, s3_endpoint, f"gone-{uuid.uuid4().hex[:8]}")
    r = CliRunner().invoke(app, ["pod", "check-storage"], env=_cli_env(gone))
    assert r.exit_code == 1 and "does not exist" in r.output and "Traceback" not in r.output, r.output
