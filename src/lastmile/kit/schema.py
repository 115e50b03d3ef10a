"""Base for request/response schemas: strict about what clients send."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .ids import ID_PATTERN

Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=32, examples=["ord_01JD0000000000000000000000"])]


def _clean(value: Any, path: str = "") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'value'}: text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path or 'value'}: text is not valid Unicode") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _clean(k, path)
            _clean(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _clean(v, f"{path}[{i}]")


class Schema(BaseModel):
    """Input schema: unknown fields are errors; text must be storable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        _clean(data)
        if isinstance(data, dict):
            _raw_lengths(cls, data)
        return data


def _raw_lengths(cls: type[BaseModel], data: dict[str, Any]) -> None:
    """Text longer than its field's documented ``maxLength`` is refused as sent: the
    whitespace stripping would otherwise accept 201 characters where the schema says 200."""
    for name, field in cls.model_fields.items():
        value = data.get(field.alias or name)
        if not isinstance(value, str):
            continue
        limit = next((m.max_length for m in field.metadata if getattr(m, "max_length", None) is not None), None)
        if limit is not None and len(value) > limit:
            raise ValueError(f"{name}: at most {limit} characters")


class Out(BaseModel):
    """Output schema: built from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


def _reasonable_instant(v: datetime) -> datetime:
    if not 2000 <= v.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return v.astimezone(UTC)


Lat = Annotated[float, Field(strict=True, ge=-90, le=90, examples=[27.5306])]
Lon = Annotated[float, Field(strict=True, ge=-180, le=180, examples=[-99.4803])]
Timestamp = Annotated[AwareDatetime, AfterValidator(_reasonable_instant)]
Count = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]
Money = Annotated[int, Field(strict=True, ge=0, le=10**12, description="integer minor units (cents, centavos)")]
Skill = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]
Skills = Annotated[list[Skill], Field(max_length=20)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
ServiceDate = Annotated[date, AfterValidator(lambda d: d if 2000 <= d.year <= 2100 else _bad_year())]


def _bad_year() -> date:
    raise ValueError("must be between the years 2000 and 2100")
