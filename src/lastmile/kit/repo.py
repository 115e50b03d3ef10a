"""Loading one object inside the caller's organization (anything else is 'not found')."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from ..errors import NotFound

M = TypeVar("M")


def get_in_org(session: Session, model: type[M], obj_id: str, organization_id: str, what: str) -> M:
    obj: Any = session.get(model, obj_id)
    if obj is None or obj.organization_id != organization_id:
        raise NotFound(f"{what} not found")
    return obj
