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

from sqlalchemy import Table, bindparam, insert
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


# (dialect, ((table, column keys), ...)) -> the statement: built once, so SQLAlchemy's
# cache key is memoized on it (building statements with inline values per call cost
# more CPU than the database spent inserting)
_statements: dict[tuple[Any, ...], Any] = {}


def _statement(pg: bool, shape: tuple[tuple[Table, tuple[str, ...]], ...]) -> Any:
    key = (pg, shape)
    stmt = _statements.get(key)
    if stmt is None:
        def ins(i: int, t: Table, cols: tuple[str, ...]) -> Any:
            return insert(t).values({c: bindparam(f"r{i}_{c}", type_=t.c[c].type) for c in cols})

        *head, last = shape
        stmt = ins(len(head), *last)
        for i, (t, cols) in enumerate(head):
            stmt = stmt.add_cte(ins(i, t, cols).cte(f"ins_{i}"))
        if len(_statements) > 1000:
            _statements.clear()
        _statements[key] = stmt
    return stmt


def insert_rows(session: Session, rows: Sequence[Row]) -> None:
    if not rows:
        return
    session.flush()  # a pending parent row of the ORM's must be written first (no-op when clean)
    conn = session.connection()
    full = [(t, _complete(t, v)) for t, v in rows]
    if conn.dialect.name == "postgresql":
        shape = tuple((t, tuple(v)) for t, v in full)
        params = {f"r{i}_{k}": x for i, (_, v) in enumerate(full) for k, x in v.items()}
        conn.execute(_statement(True, shape), params)
        return
    for t, v in full:
        conn.execute(_statement(False, ((t, tuple(v)),)), {f"r0_{k}": x for k, x in v.items()})
