"""Rate limits shared by every server process: the per-credential request limit and
login throttling, in the database (SQLite, PostgreSQL) and in the real Redis."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient

from lastmile.app import create_app

from .conftest import FakeGeocoder

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def make_client(db, settings, ip: str = "203.0.113.7", **over) -> TestClient:
    app = create_app(settings.model_copy(update=over), database=db)
    app.state.geocoder = FakeGeocoder()
    return TestClient(app, base_url="https://testserver", client=(ip, 50000))


def wait_for_window(retry_after: str) -> None:
    """Sleep into the next window (not a timing assertion: the limit must let go)."""
    time.sleep(int(retry_after) + 0.05)


def assert_limited(r) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "too_many_requests" and r.json()["error"]["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 15 * 60


@pytest.mark.parametrize("sync_s", [0.0, 1.0], ids=["exact", "buffered"])
def test_request_limit_trips_per_credential_and_resets_after_the_window(db, settings, world, sync_s):
    with make_client(db, settings, rate_limit_requests=5, rate_limit_window_s=2, rate_limit_sync_s=sync_s) as c:
        # start at the beginning of a window so all five fit in it
        time.sleep(2 - time.time() % 2 + 0.01)
        h = world.headers["shipper"]
        assert [c.get("/orders", headers=h).status_code for _ in range(5)] == [200] * 5
        r = c.get("/orders", headers=h)
        assert_limited(r)
        # another credential has its own allowance
        assert c.get("/orders", headers=world.headers["shipper2"]).status_code == 200
        wait_for_window(r.headers["retry-after"])
        assert c.get("/orders", headers=h).status_code == 200


def test_anonymous_calls_and_bad_credentials_count_per_address(db, settings, world):
    with make_client(db, settings, rate_limit_requests=3, rate_limit_window_s=60, rate_limit_sync_s=0) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/orders", headers={"Authorization": "Bearer lm_sk_made_up_1"}).status_code == 401
        assert c.get("/orders").status_code == 401
        assert_limited(c.get("/orders", headers={"Authorization": "Bearer lm_sk_made_up_2"}))
        assert_limited(c.get("/track/nothing"))
        assert c.get("/orders", headers=world.headers["admin"]).status_code == 200  # a real credential: its own count
    with make_client(db, settings, ip="198.51.100.9", rate_limit_requests=3, rate_limit_window_s=60) as c:
        assert c.get("/healthz").status_code == 200  # another address


def test_two_app_instances_on_one_database_share_the_count(db, settings, world):
    """Two server processes without Redis: counts meet in the database."""
    kw = dict(rate_limit_requests=4, rate_limit_window_s=60, rate_limit_sync_s=0)
    with make_client(db, settings, **kw) as a, make_client(db, settings, **kw) as b:
        h = world.headers["dispatcher"]
        assert [x.get("/orders", headers=h).status_code for x in (a, b, a, b)] == [200] * 4
        assert_limited(b.get("/orders", headers=h))
        assert_limited(a.get("/orders", headers=h))


@pytest.mark.skipif(not _redis_up(), reason="Redis is not reachable on 127.0.0.1:6379")
def test_two_app_instances_on_one_redis_share_the_count(db, settings, world):
    import redis

    kw = dict(redis_url=REDIS_URL, rate_limit_requests=4, rate_limit_window_s=60, rate_limit_sync_s=0)
    with make_client(db, settings, **kw) as a, make_client(db, settings, **kw) as b:
        h = world.headers["shipper"]
        assert [x.get("/orders", headers=h).status_code for x in (a, b, a, b)] == [200] * 4
        assert_limited(a.get("/orders", headers=h))
        assert_limited(b.get("/orders", headers=h))
        keys = redis.Redis.from_url(REDIS_URL).keys("lastmile:rl:req:*")
        assert keys  # the count lives in Redis ...
    from lastmile.auth.models import RateLimitCounter
    from sqlalchemy import select

    with db.session() as s:  # ... and not in the database
        assert not s.scalars(select(RateLimitCounter).where(RateLimitCounter.key.like("req:%"))).all()


@pytest.mark.skipif(not _redis_up(), reason="Redis is not reachable on 127.0.0.1:6379")
def test_redis_window_resets(db, settings, world):
    kw = dict(redis_url=REDIS_URL, rate_limit_requests=2, rate_limit_window_s=1, rate_limit_sync_s=0)
    with make_client(db, settings, **kw) as a:
        time.sleep(1 - time.time() % 1 + 0.01)
        h = world.headers["admin"]
        assert [a.get("/orders", headers=h).status_code for _ in range(2)] == [200, 200]
        r = a.get("/orders", headers=h)
        assert_limited(r)
        wait_for_window(r.headers["retry-after"])
        assert a.get("/orders", headers=h).status_code == 200


def _fail_login(c, email: str) -> int:
    return c.post("/auth/token", json={"email": email, "password": "wrong guess"}).status_code


@pytest.mark.parametrize("store", ["database", "redis"])
def test_login_throttling_per_account_is_shared_by_processes_and_cleared_by_success(db, settings, world, store):
    if store == "redis" and not _redis_up():
        pytest.skip("Redis is not reachable")
    kw = dict(login_max_failures=4, login_max_failures_per_ip=100)
    if store == "redis":
        kw["redis_url"] = REDIS_URL
    from lastmile.auth.models import User
    from lastmile.auth.service import create_user

    email = f"clerk-{uuid.uuid4().hex[:8]}@example.com"  # fresh in Redis, which outlives the test
    with db.session() as s:
        create_user(s, world.org, email, "correct horse battery", "dispatcher")
        s.commit()
    good = {"email": email, "password": "correct horse battery"}
    r = uuid.uuid4().int
    ips = [f"10.{n}.{r // 256 % 256}.{r % 256}" for n in (1, 2)]  # Redis outlives the test: fresh addresses
    with make_client(db, settings, ip=ips[0], **kw) as a, make_client(db, settings, ip=ips[1], **kw) as b:
        assert [_fail_login(x, email) for x in (a, b, a)] == [401] * 3
        assert a.post("/auth/token", json=good).status_code == 200  # success forgets the failures
        assert [_fail_login(x, email) for x in (a, b, a, b)] == [401] * 4
        # four failures from two processes and two addresses: the account is locked everywhere
        r = b.post("/auth/token", json=good)
        assert_limited(r)
        assert int(r.headers["retry-after"]) > 60  # the 15-minute window
        assert_limited(a.post("/auth/login", data=good))
        # other accounts are not affected
        assert a.post("/auth/token", json={"email": "admin@example.com",
                                           "password": "correct horse battery"}).status_code == 200
    with db.session() as s:
        assert s.get(User, world.ids["user_admin"]).active


def test_login_throttling_per_address(db, settings, world):
    kw = dict(login_max_failures=100, login_max_failures_per_ip=5)
    with make_client(db, settings, ip="192.0.2.50", **kw) as c, \
            make_client(db, settings, ip="192.0.2.51", **kw) as other:
        # spraying many accounts from one address
        assert [_fail_login(c, f"user{i}@example.com") for i in range(5)] == [401] * 5
        assert_limited(c.post("/auth/token", json={"email": "admin@example.com",
                                                   "password": "correct horse battery"}))
        # the same account from another address still works
        assert other.post("/auth/token", json={"email": "admin@example.com",
                                               "password": "correct horse battery"}).status_code == 200


def test_default_limits_are_generous(settings):
    """bench/api.py sends about 6,000 requests with one API key in well under a minute
    of saturated load; the default must not turn those into 429s."""
    assert settings.rate_limit_requests >= 10_000 and settings.rate_limit_window_s <= 60
    assert settings.login_max_failures <= 20


def test_an_unreachable_redis_does_not_take_the_api_down(db, settings, world):
    """The request limit fails open (counting per process) when its store is down."""
    kw = dict(redis_url="redis://127.0.0.1:1/0", rate_limit_requests=3, rate_limit_window_s=60, rate_limit_sync_s=0)
    with make_client(db, settings, **kw) as c:
        h = world.headers["admin"]
        assert [c.get("/orders", headers=h).status_code for _ in range(3)] == [200] * 3
        assert_limited(c.get("/orders", headers=h))  # still limited, in this process
