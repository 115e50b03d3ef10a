from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field

from ..kit.schema import Out, Schema

Role = Literal["admin", "dispatcher", "driver"]
Password = Annotated[str, Field(min_length=12, max_length=200)]


class TokenRequest(Schema):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class SessionOut(Out):
    csrf_token: str
    expires_at: datetime


class UserCreate(Schema):
    email: EmailStr
    password: Password
    name: Annotated[str, Field(max_length=200)] = ""
    role: Role
    language: Literal["es", "en"] = "es"


class UserOut(Out):
    id: str
    email: str
    name: str
    role: str
    language: str
    active: bool
    organization_id: str


class MeOut(Out):
    role: str
    id: str
    organization_id: str
    shipper_id: str | None = None
    driver_id: str | None = None


class ShipperCreate(Schema):
    code: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    contact_email: EmailStr | None = None


class ShipperOut(Out):
    id: str
    code: str | None
    name: str
    contact_email: str | None
    active: bool


class ApiKeyCreate(Schema):
    name: Annotated[str, Field(max_length=200)] = ""


class ApiKeyOut(Out):
    id: str
    shipper_id: str
    name: str
    prefix: str
    created_at: datetime
    key: str | None = Field(None, description="The secret; shown only once, when created.")


class AuditOut(Out):
    id: str
    at: datetime
    actor_id: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
