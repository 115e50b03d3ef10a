// The driver app: sign in, today's route, stop details with navigation hand-off, shift and
// breaks, proof of delivery, failed attempts, pickups, end-of-shift scan-in. Every action
// goes through the offline queue (sync.js); the screen shows the queued result at once.
import { clockOffset, get, HttpError, login, Offline, post } from "./api.js";
import { clock, language, money, REASONS, setLanguage, t } from "./i18n.js";
import { closeMap, drawMap, moveMe } from "./map.js";
import { codesOf, compressPhoto, deliveryMissing, rulesOf, signatureFile, signaturePad, startScanner, toMinor } from "./pod.js";
import * as store from "./store.js";
import * as sync from "./sync.js";

const config = JSON.parse(document.getElementById("config").textContent);
const app = document.getElementById("app");
const S = {
  me: null,
  today: null,
  fromCache: false,
  view: { name: "loading" },
  form: null,
  position: null,
  pending: [],
  rejected: [],
  routeId: null,  // the route of the day the driver picked (several routes: a picker on the list)
  othersWaiting: 0,
  update: null,  // a new version of the app is installed and waiting: {worker}
  picked: {},
  messages: {},
  scannerStop: null,
  pad: null,
};

// ---- helpers ---------------------------------------------------------------------
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

function toast(text, ms = 3500) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, ms);
}

function routes() {
  return (S.today && S.today.routes) || [];
}

/** The route on screen: the one the driver picked, else the first not finished. */
function route() {
  const all = routes();
  return all.find((r) => r.id === S.routeId) || all.find((r) => r.status !== "finished") || all[all.length - 1] || null;
}

async function pickRoute(id) {
  S.routeId = id;
  if (S.me) await store.setKV(`route:${S.me.id}`, id);
}

const FINAL = ["done", "failed", "skipped"];
const LOCAL_STATUS = { deliver: "done", fail: "failed", pickup: "done", arrive: "arrived", en_route: "en_route" };

/** The route as the driver sees it: the server's copy with queued actions applied on top. */
function view() {
  const r = route();
  if (!r) return null;
  const out = { ...r, stops: r.stops.map((s) => ({ ...s, queued: false })), on_break: r.on_break || null };
  for (const e of S.pending) {
    const a = e.action;
    if (a.route_id !== r.id) continue;
    if (a.type === "break_start") out.on_break = { planned: a.data.planned !== false, started_at: a.device_time, queued: true };
    if (a.type === "break_end") out.on_break = null;
    if (a.type === "start_shift" && out.status === "planned") out.status = "started";
    if (a.type === "end_shift") out.status = "finished";
    if (["deliver", "fail", "pickup"].includes(a.type) && out.status === "planned") out.status = "started";
    const s = a.stop_id && out.stops.find((x) => x.id === a.stop_id);
    if (s && LOCAL_STATUS[a.type] && !FINAL.includes(s.status)) {
      s.status = LOCAL_STATUS[a.type];
      s.queued = true;
    }
  }
  return out;
}

function stopById(id) {
  const v = view();
  return v && v.stops.find((s) => s.id === id);
}

function fix() {
  return S.position ? { lat: S.position.lat, lon: S.position.lon, accuracy: S.position.accuracy } : null;
}

async function queue(type, stop, data = {}, files = []) {
  const r = route();
  await sync.enqueue(type, { routeId: r.id, stopId: stop ? stop.id : null, data, files, position: fix() });
  await refreshPending();
  toast(navigator.onLine ? t("sent") : t("queued"));
}

async function refreshPending() {
  S.pending = await sync.pending();
  S.rejected = await sync.rejectedList();
  S.othersWaiting = await sync.othersWaiting();
  renderOutbox();
}

function renderOutbox() {
  const el = document.getElementById("outbox");
  const n = S.pending.length;
  const bad = S.rejected.length;
  el.hidden = n === 0 && bad === 0;
  el.textContent = [n ? t("waiting", { n }) : "", bad ? t("rejected", { n: bad }) : "",
                    n && sync.state.authNeeded ? t("sign_in") : ""].filter(Boolean).join(" · ");
  el.className = `outbox ${bad ? "outbox-bad" : ""}`;
  el.dataset.waiting = String(n);
  const net = document.getElementById("net");
  net.textContent = navigator.onLine ? t("online") : t("offline");
  net.className = `net ${navigator.onLine ? "net-on" : "net-off"}`;
  document.getElementById("lang").textContent = t("switch_to");
  const upd = document.getElementById("update");
  upd.hidden = !S.update;
  upd.querySelector("span").textContent = t("update_available");
  upd.querySelector("button").textContent = t("update_reload");
}

function go(name, extra = {}) {
  stopScanner();
  if (S.view.name === "map") closeMap();
  S.view = { name, ...extra };
  render();
  window.scrollTo(0, 0);
}

// ---- data ------------------------------------------------------------------------
async function loadToday() {
  try {
    S.today = await get("/driver/today");
    S.fromCache = !navigator.onLine;  // the service worker answered with its copy
    await store.setKV("today", S.today);
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) {
      S.me = null;
      return go("login");
    }
    S.today = (await store.getKV("today")) || S.today;
    S.fromCache = true;
  }
  // never pull a form from under the driver's thumb: it shows the new data when they leave it
  if (!FORMS.includes(S.view.name)) render();
}

const FORMS = ["deliver", "fail", "pickup", "scanin", "delay", "break", "login"];

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { if (S.me) loadToday(); }, 300);
}

async function flushAll() {
  const before = S.pending.length;
  try {
    await sync.flush();
  } catch {
    /* stays queued */
  }
  await refreshPending();
  if (sync.state.authNeeded) toast(t("session_expired"), 6000);
  if (before && S.pending.length < before) refreshSoon();
  sync.flushPositions().catch(() => {});
}

// ---- position --------------------------------------------------------------------
let lastSentFix = 0;
function startPosition() {
  if (!navigator.geolocation) return;
  navigator.geolocation.watchPosition((p) => {
    S.position = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy,
                   speed: p.coords.speed, bearing: p.coords.heading, altitude: p.coords.altitude,
                   at: new Date((p.timestamp || Date.now()) + clockOffset()).toISOString(),
                   t: p.timestamp || Date.now() };
    moveMe(S.position);
  }, () => {}, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
  setInterval(reportPosition, 10000);
  setTimeout(reportPosition, 1500);
}

async function reportPosition() {
  const p = S.position;
  if (!p || !S.me || p.t === lastSentFix) return;
  lastSentFix = p.t;
  const row = { lat: p.lat, lon: p.lon, at: p.at };
  for (const k of ["accuracy", "speed", "bearing", "altitude"]) if (typeof p[k] === "number" && !Number.isNaN(p[k])) row[k] = p[k];
  await sync.queuePosition(row);
  sync.flushPositions().catch(() => {});
}

// ---- live stream -----------------------------------------------------------------
let source = null;
function startStream() {
  if (source || !window.EventSource) return;
  source = new EventSource("/live/stream");
  source.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    const r = route();
    if (["route", "stop", "eta"].includes(msg.type) && r && msg.route_id === r.id && (msg.version || 0) > (r.version || 0)) {
      refreshSoon();
    } else if ((msg.type === "route" || msg.type === "stop") && (!r || msg.route_id !== r.id)) {
      refreshSoon();
    } else if (msg.type === "message") {
      const m = msg.message || msg;
      const orderId = m.order_id || msg.order_id;
      if (!orderId) return;
      const list = (S.messages[orderId] = S.messages[orderId] || []);
      if (m.id && list.some((x) => x.id === m.id)) return;
      list.push(m);
      if (m.sender === "customer") toast(`✉ ${m.body || m.text || ""}`, 6000);
      if (S.view.name === "stop") rerenderForm();
    }
  };
}

// ---- screens ---------------------------------------------------------------------
function render() {
  if (S.pad && S.form && document.getElementById("sig")) S.form.signatureData = S.pad.isEmpty() ? null : S.pad.toData();
  renderOutbox();
  document.documentElement.lang = language();
  const name = S.view.name;
  if (name === "login") app.innerHTML = loginScreen();
  else if (name === "loading") app.innerHTML = `<p class="loading">…</p>`;
  else if (!route() && !["outbox"].includes(name)) app.innerHTML = noRoute();
  else if (name === "list") app.innerHTML = listScreen();
  else if (name === "map") app.innerHTML = mapScreen();
  else if (name === "stop") app.innerHTML = stopScreen(stopById(S.view.stopId));
  else if (name === "deliver") app.innerHTML = deliverScreen(stopById(S.view.stopId));
  else if (name === "fail") app.innerHTML = failScreen(stopById(S.view.stopId));
  else if (name === "pickup") app.innerHTML = pickupScreen(stopById(S.view.stopId));
  else if (name === "delay") app.innerHTML = delayScreen();
  else if (name === "break") app.innerHTML = breakScreen();
  else if (name === "scanin") app.innerHTML = scanInScreen();
  else if (name === "outbox") app.innerHTML = outboxScreen();
  after();
}

function after() {
  const name = S.view.name;
  if (name === "map") {
    const v = view();
    drawMap(document.getElementById("map"), v.stops, S.position, config.tiles);
  }
  if (name === "fail" || name === "pickup") updateMissing();
  if (name === "deliver") {
    const canvas = document.getElementById("sig");
    S.pad = canvas ? signaturePad(canvas) : null;
    if (S.pad && S.form.signatureData) S.pad.fromData(S.form.signatureData);
    if (S.pad) S.pad.addEventListener("endStroke", () => { S.form.signatureData = S.pad.toData(); updateMissing(); });
    updateMissing();
  }
  if (name === "stop") loadMessages(stopById(S.view.stopId));
}

function loginScreen() {
  return `<form class="card login" data-form="login">
    <h1>${t("login_title")}</h1>
    ${S.othersWaiting ? `<p class="note others-waiting">${S.othersWaiting === 1 ? t("others_waiting_one") : t("others_waiting", { n: S.othersWaiting })}</p>` : ""}
    <label>${t("email")}<input name="email" type="email" autocomplete="username" required inputmode="email"></label>
    <label>${t("password")}<input name="password" type="password" autocomplete="current-password" required></label>
    <p class="error" id="login-error" hidden></p>
    <button class="btn primary big" type="submit">${t("sign_in")}</button>
  </form>`;
}

function noRoute() {
  return `<section class="card"><p class="big-text">${t("no_route")}</p>
    <button class="btn" data-act="reload">↻</button>
    <button class="btn ghost" data-act="logout">${t("sign_out")}</button></section>`;
}

function etaOf(s) {
  return s.eta_at ? { label: t("eta"), at: s.eta_at } : { label: t("planned_at"), at: s.planned && s.planned.arrival_at };
}

function shiftBar(v) {
  if (v.status === "planned") return `<button class="btn primary big" data-act="start-shift">${t("start_shift")}</button>`;
  if (v.status === "finished") return `<p class="card big-text">${t("shift_over")}</p>`;
  if (v.on_break) {
    return `<button class="btn warn big" data-act="end-break">${t("end_break")} · ${v.on_break.planned ? t("planned_break") : t("unplanned_break")}</button>`;
  }
  return `<div class="row3">
    <button class="btn" data-act="break">${t("take_break")}</button>
    <button class="btn" data-act="delay">${t("report_delay")}</button>
    <button class="btn" data-act="end-shift">${t("end_shift")}</button></div>`;
}

function listScreen() {
  const v = view();
  const left = v.stops.filter((s) => !FINAL.includes(s.status)).length;
  const items = v.stops.map((s) => {
    const eta = etaOf(s);
    const fin = FINAL.includes(s.status);
    return `<li><button class="stop ${fin ? "stop-fin" : ""} st-${s.status}" data-act="open" data-id="${esc(s.id)}">
      <span class="seq">${s.seq}</span>
      <span class="body">
        <span class="line1"><b class="time">${esc(clock(eta.at))}</b> <span class="who">${esc(s.contact?.name || s.reference)}</span></span>
        <span class="addr">${esc(s.address)}</span>
        <span class="tags">
          ${s.kind === "pickup" ? `<span class="tag tag-pick">${t("pickup")}</span>` : ""}
          ${s.cod && s.cod.amount ? `<span class="tag tag-cod">${t("cod")} ${esc(money(s.cod.amount, s.cod.currency))}</span>` : ""}
          <span class="tag">${t("parcels")}: ${s.parcels ?? codesOf(s).length}</span>
          ${s.status !== "planned" ? `<span class="tag tag-st">${t(`status_${s.status}`)}</span>` : ""}
          ${s.queued ? `<span class="tag tag-q">${t("pending_send")}</span>` : ""}
        </span>
      </span></button></li>`;
  }).join("");
  return `${routePicker(v)}<section class="head">
      <h1>${t("today")}</h1>
      <p class="muted">${left === 1 ? t("stop_left") : t("stops_left", { n: left })}${S.fromCache ? ` · ${t("cached_copy")}` : ""}</p>
      <div class="row2"><button class="btn" data-act="map">${t("map")}</button>
      <button class="btn ghost" data-act="logout">${t("sign_out")}</button></div>
      ${shiftBar(v)}
    </section>
    <ol class="stops">${items}</ol>`;
}

function routePicker(v) {
  const all = routes();
  if (all.length < 2) return "";
  const items = all.map((r, i) => {
    const left = r.stops.filter((s) => !FINAL.includes(s.status)).length;
    const on = r.id === v.id;
    return `<li><button class="route-pick ${on ? "on" : ""}" data-act="pick-route" data-id="${esc(r.id)}" aria-pressed="${on}">
      <b>${t("route_n", { n: i + 1 })}</b> ${esc(clock(r.depart_at || (r.stops[0] && r.stops[0].planned && r.stops[0].planned.arrival_at)))}
      <span class="muted">${left === 1 ? t("stop_left") : t("stops_left", { n: left })} · ${t(`route_${r.status}`)}</span></button></li>`;
  }).join("");
  return `<nav class="routes" aria-label="${t("routes_today", { n: all.length })}"><p class="muted">${t("routes_today", { n: all.length })}</p><ol>${items}</ol></nav>`;
}

function mapScreen() {
  return `<div class="sticky"><button class="btn" data-act="list">☰ ${t("list")}</button></div>
    <div id="map" class="map"></div>`;
}

function navLinks(s) {
  const ll = `${s.lat},${s.lon}`;
  const label = encodeURIComponent(s.contact?.name || s.address || "");
  return `<a class="btn primary big" href="geo:${ll}?q=${ll}(${label})">➤ ${t("navigate")}</a>
    <p class="muted">${t("open_in")}:</p>
    <div class="row3 open-in">
      <a class="btn" href="https://www.google.com/maps/dir/?api=1&destination=${ll}" target="_blank" rel="noopener">Google</a>
      <a class="btn" href="https://maps.apple.com/?daddr=${ll}" target="_blank" rel="noopener">Apple</a>
      <a class="btn" href="https://osmand.net/map?pin=${ll}#17/${s.lat}/${s.lon}" target="_blank" rel="noopener">OsmAnd</a></div>`;
}

function stopScreen(s) {
  if (!s) return listScreen();
  const eta = etaOf(s);
  const phone = (s.contact?.phone || "").replace(/[^\d+]/g, "");
  const msgs = S.messages[s.order_id];
  const codes = codesOf(s);
  return `<button class="btn ghost back" data-act="list">← ${t("back")}</button>
    <section class="card">
      <p class="muted">${t("stop")} ${s.seq} · ${s.kind === "pickup" ? t("pickup") : t("delivery")} · ${esc(eta.label)} <b>${esc(clock(eta.at))}</b></p>
      <h1>${esc(s.contact?.name || s.reference)}</h1>
      <p class="big-text">${esc(s.address)}</p>
      ${phone ? `<div class="row2"><a class="btn" href="tel:${esc(phone)}">${t("call")}</a><a class="btn" href="sms:${esc(phone)}">${t("sms")}</a></div>` : ""}
      ${navLinks(s)}
    </section>
    ${actionsBlock(s)}
    ${s.instructions ? `<section class="card note"><h2>${t("instructions")}</h2><p>${esc(s.instructions)}</p></section>` : ""}
    ${s.cod && s.cod.amount ? `<section class="card cod"><h2>${t("cod")}</h2><p class="big-text">${esc(money(s.cod.amount, s.cod.currency))}</p></section>` : ""}
    <section class="card"><h2>${t("parcels")}: ${s.parcels ?? codes.length}</h2>
      ${codes.length ? `<ul class="codes">${codes.map((c) => `<li>${esc(c)}</li>`).join("")}</ul>` : ""}</section>
    <section class="card" id="messages" ${msgs === null ? "hidden" : ""}><h2>${t("messages")}</h2>
      ${msgs && msgs.length ? `<ul class="msgs">${msgs.map((m) => `<li class="msg-${esc(m.sender)}"><b>${esc(t(`sender_${m.sender}`) || m.sender || "")}</b> ${esc(m.body || m.text || "")} <span class="muted">${esc(clock(m.at || m.created_at))}</span></li>`).join("")}</ul>` : `<p class="muted">${t("no_messages")}</p>`}
      <form class="row-in" data-form="message" data-order="${esc(s.order_id)}"><input name="body" maxlength="1000" autocomplete="off" aria-label="${t("reply")}" placeholder="${t("reply")}"><button class="btn" type="submit">${t("send")}</button></form>
    </section>
    `;
}

function actionsBlock(s) {
  const fin = FINAL.includes(s.status);
  if (fin) return `<p class="card big-text st-${s.status}">${t(`status_${s.status}`)}${s.queued ? ` · ${t("pending_send")}` : ""}</p>`;
  return `<div class="actions">
      ${s.status === "planned" || s.status === "en_route" ? `<button class="btn big" data-act="arrive" data-id="${esc(s.id)}">${t("arrived")}</button>` : ""}
      ${s.kind === "pickup"
        ? `<button class="btn primary big" data-act="pickup" data-id="${esc(s.id)}">✔ ${t("do_pickup")}</button>`
        : `<button class="btn primary big" data-act="deliver" data-id="${esc(s.id)}">✔ ${t("deliver")}</button>`}
      <button class="btn danger big" data-act="fail" data-id="${esc(s.id)}">✖ ${t("fail")}</button>
    </div>`;
}

async function loadMessages(s) {
  if (!s || S.messages[s.order_id] !== undefined) return;
  try {
    const out = await get(`/orders/${encodeURIComponent(s.order_id)}/messages`);
    S.messages[s.order_id] = Array.isArray(out) ? out : (out && (out.items || out.messages)) || [];
    await store.setKV(`messages:${s.order_id}`, S.messages[s.order_id]);
  } catch (e) {
    if (e instanceof HttpError && (e.status === 404 || e.status === 405 || e.status === 403)) S.messages[s.order_id] = null;
    else S.messages[s.order_id] = (await store.getKV(`messages:${s.order_id}`)) || [];
  }
  if (S.view.name === "stop" && S.view.stopId === s.id) {
    const y = window.scrollY;
    app.innerHTML = stopScreen(s);
    window.scrollTo(0, y);
  }
}

function scanBlock(s, label) {
  const codes = codesOf(s);
  const f = S.form;
  const list = (codes.length ? codes : f.scans).map((c) => {
    const ok = f.scans.includes(c);
    return `<li class="${ok ? "ok" : ""}">${ok ? "✔" : "○"} ${esc(c)}</li>`;
  }).join("");
  const extra = f.scans.filter((c) => codes.length && !codes.includes(c)).map((c) => `<li class="bad">? ${esc(c)}</li>`).join("");
  return `<section class="card"><h2>${label}</h2>
    ${codes.length ? `<p class="muted">${t("scanned", { a: f.scans.filter((c) => codes.includes(c)).length, b: codes.length })}</p>` : ""}
    <ul class="codes scans">${list}${extra}</ul>
    <button class="btn big" type="button" data-act="camera">${t("scan_camera")}</button>
    <div class="row-in"><input id="code" name="code" autocomplete="off" autocapitalize="characters" placeholder="${t("scan_typed")}" aria-label="${t("scan_typed")}">
      <button class="btn" type="button" data-act="add-code">${t("add")}</button></div>
  </section>`;
}

function photoBlock(required) {
  const f = S.form;
  const thumbs = f.photos.map((p, i) => `<li><img alt="" src="${p.url}"><button class="btn ghost small" type="button" data-act="photo-rm" data-i="${i}">${t("remove")}</button></li>`).join("");
  return `<section class="card"><h2>${t("photos")}${required ? " *" : ""}</h2>
    <ul class="thumbs">${thumbs}</ul>
    <label class="btn big file">${t("take_photo")}<input id="photo" type="file" accept="image/*" capture="environment" multiple hidden></label>
  </section>`;
}

function newForm(s) {
  const r = rulesOf(s);
  return { stopId: s.id, scans: [], photos: [], recipient: "", contactless: r.contactless, signatureData: null,
           codAmount: "", codCurrency: s.cod?.currency || "MXN", codMethod: "cash", codReference: "",
           reason: "", note: "", condition: "good" };
}

function deliverScreen(s) {
  if (!s) return listScreen();
  const r = rulesOf(s);
  const f = S.form;
  const cod = s.cod && s.cod.amount ? s.cod : null;
  return `<button class="btn ghost back" data-act="open" data-id="${esc(s.id)}">← ${t("back")}</button>
    <form class="pod" data-form="deliver" novalidate>
    <h1>${t("pod_title")} · ${esc(s.contact?.name || "")}</h1>
    ${r.contactless ? `<label class="check card"><input type="checkbox" name="contactless" ${f.contactless ? "checked" : ""}> ${t("contactless")}</label>` : ""}
    ${scanBlock(s, `${t("scan")}${r.scan_all ? " *" : ""}`)}
    ${photoBlock(r.photo || f.contactless)}
    ${f.contactless ? "" : `<section class="card"><h2>${t("signature")}${r.signature ? " *" : ""}</h2>
      <canvas id="sig" class="sig"></canvas>
      <button class="btn ghost small" type="button" data-act="sig-clear">${t("clear")}</button>
      <label>${t("recipient")}<input name="recipient" value="${esc(f.recipient)}" autocomplete="off"></label></section>`}
    ${cod ? `<section class="card cod"><h2>${t("cod_collected")}: ${esc(money(cod.amount, cod.currency))}</h2>
      <div class="row2"><label>${t("amount")}<input name="codAmount" inputmode="decimal" value="${esc(f.codAmount)}" placeholder="${(cod.amount / 100).toFixed(2)}"></label>
      <label>${t("currency")}<select name="codCurrency">${["MXN", "USD"].map((c) => `<option ${f.codCurrency === c ? "selected" : ""}>${c}</option>`).join("")}</select></label></div>
      <fieldset class="seg"><legend>${t("method")}</legend>
        <label><input type="radio" name="codMethod" value="cash" ${f.codMethod === "cash" ? "checked" : ""}> ${t("cash")}</label>
        <label><input type="radio" name="codMethod" value="card" ${f.codMethod === "card" ? "checked" : ""}> ${t("card")}</label></fieldset>
      ${f.codMethod === "card" ? `<label>${t("card_reference")}<input name="codReference" value="${esc(f.codReference)}"></label>` : ""}
    </section>` : ""}
    <p class="missing" id="missing" role="alert"></p>
    <button class="btn primary big" type="submit" id="complete">✔ ${t("complete")}</button>
    </form>`;
}

function updateMissing() {
  const s = stopById(S.view.stopId);
  const el = document.getElementById("missing");
  if (!s || !el) return [];
  const signed = !!(S.pad && !S.pad.isEmpty());
  const miss = S.view.name === "deliver" ? deliveryMissing(s, S.form, signed) : otherMissing(s);
  el.textContent = miss.length ? `${t("why_not")} ${miss.join(", ")}` : "";
  el.hidden = !miss.length;
  const btn = document.getElementById("complete");
  if (btn) btn.classList.toggle("disabled", miss.length > 0);
  return miss;
}

function otherMissing(s) {
  const f = S.form;
  const out = [];
  if (S.view.name === "fail") {
    if (!f.reason) out.push(t("need_reason"));
    if (f.reason && f.reason !== "unsafe" && !f.photos.length) out.push(t("need_photo"));
  } else if (S.view.name === "pickup") {
    if (!f.scans.length) out.push(t("need_scan_one"));
    if ((rulesOf(s).photo || f.condition === "damaged") && !f.photos.length) out.push(t("need_photo"));
  }
  return out;
}

function failScreen(s) {
  if (!s) return listScreen();
  const f = S.form;
  return `<button class="btn ghost back" data-act="open" data-id="${esc(s.id)}">← ${t("back")}</button>
    <form class="pod" data-form="fail" novalidate>
    <h1>${t("fail_title")} · ${esc(s.contact?.name || "")}</h1>
    <fieldset class="card reasons"><legend>${t("reason")}</legend>
      ${REASONS.map((r) => `<label class="reason ${f.reason === r ? "on" : ""}"><input type="radio" name="reason" value="${r}" ${f.reason === r ? "checked" : ""}> ${t(`reason_${r}`)}</label>`).join("")}
    </fieldset>
    ${photoBlock(f.reason !== "unsafe")}
    <section class="card"><label>${t("note")}<textarea name="note" rows="2">${esc(f.note)}</textarea></label></section>
    <p class="missing" id="missing" role="alert"></p>
    <button class="btn danger big" type="submit" id="complete">✖ ${t("record_fail")}</button>
    </form>`;
}

function pickupScreen(s) {
  if (!s) return listScreen();
  const f = S.form;
  return `<button class="btn ghost back" data-act="open" data-id="${esc(s.id)}">← ${t("back")}</button>
    <form class="pod" data-form="pickup" novalidate>
    <h1>${t("pickup_title")} · ${esc(s.contact?.name || "")}</h1>
    ${scanBlock(s, `${t("scan")} *`)}
    <fieldset class="card seg"><legend>${t("condition")}</legend>
      <label><input type="radio" name="condition" value="good" ${f.condition === "good" ? "checked" : ""}> ${t("good")}</label>
      <label><input type="radio" name="condition" value="damaged" ${f.condition === "damaged" ? "checked" : ""}> ${t("damaged")}</label></fieldset>
    ${photoBlock(rulesOf(s).photo || f.condition === "damaged")}
    <section class="card"><label>${t("note")}<textarea name="note" rows="2">${esc(f.note)}</textarea></label></section>
    <p class="missing" id="missing" role="alert"></p>
    <button class="btn primary big" type="submit" id="complete">✔ ${t("record_pickup")}</button>
    </form>`;
}

function delayScreen() {
  return `<button class="btn ghost back" data-act="list">← ${t("back")}</button>
    <form class="card" data-form="delay"><h1>${t("report_delay")}</h1>
    <div class="row3">${[10, 20, 30].map((m) => `<button class="btn big" type="button" data-act="delay-pick" data-m="${m}">${m}′</button>`).join("")}</div>
    <label>${t("minutes")}<input name="minutes" type="number" inputmode="numeric" min="1" max="600" required></label>
    <label>${t("note")}<textarea name="note" rows="2"></textarea></label>
    <button class="btn primary big" type="submit">${t("send")}</button></form>`;
}

function breakScreen() {
  const taken = (route().breaks || []).some((b) => b.planned) ||
    S.pending.some((e) => e.action.route_id === route().id && e.action.type === "break_start" && e.action.data.planned !== false);
  return `<button class="btn ghost back" data-act="list">← ${t("back")}</button>
    <section class="card"><h1>${t("take_break")}</h1>
    ${taken ? `<p class="muted">${t("planned_break_taken")}</p>` : `<button class="btn primary big" data-act="break-start" data-planned="1">${t("planned_break")}</button>`}
    <label>${t("unplanned_minutes")}<input name="break_minutes" type="number" inputmode="numeric" min="1" max="480" placeholder="15"></label>
    <button class="btn big" data-act="break-start" data-planned="0">${t("unplanned_break")}</button></section>`;
}

function returnCodes() {
  const v = view();
  const codes = [];
  for (const s of v.stops) {
    if (s.kind === "pickup" && s.status === "done") continue;
    if (s.kind !== "pickup" && s.status !== "done") codes.push(...codesOf(s));
  }
  codes.push(...(S.picked[v.id] || []));
  return [...new Set(codes)];
}

function scanInScreen() {
  const codes = returnCodes();
  const f = S.form;
  const fake = { parcels_codes: codes, pod_rules: {} };
  return `<button class="btn ghost back" data-act="list">← ${t("back")}</button>
    <h1>${t("scan_in_title")}</h1><p class="muted">${t("scan_in_help")}</p>
    ${codes.length || f.scans.length ? scanBlock(fake, t("scan")) : ""}
    <button class="btn primary big" data-act="finish-shift">${t("finish")}</button>`;
}

function outboxScreen() {
  const row = (e, bad) => `<li class="${bad ? "bad" : ""}"><b>${esc(e.action.type)}</b> ${esc(clock(e.action.device_time))}
    ${bad ? `<br>${esc(t("not_accepted", { m: e.error?.message || e.error?.code || "" }))}` : ""}</li>`;
  return `<button class="btn ghost back" data-act="list">← ${t("back")}</button>
    <section class="card"><h1>${t("waiting", { n: S.pending.length })}</h1>
    <ul class="outbox-list">${S.pending.map((e) => row(e, false)).join("")}</ul>
    <button class="btn big" data-act="flush">↻ ${t("send")}</button></section>
    ${S.rejected.length ? `<section class="card"><h2>${t("rejected", { n: S.rejected.length })}</h2>
      <ul class="outbox-list">${S.rejected.map((e) => row(e, true)).join("")}</ul></section>` : ""}`;
}

// ---- events ----------------------------------------------------------------------
function addScan(code) {
  const c = String(code || "").trim();
  if (!c || !S.form) return;
  if (!S.form.scans.includes(c)) S.form.scans.push(c);
  const s = stopById(S.view.stopId);
  const codes = S.view.name === "scanin" ? returnCodes() : s ? codesOf(s) : [];
  if (codes.length && !codes.includes(c)) toast(t("unknown_code", { c }));
  rerenderForm();
}

function rerenderForm() {
  const y = window.scrollY;
  render();
  window.scrollTo(0, y);
  if (!scanner.hidden) scannerStatus();
}

// The camera scanner lives outside #app, so the form can re-render under it while it keeps scanning.
const scanner = document.getElementById("scanner");

function scannerStatus() {
  const s = stopById(S.view.stopId);
  const codes = S.view.name === "scanin" ? returnCodes() : s ? codesOf(s) : [];
  const got = S.form ? S.form.scans : [];
  const last = got[got.length - 1];
  document.getElementById("scan-status").textContent = codes.length
    ? `${t("scanned", { a: got.filter((c) => codes.includes(c)).length, b: codes.length })}${last ? ` · ${last}` : ""}`
    : last || "";
  document.getElementById("scan-done").textContent = t("done");
}

function stopScanner() {
  if (S.scannerStop) { S.scannerStop(); S.scannerStop = null; }
  scanner.hidden = true;
}

async function onAct(el) {
  const act = el.dataset.act;
  const id = el.dataset.id;
  if (act === "open") return go("stop", { stopId: id });
  if (act === "pick-route") { await pickRoute(id); return go("list"); }
  if (act === "list") return go("list");
  if (act === "map") return go("map");
  if (act === "reload") return loadToday();
  if (act === "logout") {
    if (S.pending.length && !window.confirm(t("logout_pending", { n: S.pending.length }))) return;
    // signed out on the phone even when offline: the session is ended on the server at the next start
    localStorage.setItem(SIGNED_OUT, "1");
    try { await post("/auth/logout"); localStorage.removeItem(SIGNED_OUT); } catch { /* offline: ended later */ }
    S.me = null;
    S.today = null;
    S.messages = {};
    S.routeId = null;
    if (source) { source.close(); source = null; }  // the next driver's stream is opened with their session
    await sync.setUser(null);
    await refreshPending();
    await store.setKV("me", null);
    await store.setKV("today", null);  // the next driver on this phone does not see this route
    if (window.caches) await caches.delete("lastmile-driver-data");
    return go("login");
  }
  if (act === "flush") return flushAll();
  if (act === "start-shift") { await queue("start_shift", null); return render(); }
  if (act === "end-shift") { S.form = newForm({ id: null }); return go("scanin"); }
  if (act === "break") return go("break");
  if (act === "delay") return go("delay");
  if (act === "delay-pick") { app.querySelector("[name=minutes]").value = el.dataset.m; return; }
  if (act === "break-start") {
    const planned = el.dataset.planned === "1";
    const data = { planned };
    const minutes = parseInt((app.querySelector("[name=break_minutes]") || {}).value, 10);
    if (!planned && minutes > 0) data.minutes = minutes;
    await queue("break_start", null, data);
    return go("list");
  }
  if (act === "end-break") {
    await queue("break_end", null, {});
    return render();
  }
  if (act === "arrive") { await queue("arrive", stopById(id)); return render(); }
  if (act === "deliver" || act === "fail" || act === "pickup") {
    S.form = newForm(stopById(id));
    return go(act, { stopId: id });
  }
  if (act === "add-code") {
    const input = document.getElementById("code");
    addScan(input.value);
    return;
  }
  if (act === "camera") {
    stopScanner();
    scanner.hidden = false;
    scannerStatus();
    try {
      S.scannerStop = await startScanner(document.getElementById("video"), config.zxing, addScan);
    } catch (e) {
      stopScanner();
      toast(t("camera_unavailable"));
      document.getElementById("code").focus();
    }
    return;
  }
  if (act === "photo-rm") {
    const [p] = S.form.photos.splice(Number(el.dataset.i), 1);
    if (p) URL.revokeObjectURL(p.url);
    return rerenderForm();
  }
  if (act === "sig-clear") { if (S.pad) S.pad.clear(); S.form.signatureData = null; return updateMissing(); }
  if (act === "finish-shift") {
    const missing = returnCodes().filter((c) => !S.form.scans.includes(c));
    if (missing.length) {
      toast(`${t("why_not")} ${t("need_scan_all")} (${missing.length})`, 5000);
      return;
    }
    await queue("end_shift", null, { scans: S.form.scans });
    return go("list");
  }
}

async function onSubmit(form) {
  const kind = form.dataset.form;
  if (kind === "login") {
    const err = document.getElementById("login-error");
    err.hidden = true;
    try {
      await login(form.email.value.trim(), form.password.value);
      localStorage.removeItem(SIGNED_OUT);
      await whoAmI();
      if (S.me) { startLive(); startStream(); await loadToday(); go("list"); flushAll(); }
    } catch (e) {
      err.textContent = e instanceof Offline ? t("offline_login") : e instanceof HttpError && e.status === 403 ? t("not_driver") : t("bad_login");
      err.hidden = false;
    }
    return;
  }
  if (kind === "message") {
    const body = form.body.value.trim();
    if (!body) return;
    try {
      const m = await post(`/orders/${encodeURIComponent(form.dataset.order)}/messages`, { body });
      const list = (S.messages[form.dataset.order] = S.messages[form.dataset.order] || []);
      if (!list.some((x) => x.id === m.id)) list.push(m);
      rerenderForm();
    } catch (e) {
      toast(e instanceof Offline ? t("offline") : String(e.message || e));
    }
    return;
  }
  if (kind === "delay") {
    const minutes = parseInt(form.minutes.value, 10);
    if (!(minutes > 0)) return form.minutes.focus();
    await queue("delay", null, { minutes, note: form.note.value.trim() });
    return go("list");
  }
  const s = stopById(S.view.stopId);
  const miss = updateMissing();
  if (miss.length) {
    document.getElementById("missing").scrollIntoView({ block: "center" });
    return;
  }
  const f = S.form;
  const photos = f.photos.map((p) => p.sha256);
  const files = f.photos.map(({ url, ...p }) => p);
  if (kind === "deliver") {
    const sig = f.contactless ? null : await signatureFile(S.pad, document.getElementById("sig"));
    if (sig) files.push(sig);
    const cod = s.cod && s.cod.amount ? { amount: toMinor(f.codAmount), currency: f.codCurrency, method: f.codMethod } : null;
    if (cod && f.codMethod === "card") cod.reference = f.codReference.trim();
    await queue("deliver", s, { recipient_name: f.recipient.trim(), signature: sig ? sig.sha256 : null, photos,
                                scans: f.scans, cod, contactless: !!f.contactless }, files);
  } else if (kind === "fail") {
    await queue("fail", s, { reason: f.reason, photos, note: f.note.trim() }, files);
  } else if (kind === "pickup") {
    await queue("pickup", s, { scans: f.scans, condition: f.condition, photos, note: f.note.trim() }, files);
    const r = route();
    S.picked[r.id] = [...new Set([...(S.picked[r.id] || []), ...f.scans])];
    await store.setKV("picked", S.picked);  // they come back to the depot at the end of the shift
  }
  for (const p of f.photos) URL.revokeObjectURL(p.url);
  S.form = null;
  S.pad = null;
  go("list");
}

app.addEventListener("click", (ev) => {
  const el = ev.target.closest("[data-act]");
  if (!el) return;
  ev.preventDefault();
  onAct(el).catch((e) => { console.error(e); toast(String(e.message || e)); });
});

app.addEventListener("submit", (ev) => {
  ev.preventDefault();
  onSubmit(ev.target).catch((e) => { console.error(e); toast(String(e.message || e)); });
});

app.addEventListener("stop", (ev) => go("stop", { stopId: ev.detail }));

app.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && ev.target.id === "code") {
    ev.preventDefault();
    addScan(ev.target.value);
  }
});

app.addEventListener("input", (ev) => {
  const el = ev.target;
  if (!S.form || !el.name) return;
  if (["recipient", "codAmount", "codReference", "note"].includes(el.name)) {
    S.form[el.name] = el.value;
    updateMissing();
  }
});

app.addEventListener("change", async (ev) => {
  const el = ev.target;
  if (!S.form) return;
  if (el.id === "photo") {
    for (const file of el.files) {
      try {
        const p = await compressPhoto(file);
        p.url = URL.createObjectURL(p.blob);
        S.form.photos.push(p);
      } catch (e) {
        toast(String(e.message || e));
      }
    }
    return rerenderForm();
  }
  if (el.name === "contactless") { S.form.contactless = el.checked; return rerenderForm(); }
  if (el.name === "codCurrency") { S.form.codCurrency = el.value; return updateMissing(); }
  if (el.name === "codMethod") { S.form.codMethod = el.value; return rerenderForm(); }
  if (el.name === "reason") { S.form.reason = el.value; return rerenderForm(); }
  if (el.name === "condition") { S.form.condition = el.value; return rerenderForm(); }
});

document.getElementById("lang").addEventListener("click", () => {
  setLanguage(language() === "es" ? "en" : "es");
  if (S.pad && S.form) S.form.signatureData = S.pad.isEmpty() ? null : S.pad.toData();
  render();
});
document.getElementById("scan-done").addEventListener("click", stopScanner);
document.getElementById("outbox").addEventListener("click", () => go(sync.state.authNeeded && S.pending.length ? "login" : "outbox"));
window.addEventListener("online", () => { renderOutbox(); flushAll(); refreshSoon(); });
window.addEventListener("offline", renderOutbox);
sync.onChange(() => { refreshPending(); });

// ---- start -----------------------------------------------------------------------
const SIGNED_OUT = "lastmile.driver.signed_out";

async function whoAmI() {
  if (localStorage.getItem(SIGNED_OUT)) {
    // the driver signed out while offline: end that session before anyone else is let in
    try {
      await post("/auth/logout");
      localStorage.removeItem(SIGNED_OUT);
    } catch (e) {
      if (e instanceof HttpError) localStorage.removeItem(SIGNED_OUT);  // 401: that session is already over
    }
    if (localStorage.getItem(SIGNED_OUT)) {  // still offline: stay signed out
      S.me = null;
      await sync.setUser(null);
      await refreshPending();
      return;
    }
  }
  try {
    const me = await get("/auth/me");
    if (me.role !== "driver") {
      S.me = null;
      toast(t("not_driver"), 6000);
      return;
    }
    S.me = me;
    await store.setKV("me", me);
  } catch (e) {
    if (e instanceof Offline) S.me = (await store.getKV("me")) || null;
    else S.me = null;
  }
  await sync.setUser(S.me ? S.me.id : null);
  S.routeId = S.me ? (await store.getKV(`route:${S.me.id}`)) || null : null;
  await refreshPending();
}

let liveStarted = false;
function startLive() {
  if (liveStarted) return;
  liveStarted = true;
  startPosition();
  startStream();
  setInterval(() => { if (S.pending.length) flushAll(); else sync.flushPositions().catch(() => {}); }, 15000);
}

// ---- a new version of the app -----------------------------------------------------
// The service worker of a new release installs in the background and waits; the driver is
// told and chooses when to reload (never in the middle of a delivery form by surprise).
// Reloading loses nothing: the queue is in IndexedDB.
function watchForUpdates(reg) {
  const offer = (worker) => {
    if (!worker || !navigator.serviceWorker.controller) return;  // the first install is not an update
    S.update = { worker };
    renderOutbox();
  };
  if (reg.waiting) offer(reg.waiting);
  reg.addEventListener("updatefound", () => {
    const worker = reg.installing;
    if (!worker) return;
    worker.addEventListener("statechange", () => { if (worker.state === "installed") offer(worker); });
  });
  const check = () => reg.update().catch(() => {});
  setInterval(check, 30 * 60 * 1000);
  window.addEventListener("online", check);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") check(); });
  window.lastmileDriver.checkForUpdate = check;
}

let reloading = false;
function applyUpdate() {
  if (!S.update) return;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (reloading) return;
    reloading = true;
    window.location.reload();
  });
  S.update.worker.postMessage({ type: "skip-waiting" });
}

document.getElementById("update").querySelector("button").addEventListener("click", applyUpdate);

async function boot() {
  setLanguage(language());
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(`${config.scope}/sw.js`, { scope: config.scope })
      .then(watchForUpdates).catch((e) => console.warn(e));
  }
  S.picked = (await store.getKV("picked")) || {};
  await whoAmI();
  if (!S.me) return go("login");
  startLive();
  await loadToday();
  go(S.view.name === "login" ? "login" : "list");
  flushAll();
}

boot().catch((e) => { console.error(e); app.textContent = String(e); });
window.lastmileDriver = { state: S, sync, store, checkForUpdate: () => Promise.resolve() };
