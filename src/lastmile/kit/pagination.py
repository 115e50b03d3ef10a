"""Cursor pagination over time-ordered ids."""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from ..errors import Invalid

T = TypeVar("T")
_ID = re.compile(r"^[a-z]{2,5}_[0-9A-Z]{26}$")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        after = json.loads(raw)["after"]
        if not isinstance(after, str) or not _ID.match(after):
            raise ValueError
        return after
    except Exception:
        raise Invalid("cursor is not valid; use next_cursor from a previous page", field="cursor") from None


def keyset_page(session: Session, query: Select, id_column: Any, cursor: str | None,
                limit: int) -> tuple[list[Any], str | None]:
    """One page of ``query`` in id order after ``cursor``: (rows, next cursor or None)."""
    after = decode_cursor(cursor)
    if after:
        query = query.where(id_column > after)
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    return rows[:limit], (encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)
