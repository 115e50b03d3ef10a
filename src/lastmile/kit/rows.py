"""Insert rows without the ORM's unit of work, for the hottest write paths.

``insert_rows(session, [(table, values), ...])`` writes the rows now, in the session's
transaction: on PostgreSQL as one statement (data-modifying CTEs, one round trip;
foreign keys are checked at the end of the statement, so a child row may follow its
parent in the same call), elsewhere one INSERT per row, in order. No ORM objects, no
identity map, no flush bookkeeping -- which cost more CPU than the database did on an
order create. The rows are in the database afterwards: ``session.get`` and queries in
the same transaction read them back; a rollback (or a savepoint's) removes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

Row = tuple[Table, Mapping[str, Any]]


def _complete(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` plus the Python-side column defaults of the columns it leaves out
    (a CTE's INSERT would not apply them): a column another domain adds with a
    default needs no change here."""
    out = dict(values)
    for c in table.columns:
        if c.key in out or c.default is None:
            continue
        d = c.default
        if getattr(d, "is_scalar", False):
            out[c.key] = d.arg  # type: ignore[attr-defined]
        elif getattr(d, "is_callable", False):
            out[c.key] = d.arg(None)  # type: ignore[attr-defined]  # SQLAlchemy wraps it to take a context
    return out


# ((table, column keys), ...) -> the statement, built once (building one with inline
# values per call cost more CPU than the database spent inserting)
_statements: dict[tuple[Any, ...], Any] = {}


def _pg_statement(conn: Any, shape: tuple[tuple[Table, tuple[str, ...]], ...]) -> Any:
    """PostgreSQL: ``INSERT ... SELECT FROM json_populate_record`` per table, chained as
    CTEs: one parameter (the row as JSON) per row instead of one per column. psycopg
    caches its query conversion only for statements of at most 50 parameters, and
    binding ~75 values one by one cost more than the whole JSON encoding."""
    stmt = _statements.get(shape)
    if stmt is None:
        prep = conn.dialect.identifier_preparer

        def ins(i: int, t: Table, cols: tuple[str, ...]) -> str:
            # the JSON object's keys are the columns' keys; the record's fields their names
            names = ", ".join(prep.quote(t.c[c].name) for c in cols)
            table = prep.format_table(t)
            return (f"INSERT INTO {table} ({names}) SELECT {names} "
                    f"FROM json_populate_record(NULL::{table}, CAST(:r{i} AS json))")

        *head, last = shape
        with_ = ", ".join(f"ins_{i} AS ({ins(i, t, cols)})" for i, (t, cols) in enumerate(head))
        stmt = text((f"WITH {with_} " if head else "") + ins(len(head), *last))
        if len(_statements) > 1000:
            _statements.clear()
        _statements[shape] = stmt
    return stmt


_renamed: dict[Table, dict[str, str]] = {}


def _by_name(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` keyed by column name (the same as the key, unless a model says otherwise)."""
    renamed = _renamed.get(table)
    if renamed is None:
        renamed = _renamed[table] = {c.key: c.name for c in table.columns if c.key != c.name}
    return {renamed.get(k, k): x for k, x in values.items()} if renamed else values


def insert_rows(session: Session, rows: Sequence[Row]) -> None:
    if not rows:
        return
    session.flush()  # a pending parent row of the ORM's must be written first (no-op when clean)
    conn = session.connection()
    full = [(t, _complete(t, v)) for t, v in rows]
    if conn.dialect.name == "postgresql":
        shape = tuple((t, tuple(v)) for t, v in full)
        # orjson writes aware datetimes and dates in ISO 8601, which PostgreSQL reads back exactly
        params = {f"r{i}": orjson.dumps(_by_name(t, v)).decode() for i, (t, v) in enumerate(full)}
        conn.execute(_pg_statement(conn, shape), params)
        return
    for t, v in full:
        conn.execute(insert(t), v)
