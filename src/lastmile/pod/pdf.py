"""The POD as a PDF (fpdf2): the same facts as the page, photo and signature embedded."""

from __future__ import annotations

import io

from fpdf import FPDF

from ..orders.models import Order
from .files import StorageBackend
from .models import PodRecord
from .pages import KIND, facts


def _t(text: str) -> str:
    """The built-in PDF fonts speak Latin-1 (enough for Spanish); anything else becomes '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def render(order: Order, records: list[PodRecord], storage: StorageBackend, zone: str) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_title(_t(f"Proof of delivery {order.reference or order.id}"))
    pdf.set_creator("lastmile")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _t("Prueba de entrega / Proof of delivery"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _t(f"{order.reference or order.id} - {order.contact_name}\n{order.address}\n"
                            f"Estado / Status: {order.status}"), new_x="LMARGIN", new_y="NEXT")
    if not records:
        pdf.ln(4)
        pdf.cell(0, 8, _t("Aun no hay prueba de entrega / No proof of delivery yet."), new_x="LMARGIN", new_y="NEXT")
    for rec in records:
        body, rows = facts(rec, zone)
        es, en = KIND.get(rec.kind, (rec.kind, rec.kind))
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 13)
        pdf.cell(0, 8, _t(f"{es} / {en}"), new_x="LMARGIN", new_y="NEXT")
        for label, value in rows:
            pdf.set_font("Helvetica", "B", 9)
            pdf.cell(70, 5, _t(label))
            pdf.set_font("Courier" if label in ("SHA-256", "Anterior / Previous") else "Helvetica", "", 9)
            pdf.multi_cell(0, 5, _t(str(value)), new_x="LMARGIN", new_y="NEXT")
        for f in body.get("files", []):
            data = storage.get(f["sha256"])
            label = "Firma / Signature" if f["role"] == "signature" else "Foto / Photo"
            pdf.set_font("Helvetica", "B", 9)
            pdf.cell(0, 6, _t(f"{label}  sha256 {f['sha256'][:16]}..."), new_x="LMARGIN", new_y="NEXT")
            if data is None:
                pdf.cell(0, 6, _t("falta el archivo / file missing"), new_x="LMARGIN", new_y="NEXT")
                continue
            try:
                pdf.image(io.BytesIO(data), w=60 if f["role"] == "signature" else 90)
            except Exception:  # an image fpdf2 cannot read must not lose the rest of the proof
                pdf.cell(0, 6, _t("(imagen no legible / image could not be embedded)"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
