// The analytics page: KPIs for a date range from /analytics/kpis, driver scorecards,
// the ROI comparison; charts with Chart.js (window.Chart, from npm), numbers beside them.
const STRINGS = {
  es: {
    "title": "Analítica", "nav.console": "Consola", "range.start": "Desde", "range.end": "Hasta",
    "range.group": "Agrupar por", "range.show": "Mostrar", "group.driver": "Conductor", "group.depot": "Almacén",
    "group.shipper": "Remitente", "group.day": "Día",
    "chart.rates": "Puntualidad y éxito al primer intento", "chart.productivity": "Entregas por hora de conductor",
    "chart.reasons": "Entregas fallidas por motivo", "table.title": "Detalle", "table.csv": "Exportar CSV",
    "score.title": "Tarjetas de conductores", "roi.title": "Retorno: lastmile frente a un despacho ingenuo",
    "roi.hint": "Los mismos pedidos, conductores y tráfico, asignados en orden de llegada al conductor más cercano con espacio, sin optimizar.",
    "roi.run": "Comparar", "roi.pdf": "Descargar PDF", "roi.running": "Comparando…", "roi.none": "No hay planes publicados en el rango.",
    "defs.title": "Definiciones", "defs.ontime": "A tiempo: llegada dentro de una ventana del pedido.",
    "defs.first": "Primer intento: pedidos entregados sin un intento fallido antes, entre los intentados.",
    "defs.hours": "Horas de conductor: inicio a fin de ruta registrados por la app; si no, la duración planeada.",
    "defs.cost": "Costo: fijo + por km + por hora de cada vehículo.",
    "card.delivered": "Entregas", "card.ontime": "A tiempo", "card.first": "Primer intento",
    "card.dph": "Entregas por hora", "card.cpd": "Costo por entrega", "card.kmpd": "km por entrega",
    "card.csat": "Satisfacción", "card.eta": "Error de ETA (min)",
    "col.name": "Nombre", "col.stops": "Paradas", "col.delivered": "Entregadas", "col.failed": "Fallidas",
    "col.on_time_rate": "A tiempo", "col.first_attempt_rate": "Primer intento", "col.driver_hours": "Horas",
    "col.deliveries_per_driver_hour": "Entregas/h", "col.km": "km plan", "col.actual_km": "km real", "col.speeding_fixes": "Exceso de velocidad", "col.km_per_delivery": "km/entrega",
    "col.cost_per_delivery": "Costo/entrega", "col.csat": "CSAT", "col.eta_mae_min": "Error ETA (min)",
    "roi.metric": "Indicador", "roi.lastmile": "lastmile", "roi.naive": "Ingenuo", "roi.diff": "Diferencia",
    "roi.km": "km recorridos", "roi.deliveries": "Entregas", "roi.dph": "Entregas por hora de conductor",
    "roi.late": "Paradas tarde", "roi.not_served": "Pedidos sin atender", "roi.cost": "Costo",
    "roi.contact": "Notificaciones enviadas: {sent} · mensajes de clientes: {msgs}",
    "reason.not_home": "No estaba", "reason.refused": "Rechazado", "reason.address_not_found": "Dirección no encontrada",
    "reason.unsafe": "Inseguro", "reason.closed": "Cerrado", "reason.damaged": "Dañado", "reason.unspecified": "Sin motivo",
    "empty": "Sin datos en este rango.", "error": "Error",
  },
  en: {
    "title": "Analytics", "nav.console": "Console", "range.start": "From", "range.end": "To",
    "range.group": "Group by", "range.show": "Show", "group.driver": "Driver", "group.depot": "Depot",
    "group.shipper": "Shipper", "group.day": "Day",
    "chart.rates": "On-time and first-attempt success", "chart.productivity": "Deliveries per driver-hour",
    "chart.reasons": "Failed deliveries by reason", "table.title": "Details", "table.csv": "Export CSV",
    "score.title": "Driver scorecards", "roi.title": "ROI: lastmile against a naive dispatcher",
    "roi.hint": "The same orders, drivers and traffic, given first come first served to the nearest driver with room, without optimization.",
    "roi.run": "Compare", "roi.pdf": "Download PDF", "roi.running": "Comparing…", "roi.none": "No published plans in the range.",
    "defs.title": "Definitions", "defs.ontime": "On time: arrival inside one of the order's windows.",
    "defs.first": "First attempt: orders delivered without an earlier failed attempt, over orders attempted.",
    "defs.hours": "Driver-hours: route start to finish as recorded by the app; else the planned duration.",
    "defs.cost": "Cost: each vehicle's fixed + per-km + per-hour rates.",
    "card.delivered": "Deliveries", "card.ontime": "On time", "card.first": "First attempt",
    "card.dph": "Deliveries per hour", "card.cpd": "Cost per delivery", "card.kmpd": "km per delivery",
    "card.csat": "Satisfaction", "card.eta": "ETA error (min)",
    "col.name": "Name", "col.stops": "Stops", "col.delivered": "Delivered", "col.failed": "Failed",
    "col.on_time_rate": "On time", "col.first_attempt_rate": "First attempt", "col.driver_hours": "Hours",
    "col.deliveries_per_driver_hour": "Deliveries/h", "col.km": "km planned", "col.actual_km": "km driven", "col.speeding_fixes": "Speeding", "col.km_per_delivery": "km/delivery",
    "col.cost_per_delivery": "Cost/delivery", "col.csat": "CSAT", "col.eta_mae_min": "ETA error (min)",
    "roi.metric": "Measure", "roi.lastmile": "lastmile", "roi.naive": "Naive", "roi.diff": "Difference",
    "roi.km": "km driven", "roi.deliveries": "Deliveries", "roi.dph": "Deliveries per driver-hour",
    "roi.late": "Late stops", "roi.not_served": "Orders not served", "roi.cost": "Cost",
    "roi.contact": "Notifications sent: {sent} · customer messages: {msgs}",
    "reason.not_home": "Not home", "reason.refused": "Refused", "reason.address_not_found": "Address not found",
    "reason.unsafe": "Unsafe", "reason.closed": "Closed", "reason.damaged": "Damaged", "reason.unspecified": "No reason",
    "empty": "No data in this range.", "error": "Error",
  },
};
const KEY = "lastmile.lang";
let lang = localStorage.getItem(KEY) || ((navigator.language || "es").toLowerCase().startsWith("en") ? "en" : "es");
const t = (k, vars = {}) => (STRINGS[lang][k] || STRINGS.es[k] || k).replace(/\{(\w+)\}/g, (_, v) => vars[v] ?? "");

function applyI18n() {
  document.documentElement.lang = lang;
  document.title = `lastmile · ${t("title")}`;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}

async function getJSON(path, params) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (r.status === 401) { location.reload(); throw new Error("signed out"); }
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && body.error && body.error.message) || `HTTP ${r.status}`);
  return body;
}

const pct = (x) => (x === null || x === undefined ? "–" : `${(x * 100).toFixed(1)} %`);
const num = (x, d = 1) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const money = (minor) => (minor === null || minor === undefined ? "–"
  : `${minor < 0 ? "-" : ""}$${(Math.abs(minor) / 100).toFixed(2)}`);
const FORMAT = {
  on_time_rate: pct, first_attempt_rate: pct, driver_hours: (x) => num(x, 1), deliveries_per_driver_hour: (x) => num(x, 2),
  km: (x) => num(x, 1), actual_km: (x) => num(x, 1), km_per_delivery: (x) => num(x, 2), cost_per_delivery: money, csat: (x) => num(x, 2),
  eta_mae_min: (x) => num(x, 1),
};
const COLUMNS = ["name", "stops", "delivered", "failed", "on_time_rate", "first_attempt_rate", "driver_hours",
  "deliveries_per_driver_hour", "km", "actual_km", "km_per_delivery", "cost_per_delivery", "csat", "eta_mae_min",
  "speeding_fixes"];

let state = { rows: [], total: null, scores: [], params: null, roi: null };
const charts = {};

function table(el, rows) {
  el.replaceChildren();
  if (!rows.length) { el.innerHTML = `<caption>${t("empty")}</caption>`; return; }
  const head = el.createTHead().insertRow();
  for (const c of COLUMNS) { const th = document.createElement("th"); th.textContent = t(`col.${c}`); th.scope = "col"; head.append(th); }
  const body = el.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const c of COLUMNS) { const td = tr.insertCell(); const v = r[c];
      td.textContent = v === null || v === undefined ? "–" : (FORMAT[c] || String)(v); td.dataset.col = c; }
  }
}

function cards(total) {
  const el = document.getElementById("cards");
  el.replaceChildren();
  if (!total) { el.textContent = t("empty"); return; }
  const items = [["card.delivered", String(total.delivered)], ["card.ontime", pct(total.on_time_rate)],
    ["card.first", pct(total.first_attempt_rate)], ["card.dph", num(total.deliveries_per_driver_hour, 2)],
    ["card.cpd", money(total.cost_per_delivery)], ["card.kmpd", num(total.km_per_delivery, 2)],
    ["card.csat", num(total.csat, 2)], ["card.eta", num(total.eta_mae_min, 1)]];
  for (const [k, v] of items) {
    const div = document.createElement("div");
    div.className = "card";
    div.innerHTML = `<span class="label"></span><span class="value"></span>`;
    div.querySelector(".label").textContent = t(k);
    div.querySelector(".value").textContent = v;
    div.dataset.card = k;
    el.append(div);
  }
}

function chart(id, config) {
  if (charts[id]) charts[id].destroy();
  if (!window.Chart) return;  // the numbers are in the table anyway
  charts[id] = new window.Chart(document.getElementById(id), { ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, ...config.options } });
}

function draw() {
  cards(state.total);
  table(document.getElementById("kpi-table"), state.rows);
  table(document.getElementById("score-table"), state.scores);
  const labels = state.rows.map((r) => r.name);
  chart("chart-rates", { type: "bar", data: { labels, datasets: [
    { label: t("col.on_time_rate"), data: state.rows.map((r) => (r.on_time_rate ?? 0) * 100), backgroundColor: "#1b7f3b" },
    { label: t("col.first_attempt_rate"), data: state.rows.map((r) => (r.first_attempt_rate ?? 0) * 100), backgroundColor: "#2563eb" },
  ] }, options: { scales: { y: { min: 0, max: 100 } } } });
  chart("chart-productivity", { type: "bar", data: { labels, datasets: [
    { label: t("col.deliveries_per_driver_hour"), data: state.rows.map((r) => r.deliveries_per_driver_hour ?? 0), backgroundColor: "#b45309" },
  ] } });
  const reasons = (state.total && state.total.failed_by_reason) || {};
  chart("chart-reasons", { type: "doughnut", data: { labels: Object.keys(reasons).map((k) => t(`reason.${k}`)),
    datasets: [{ data: Object.values(reasons), backgroundColor: ["#dc2626", "#f59e0b", "#7c3aed", "#0891b2", "#64748b", "#be185d", "#111827"] }] } });
  drawRoi();
}

function drawRoi() {
  const out = document.getElementById("roi-out");
  const roi = state.roi;
  if (!roi) { out.replaceChildren(); return; }
  if (!roi.plans) { out.textContent = t("roi.none"); return; }
  const a = roi.lastmile, b = roi.naive;
  const rows = [["roi.km", a.km, b.km, 1], ["roi.deliveries", a.deliveries, b.deliveries, 0],
    ["roi.dph", a.deliveries_per_driver_hour, b.deliveries_per_driver_hour, 2], ["roi.late", a.late_stops, b.late_stops, 0],
    ["roi.not_served", a.not_served, b.not_served, 0]];
  const tbl = document.createElement("table");
  tbl.id = "roi-table";
  tbl.innerHTML = `<thead><tr><th>${t("roi.metric")}</th><th>${t("roi.lastmile")}</th><th>${t("roi.naive")}</th><th>${t("roi.diff")}</th></tr></thead>`;
  const body = tbl.createTBody();
  for (const [k, x, y, d] of rows) {
    const tr = body.insertRow();
    tr.dataset.metric = k;
    const diff = x !== null && y !== null ? x - y : null;
    for (const v of [t(k), num(x, d), num(y, d), diff === null ? "–" : `${diff > 0 ? "+" : ""}${num(diff, d)}`]) tr.insertCell().textContent = v;
  }
  const tr = body.insertRow();
  for (const v of [t("roi.cost"), money(a.cost), money(b.cost), money(a.cost - b.cost)]) tr.insertCell().textContent = v;
  const contact = document.createElement("p");
  contact.textContent = t("roi.contact", { sent: roi.contact.notifications_sent ?? "–", msgs: roi.contact.customer_messages ?? "–" });
  out.replaceChildren(tbl, contact);
}

async function load(params) {
  const error = document.getElementById("error");
  error.hidden = true;
  try {
    const [grouped, all, scores] = await Promise.all([
      getJSON("/analytics/kpis", params), getJSON("/analytics/kpis", { ...params, group: "all" }),
      getJSON("/analytics/scorecards", { start: params.start, end: params.end }),
    ]);
    state = { ...state, rows: grouped.rows, total: all.rows[0] || null, scores: scores.rows, params, roi: null };
    document.getElementById("csv").href = `/analytics/kpis.csv?${new URLSearchParams(params)}`;
    document.getElementById("roi-pdf").href = `/analytics/roi.pdf?${new URLSearchParams({ start: params.start, end: params.end })}`;
    draw();
    document.body.dataset.loaded = "true";
  } catch (e) {
    error.textContent = `${t("error")}: ${e.message}`;
    error.hidden = false;
  }
}

function iso(d) { return d.toISOString().slice(0, 10); }

const form = document.getElementById("range");
const today = new Date();
form.start.value = iso(new Date(today.getTime() - 6 * 86400e3));
form.end.value = iso(today);
const q = new URLSearchParams(location.search);
for (const k of ["start", "end", "group"]) if (q.get(k)) form[k].value = q.get(k);
form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const params = { start: form.start.value, end: form.end.value, group: form.group.value };
  history.replaceState(null, "", `?${new URLSearchParams(params)}`);
  load(params);
});
document.getElementById("roi-run").addEventListener("click", async () => {
  const out = document.getElementById("roi-out");
  out.textContent = t("roi.running");
  try {
    state.roi = await getJSON("/analytics/roi", { start: form.start.value, end: form.end.value });
    drawRoi();
  } catch (e) { out.textContent = `${t("error")}: ${e.message}`; }
});
for (const b of document.querySelectorAll("[data-lang]")) {
  b.addEventListener("click", () => { lang = b.dataset.lang; localStorage.setItem(KEY, lang); applyI18n(); draw(); });
}
applyI18n();
form.requestSubmit();
