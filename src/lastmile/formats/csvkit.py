"""Reading CSV the way people actually make it: UTF-8 or Latin-1 (Excel in
Spanish), with or without a BOM, commas or semicolons, and errors reported per
row with the line number and the column, never a traceback."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class InputError(Exception):
    """The whole input is unusable (missing, empty, unreadable, wrong columns)."""


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def decode(data: bytes, source: str = "input") -> str:
    if not data.strip():
        raise InputError(f"{source} is empty")
    if b"\x00" in data[:4096]:
        raise InputError(f"{source} is not a text CSV file (binary content)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel "CSV" in Spanish locales is Windows-1252; Latin-1 never fails.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def rows(text: str, required: set[str], known: set[str], source: str = "input") -> Iterator[tuple[int, dict[str, str]]]:
    """Yields ``(line number, row)`` with normalized lower-case headers."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{source} is empty") from None
    cols = [re.sub(r"\s+", "_", h.strip().lower()) for h in header]
    if not any(cols):
        raise InputError(f"{source} has no header row")
    missing = sorted(required - set(cols))
    if missing:
        raise InputError(f"{source} is missing column(s): {', '.join(missing)}")
    unknown = sorted(set(cols) - known - {""})
    if unknown:
        raise InputError(f"{source} has unknown column(s): {', '.join(unknown)}; known columns: "
                         f"{', '.join(sorted(known))}")
    count = 0
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        count += 1
        line = reader.line_num
        if len(values) > len(cols):
            yield line, {"__error__": f"{len(values)} values but only {len(cols)} columns"}
            continue
        yield line, {c: v.strip() for c, v in zip(cols, values) if c}
    if count == 0:
        raise InputError(f"{source} has a header but no rows")


def parse_rows(text: str, required: set[str], known: set[str], build: Callable[[dict[str, str]], T],
               source: str = "input") -> tuple[list[tuple[int, T]], list[RowError]]:
    ok: list[tuple[int, T]] = []
    errors: list[RowError] = []
    for line, row in rows(text, required, known, source):
        if "__error__" in row:
            errors.append(RowError(line, "*", row["__error__"]))
            continue
        try:
            ok.append((line, build(row)))
        except FieldError as e:
            errors.append(RowError(line, e.field, e.message))
        except ValueError as e:
            errors.append(RowError(line, "*", str(e)))
    return ok, errors


# --- field parsers: each raises FieldError naming its column ---

def text(row: dict[str, str], col: str, required: bool = False) -> str:
    v = row.get(col, "")
    if required and not v:
        raise FieldError(col, "is required")
    return v


def number(row: dict[str, str], col: str, default: float | None = None, lo: float | None = None,
           hi: float | None = None) -> float:
    v = row.get(col, "")
    if v == "":
        if default is None:
            raise FieldError(col, "is required")
        return default
    try:
        x = float(v.replace(",", ".")) if v.count(",") == 1 and "." not in v else float(v)
    except ValueError:
        raise FieldError(col, f"{v!r} is not a number") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise FieldError(col, f"{v!r} is not a finite number")
    if lo is not None and x < lo:
        raise FieldError(col, f"{v} is below the minimum {lo:g}")
    if hi is not None and x > hi:
        raise FieldError(col, f"{v} is above the maximum {hi:g}")
    return x


def integer(row: dict[str, str], col: str, default: int | None = None, lo: int | None = None,
            hi: int | None = None) -> int:
    x = number(row, col, None if default is None else float(default), lo, hi)
    if x != int(x):
        raise FieldError(col, f"{row.get(col)!r} is not a whole number")
    return int(x)


_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def clock(row: dict[str, str], col: str, default: int | None = None) -> int | None:
    """``HH:MM`` (or ``HH:MM:SS``) local time -> seconds since midnight; ``24:00`` allowed."""
    v = row.get(col, "")
    if v == "":
        return default
    m = _TIME.match(v)
    if not m:
        raise FieldError(col, f"{v!r} is not a time like 09:30")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if mi > 59 or s > 59 or h > 24 or (h == 24 and (mi or s)):
        raise FieldError(col, f"{v!r} is not a valid time of day")
    return h * 3600 + mi * 60 + s


def flag(row: dict[str, str], col: str, default: bool = False) -> bool:
    v = row.get(col, "").lower()
    if v == "":
        return default
    if v in ("1", "yes", "y", "true", "si", "sí", "x"):
        return True
    if v in ("0", "no", "n", "false"):
        return False
    raise FieldError(col, f"{row.get(col)!r} is not yes/no")


def words(row: dict[str, str], col: str) -> frozenset[str]:
    v = row.get(col, "")
    return frozenset(w.strip().lower() for w in re.split(r"[;|,]", v) if w.strip())
