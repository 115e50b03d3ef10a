"""Accounts, tokens, keys and the audit log. Services flush, never commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import Conflict, NotFound, Unauthorized
from ..kit.ids import hash_secret, new_secret
from ..kit.ratelimit import LoginThrottle, Store
from ..kit.time import utcnow
from .access import ACCESS_TOKEN_PREFIX, API_KEY_PREFIX, Principal, forget_secret
from .models import AccessToken, AuditEntry, Organization, Shipper, ShipperApiKey, User
from .passwords import hash_password, needs_rehash, verify_password


def record_audit(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Audit dispatcher and admin actions (who, what, when, before/after)."""
    if principal.role not in ("admin", "dispatcher"):
        return
    session.add(
        AuditEntry(
            organization_id=principal.organization_id,
            actor_id=principal.id,
            actor_role=principal.role,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=before,
            after=after,
        )
    )


def get_or_create_organization(session: Session, name: str = "lastmile") -> Organization:
    org = session.scalar(select(Organization).order_by(Organization.created_at).limit(1))
    if org is None:
        org = Organization(name=name)
        session.add(org)
        session.flush()
    return org


def create_user(
    session: Session,
    organization_id: str,
    email: str,
    password: str,
    role: str,
    name: str = "",
    language: str = "es",
) -> User:
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict("a user with this email already exists", field="email")
    user = User(
        organization_id=organization_id,
        email=email,
        name=name,
        role=role,
        language=language,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def login_throttle(settings: Settings, store: Store) -> LoginThrottle:
    """Failed logins counted per account and per client address, in Redis or the
    database, so every server process sees the same counts."""
    return LoginThrottle(store, settings.login_max_failures,
                         settings.login_max_failures_per_ip, settings.login_failure_window_s)


def check_password(
    session: Session, email: str, password: str, throttle: LoginThrottle | None = None, client_ip: str = ""
) -> User:
    """The user with this email and password, or 401; 429 (with Retry-After) once the
    account or the address has too many recent failures. A failure rolls ``session``
    back before counting (the count has its own transaction, and on SQLite the
    session must let go of the single writer connection first)."""
    email = email.strip().lower()
    if throttle is not None:
        throttle.check(email, client_ip)
    user = session.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        if throttle is not None:
            session.rollback()
            throttle.failed(email, client_ip)
        raise Unauthorized("wrong email or password")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def issue_token(session: Session, settings: Settings, user: User, kind: str) -> tuple[str, AccessToken]:
    ttl = settings.session_ttl_s if kind == "session" else settings.access_token_ttl_s
    secret = new_secret(ACCESS_TOKEN_PREFIX)
    tok = AccessToken(
        user_id=user.id, token_hash=hash_secret(secret), kind=kind, expires_at=utcnow() + timedelta(seconds=ttl)
    )
    session.add(tok)
    session.flush()
    return secret, tok


def revoke_token(session: Session, secret: str) -> None:
    forget_secret(hash_secret(secret))
    tok = session.scalar(select(AccessToken).where(AccessToken.token_hash == hash_secret(secret)))
    if tok is not None and tok.revoked_at is None:
        tok.revoked_at = utcnow()


def get_shipper(session: Session, principal: Principal, shipper_id: str) -> Shipper:
    shipper = session.get(Shipper, shipper_id)
    if shipper is None or shipper.organization_id != principal.organization_id:
        raise NotFound("shipper not found")
    if principal.role == "shipper" and principal.shipper_id != shipper.id:
        raise NotFound("shipper not found")
    return shipper


def create_api_key(session: Session, shipper: Shipper, name: str = "") -> tuple[str, ShipperApiKey]:
    secret = new_secret(API_KEY_PREFIX)
    key = ShipperApiKey(shipper_id=shipper.id, key_hash=hash_secret(secret), prefix=secret[:12], name=name)
    session.add(key)
    session.flush()
    return secret, key
