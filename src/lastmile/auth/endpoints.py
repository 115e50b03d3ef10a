from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import Conflict, NotFound
from ..kit.pagination import Page, keyset_page
from ..kit.schema import Id
from ..kit.time import utcnow
from ..kit.web import get_app_settings, get_session, snapshot
from . import service
from .access import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Principal,
    allow,
    client_ip,
    csrf_token_for,
    forget_secret,
    public,
    rate_limit_store,
)
from .models import AuditEntry, Shipper, User
from .schemas import (
    ApiKeyCreate,
    ApiKeyOut,
    AuditOut,
    MeOut,
    SessionOut,
    ShipperCreate,
    ShipperOut,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserOut,
)

router = APIRouter(tags=["auth"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


@router.post("/auth/token", response_model=TokenOut, dependencies=[Depends(public)])
def create_token(body: TokenRequest, request: Request, session: SessionDep, settings: SettingsDep) -> TokenOut:
    """Exchange email and password for an API bearer token."""
    throttle = service.login_throttle(settings, rate_limit_store(request))
    user = service.check_password(session, body.email, body.password, throttle, client_ip(request))
    secret, tok = service.issue_token(session, settings, user, "bearer")
    session.commit()
    throttle.succeeded(user.email)
    return TokenOut(access_token=secret, expires_at=tok.expires_at)


@router.post("/auth/login", response_model=SessionOut, dependencies=[Depends(public)])
def login(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(min_length=3, max_length=320)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
) -> SessionOut:
    """Browser login (form post): sets a secure, HTTP-only session cookie and a CSRF token."""
    throttle = service.login_throttle(settings, rate_limit_store(request))
    user = service.check_password(session, email.replace("\x00", ""), password, throttle, client_ip(request))
    secret, tok = service.issue_token(session, settings, user, "session")
    session.commit()
    throttle.succeeded(user.email)
    csrf = csrf_token_for(settings, secret)
    common = dict(secure=settings.cookie_secure, samesite="lax", max_age=settings.session_ttl_s, path="/")
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, **common)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, csrf, httponly=False, **common)  # type: ignore[arg-type]
    return SessionOut(csrf_token=csrf, expires_at=tok.expires_at)


@router.post("/auth/logout", status_code=204)
def logout(
    request: Request,
    response: Response,
    session: SessionDep,
    _: Principal = Depends(allow("admin", "dispatcher", "driver")),
) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    if token:
        service.revoke_token(session, token)
        session.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=MeOut)
def me(p: Principal = Depends(allow("admin", "dispatcher", "driver", "shipper"))) -> MeOut:
    return MeOut(role=p.role, id=p.id, organization_id=p.organization_id, shipper_id=p.shipper_id, driver_id=p.driver_id)


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, session: SessionDep, p: Principal = Depends(allow("admin"))) -> User:
    user = service.create_user(
        session, p.organization_id, body.email, body.password, body.role, body.name, body.language
    )
    service.record_audit(session, p, "user.create", "user", user.id, None, snapshot(user))
    session.commit()
    return user


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, p: Principal = Depends(allow("admin"))) -> list[User]:
    return list(session.scalars(select(User).where(User.organization_id == p.organization_id).order_by(User.id)))


@router.post("/shippers", response_model=ShipperOut, status_code=201)
def create_shipper(body: ShipperCreate, session: SessionDep, p: Principal = Depends(allow("admin"))) -> Shipper:
    if body.code and session.scalar(select(Shipper.id).where(Shipper.organization_id == p.organization_id,
                                                             Shipper.code == body.code)):
        raise Conflict("a shipper with this code exists", field="code")
    shipper = Shipper(organization_id=p.organization_id, code=body.code, name=body.name,
                      contact_email=body.contact_email)
    session.add(shipper)
    session.flush()
    service.record_audit(session, p, "shipper.create", "shipper", shipper.id, None, snapshot(shipper))
    session.commit()
    return shipper


@router.get("/shippers", response_model=list[ShipperOut])
def list_shippers(session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher"))) -> list[Shipper]:
    q = select(Shipper).where(Shipper.organization_id == p.organization_id).order_by(Shipper.id)
    return list(session.scalars(q))


@router.get("/shippers/{shipper_id}", response_model=ShipperOut)
def get_shipper(
    shipper_id: Id, session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "shipper"))
) -> Shipper:
    return service.get_shipper(session, p, shipper_id)


@router.post("/shippers/{shipper_id}/api-keys", response_model=ApiKeyOut, status_code=201)
def create_api_key(
    shipper_id: Id, body: ApiKeyCreate, session: SessionDep, p: Principal = Depends(allow("admin"))
) -> ApiKeyOut:
    """A new API key for a shipper. The secret is in the answer, and nowhere else, ever."""
    shipper = service.get_shipper(session, p, shipper_id)
    secret, key = service.create_api_key(session, shipper, body.name)
    service.record_audit(session, p, "api_key.create", "shipper_api_key", key.id, None, snapshot(key))
    session.commit()
    out = ApiKeyOut.model_validate(key)
    out.key = secret
    return out


@router.delete("/shippers/{shipper_id}/api-keys/{key_id}", status_code=204)
def revoke_api_key(
    shipper_id: Id, key_id: Id, session: SessionDep, p: Principal = Depends(allow("admin"))
) -> Response:
    from .models import ShipperApiKey

    shipper = service.get_shipper(session, p, shipper_id)
    key = session.get(ShipperApiKey, key_id)
    if key is None or key.shipper_id != shipper.id:
        raise NotFound("API key not found")
    before = snapshot(key)
    key.revoked_at = key.revoked_at or utcnow()
    forget_secret(key.key_hash)
    service.record_audit(session, p, "api_key.revoke", "shipper_api_key", key.id, before, snapshot(key))
    session.commit()
    return Response(status_code=204)


@router.get("/audit", response_model=Page[AuditOut])
def list_audit(
    session: SessionDep,
    p: Principal = Depends(allow("admin")),
    object_id: Annotated[Id | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[AuditOut]:
    q = select(AuditEntry).where(AuditEntry.organization_id == p.organization_id)
    if object_id:
        q = q.where(AuditEntry.object_id == object_id)
    rows, nxt = keyset_page(session, q, AuditEntry.id, cursor, limit)
    return Page[AuditOut](items=[AuditOut.model_validate(r) for r in rows], next_cursor=nxt)
