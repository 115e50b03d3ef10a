"""The POD page: one self-contained HTML document (images inline), Spanish and
English side by side, readable on a phone and printable."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from ..orders.models import Order
from .files import StorageBackend
from .models import PodRecord

KIND = {"delivered": ("Entregado", "Delivered"), "failed": ("Intento fallido", "Failed attempt"),
        "pickup": ("Recolección", "Pickup"), "scan_in": ("Recibido en almacén", "Scanned in at the depot")}
REASON = {"not_home": ("No había nadie", "Nobody home"), "refused": ("Rechazado", "Refused"),
          "address_not_found": ("Dirección no encontrada", "Address not found"), "unsafe": ("Zona insegura", "Unsafe"),
          "closed": ("Cerrado", "Closed"), "damaged": ("Dañado", "Damaged"),
          "not_attempted": ("No se intentó", "Not attempted")}


def local_time(iso: str | None, zone: str) -> str:
    if not iso:
        return "—"
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return dt.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def facts(rec: PodRecord, zone: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The record's payload and its lines as (label es / en, value), shared with the PDF."""
    body = json.loads(rec.payload)
    rows: list[tuple[str, str]] = [("Hora (servidor) / Server time", local_time(body.get("server_time"), zone)),
                                   ("Hora (teléfono) / Device time", local_time(body.get("device_time"), zone))]
    if body.get("recipient_name"):
        rows.append(("Recibió / Received by", body["recipient_name"]))
    if body.get("contactless"):
        rows.append(("Sin contacto / Contactless", "sí / yes"))
    if body.get("reason"):
        es, en = REASON.get(body["reason"], (body["reason"], body["reason"]))
        rows.append(("Motivo / Reason", f"{es} / {en}"))
    if body.get("note"):
        rows.append(("Nota / Note", body["note"]))
    pos = body.get("position")
    if pos:
        acc = f" ±{pos['accuracy']:.0f} m" if pos.get("accuracy") is not None else ""
        rows.append(("GPS", f"{pos['lat']:.6f}, {pos['lon']:.6f}{acc}"))
    if body.get("distance_m") is not None:
        rows.append(("Distancia al domicilio / Distance from address", f"{body['distance_m']} m"))
    cod = body.get("cod")
    if cod:
        ref = f" ({cod['reference']})" if cod.get("reference") else ""
        rows.append(("Cobro / Collected", f"{cod['amount'] / 100:.2f} {cod['currency']} {cod['method']}{ref}"))
    if body.get("scans"):
        rows.append(("Paquetes escaneados / Parcels scanned", ", ".join(body["scans"][:30])))
    if body.get("condition"):
        rows.append(("Estado / Condition", body["condition"]))
    if body.get("flags"):
        rows.append(("Avisos / Flags", ", ".join(body["flags"])))
    rows.append(("Registro / Record", f"{rec.route_id} #{rec.seq}"))
    rows.append(("SHA-256", rec.record_hash))
    rows.append(("Anterior / Previous", rec.prev_hash))
    return body, rows


def render(order: Order, records: list[PodRecord], storage: StorageBackend, zone: str) -> str:
    parts = []
    for rec in records:
        body, rows = facts(rec, zone)
        es, en = KIND.get(rec.kind, (rec.kind, rec.kind))
        table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
        imgs = []
        for f in body.get("files", []):
            data = storage.get(f["sha256"])
            if data is None:
                imgs.append(f"<p class=missing>{escape(f['role'])}: falta el archivo / file missing</p>")
                continue
            label = "Firma / Signature" if f["role"] == "signature" else "Foto / Photo"
            src = f"data:{f['content_type']};base64,{base64.b64encode(data).decode()}"
            imgs.append(f"<figure><img src=\"{src}\" alt=\"{label}\"><figcaption>{label}<br><code>"
                        f"{f['sha256']}</code></figcaption></figure>")
        parts.append(f"<section><h2>{escape(es)} / {escape(en)}</h2><table>{table}</table>{''.join(imgs)}</section>")
    if not parts:
        parts.append("<p>Aún no hay prueba de entrega / No proof of delivery yet.</p>")
    title = f"{order.reference or order.id}"
    return f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Prueba de entrega / Proof of delivery — {escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:48rem;color:#111}}
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.25rem;border-bottom:1px solid #ddd;
vertical-align:top;word-break:break-all}}th{{width:40%;font-weight:600}}img{{max-width:100%;border:1px solid #ccc}}
figure{{margin:.5rem 0}}code{{font-size:.75rem}}section{{margin-bottom:2rem}}</style></head>
<body><h1>Prueba de entrega / Proof of delivery</h1>
<p><strong>{escape(title)}</strong> · {escape(order.contact_name)} · {escape(order.address)}<br>
Estado / Status: {escape(order.status)}</p>
{''.join(parts)}
<p><small>Cada registro lleva el SHA-256 de su contenido y del registro anterior de la ruta / Each record carries
the SHA-256 of its content and of the route's previous record (<code>lastmile pod verify</code>).</small></p>
</body></html>"""
