"""The learning tests reuse the server fixtures (SQLite and PostgreSQL from the
migrations; a published day planned by the engine)."""

from tests.server.conftest import (  # noqa: F401 -- fixtures
    app,
    client,
    db,
    pg_database,
    published_day,
    settings,
    sqlite_template,
    world,
)
