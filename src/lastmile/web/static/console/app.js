// The dispatch console: loads the day (GET /console/day), keeps it current from the
// live stream (GET /live/stream, Server-Sent Events) and calls the API for every
// intervention. No framework: state in one object, small render functions per panel.
import { api, ApiError, get, post, serverNow } from "./api.js";
import { applyI18n, getLang, hhmm, onLangChange, t, wireLangSwitch } from "./i18n.js";
import { DayMap, routeColour, STATUS_COLOURS } from "./map.js";
import { renderTimeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const FINAL = new Set(["done", "failed", "skipped"]);
const config = JSON.parse($("console-config").textContent);

const state = {
  day: new URLSearchParams(location.search).get("date") || "",
  data: null,
  view: "live", // live: published routes; draft: the newest unpublished plan
  routes: [],
  routeById: new Map(),
  stopById: new Map(), // stop id -> {stop, route}
  depots: new Map(),
  zone: undefined,
  live: new Map(), // driver id -> {state, position}
  pendingPositions: new Map(),
  selectedRoute: null,
  alerts: [],
  proposals: [],
  pending: [],
  planPoll: null,
  moving: null, // {orderId, stopId}
  reshape: null, // {kind: "split" | "merge", routeId}
};
// what tests and bench/console.py read
const probe = (window.__console = { ready: false, positions: 0, flushes: 0, lastFlush: 0, loads: 0, ingest: (m) => onMessage(m) });

// ---------- helpers ----------
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function toast(text, kind = "info") {
  const el = $("toast");
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function fail(e) {
  console.error(e);
  toast(`${t("error")}: ${e instanceof ApiError ? e.message : e}`, "error");
}

const routeName = (r) => r.driver_name || r.vehicle_name || r.id;
const reasonText = (r) => (getLang() === "es" && r.message_es ? r.message_es : r.message || r.code);
const prioBadge = (p) => (p > 0 ? ` <span class="prio" title="${esc(t("prio.title", { p }))}">${esc(t("prio.short", { p }))}</span>` : "");

function debounce(fn, ms) {
  let h = null;
  return (...a) => { clearTimeout(h); h = setTimeout(() => fn(...a), ms); };
}

/** Epoch milliseconds of a time given as epoch ms (the day's answer) or ISO text (live messages). */
const ms = (v) => (typeof v === "number" ? v : v ? Date.parse(v) : NaN);

/** GET /console/day sends each route's stops column by column (times in seconds from
 * t0, status as an index): one object per stop here, times as epoch milliseconds. */
function expandStops(cols, t0, statuses) {
  const out = [];
  const at = (v) => (v === null || v === undefined ? null : (t0 + v) * 1000);
  for (let i = 0; i < cols.id.length; i++) {
    const w = cols.win[i] || [];
    const windows = [];
    for (let k = 0; k + 1 < w.length; k += 2) windows.push({ start: (t0 + w[k]) * 1000, end: (t0 + w[k + 1]) * 1000 });
    out.push({
      id: cols.id[i], order_id: cols.order_id[i], seq: cols.seq[i], status: statuses[cols.st[i]] || "planned",
      lat: cols.lat[i], lon: cols.lon[i], reference: cols.ref[i], name: cols.name[i], priority: cols.prio[i],
      locked: !!cols.lock[i], windows, arrival_at: at(cols.arr[i]), end_at: at(cols.end[i]), eta_at: at(cols.eta[i]),
      arrived_at: at(cols.in[i]), completed_at: at(cols.out[i]),
    });
  }
  return out;
}

function windowEnd(s) {
  const planned = ms(s.arrival_at);
  let last = NaN;
  for (const w of s.windows || []) {
    const a = ms(w.start), b = ms(w.end);
    if (planned >= a && planned <= b) return b;
    if (!(last >= b)) last = b;
  }
  return last;
}

/** Seconds a stop is predicted to be late (0 if on time or finished). */
function lateBy(s) {
  if (FINAL.has(s.status) || s.status === "arrived") return 0;
  if (Number.isFinite(s.late_by_s)) return Math.max(0, s.late_by_s);
  const end = windowEnd(s);
  if (!Number.isFinite(end)) return 0;
  const predicted = Math.max(ms(s.eta_at || s.arrival_at), serverNow());
  return Math.max(0, Math.round((predicted - end) / 1000));
}

function driverState(route) {
  if (route.on_break) return "on_break";
  const live = route.driver_id && state.live.get(route.driver_id);
  if (live && live.state) return live.state;
  if (route.status === "finished") return "unknown";
  return route.status === "started" ? "offline" : "unknown";
}

// ---------- loading ----------
async function loadDay() {
  const query = { date: state.day || undefined };
  if (state.view === "draft" && state.data && state.data.draft) query.plan_id = state.data.draft.id;
  const data = await get("/console/day", query);
  if (state.view === "draft" && !query.plan_id) state.view = "live";
  state.data = data;
  state.day = data.date;
  $("day").value = data.date;
  state.depots = new Map(data.depots.map((d) => [d.id, d]));
  state.zone = data.depots[0] && data.depots[0].timezone;
  state.routes = data.routes;
  state.routeById = new Map();
  state.stopById = new Map();
  data.routes.forEach((r, i) => {
    r.colour = routeColour(i);
    r.stops = Array.isArray(r.stops) ? r.stops : expandStops(r.stops, data.t0, data.statuses);
    state.routeById.set(r.id, r);
    for (const s of r.stops) state.stopById.set(s.id, { stop: s, route: r });
  });
  if (state.selectedRoute && !state.routeById.has(state.selectedRoute)) state.selectedRoute = null;
  map.setDepots(data.depots);
  map.setRoutes(data.routes, state.depots);
  map.highlightRoute(state.selectedRoute);
  renderDepotSelect();
  renderRoutes();
  renderDraft();
  renderPending(); // which pending orders are on the routes in view changed
  renderTimelinePanel();
  probe.loads += 1;
}

async function loadLive() {
  try {
    const drivers = await get("/tracking/live");
    state.live = new Map(drivers.map((d) => [d.driver_id, d]));
    for (const d of drivers) if (d.position) state.pendingPositions.set(d.driver_id, { driver_id: d.driver_id, route_id: d.route_id, ...d.position });
    scheduleFlush();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) console.warn("tracking", e);
  }
}

async function loadAlerts() {
  try {
    const out = await get("/alerts", { date: state.day });
    state.alerts = out.alerts;
  } catch (e) { console.warn("alerts", e); }
  renderAlerts();
}

async function loadProposals() {
  try {
    const out = await get("/proposals", { status: "open" });
    state.proposals = Array.isArray(out) ? out : out.proposals || out.items || [];
  } catch (e) {
    state.proposals = [];
    if (!(e instanceof ApiError && e.status === 404)) console.warn("proposals", e);
  }
  renderProposals();
}

async function loadPending() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 25; page++) {
    const out = await get("/orders", { date: state.day, status: "pending", limit: 200, cursor });
    items.push(...out.items);
    cursor = out.next_cursor;
    if (!cursor) break;
  }
  state.pending = items;
  renderPending();
}

const reloadDayLater = debounce(() => loadDay().catch(fail).finally(() => { probe.reloading = false; }), 400);
const reloadDay = () => { probe.reloading = true; reloadDayLater(); }; // tests wait for !reloading
const reloadAlerts = debounce(() => loadAlerts(), 800);
const reloadPending = debounce(() => loadPending().catch(fail), 400);

// ---------- rendering ----------
function renderRoutes() {
  const list = $("route-list");
  $("count-routes").textContent = String(state.routes.length);
  if (!state.routes.length) {
    list.innerHTML = `<li class="muted">${esc(t("route.none"))}</li>`;
    return;
  }
  const html = [];
  for (const r of state.routes) html.push(routeItem(r));
  list.innerHTML = html.join("");
}

function routeItem(r) {
  const total = r.stops.length;
  const done = r.stops.filter((s) => FINAL.has(s.status)).length;
  const late = Math.max(0, ...r.stops.map(lateBy));
  const ds = driverState(r);
  const open = state.selectedRoute === r.id;
  const lateText = late > 0 ? `<span class="late">${esc(t("route.late", { min: Math.ceil(late / 60) }))}</span>` : `<span class="ok">${esc(t("route.ontime"))}</span>`;
  let stops = "";
  if (open) {
    stops = `<div class="route-tools"><button type="button" class="mini" data-action="split" data-route="${r.id}">${esc(t("route.split"))}</button>`
      + `<button type="button" class="mini" data-action="merge" data-route="${r.id}">${esc(t("route.merge"))}</button></div>`
      + `<ol class="stops" data-route="${r.id}">` + r.stops.map((s) => stopItem(s, r)).join("") + "</ol>";
  }
  return `<li class="route${open ? " open" : ""}" id="route-${r.id}" data-route="${r.id}">
    <button type="button" class="route-head" data-route="${r.id}" aria-expanded="${open}" draggable="true" title="${esc(t("merge.drop"))}">
      <i class="swatch" style="background:${r.colour}"></i>
      <span class="name">${esc(r.driver_name || r.vehicle_name || r.id)}${r.published ? "" : ` <em>(${esc(t("route.draft"))})</em>`}</span>
      <span class="progress-text">${esc(t("route.progress", { done, total }))}</span>
      <span class="meter"><span style="width:${total ? (100 * done) / total : 0}%"></span></span>
      ${lateText}
      <span class="driver-state" id="dstate-${r.id}" data-state="${ds}">${esc(t(`driver.${ds}`))}</span>
    </button>${stops}</li>`;
}

function stopItem(s, r) {
  const late = lateBy(s);
  const win = (s.windows || []).map((w) => `${hhmm(w.start, state.zone)}–${hhmm(w.end, state.zone)}`).join(", ");
  return `<li class="stop" id="stop-${s.id}" data-stop="${s.id}" tabindex="0" draggable="true" data-status="${s.status}">
    <i class="dot" style="background:${STATUS_COLOURS[s.status]}"></i>
    <span class="seq">${s.seq}</span>
    <span class="ref">${esc(s.reference || s.order_id)}${prioBadge(s.priority)}</span>
    <span class="who">${esc(s.name)}</span>
    <span class="times">${esc(win)} · ${FINAL.has(s.status) && s.completed_at ? `${esc(t(`status.${s.status}`))} ${esc(hhmm(s.completed_at, state.zone))}` : `${esc(t("stop.eta"))} ${esc(hhmm(s.eta_at || s.arrival_at, state.zone))}`}${late > 0 ? ` <b class="late">+${Math.ceil(late / 60)}′</b>` : ""}</span>
    <span class="st">${esc(t(`status.${s.status}`))}${s.locked ? ` · 🔒 ${esc(t("stop.locked"))}` : ""}</span>
    <button type="button" class="mini" data-action="move" data-stop="${s.id}">${esc(t("stop.move"))}</button>
    <button type="button" class="mini" data-action="lock" data-stop="${s.id}">${esc(t(s.locked ? "stop.unlock" : "stop.lock"))}</button>
  </li>`;
}

function rerenderRoute(routeId) {
  const r = state.routeById.get(routeId);
  const li = $(`route-${routeId}`);
  if (!r || !li) return;
  const focusedStop = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.stop;
  const focusedHead = document.activeElement && document.activeElement.classList.contains("route-head") && document.activeElement.dataset.route;
  li.outerHTML = routeItem(r);
  if (focusedStop && $(`stop-${focusedStop}`)) $(`stop-${focusedStop}`).focus();
  else if (focusedHead && $(`route-${focusedHead}`)) $(`route-${focusedHead}`).querySelector(".route-head").focus();
}

function renderDraft() {
  const d = state.data && state.data.draft;
  const banner = $("draft-banner");
  if (!d || d.status !== "done") {
    banner.hidden = true;
    if (d && (d.status === "queued" || d.status === "running") && !state.planPoll) pollPlan(d.id);
    return;
  }
  const st = d.stats || {};
  $("draft-text").textContent = t("plan.ready", { routes: st.routes ?? "?", assigned: st.assigned ?? "?", unassigned: (d.unassigned || []).length });
  $("show-draft").textContent = t(state.view === "draft" ? "plan.show_live" : "plan.show");
  $("draft-editing").hidden = state.view !== "draft";
  banner.hidden = false;
}

function renderPending() {
  const reasons = new Map(((state.data && state.data.draft && state.data.draft.unassigned) || []).map((u) => [u.order_id, u]));
  // a draft's routes hold pending orders too: those are planned, not unassigned
  const onRoutes = new Set();
  for (const r of state.routes) for (const s of r.stops) onRoutes.add(s.order_id);
  const pending = state.pending.filter((o) => !onRoutes.has(o.id));
  $("count-unassigned").textContent = String(pending.length);
  const list = $("unassigned-list");
  if (!pending.length) {
    list.innerHTML = `<li class="muted">${esc(t("orders.none"))}</li>`;
    return;
  }
  list.innerHTML = pending.slice(0, 500).map((o) => {
    const why = reasons.get(o.id);
    return `<li class="order" id="order-${o.id}" data-order="${o.id}" draggable="true" tabindex="0">
      <span class="ref">${esc(o.reference || o.id)}${prioBadge(o.priority)}</span> <span class="who">${esc(o.contact && o.contact.name)}</span>
      <span class="addr">${esc(o.address)}</span>
      ${why ? `<span class="reason">${esc(t("plan.reason"))}: ${esc(why.reason)}</span>` : ""}
      <button type="button" class="mini" data-action="assign" data-order="${o.id}">${esc(t("stop.move"))}</button>
    </li>`;
  }).join("");
}

function renderAlerts() {
  $("count-alerts").textContent = String(state.alerts.length);
  $("count-alerts").dataset.hot = String(state.alerts.some((a) => a.severity >= 3));
  const lang = getLang();
  $("alert-list").innerHTML = state.alerts.length ? state.alerts.map((a) => `
    <li class="alert sev-${a.severity}"><button type="button" data-alert="${esc(a.id)}" data-stop="${a.stop_id || ""}" data-route="${a.route_id || ""}">
      <b class="kind">${esc(t(`alert.${a.kind}`))}</b> ${esc(a.summary[lang] || a.summary.es)}</button>
      ${a.kind === "message" && a.order_id ? `<form class="reply" data-order="${a.order_id}"><input name="body" required maxlength="1000" aria-label="${esc(t("alert.reply"))}" placeholder="${esc(t("alert.reply"))}"><button type="submit">${esc(t("alert.send"))}</button></form>` : ""}</li>`).join("")
    : `<li class="muted">${esc(t("alerts.none"))}</li>`;
}

function renderProposals() {
  $("count-proposals").textContent = String(state.proposals.length);
  const lang = getLang();
  $("proposal-list").innerHTML = state.proposals.length ? state.proposals.map((p) => {
    const summary = typeof p.summary === "string" ? p.summary : (p.summary && (p.summary[lang] || p.summary.es)) || p.kind;
    const d = p.delta || {};
    return `<li class="proposal"><p>${esc(summary)}</p>
      <p class="muted">${esc(t("move.delta", { min: Math.round((d.duration_s || 0) / 60), km: ((d.distance_m || 0) / 1000).toFixed(1), late: d.late_stops ?? 0 }))}</p>
      <button type="button" class="primary" data-proposal="${p.id}" data-do="apply">${esc(t("proposal.apply"))}</button>
      <button type="button" data-proposal="${p.id}" data-do="reject">${esc(t("proposal.reject"))}</button></li>`;
  }).join("") : `<li class="muted">${esc(t("proposals.none"))}</li>`;
}

function renderDepotSelect() {
  const sel = $("import-depot");
  const current = sel.value;
  sel.innerHTML = [...state.depots.values()].map((d) => `<option value="${d.id}">${esc(d.name)}</option>`).join("");
  if (current && state.depots.has(current)) sel.value = current;
}

function renderTimelinePanel() {
  const r = state.selectedRoute && state.routeById.get(state.selectedRoute);
  $("timeline-route").textContent = r ? `· ${r.driver_name || r.vehicle_name}` : "";
  renderTimeline($("timeline-body"), r || null, state.zone);
}

function renderLegend() {
  $("legend").innerHTML = Object.entries(STATUS_COLOURS).map(([k, c]) => `<span><i style="background:${c}"></i>${esc(t(`status.${k}`))}</span>`).join("")
    + `<span><i class="depot">▣</i>${esc(t("legend.depot"))}</span><span class="keys">${esc(t("keys.help"))}</span>`;
}

// ---------- selection ----------
function selectRoute(routeId, { toggle = false } = {}) {
  const before = state.selectedRoute;
  state.selectedRoute = toggle && state.selectedRoute === routeId ? null : routeId;
  // only the two routes that open or close are drawn again (100 routes stay put)
  if (before && before !== state.selectedRoute) rerenderRoute(before);
  if (state.selectedRoute) rerenderRoute(state.selectedRoute);
  map.highlightRoute(state.selectedRoute);
  renderTimelinePanel();
}

function stopPopup(s, r) {
  const win = (s.windows || []).map((w) => `${hhmm(w.start, state.zone)}–${hhmm(w.end, state.zone)}`).join(", ");
  const d = s.details;
  return `<div class="popup"><b>${esc(s.reference || s.order_id)}</b>${prioBadge(s.priority)} · ${esc(t(`status.${s.status}`))}<br>${esc(s.name)}<br>
    <span class="details" data-order="${esc(s.order_id)}">${d ? `${esc(d.address)}${d.contact && d.contact.phone ? ` · ${esc(d.contact.phone)}` : ""}` : "…"}</span><br>
    ${esc(t("stop.window"))}: ${esc(win)} · ${esc(t("stop.eta"))}: ${esc(hhmm(s.eta_at || s.arrival_at, state.zone))}<br>
    ${esc(r.driver_name || r.vehicle_name)} · #${s.seq}<br>
    <button type="button" data-action="move" data-stop="${s.id}">${esc(t("stop.move"))}</button>
    <button type="button" data-action="lock" data-stop="${s.id}">${esc(t(s.locked ? "stop.unlock" : "stop.lock"))}</button></div>`;
}

function goToStop(stopId) {
  const hit = state.stopById.get(stopId);
  if (!hit) return false;
  switchTab("routes");
  if (state.selectedRoute !== hit.route.id) selectRoute(hit.route.id);
  map.focusStop(stopId, stopPopup(hit.stop, hit.route));
  loadDetails(hit);
  const li = $(`stop-${stopId}`);
  if (li) { li.scrollIntoView({ block: "center" }); li.focus(); li.classList.add("flash"); setTimeout(() => li.classList.remove("flash"), 1500); }
  return true;
}

/** What only a click needs (address, phone): GET /orders/{id}, once per stop. */
async function loadDetails(hit) {
  const s = hit.stop;
  if (!s.details) {
    try { s.details = await get(`/orders/${s.order_id}`); } catch (e) { return; }
  }
  const el = document.querySelector(`.popup .details[data-order="${s.order_id}"]`);
  if (el) el.textContent = `${s.details.address || ""}${s.details.contact && s.details.contact.phone ? ` · ${s.details.contact.phone}` : ""}`;
}

function onHash() {
  const m = location.hash.match(/^#(stop|route)=([\w]+)$/);
  if (!m) return;
  if (m[1] === "stop") goToStop(m[2]);
  else if (state.routeById.has(m[2])) { switchTab("routes"); selectRoute(m[2]); }
}

function switchTab(name) {
  for (const b of document.querySelectorAll(".tabs [data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const p of document.querySelectorAll(".side .panel")) p.hidden = p.id !== `panel-${name}`;
}

// ---------- live stream ----------
function scheduleFlush() {
  if (scheduleFlush.pending) return;
  scheduleFlush.pending = true;
  requestAnimationFrame(() => {
    scheduleFlush.pending = false;
    if (!state.pendingPositions.size) return;
    const batch = state.pendingPositions;
    state.pendingPositions = new Map();
    map.moveDrivers(batch, (id) => {
      const r = state.routes.find((x) => x.driver_id === id);
      return r ? r.driver_name : id;
    }, (p) => (state.routeById.get(p.route_id) || {}).colour);
    for (const p of batch.values()) {
      const r = state.routeById.get(p.route_id);
      const el = r && $(`dstate-${r.id}`);
      if (el && el.dataset.state !== driverState(r)) { el.dataset.state = driverState(r); el.textContent = t(`driver.${driverState(r)}`); }
    }
    probe.flushes += 1;
    probe.lastFlush = performance.now();
  });
}

const dirtyRoutes = new Set();
const flushRoutes = debounce(() => {
  for (const id of dirtyRoutes) rerenderRoute(id);
  dirtyRoutes.clear();
  renderTimelinePanel();
  probe.routesFlushed = performance.now();
}, 100);
// bench/console.py: a stop update for the i-th stop of the day, and whether the list caught up
probe.touchStop = (i, m) => {
  if (probe.idsOf !== probe.loads) { probe.ids = [...state.stopById.keys()]; probe.idsOf = probe.loads; }
  onMessage({ ...m, stop_id: probe.ids[i % probe.ids.length] });
};
probe.flushedAfter = (t0) => (probe.routesFlushed || 0) > t0 && dirtyRoutes.size === 0;

function onMessage(m) {
  switch (m.type) {
    case "position": {
      probe.positions += 1;
      const live = state.live.get(m.driver_id) || { driver_id: m.driver_id };
      live.state = m.state || (m.speed > 2 ? "driving" : live.state && live.state !== "offline" ? live.state : "stopped");
      state.live.set(m.driver_id, live);
      state.pendingPositions.set(m.driver_id, m);
      scheduleFlush();
      break;
    }
    case "stop": {
      const hit = state.stopById.get(m.stop_id);
      if (!hit) { if (m.stop_status !== "skipped") reloadDay(); break; } // a skipped stop is no longer shown anyway
      hit.stop.status = m.stop_status || hit.stop.status;
      if (m.order_status) hit.stop.order_status = m.order_status;
      if (m.stop_status === "arrived") hit.stop.arrived_at = m.at;
      if (FINAL.has(m.stop_status)) hit.stop.completed_at = m.at;
      if (m.version) hit.route.version = m.version;
      if (m.status) hit.route.status = m.status;
      map.setStopStatus(hit.stop.id, hit.stop.status, hit.stop.locked);
      dirtyRoutes.add(hit.route.id);
      flushRoutes();
      reloadAlerts();
      break;
    }
    case "eta": {
      // tracking's ETA refresh: {route_id, etas: [{stop_id, eta_at, late_by_s}]}; a driver's
      // delay or break ({route_id, version, shift_s}) has no per-stop list: read the day again
      if (!Array.isArray(m.etas) && !m.stop_id) { reloadDay(); break; }
      const items = Array.isArray(m.etas) ? m.etas : [m];
      for (const it of items) {
        const hit = state.stopById.get(it.stop_id || it.id);
        if (!hit) continue;
        if (it.eta_at) hit.stop.eta_at = it.eta_at;
        if (Number.isFinite(it.late_by_s)) hit.stop.late_by_s = it.late_by_s;
        dirtyRoutes.add(hit.route.id);
      }
      flushRoutes();
      reloadAlerts();
      break;
    }
    case "route": {
      const r = state.routeById.get(m.route_id);
      if (m.draft && state.view !== "draft") break; // a draft edited elsewhere: the live view is unchanged
      // one change bumps a route several times: messages older than what was read are in it already
      if (!r || (m.version && m.version > r.version) || m.status !== r.status) reloadDay();
      reloadPending();
      break;
    }
    case "order": {
      // a priority changed (maybe by another dispatcher)
      for (const r of state.routes) {
        const s = r.stops.find((x) => x.order_id === m.order_id);
        if (s && Number.isFinite(m.priority)) { s.priority = m.priority; dirtyRoutes.add(r.id); flushRoutes(); }
      }
      const o = state.pending.find((x) => x.id === m.order_id);
      if (o && Number.isFinite(m.priority)) { o.priority = m.priority; renderPending(); }
      break;
    }
    case "resync":
      resync();
      break;
    case "proposal":
      loadProposals();
      break;
    case "message":
    case "alert":
      reloadAlerts();
      break;
    default:
      break;
  }
}

/** The stream fell behind or was cut (the server says "resync"): read everything again. */
function resync() {
  probe.resyncs = (probe.resyncs || 0) + 1;
  toast(t("live.resync"));
  reloadDay();
  reloadPending();
  reloadAlerts();
  loadProposals();
  loadLive();
}

function renderLiveState() {
  const dot = $("live-state");
  dot.textContent = dot.dataset.state === "on" ? t("live.on") : dot.dataset.state === "off" ? t("live.off") : "…";
}

function connect() {
  const es = new EventSource("/live/stream");
  const dot = $("live-state");
  es.onopen = () => {
    dot.dataset.state = "on";
    renderLiveState();
    if (connect.wasDown) { reloadDay(); reloadAlerts(); }
    connect.wasDown = false;
  };
  es.onerror = () => {
    dot.dataset.state = "off";
    renderLiveState();
    connect.wasDown = true;
  };
  es.onmessage = (ev) => {
    try { onMessage(JSON.parse(ev.data)); } catch (e) { console.warn("bad message", e); }
  };
  es.addEventListener("resync", () => resync()); // the same, sent as a named event
}

// ---------- interventions ----------
function openMove({ stopId = null, orderId = null, toRoute = undefined, position = "", focusPriority = false }) {
  const hit = stopId && state.stopById.get(stopId);
  const order = hit ? hit.stop.order_id : orderId;
  const pending = !hit && state.pending.find((o) => o.id === orderId);
  state.moving = { orderId: order, stopId };
  $("move-what").textContent = hit
    ? t("move.what", { ref: hit.stop.reference || hit.stop.order_id, driver: hit.route.driver_name || hit.route.vehicle_name, seq: hit.stop.seq })
    : `${(pending && (pending.reference || pending.id)) || orderId}`;
  const sel = $("move-route");
  sel.innerHTML = `<option value="">— ${esc(t("move.unassign"))} —</option>` +
    state.routes.map((r) => `<option value="${r.id}">${esc(routeName(r))} (${r.stops.length})</option>`).join("");
  sel.value = toRoute !== undefined ? (toRoute || "") : hit ? hit.route.id : (state.routes[0] && state.routes[0].id) || "";
  $("move-position").value = position;
  $("move-preview").innerHTML = "";
  $("move-apply").disabled = true;
  $("move-lock").textContent = t(hit && hit.stop.locked ? "stop.unlock" : "stop.lock");
  $("move-lock").hidden = !hit;
  $("move-unassign").hidden = !hit;
  $("move-priority").value = String(hit ? hit.stop.priority || 0 : (pending && pending.priority) || 0);
  const dlg = $("move-dialog");
  if (!dlg.open) dlg.showModal();
  if (focusPriority) { $("move-priority").focus(); $("move-priority").select(); }
  if (toRoute !== undefined) previewMove();
}

async function savePriority() {
  const p = parseInt($("move-priority").value, 10);
  const orderId = state.moving && state.moving.orderId;
  if (!orderId || !Number.isFinite(p)) return;
  try {
    const out = await post(`/orders/${orderId}/priority`, { priority: p });
    onMessage({ type: "order", order_id: orderId, priority: out.priority });
    toast(t("prio.saved", { p: out.priority }));
  } catch (e) { fail(e); }
}

function moveBody(force = false) {
  const body = { order_id: state.moving.orderId, to_route_id: $("move-route").value || null };
  const pos = parseInt($("move-position").value, 10);
  if (Number.isFinite(pos) && pos > 0 && body.to_route_id) body.position = pos;
  if (force) body.force = true;
  if (state.view === "draft" && state.data && state.data.plan_id) body.plan_id = state.data.plan_id;
  return body;
}

async function previewMove() {
  const box = $("move-preview");
  box.textContent = "…";
  $("move-apply").disabled = true;
  try {
    const out = await post("/routes/moves/preview", moveBody());
    const d = out.delta || {};
    box.innerHTML = `<p class="${out.feasible ? "ok" : "late"}"><b>${esc(t(out.feasible ? "move.feasible" : "move.infeasible"))}</b></p>
      <p class="delta">${esc(t("move.delta", { min: (d.duration_s >= 0 ? "+" : "") + Math.round((d.duration_s || 0) / 60), km: (d.distance_m >= 0 ? "+" : "") + ((d.distance_m || 0) / 1000).toFixed(1), late: d.late_stops ?? 0 }))}</p>
      ${(out.reasons || []).map((r) => `<p class="reason">${esc(reasonText(r))}</p>`).join("")}`;
    $("move-apply").disabled = false;
    $("move-apply").dataset.force = String(!out.feasible);
  } catch (e) {
    box.innerHTML = `<p class="late">${esc(e.message)}</p>`;
  }
}

async function applyMove() {
  try {
    await post("/routes/moves", moveBody($("move-apply").dataset.force === "true"));
    $("move-dialog").close();
    toast(t("move.applied"));
    await Promise.all([loadDay(), loadPending()]);
    loadAlerts();
  } catch (e) { fail(e); }
}

// ---------- split and merge ----------
async function openReshape(kind, { routeId, from = "" }) {
  const r = state.routeById.get(routeId);
  if (!r) return;
  state.reshape = { kind, routeId };
  $("route-title").textContent = t(kind === "split" ? "split.title" : "merge.title");
  $("route-what").textContent = t(kind === "split" ? "split.what" : "merge.what", { driver: routeName(r) });
  $("split-part").hidden = kind !== "split";
  $("route-target-label").hidden = kind !== "split";
  $("route-preview").innerHTML = "";
  $("route-apply").disabled = true;
  const others = state.routes.filter((x) => x.id !== routeId && x.published === r.published && x.status !== "finished");
  let options = others.map((x) => `<option value="route:${x.id}">${esc(routeName(x))} (${x.stops.filter((s) => !FINAL.has(s.status)).length})</option>`);
  if (kind === "split") {
    $("split-from").value = "";
    $("split-stops").innerHTML = r.stops.filter((s) => !FINAL.has(s.status)).map((s) => {
      const movable = !s.locked && s.status !== "arrived";
      return `<li class="${movable ? "" : "off"}"><label><input type="checkbox" value="${esc(s.order_id)}" data-seq="${s.seq}"${movable ? "" : " disabled"}>
        #${s.seq} ${esc(s.reference || s.order_id)} · ${esc(s.name)}${s.locked ? ` · 🔒 ${esc(t("stop.locked"))}` : ""}</label></li>`;
    }).join("");
    try {
      const free = await get("/dispatch/free-shifts", { date: state.day, plan_id: r.published ? undefined : r.plan_id });
      options = options.concat(free.shifts.map((f) => `<option value="shift:${f.shift_id}">${esc(t("split.new", { driver: f.driver_name, vehicle: f.vehicle_name }))}</option>`));
    } catch (e) { console.warn("free shifts", e); }
  }
  $("route-target").innerHTML = options.join("");
  if (from) $("route-target").value = `route:${from}`;
  const dlg = $("route-dialog");
  if (!dlg.open) dlg.showModal();
  if (kind === "merge" && from) previewReshape();
}

function reshapeBody(force = false) {
  const { kind, routeId } = state.reshape;
  const [what, id] = ($("route-target").value || ":").split(":");
  let body;
  if (kind === "merge") body = { route_id: routeId, from_route_id: id };
  else {
    const ids = [...$("split-stops").querySelectorAll("input:checked")].map((x) => x.value);
    body = { route_id: routeId, order_ids: ids };
    if (what === "shift") body.to_shift_id = id; else body.to_route_id = id;
  }
  if (force) body.force = true;
  return body;
}

async function previewReshape() {
  const box = $("route-preview");
  $("route-apply").disabled = true;
  const body = reshapeBody();
  if (state.reshape.kind === "split" && !body.order_ids.length) { box.innerHTML = `<p class="late">${esc(t("split.none"))}</p>`; return; }
  box.textContent = "…";
  try {
    const out = await post(`/routes/${state.reshape.kind}/preview`, body);
    const d = out.delta || {};
    box.innerHTML = `<p class="${out.feasible ? "ok" : "late"}"><b>${esc(t(out.feasible ? "move.feasible" : "move.infeasible"))}</b>
      · ${esc(t("reshape.moved", { n: out.moved.length }))}${out.kept.length ? ` · ${esc(t("reshape.kept", { n: out.kept.length }))}` : ""}</p>
      <p class="delta">${esc(t("move.delta", { min: (d.duration_s >= 0 ? "+" : "") + Math.round((d.duration_s || 0) / 60), km: (d.distance_m >= 0 ? "+" : "") + ((d.distance_m || 0) / 1000).toFixed(1), late: d.late_stops ?? 0 }))}</p>
      ${(out.reasons || []).map((r) => `<p class="reason">${esc(reasonText(r))}</p>`).join("")}`;
    $("route-apply").disabled = false;
    $("route-apply").dataset.force = String(!out.feasible);
  } catch (e) {
    box.innerHTML = `<p class="late">${esc(e.message)}</p>`;
  }
}

async function applyReshape() {
  try {
    const out = await post(`/routes/${state.reshape.kind}`, reshapeBody($("route-apply").dataset.force === "true"));
    $("route-dialog").close();
    toast(t(out.draft ? "reshape.applied_draft" : "reshape.applied"));
    await Promise.all([loadDay(), loadPending()]);
    loadAlerts();
  } catch (e) { fail(e); }
}

async function toggleLock(stopId) {
  const hit = state.stopById.get(stopId);
  if (!hit) return;
  try {
    await post(`/route-stops/${stopId}/${hit.stop.locked ? "unlock" : "lock"}`);
    hit.stop.locked = !hit.stop.locked;
    map.setStopStatus(stopId, hit.stop.status, hit.stop.locked);
    rerenderRoute(hit.route.id);
  } catch (e) { fail(e); }
}

async function importCsv(file) {
  const depot = $("import-depot").value;
  const form = new FormData();
  form.append("file", file);
  try {
    state.importReport = await api("POST", "/orders/import", { form, query: { date: state.day, depot_id: depot } });
    renderImportReport();
    await loadPending();
  } catch (e) { fail(e); }
}

function renderImportReport() {
  const out = state.importReport;
  const box = $("import-report");
  if (!out) { box.hidden = true; return; }
  box.innerHTML = `<p><b>${esc(t("import.report", { created: out.created, errors: out.errors.length }))}</b></p>` +
    (out.errors.length ? `<ul class="errors">${out.errors.map((e) => `<li>${esc(t("import.line", { line: e.line }))}${e.field ? ` · ${esc(e.field)}` : ""}: ${esc(e.message)}</li>`).join("")}</ul>` : "");
  box.hidden = false;
}

function zoneOffset(day, time, zone) {
  // "-06:00" for the depot's zone on that day and time
  try {
    const probeDate = new Date(`${day}T${time}:00Z`);
    const part = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" }).formatToParts(probeDate)
      .find((p) => p.type === "timeZoneName");
    const m = part && part.value.match(/GMT([+-]\d\d:\d\d)/);
    return m ? m[1] : "+00:00";
  } catch (e) { return "+00:00"; }
}

async function saveOrder() {
  const f = new FormData($("order-form"));
  const depotId = $("import-depot").value;
  const zone = (state.depots.get(depotId) || {}).timezone;
  const w = (time) => `${state.day}T${time}:00${zoneOffset(state.day, time, zone)}`;
  const body = {
    depot_id: depotId, date: state.day, reference: f.get("reference") || "", address: f.get("address") || "",
    lat: parseFloat(f.get("lat")), lon: parseFloat(f.get("lon")),
    contact: { name: f.get("name") || "", phone: f.get("phone") || "" },
    windows: [{ start: w(f.get("from") || "09:00"), end: w(f.get("until") || "17:00") }],
  };
  const err = $("order-error");
  err.hidden = true;
  try {
    await post("/orders", body);
    $("order-dialog").close();
    toast(t("orders.created"));
    await loadPending();
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
  }
}

async function optimize() {
  try {
    const plan = await post("/plans", { date: state.day, depot_ids: [...state.depots.keys()], options: { time_limit_s: 5 } });
    pollPlan(plan.id);
  } catch (e) { fail(e); }
}

function pollPlan(planId) {
  const box = $("plan-progress");
  box.hidden = false;
  $("optimize").disabled = true;
  const tick = async () => {
    try {
      const p = await get(`/plans/${planId}`);
      box.querySelector(".bar").style.width = `${Math.round(p.progress * 100)}%`;
      box.querySelector(".label").textContent = p.status === "queued" ? t("plan.queued") : t("plan.running", { pct: Math.round(p.progress * 100) });
      box.dataset.status = p.status;
      if (p.status === "done" || p.status === "failed" || p.status === "published") {
        clearInterval(state.planPoll);
        state.planPoll = null;
        $("optimize").disabled = false;
        box.hidden = true;
        if (p.status === "failed") { toast(t("plan.failed", { msg: p.message }), "error"); return; }
        state.view = "live";
        await loadDay();
        if (state.data.draft && state.data.draft.id === planId && state.data.draft.status === "done") {
          state.view = "draft";
          await loadDay();
        }
        await loadPending();
      }
    } catch (e) { clearInterval(state.planPoll); state.planPoll = null; $("optimize").disabled = false; fail(e); }
  };
  clearInterval(state.planPoll);
  state.planPoll = setInterval(tick, 700);
  tick();
}

async function publish() {
  const d = state.data && state.data.draft;
  if (!d) return;
  try {
    await post(`/plans/${d.id}/publish`);
    state.view = "live";
    toast(t("plan.published"));
    switchTab("routes");
    await loadDay();
    await loadPending();
    loadAlerts();
  } catch (e) { fail(e); }
}

// ---------- search ----------
const runSearch = debounce(async () => {
  const q = $("search").value.trim();
  const box = $("search-results");
  if (q.length < 2) { box.hidden = true; return; }
  try {
    const out = await get("/search", { q });
    box.innerHTML = out.results.length ? out.results.map((r, i) => `<li role="option" tabindex="-1" id="sr-${i}" data-stop="${r.stop_id || ""}" data-order="${r.order_id}" data-lat="${r.lat}" data-lon="${r.lon}">
      <b>${esc(r.reference || r.order_id)}</b> ${esc(r.contact_name)} · ${esc(r.contact_phone)}<br><small>${esc(r.address)} · ${esc(t(`order.${r.status}`))}</small></li>`).join("")
      : `<li class="muted">${esc(t("search.none"))}</li>`;
    box.hidden = false;
  } catch (e) { fail(e); }
}, 200);

function pickSearch(li) {
  if (!li || !li.dataset.order) return;
  $("search-results").hidden = true;
  if (li.dataset.stop && goToStop(li.dataset.stop)) return;
  map.map.setView([parseFloat(li.dataset.lat), parseFloat(li.dataset.lon)], 16);
  const row = $(`order-${li.dataset.order}`);
  if (row) { switchTab("unassigned"); row.scrollIntoView({ block: "center" }); row.focus(); }
}

// ---------- wiring ----------
const map = new DayMap($("map"), {
  tileUrl: config.tile_url, tileAttribution: config.tile_attribution,
  onStopClick: (id) => goToStop(id),
  onMapClick: (ll) => {
    if (!$("order-dialog").open) return;
    $("order-form").elements.lat.value = ll.lat.toFixed(6);
    $("order-form").elements.lon.value = ll.lng.toFixed(6);
  },
});

function wire() {
  wireLangSwitch();
  onLangChange(() => { map.map.closePopup(); renderImportReport(); renderLiveState(); renderRoutes(); renderPending(); renderAlerts(); renderProposals(); renderDraft(); renderLegend(); renderTimelinePanel(); });
  $("logout").addEventListener("click", async () => { try { await post("/auth/logout"); } finally { location.reload(); } });
  $("day").addEventListener("change", () => {
    state.day = $("day").value;
    state.view = "live";
    history.replaceState(null, "", `?date=${state.day}`);
    Promise.all([loadDay(), loadPending(), loadAlerts()]).catch(fail);
  });
  for (const b of document.querySelectorAll(".tabs [data-tab]")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  $("route-list").addEventListener("click", (ev) => {
    const act = ev.target.closest("[data-action]");
    if (act) {
      ev.stopPropagation();
      const a = act.dataset.action;
      if (a === "split" || a === "merge") return openReshape(a, { routeId: act.dataset.route });
      return a === "move" ? openMove({ stopId: act.dataset.stop }) : toggleLock(act.dataset.stop);
    }
    const head = ev.target.closest(".route-head");
    if (head) return selectRoute(head.dataset.route, { toggle: true });
    const stop = ev.target.closest(".stop");
    if (stop) goToStop(stop.dataset.stop);
  });
  $("route-list").addEventListener("keydown", (ev) => {
    const stop = ev.target.closest && ev.target.closest(".stop");
    const head = ev.target.closest && ev.target.closest(".route-head");
    if (stop && (ev.key === "m" || ev.key === "M")) { ev.preventDefault(); openMove({ stopId: stop.dataset.stop }); }
    else if (stop && (ev.key === "l" || ev.key === "L")) { ev.preventDefault(); toggleLock(stop.dataset.stop); }
    else if (stop && (ev.key === "p" || ev.key === "P")) { ev.preventDefault(); openMove({ stopId: stop.dataset.stop, focusPriority: true }); }
    else if (head && (ev.key === "s" || ev.key === "S")) { ev.preventDefault(); openReshape("split", { routeId: head.dataset.route }); }
    else if (head && (ev.key === "u" || ev.key === "U")) { ev.preventDefault(); openReshape("merge", { routeId: head.dataset.route }); }
    else if (stop && ev.key === "Enter" && ev.target === stop) { ev.preventDefault(); goToStop(stop.dataset.stop); }
    else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      const items = [...$("route-list").querySelectorAll(".route-head, .stop")];
      const i = items.indexOf(stop || head);
      const next = items[i + (ev.key === "ArrowDown" ? 1 : -1)];
      if (next) { ev.preventDefault(); next.focus(); }
    }
  });
  // drag a stop (or an unassigned order) onto a route header (best position) or onto a stop (its position)
  const side = document.querySelector(".side");
  side.addEventListener("dragstart", (ev) => {
    const stop = ev.target.closest && ev.target.closest(".stop, .order, .route-head");
    if (!stop) return;
    ev.dataTransfer.setData("text/plain", stop.dataset.stop ? `stop:${stop.dataset.stop}`
      : stop.dataset.order ? `order:${stop.dataset.order}` : `route:${stop.dataset.route}`); // a whole route: merge
    ev.dataTransfer.effectAllowed = "move";
    stop.classList.add("dragging");
  });
  side.addEventListener("dragend", (ev) => { const s = ev.target.closest && ev.target.closest(".dragging"); if (s) s.classList.remove("dragging"); });
  side.addEventListener("dragover", (ev) => {
    if (ev.target.closest && ev.target.closest(".route")) { ev.preventDefault(); ev.dataTransfer.dropEffect = "move"; }
  });
  side.addEventListener("drop", (ev) => {
    const routeEl = ev.target.closest && ev.target.closest(".route");
    if (!routeEl) return;
    ev.preventDefault();
    const [kind, id] = (ev.dataTransfer.getData("text/plain") || "").split(":");
    const target = ev.target.closest(".stop");
    const position = target ? String(state.stopById.get(target.dataset.stop).stop.seq) : "";
    if (kind === "stop") openMove({ stopId: id, toRoute: routeEl.dataset.route, position });
    else if (kind === "order") openMove({ orderId: id, toRoute: routeEl.dataset.route, position });
    else if (kind === "route" && id !== routeEl.dataset.route) openReshape("merge", { routeId: routeEl.dataset.route, from: id });
  });
  $("unassigned-list").addEventListener("click", (ev) => {
    const act = ev.target.closest("[data-action=assign]");
    if (act) openMove({ orderId: act.dataset.order });
  });
  $("move-check").addEventListener("click", previewMove);
  $("move-route").addEventListener("change", () => { $("move-apply").disabled = true; });
  $("move-position").addEventListener("input", () => { $("move-apply").disabled = true; });
  $("move-apply").addEventListener("click", applyMove);
  $("move-unassign").addEventListener("click", () => { $("move-route").value = ""; previewMove(); });
  $("move-lock").addEventListener("click", async () => { await toggleLock(state.moving.stopId); $("move-dialog").close(); });
  $("move-priority-save").addEventListener("click", savePriority);
  $("move-priority").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); savePriority(); } });
  $("route-check").addEventListener("click", previewReshape);
  $("route-apply").addEventListener("click", applyReshape);
  $("route-target").addEventListener("change", () => { $("route-apply").disabled = true; });
  $("split-stops").addEventListener("change", () => { $("route-apply").disabled = true; });
  $("split-from").addEventListener("input", () => {
    const from = parseInt($("split-from").value, 10);
    for (const box of $("split-stops").querySelectorAll("input:not(:disabled)")) box.checked = Number.isFinite(from) && Number(box.dataset.seq) >= from;
    $("route-apply").disabled = true;
  });
  $("alert-list").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-alert]");
    if (!b) return;
    if (b.dataset.stop && goToStop(b.dataset.stop)) return;
    if (b.dataset.route && state.routeById.has(b.dataset.route)) { switchTab("routes"); selectRoute(b.dataset.route); }
  });
  $("alert-list").addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form.reply");
    if (!form) return;
    ev.preventDefault();
    try {
      await post(`/orders/${form.dataset.order}/messages`, { body: form.elements.body.value });
      toast(t("alert.sent"));
      await loadAlerts();
    } catch (e) { fail(e); }
  });
  $("proposal-list").addEventListener("click", async (ev) => {
    const b = ev.target.closest("[data-proposal]");
    if (!b) return;
    try {
      await post(`/proposals/${b.dataset.proposal}/${b.dataset.do}`);
      await loadProposals();
      if (b.dataset.do === "apply") await loadDay();
    } catch (e) { fail(e); }
  });
  $("import-file").addEventListener("change", () => { const f = $("import-file").files[0]; if (f) importCsv(f); $("import-file").value = ""; });
  $("new-order").addEventListener("click", () => { $("order-error").hidden = true; $("order-dialog").showModal(); });
  $("order-save").addEventListener("click", saveOrder);
  $("optimize").addEventListener("click", optimize);
  $("publish").addEventListener("click", publish);
  $("show-draft").addEventListener("click", () => { state.view = state.view === "draft" ? "live" : "draft"; loadDay().catch(fail); });
  $("search").addEventListener("input", runSearch);
  $("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); pickSearch($("search-results").querySelector("li[data-order]")); });
  $("search-results").addEventListener("click", (ev) => pickSearch(ev.target.closest("li")));
  $("search").addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") { const first = $("search-results").querySelector("li[data-order]"); if (first) { ev.preventDefault(); first.focus(); } }
  });
  $("search-results").addEventListener("keydown", (ev) => {
    const li = ev.target.closest("li");
    if (ev.key === "Enter") { ev.preventDefault(); pickSearch(li); }
    else if (ev.key === "ArrowDown" && li.nextElementSibling) { ev.preventDefault(); li.nextElementSibling.focus(); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); (li.previousElementSibling || $("search")).focus(); }
  });
  map.map.getContainer().addEventListener("click", (ev) => {
    const act = ev.target.closest && ev.target.closest(".popup [data-action]");
    if (!act) return;
    if (act.dataset.action === "move") openMove({ stopId: act.dataset.stop });
    else toggleLock(act.dataset.stop);
  });
  document.addEventListener("keydown", (ev) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if (ev.key === "/" && !typing) { ev.preventDefault(); $("search").focus(); $("search").select(); }
    else if (ev.key === "Escape") { $("search-results").hidden = true; }
  });
  window.addEventListener("hashchange", onHash);
}

async function start() {
  applyI18n();
  renderLegend();
  wire();
  connect();
  const others = () => Promise.all([loadPending().catch(fail), loadAlerts(), loadProposals(), loadLive()]);
  if (state.day) await Promise.all([loadDay(), others()]); // the date is known: everything at once
  else { await loadDay(); await others(); }
  onHash();
  probe.ready = true;
  document.body.dataset.ready = "true";
  setInterval(() => { loadAlerts(); }, 60_000);
  setInterval(() => { if (state.routes.length) rerenderAllLateness(); }, 60_000);
}

function rerenderAllLateness() { renderRoutes(); }

start().catch(fail);
