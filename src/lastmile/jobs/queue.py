"""The one huey instance, chosen by settings; and 'enqueue after commit'."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..config import Settings, get_settings

log = logging.getLogger("lastmile.jobs")


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.queue_name, filename=str(settings.huey_path))


huey: Huey = make_huey(get_settings())
PENDING = "lastmile_after_commit"


def after_commit(session: Session, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` once this session's transaction commits; drop it on rollback.
    Jobs are enqueued only for changes that really happened. Inside a savepoint, the
    call waits for the outermost commit, and is dropped if that savepoint rolls back."""
    pending = session.info.setdefault(PENDING, [])
    if not any(f == fn and a == args for f, a, _ in pending):
        pending.append((fn, args, session.get_nested_transaction() or session.get_transaction()))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: the real commit comes later
    for fn, args, _ in session.info.pop(PENDING, []):
        try:
            fn(*args)
        except Exception:  # the outbox row is committed; the periodic sweep will pick it up
            log.exception("could not enqueue %s after commit", getattr(fn, "__name__", fn))


def _within(tx: Any, ancestor: Any) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the whole transaction: nothing happened
        session.info.pop(PENDING, None)
        return
    pending = session.info.get(PENDING)
    if pending:  # a savepoint: drop only what was asked for inside it
        session.info[PENDING] = [p for p in pending if not _within(p[2], previous_transaction)]


def db_ref(url: str) -> str | None:
    """What a job carries to find its database: nothing for the configured one
    (so no credentials go into the queue); the URL otherwise (tests, tools)."""
    return None if url == get_settings().effective_database_url else url


def database_from_ref(ref: str | None) -> Any:
    from ..db import Database, _databases, database_for

    if ref is None:
        return database_for(get_settings())
    if ref not in _databases:
        _databases[ref] = Database(ref)
    return _databases[ref]
