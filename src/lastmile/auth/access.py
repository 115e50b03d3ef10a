"""Who is calling, and may they? Every endpoint declares its callers with
``Depends(allow(...))`` (or ``Depends(public)``); the authorization matrix test
walks the app's routes and fails on any route that declares nothing.

Credentials:

* ``Authorization: Bearer lm_at_…`` -- a user's API token;
* ``Authorization: Bearer lm_sk_…`` -- a shipper's API key (role ``shipper``);
* the ``lastmile_session`` cookie -- a browser session; unsafe methods must also
  carry the CSRF token (``X-CSRF-Token`` header or ``csrf_token`` form field).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import Forbidden, Unauthorized
from ..kit.ids import hash_secret
from ..kit.ratelimit import RequestLimiter, Store, store_for
from ..kit.time import utcnow
from ..kit.web import get_app_settings
from .models import AccessToken, Shipper, ShipperApiKey, User

SESSION_COOKIE = "lastmile_session"
CSRF_COOKIE = "lastmile_csrf"
ACCESS_TOKEN_PREFIX = "lm_at_"
API_KEY_PREFIX = "lm_sk_"
ALL_ROLES = ("admin", "dispatcher", "driver", "shipper")
STAFF = ("admin", "dispatcher")


@dataclass(frozen=True)
class Principal:
    role: str  # admin | dispatcher | driver | shipper
    id: str  # user id, or shipper id for API keys
    organization_id: str
    shipper_id: str | None = None
    driver_id: str | None = None
    via: str = "bearer"  # bearer | session | api_key

    @property
    def actor(self) -> str:
        return f"{'shipper' if self.role == 'shipper' else 'user'}:{self.id}"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def csrf_token_for(settings: Settings, session_token: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), sha256).hexdigest()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _user_principal(session: Session, user: User, via: str) -> Principal:
    driver_id = None
    if user.role == "driver":
        from ..fleet.models import Driver

        driver_id = session.scalar(select(Driver.id).where(Driver.user_id == user.id))
    return Principal(user.role, user.id, user.organization_id, driver_id=driver_id, via=via)


def _from_token(session: Session, token: str, kind: str) -> Principal | None:
    row = session.execute(
        select(AccessToken, User)
        .join(User, User.id == AccessToken.user_id)
        .where(AccessToken.token_hash == hash_secret(token), AccessToken.kind == kind)
    ).first()
    if row is None:
        return None
    tok, user = row
    if tok.revoked_at is not None or tok.expires_at <= utcnow() or not user.active:
        return None
    return _user_principal(session, user, "session" if kind == "session" else "bearer")


def _from_api_key(session: Session, key: str) -> Principal | None:
    row = session.execute(
        select(ShipperApiKey, Shipper)
        .join(Shipper, Shipper.id == ShipperApiKey.shipper_id)
        .where(ShipperApiKey.key_hash == hash_secret(key))
    ).first()
    if row is None:
        return None
    k, shipper = row
    if k.revoked_at is not None or not shipper.active:
        return None
    return Principal("shipper", shipper.id, shipper.organization_id, shipper_id=shipper.id, via="api_key")


# Who a bearer secret is, remembered briefly per process: saves a query on every
# API call. Revoking in this process forgets at once; other processes within CACHE_S.
CACHE_S = 3.0
_cache: dict[str, tuple[float, Principal]] = {}


def forget_secret(secret_hash: str) -> None:
    _cache.pop(secret_hash, None)


def _cache_hit(token: str) -> Principal | None:
    hit = _cache.get(hash_secret(token))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def _cached_bearer(session: Session, token: str) -> Principal | None:
    h = hash_secret(token)
    hit = _cache.get(h)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    if token.startswith(API_KEY_PREFIX):
        p = _from_api_key(session, token)
    elif token.startswith(ACCESS_TOKEN_PREFIX):
        p = _from_token(session, token, "bearer")
    else:
        p = None
    if p is not None:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[h] = (now + CACHE_S, p)
    return p


def authenticate(
    request: Request, session: Session, settings: Settings, csrf_form_value: str | None = None
) -> Principal | None:
    """Blocking (database) part of authentication; runs in the thread pool."""
    token = _bearer(request)
    if token is not None:
        p = _cached_bearer(session, token)
        if p is None:
            raise Unauthorized("the token or API key is not valid")
        return p
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        p = _from_token(session, cookie, "session")
        if p is None:
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("x-csrf-token") or csrf_form_value
            if not sent or not hmac.compare_digest(sent, csrf_token_for(settings, cookie)):
                raise Forbidden("missing or wrong CSRF token", code="csrf")
        return p
    return None


def _authenticate_read_only(request: Request, settings: Settings, form_value: str | None) -> Principal | None:
    """Authenticate on a short read-only session of its own, so the request's
    (writer) session takes no lock before the endpoint runs."""
    with request.app.state.db.read_sessions() as session:
        return authenticate(request, session, settings, form_value)


async def _csrf_form_value(request: Request) -> str | None:
    if (
        request.method in ("GET", "HEAD", "OPTIONS")
        or _bearer(request) is not None
        or SESSION_COOKIE not in request.cookies
        or request.headers.get("x-csrf-token")
        or not request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        )
    ):
        return None
    form = await request.form()
    value = form.get("csrf_token")
    return value if isinstance(value, str) else None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def rate_limit_store(request: Request) -> Store:
    """The app's shared counter store (Redis or the database), made on first use."""
    state = request.app.state
    store: Store | None = getattr(state, "rate_limit_store", None)
    if store is None:
        store = state.rate_limit_store = store_for(state.settings, state.db)
    return store


def _request_limiter(request: Request) -> RequestLimiter:
    state = request.app.state
    lim: RequestLimiter | None = getattr(state, "request_limiter", None)
    if lim is None:
        s: Settings = state.settings
        lim = state.request_limiter = RequestLimiter(
            rate_limit_store(request), s.rate_limit_requests, s.rate_limit_window_s, s.rate_limit_sync_s)
    return lim


async def _limit(request: Request, credential: str | None) -> None:
    """The general request limit: per credential (its hash), or per client address
    for anonymous calls and credentials that did not authenticate. 429 + Retry-After."""
    key = "req:" + (hash_secret(credential)[:40] if credential else "ip:" + client_ip(request))
    lim = _request_limiter(request)
    if lim.needs_sync(key):
        await run_in_threadpool(lim.hit, key, True)
    else:
        lim.hit(key, False)


def allow(*roles: str) -> Callable[..., Any]:
    """Dependency: the caller must be authenticated with one of ``roles``."""
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    async def dependency(request: Request, settings: Settings = Depends(get_app_settings)) -> Principal:
        token = _bearer(request)
        p = _cache_hit(token) if token else None  # the common case needs no thread and no query
        if p is None:
            form_value = await _csrf_form_value(request)
            try:
                p = await run_in_threadpool(_authenticate_read_only, request, settings, form_value)
            except (Unauthorized, Forbidden):
                await _limit(request, None)  # bad credentials count against the address
                raise
        await _limit(request, (token or request.cookies.get(SESSION_COOKIE)) if p is not None else None)
        if p is None:
            raise Unauthorized("authentication required")
        if p.role not in roles:
            raise Forbidden(f"this action is not allowed for role {p.role}")
        request.state.principal = p
        return p

    dependency.__roles__ = tuple(roles)  # type: ignore[attr-defined]
    return dependency


async def public(request: Request) -> None:
    """Dependency marking an endpoint as open to anyone (e.g. login, tracking by token);
    rate-limited per client address."""
    await _limit(request, None)


public.__roles__ = ("public",)  # type: ignore[attr-defined]
