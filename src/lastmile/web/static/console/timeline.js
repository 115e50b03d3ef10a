// A route's day as a Gantt-like SVG: one row per stop with its delivery window, the
// planned visit, the latest ETA and what actually happened (arrived → completed).
import { serverNow } from "./api.js";
import { hhmm, t } from "./i18n.js";
import { STATUS_COLOURS } from "./map.js";

const NS = "http://www.w3.org/2000/svg";
const ROW = 18;
const LEFT = 150;

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const ms = (v) => (typeof v === "number" ? v : v ? Date.parse(v) : NaN); // epoch ms or ISO text

export function renderTimeline(container, route, zone) {
  container.textContent = "";
  if (!route) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = t("timeline.pick");
    container.append(p);
    return;
  }
  const times = [ms(route.depart_at), ms(route.arrive_at)];
  if (route.break) times.push(ms(route.break.start), ms(route.break.end));
  for (const b of route.breaks || []) times.push(ms(b.start), ms(b.end));
  for (const s of route.stops) {
    times.push(ms(s.arrival_at), ms(s.end_at), ms(s.eta_at), ms(s.completed_at));
    for (const w of s.windows || []) times.push(ms(w.start), ms(w.end));
  }
  const now = serverNow();
  const valid = times.filter(Number.isFinite);
  const hour = 3600e3;
  const t0 = Math.floor(Math.min(...valid) / hour) * hour;
  const t1 = Math.ceil(Math.max(...valid) / hour) * hour;
  const width = Math.max(container.clientWidth || 900, 500);
  const height = (route.stops.length + 1) * ROW + 24;
  const x = (v) => LEFT + ((v - t0) / (t1 - t0 || 1)) * (width - LEFT - 10);
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("timeline.title") });
  for (let h = t0; h <= t1; h += hour) {
    svg.append(el("line", { x1: x(h), x2: x(h), y1: 14, y2: height, class: "tl-grid" }));
    svg.append(el("text", { x: x(h) + 2, y: 11, class: "tl-hour" }, hhmm(new Date(h).toISOString(), zone)));
  }
  if (now > t0 && now < t1) svg.append(el("line", { x1: x(now), x2: x(now), y1: 14, y2: height, class: "tl-now" }));
  // the route itself: depart → arrive
  const y0 = 18;
  svg.append(el("text", { x: 4, y: y0 + 12, class: "tl-label" }, `${route.driver_name || route.vehicle_name}`));
  svg.append(el("rect", { x: x(ms(route.depart_at)), y: y0 + 5, width: Math.max(2, x(ms(route.arrive_at)) - x(ms(route.depart_at))), height: 6, class: "tl-route", fill: route.colour }));
  // breaks on the route's row: the shift's window (hatched) and the ones taken (solid)
  const breakTitle = (b) => `${t("timeline.break")} ${hhmm(b.start, zone)}–${hhmm(b.end, zone)}`;
  if (route.break) {
    const r = el("rect", { x: x(ms(route.break.start)), y: y0 + 1, width: Math.max(2, x(ms(route.break.end)) - x(ms(route.break.start))), height: 14, class: "tl-break-window" });
    r.append(el("title", {}, breakTitle(route.break)));
    svg.append(r);
  }
  for (const b of route.breaks || []) {
    const end = Number.isFinite(ms(b.end)) ? ms(b.end) : now;
    const r = el("rect", { x: x(ms(b.start)), y: y0 + 3, width: Math.max(3, x(end) - x(ms(b.start))), height: 10, class: "tl-break" });
    r.append(el("title", {}, breakTitle({ start: b.start, end: new Date(end).toISOString() })));
    svg.append(r);
  }
  route.stops.forEach((s, i) => {
    const y = y0 + (i + 1) * ROW;
    const label = el("text", { x: 4, y: y + 12, class: "tl-label" }, `${s.seq}. ${s.reference || s.name || s.order_id}`.slice(0, 24));
    svg.append(label);
    for (const w of s.windows || []) {
      svg.append(el("rect", { x: x(ms(w.start)), y: y + 2, width: Math.max(2, x(ms(w.end)) - x(ms(w.start))), height: 14, class: "tl-window" }));
    }
    const a = ms(s.arrival_at), e = ms(s.end_at);
    svg.append(el("rect", { x: x(a), y: y + 5, width: Math.max(3, x(e) - x(a)), height: 8, class: "tl-planned" }));
    if (Number.isFinite(ms(s.arrived_at))) {
      const done = Number.isFinite(ms(s.completed_at)) ? ms(s.completed_at) : Math.max(now, ms(s.arrived_at));
      svg.append(el("rect", { x: x(ms(s.arrived_at)) - 2, y: y + 3, width: Math.max(5, x(done) - x(ms(s.arrived_at)) + 2), height: 12,
        fill: STATUS_COLOURS[s.status] || STATUS_COLOURS.done, class: "tl-actual" }));
    }
    if (Number.isFinite(ms(s.eta_at)) && !["done", "failed", "skipped"].includes(s.status)) {
      const ex = x(ms(s.eta_at));
      svg.append(el("path", { d: `M${ex} ${y + 3} l5 6 l-5 6 l-5 -6 z`, class: s.late_by_s > 0 ? "tl-eta late" : "tl-eta" },));
    }
    const title = el("title", {}, `${s.reference || s.order_id} · ${t("stop.window")} ${(s.windows || []).map((w) => `${hhmm(w.start, zone)}–${hhmm(w.end, zone)}`).join(", ")} · ${t("stop.planned")} ${hhmm(s.arrival_at, zone)} · ${t("stop.eta")} ${hhmm(s.eta_at, zone)} · ${t(`status.${s.status}`)}`);
    label.append(title);
  });
  container.append(svg);
}
