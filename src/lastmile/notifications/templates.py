"""Message wording: defaults in code (Spanish and English), per-shipper overrides
from the database. Rendering is ``string.Template`` substitution of plain strings:
a template can name only the placeholders below, never reach an attribute, call
anything or read a file (no template injection, whoever wrote the override)."""

from __future__ import annotations

from string import Template

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Invalid
from .models import KINDS, NotificationTemplate

LANGUAGES = ("es", "en")
FORMATS = ("email", "short")  # email: subject + body; short: SMS and push text
PLACEHOLDERS = {
    "name": "the customer's name",
    "shipper": "the shipper's name",
    "reference": "the shipper's order reference",
    "link": "the customer's tracking page",
    "window": "the expected arrival window, local time (out_for_delivery)",
    "date": "the delivery date, local",
}
MAX_SUBJECT = 300
MAX_BODY = {"email": 5000, "short": 480}

# (kind, format, language) -> (subject, body)
DEFAULTS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("confirmed", "email", "es"): (
        "$shipper: tu pedido $reference está confirmado",
        "Hola $name:\n\nTu pedido $reference de $shipper está programado para el $date.\n"
        "Sigue tu entrega aquí: $link\n\nGracias.",
    ),
    ("confirmed", "email", "en"): (
        "$shipper: your order $reference is confirmed",
        "Hello $name,\n\nYour order $reference from $shipper is scheduled for $date.\n"
        "Track your delivery here: $link\n\nThank you.",
    ),
    ("out_for_delivery", "email", "es"): (
        "$shipper: tu pedido $reference va en camino",
        "Hola $name:\n\nTu pedido $reference salió a reparto. Llegada estimada: $window.\n"
        "Síguelo en vivo: $link",
    ),
    ("out_for_delivery", "email", "en"): (
        "$shipper: your order $reference is out for delivery",
        "Hello $name,\n\nYour order $reference is out for delivery. Expected arrival: $window.\n"
        "Follow it live: $link",
    ),
    ("approaching", "email", "es"): (
        "$shipper: el repartidor está cerca",
        "Hola $name:\n\nEl repartidor con tu pedido $reference está por llegar.\nSíguelo: $link",
    ),
    ("approaching", "email", "en"): (
        "$shipper: your driver is nearby",
        "Hello $name,\n\nThe driver with your order $reference is almost there.\nFollow it: $link",
    ),
    ("delivered", "email", "es"): (
        "$shipper: tu pedido $reference fue entregado",
        "Hola $name:\n\nTu pedido $reference fue entregado. Comprobante de entrega y calificación: $link",
    ),
    ("delivered", "email", "en"): (
        "$shipper: your order $reference was delivered",
        "Hello $name,\n\nYour order $reference was delivered. Proof of delivery and rating: $link",
    ),
    ("failed", "email", "es"): (
        "$shipper: no pudimos entregar tu pedido $reference",
        "Hola $name:\n\nHoy no pudimos entregar tu pedido $reference.\n"
        "Elige otro horario aquí: $link",
    ),
    ("failed", "email", "en"): (
        "$shipper: we could not deliver your order $reference",
        "Hello $name,\n\nWe could not deliver your order $reference today.\n"
        "Choose another time here: $link",
    ),
    ("confirmed", "short", "es"): ("", "$shipper: tu pedido $reference llega el $date. Síguelo: $link"),
    ("confirmed", "short", "en"): ("", "$shipper: your order $reference arrives on $date. Track it: $link"),
    ("out_for_delivery", "short", "es"): ("", "$shipper: tu pedido $reference va en camino, llega $window. $link"),
    ("out_for_delivery", "short", "en"): ("", "$shipper: your order $reference is on its way, arriving $window. $link"),
    ("approaching", "short", "es"): ("", "$shipper: el repartidor está por llegar con tu pedido $reference. $link"),
    ("approaching", "short", "en"): ("", "$shipper: your driver is almost there with order $reference. $link"),
    ("delivered", "short", "es"): ("", "$shipper: pedido $reference entregado. Comprobante: $link"),
    ("delivered", "short", "en"): ("", "$shipper: order $reference delivered. Proof of delivery: $link"),
    ("failed", "short", "es"): ("", "$shipper: no pudimos entregar tu pedido $reference. Elige otro horario: $link"),
    ("failed", "short", "en"): ("", "$shipper: we could not deliver order $reference. Pick another time: $link"),
}
assert all((k, f, lang) in DEFAULTS for k in KINDS for f in FORMATS for lang in LANGUAGES)


def format_for(channel: str) -> str:
    return "email" if channel == "email" else "short"


def check_template(text: str, field: str) -> Template:
    """A usable template, or 422: only known placeholders, well formed."""
    t = Template(text)
    if not t.is_valid():
        raise Invalid("malformed placeholder (use $name or ${name}; $$ for a dollar sign)", field=field)
    unknown = sorted(set(t.get_identifiers()) - set(PLACEHOLDERS))
    if unknown:
        raise Invalid(f"unknown placeholder ${unknown[0]}; known: {', '.join(sorted(PLACEHOLDERS))}", field=field)
    return t


def _render(text: str, values: dict[str, str]) -> str:
    safe = {k: str(values.get(k, "")) for k in PLACEHOLDERS}
    return Template(text).safe_substitute(safe)


def lookup(session: Session, shipper_id: str | None, kind: str, fmt: str, language: str) -> tuple[str, str]:
    """The shipper's override if it has one, else the default."""
    language = language if language in LANGUAGES else "es"
    if shipper_id is not None:
        with session.no_autoflush:
            row = session.execute(
                select(NotificationTemplate.subject, NotificationTemplate.body).where(
                    NotificationTemplate.shipper_id == shipper_id, NotificationTemplate.kind == kind,
                    NotificationTemplate.format == fmt, NotificationTemplate.language == language)
            ).first()
        if row is not None:
            return row[0], row[1]
    return DEFAULTS[(kind, fmt, language)]


def render(session: Session, shipper_id: str | None, kind: str, channel: str, language: str,
           values: dict[str, str]) -> tuple[str, str]:
    subject, body = lookup(session, shipper_id, kind, format_for(channel), language)
    # a subject is one line whatever a value holds (no header injection)
    subject = " ".join(_render(subject, values).split())[:MAX_SUBJECT]
    return subject, _render(body, values)
