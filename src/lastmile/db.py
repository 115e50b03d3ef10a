"""Engine and session factory. SQLite by default (a file in the data directory,
created and migrated on first start), PostgreSQL via ``LASTMILE_DATABASE_URL``
(psycopg 3). The schema changes only through Alembic migrations in ``lastmile/migrations/`` (inside the
package, so an installed lastmile can migrate its own database).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from .config import Settings, normalize_database_url

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def model_modules() -> list[str]:
    """Every domain folder's ``models`` module (``lastmile.<domain>.models``), found on
    disk so a new domain needs no registration here; Alembic and the app import them."""
    root = Path(__file__).resolve().parent
    return sorted(f"lastmile.{p.parent.name}.models" for p in root.glob("*/models.py"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in Python, UTC in the database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")


def import_models() -> MetaData:
    for name in model_modules():
        importlib.import_module(name)
    return Base.metadata


def make_engine(url: str, *, readonly: bool = False, **kw: Any) -> Engine:
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if readonly:
            kw.setdefault("pool_size", 20)
            kw.setdefault("max_overflow", 20)
        else:
            # One writer connection per process, handed out first come, first served.
            # SQLite allows one writer at a time anyway, and its busy handler is not
            # fair: with dozens of threads polling for the lock some starve past any
            # timeout. Queueing in the pool instead keeps waits short and ordered.
            kw.setdefault("pool_size", 1)
            kw.setdefault("max_overflow", 0)
            kw.setdefault("pool_timeout", 120)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _rec: Any) -> None:
            # Let SQLAlchemy own BEGIN, so writers take the lock up front (no upgrade deadlocks).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Writers take the write lock at BEGIN: no read-then-write upgrade deadlocks.
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    kw.setdefault("pool_size", 20)
    kw.setdefault("max_overflow", 40)
    engine = create_engine(url, **kw)
    _ping_when_idle(engine)
    return engine


IDLE_PING_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle for IDLE_PING_S:
    a connection handed back milliseconds ago is alive, and ``pool_pre_ping``'s
    round trip on every checkout was a tenth of a short request. Stale ones (a
    database restart while idle) are still caught and replaced before use."""
    import time

    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, rec: Any) -> None:
        rec.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, rec: Any, _proxy: Any) -> None:
        since = rec.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:
            raise exc.DisconnectionError() from e  # the pool retries with a new connection


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = normalize_database_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite: reads need not queue behind writers (WAL); PostgreSQL: one pool.
        self.read_engine = make_engine(self.url, readonly=True) if self.is_sqlite else self.engine
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for jobs and scripts; the caller commits."""
        s = self.sessions()
        try:
            yield s
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def migrate(self) -> None:
        migrate(self.url, engine=self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    here = Path(__file__).resolve().parent
    ini = here.parents[1] / "alembic.ini"  # a source checkout has one; an installed package not
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(here / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, engine: Engine | None = None, revision: str = "heads") -> None:
    """``alembic upgrade heads``, programmatically. "heads": domains developed side by
    side may each add a migration on the same parent; a merge revision joins them."""
    from alembic import command

    cfg = alembic_config(url)
    if engine is not None:
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    else:
        command.upgrade(cfg, revision)


_databases: dict[str, Database] = {}


def database_for(settings: Settings) -> Database:
    """The process-wide Database for these settings (created once)."""
    url = settings.effective_database_url
    if url not in _databases:
        _databases[url] = Database(url)
    return _databases[url]
