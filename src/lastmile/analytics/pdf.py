"""The ROI comparison as a PDF (fpdf2), in Spanish and English side by side."""

from __future__ import annotations

from typing import Any

from fpdf import FPDF

ROWS = (
    ("km", "km recorridos / km driven", 1),
    ("deliveries", "Entregas / Deliveries", 0),
    ("driver_hours", "Horas de conductor / Driver-hours", 1),
    ("deliveries_per_driver_hour", "Entregas por hora / Deliveries per driver-hour", 2),
    ("km_per_delivery", "km por entrega / km per delivery", 2),
    ("late_stops", "Paradas tarde / Late stops", 0),
    ("not_served", "Sin atender / Not served", 0),
)


def _t(text: str) -> str:
    """The built-in PDF fonts speak Latin-1 (enough for Spanish)."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _n(v: Any, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}" if digits else str(v)


def _money(minor: int | None) -> str:
    return "-" if minor is None else f"{'-' if minor < 0 else ''}${abs(minor) / 100:,.2f}"


def roi_pdf(roi: dict[str, Any], organization: str) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_title(_t(f"lastmile ROI {roi['start']} - {roi['end']}"))
    pdf.set_creator("lastmile")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _t("Retorno de lastmile / lastmile ROI"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, _t(
        f"{organization} - {roi['start']} a/to {roi['end']} - {roi['plans']} planes publicados / published plans\n"
        "Frente a un despacho ingenuo (mismos pedidos, conductores y trafico; orden de llegada al conductor mas "
        "cercano con espacio) / Against a naive dispatcher (same orders, drivers and traffic; first come to the "
        "nearest driver with room)."), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    a, b = roi["lastmile"], roi["naive"]
    widths = (86, 35, 35, 35)
    pdf.set_font("Helvetica", "B", 11)
    for w, head in zip(widths, ("", "lastmile", "Ingenuo / Naive", "Diferencia / Diff.")):
        pdf.cell(w, 8, _t(head), border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 11)
    for key, label, digits in ROWS:
        x, y = a.get(key), b.get(key)
        diff = None if x is None or y is None else x - y
        cells = (label, _n(x, digits), _n(y, digits), "-" if diff is None else ("+" if diff > 0 else "") + _n(diff, digits))
        for w, c in zip(widths, cells):
            pdf.cell(w, 7, _t(c), border="B")
        pdf.ln()
    for w, c in zip(widths, ("Costo / Cost", _money(a["cost"]), _money(b["cost"]), _money(a["cost"] - b["cost"]))):
        pdf.cell(w, 7, _t(c), border="B")
    pdf.ln(10)
    s = roi["savings"]
    lines = [f"km ahorrados / km saved: {s['km_saved']} ({s['km_saved_pct']} %)",
             f"Entregas por hora / deliveries per driver-hour: {s['deliveries_per_driver_hour_gain_pct']} %",
             f"Paradas tarde evitadas / late stops avoided: {s['late_stops_avoided']}",
             f"Notificaciones enviadas / notifications sent: {roi['contact']['notifications_sent']} - "
             f"mensajes de clientes / customer messages: {roi['contact']['customer_messages']}"]
    pdf.multi_cell(0, 6, _t("\n".join(lines)), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
