// The customer's tracking page: renders the state the server put in the page, keeps it
// live over /t/<token>/stream (Server-Sent Events) and talks to the portal API.
// Strings come from static/portal/i18n.json (handed over in the page's config).

const config = JSON.parse(document.getElementById("portal-config").textContent);
const token = config.token;
const base = `/t/${encodeURIComponent(token)}`;
const LANG_KEY = "lastmile.portal.lang";
let state = config.state;
let lang = pickLanguage();
let map = null;
let driverMarker = null;
let destMarker = null;
let selectedSlot = null;
let stars = 0;
let refreshTimer = null;
const seen = new Set();

const $ = (id) => document.getElementById(id);

function pickLanguage() {
  // the switch (remembered) wins; then the order's language; then the browser's
  let saved = null;
  try { saved = localStorage.getItem(LANG_KEY); } catch (_) { /* private mode */ }
  if (saved === "es" || saved === "en") return saved;
  if (state.language === "es" || state.language === "en") return state.language;
  return (navigator.language || "es").toLowerCase().startsWith("en") ? "en" : "es";
}

function t(key, vars = {}) {
  const text = (config.i18n[lang] && config.i18n[lang][key]) ?? config.i18n.es[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

function locale() { return lang === "en" ? "en-US" : "es-MX"; }

function time(iso) {
  return new Intl.DateTimeFormat(locale(), { hour: "numeric", minute: "2-digit", timeZone: state.timezone })
    .format(new Date(iso));
}

function day(iso, dateOnly = false) {
  const d = dateOnly ? new Date(`${iso}T12:00:00Z`) : new Date(iso);
  return new Intl.DateTimeFormat(locale(), { weekday: "long", day: "numeric", month: "long",
    timeZone: dateOnly ? "UTC" : state.timezone }).format(d);
}

// -- rendering -------------------------------------------------------------------------

function setLanguage(next, remember = false) {
  lang = next;
  if (remember) try { localStorage.setItem(LANG_KEY, next); } catch (_) { /* ignore */ }
  document.documentElement.lang = next;
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === next));
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  render();
  if (selectedSlot !== null || !$("resched-form").hidden) renderSlots(lastSlots);
  if (!$("pickup-form").hidden) renderPoints(lastPoints);
}

const STEP = { pending: 0, assigned: 0, out_for_delivery: 1, en_route: 2, arrived: 2, delivered: 3,
  failed: 1, returned: 1, cancelled: 0 };

function render() {
  const s = state;
  document.body.dataset.phase = s.phase;
  $("ref").textContent = s.order.reference ? t("order_ref", { ref: s.order.reference }) : "";
  const name = s.driver && s.driver.first_name;
  const key = ["en_route", "arrived"].includes(s.phase) && !name ? `phase.${s.phase}_anon` : `phase.${s.phase}`;
  $("headline").textContent = t(key, { driver: name || "" });
  const steps = document.querySelectorAll("#steps li");
  steps.forEach((li, i) => {
    li.classList.toggle("done", i < STEP[s.phase]);
    li.classList.toggle("current", i === STEP[s.phase]);
  });
  const w = s.order.windows && s.order.windows[0];
  $("when").textContent = w
    ? t("date_window", { date: day(w.start), start: time(w.start), end: time(w.end) })
    : day(s.order.date, true);
  renderEta();
  $("driver").hidden = !name;
  $("driver").textContent = name ? t("driver", { name }) : "";
  renderMap();
  renderMessages();
  renderPrefs();
  renderResched();
  renderPickup();
  renderRating();
}

function renderEta() {
  const el = $("eta");
  const s = state;
  if (!s.eta || ["delivered", "failed", "returned", "cancelled", "arrived"].includes(s.phase)) {
    el.hidden = true;
    return;
  }
  const n = s.stops_before;
  const ahead = document.createElement("span");
  ahead.className = "ahead";
  ahead.textContent = n === null || n === undefined ? "" : t(n === 0 ? "stops.0" : n === 1 ? "stops.1" : "stops.n", { n });
  const win = document.createElement("span");
  win.className = "window";
  win.textContent = t("eta", { start: time(s.eta.start), end: time(s.eta.end) });
  el.replaceChildren(...(ahead.textContent ? [ahead, win] : [win]));
  el.dataset.etaAt = s.eta.at;
  el.hidden = false;
}

function renderMap() {
  const card = $("map-card");
  if (!state.live || typeof L === "undefined") {
    card.hidden = true;
    if (driverMarker) { driverMarker.remove(); driverMarker = null; }  // nothing of the driver stays on screen
    return;
  }
  card.hidden = false;
  const dest = [state.destination.lat, state.destination.lon];
  if (!map) {
    map = L.map("map", { zoomControl: true, attributionControl: Boolean(config.tiles.url) }).setView(dest, 15);
    if (config.tiles.url) {
      L.tileLayer(config.tiles.url, { maxZoom: 19, attribution: config.tiles.attribution }).addTo(map);
    } else {
      $("map").classList.add("no-tiles");  // no tile server configured: markers on a plain grid
    }
  }
  if (!destMarker) {
    destMarker = L.circleMarker(dest, { radius: 9, color: "#b3261e", weight: 3, fillColor: "#fff", fillOpacity: 1 })
      .addTo(map).bindTooltip(t("map.destination"));
  }
  if (state.position) moveDriver(state.position, true);
  else map.setView(dest, 15);
}

function moveDriver(pos, fit = false) {
  if (!map) return;
  const ll = [pos.lat, pos.lon];
  if (!driverMarker) {
    driverMarker = L.marker(ll, { icon: L.divIcon({ className: "driver-marker", iconSize: [18, 18] }),
      keyboard: false, title: t("map.driver") }).addTo(map);
    fit = true;
  } else {
    driverMarker.setLatLng(ll);
  }
  const el = $("map");
  el.dataset.driverLat = String(pos.lat);
  el.dataset.driverLon = String(pos.lon);
  el.dataset.positionAt = pos.at || "";
  if (fit) {
    map.fitBounds(L.latLngBounds([ll, [state.destination.lat, state.destination.lon]]).pad(0.3), { maxZoom: 16 });
  } else if (!map.getBounds().pad(-0.1).contains(ll)) {
    map.panTo(ll);
  }
}

function messageItem(m) {
  const li = document.createElement("li");
  li.dataset.id = m.id;
  if (m.from === "you") li.classList.add("mine");
  const who = document.createElement("span");
  who.className = "who";
  const label = m.from === "you" ? t("messages.you") : m.from === "driver" ? (m.name || t("messages.driver"))
    : t("messages.staff");
  who.textContent = `${label} · ${time(m.at)}`;
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = m.body;
  li.append(who, body);
  return li;
}

function renderMessages() {
  const list = $("messages");
  list.replaceChildren();
  seen.clear();
  for (const m of state.messages) {
    seen.add(m.id);
    list.append(messageItem(m));
  }
  if (!state.messages.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = t("messages.empty");
    list.append(li);
  }
  list.scrollTop = list.scrollHeight;
  $("message-form").hidden = !state.can.message;
  $("messages-note").textContent = t(state.can.message ? "messages.privacy" : "messages.closed");
}

function addMessage(m) {
  if (seen.has(m.id)) return;
  state.messages.push(m);
  renderMessages();
}

function renderPrefs() {
  const p = state.preferences;
  const form = $("prefs-form");
  if (!form.contains(document.activeElement)) {
    $("pref-instructions").value = p.instructions;
    $("pref-safe-place").value = p.safe_place;
    $("pref-contactless").checked = p.contactless;
  }
  const open = state.can.preferences;
  for (const el of form.elements) el.disabled = !open;
  $("prefs-locked").hidden = open;
  // after the attempt there is nothing left to instruct: the card goes away
  $("prefs-card").hidden = ["delivered", "failed", "returned", "cancelled"].includes(state.phase);
}

function renderResched() {
  $("resched-card").hidden = !state.can.reschedule && $("resched-result").hidden;
  $("resched-show").hidden = !state.can.reschedule;
  $("resched-hint").hidden = state.phase !== "failed";
}

function renderRating() {
  const rated = Boolean(state.rating);
  $("rate-card").hidden = !state.can.rate && !rated;
  $("rate-form").hidden = rated;
  $("rate-thanks").hidden = !rated;
  const box = $("stars");
  box.replaceChildren();
  for (let n = 1; n <= 5; n++) {
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", String(n <= stars));
    b.setAttribute("aria-label", t("rate.star", { n }));
    b.dataset.score = String(n);
    b.textContent = n <= stars ? "★" : "☆";
    b.addEventListener("click", () => { stars = n; $("rate-send").disabled = false; renderRating(); });
    box.append(b);
  }
}

// -- talking to the server -----------------------------------------------------------------

function showError(text) {
  const el = $("error");
  el.textContent = text || t("error.generic");
  el.hidden = false;
  setTimeout(() => { el.hidden = true; }, 6000);
}

async function api(method, path, body) {
  const res = await fetch(base + path, {
    method, headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit", cache: "no-store",
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || res.statusText);
    err.status = res.status;
    throw err;
  }
  return data;
}

async function reloadState() {
  try {
    state = await api("GET", "/state");
    render();
  } catch (e) {
    if (e.status === 404) location.reload();  // the link expired: show the friendly page
  }
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(reloadState, 300);
}

function onLive(msg) {
  switch (msg.type) {
    case "state":
      state = msg.state;
      render();
      break;
    case "position":
      if (!state.live) return;
      state.position = msg;
      moveDriver(msg);
      break;
    case "eta":
      state.eta = msg.eta;
      if (typeof msg.stops_before === "number") state.stops_before = msg.stops_before;
      renderEta();
      break;
    case "stop":
      state.live = msg.stop_status === "en_route" && !["delivered", "failed"].includes(msg.order_status);
      if (!state.live) state.position = null;
      renderMap();
      scheduleRefresh();
      break;
    case "message":
      addMessage(msg.message);
      break;
    case "refresh":
      scheduleRefresh();
      break;
    default:
      break;
  }
}

function connect() {
  const es = new EventSource(`${base}/stream`);
  const line = $("connection");
  es.onmessage = (ev) => {
    line.hidden = true;
    try { onLive(JSON.parse(ev.data)); } catch (e) { console.error(e); }
  };
  es.onopen = () => { line.hidden = true; document.body.dataset.stream = "open"; };
  es.onerror = () => {
    document.body.dataset.stream = "retrying";
    line.textContent = t("offline");
    line.hidden = false;
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
  };
}

// -- forms -----------------------------------------------------------------------------------

$("message-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("message-input");
  const body = input.value.trim();
  if (!body) return;
  const button = ev.target.querySelector("button");
  button.disabled = true;
  try {
    addMessage(await api("POST", "/messages", { body }));
    input.value = "";
  } catch (e) {
    showError(e.message);
  } finally {
    button.disabled = false;
  }
});

$("prefs-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    state.preferences = await api("PATCH", "/preferences", {
      instructions: $("pref-instructions").value, safe_place: $("pref-safe-place").value,
      contactless: $("pref-contactless").checked,
    });
    document.activeElement && document.activeElement.blur();
    renderPrefs();
    $("prefs-saved").hidden = false;
    setTimeout(() => { $("prefs-saved").hidden = true; }, 4000);
  } catch (e) {
    showError(e.message);
  }
});

let lastSlots = [];
let lastPoints = [];
let selectedPoint = null;

function hoursText(spans) {
  return spans.map(([a, b]) => `${time(a)}–${time(b)}`).join(", ");
}

function renderPickup() {
  const p = state.pickup;
  const can = Boolean(state.can.pickup);
  $("pickup-card").hidden = !can && !p;
  const chosen = $("pickup-chosen");
  chosen.hidden = !p;
  chosen.textContent = p ? t("pickup.chosen", { name: p.name, address: p.address || "—", hours: hoursText(p.hours) }) : "";
  $("pickup-show").hidden = !can;
  $("pickup-door").hidden = !(can && p);
  if (!can) $("pickup-form").hidden = true;
}

function renderPoints(points) {
  lastPoints = points;
  const list = $("pickup-points");
  list.replaceChildren();
  $("pickup-form").hidden = false;
  if (!points.length) {
    const li = document.createElement("li");
    li.className = "note";
    li.textContent = t("pickup.none");
    list.append(li);
  }
  points.forEach((pt, i) => {
    const li = document.createElement("li");
    li.dataset.pointId = pt.id;
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "pickup-point";
    radio.value = pt.id;
    radio.disabled = !pt.available || pt.chosen;
    radio.checked = selectedPoint === i;
    radio.addEventListener("change", () => { selectedPoint = i; $("pickup-confirm").disabled = false; });
    const text = document.createElement("span");
    const km = (pt.distance_m / 1000).toFixed(1);
    const why = !pt.hours.length ? t("pickup.closed") : !pt.available ? t("pickup.full") : hoursText(pt.hours);
    text.textContent = `${t(`pickup.${pt.kind}`)}: ${pt.name}${pt.address ? ", " + pt.address : ""} · ${t("pickup.away", { km })} · ${why}`;
    label.append(radio, text);
    li.append(label);
    list.append(li);
  });
  $("pickup-confirm").disabled = selectedPoint === null;
}

$("pickup-show").addEventListener("click", async () => {
  try {
    selectedPoint = null;
    renderPoints(await api("GET", "/pickup-points"));
  } catch (e) {
    showError(e.message);
  }
});

$("pickup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const pt = lastPoints[selectedPoint];
  if (!pt) return;
  try {
    state = await api("PUT", "/pickup", { pickup_point_id: pt.id });
    $("pickup-form").hidden = true;
    selectedPoint = null;
    render();
  } catch (e) {
    showError(e.message);
  }
});

$("pickup-door").addEventListener("click", async () => {
  try {
    state = await api("DELETE", "/pickup");
    $("pickup-form").hidden = true;
    render();
    const chosen = $("pickup-chosen");
    chosen.textContent = t("pickup.door_done");
    chosen.hidden = false;
  } catch (e) {
    showError(e.message);
  }
});

function renderSlots(slots) {
  lastSlots = slots;
  const list = $("slots");
  list.replaceChildren();
  $("resched-form").hidden = false;
  if (!slots.length) {
    const li = document.createElement("li");
    li.className = "note";
    li.textContent = t("resched.none");
    list.append(li);
  }
  slots.forEach((s, i) => {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "slot";
    radio.value = String(i);
    radio.checked = selectedSlot === i;
    radio.addEventListener("change", () => { selectedSlot = i; $("resched-confirm").disabled = false; });
    const text = document.createElement("span");
    text.textContent = `${day(s.start)}, ${time(s.start)}–${time(s.end)}`;
    if (s.green) {
      const g = document.createElement("span");
      g.className = "green";
      g.textContent = `🌱 ${t("resched.green")}`;
      text.append(g);
    }
    label.append(radio, text);
    li.append(label);
    list.append(li);
  });
  $("resched-confirm").disabled = selectedSlot === null;
}

$("resched-show").addEventListener("click", async () => {
  try {
    selectedSlot = null;
    renderSlots(await api("GET", "/slots"));
  } catch (e) {
    showError(e.message);
  }
});

$("resched-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const slot = lastSlots[selectedSlot];
  if (!slot) return;
  try {
    state = await api("POST", "/reschedule", { start: slot.start, end: slot.end });
    $("resched-form").hidden = true;
    const result = $("resched-result");
    result.textContent = t("resched.done", { date: day(slot.start), start: time(slot.start), end: time(slot.end) });
    result.hidden = false;
    render();
  } catch (e) {
    showError(e.message);
  }
});

$("rate-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!stars) return;
  try {
    state.rating = await api("POST", "/rating", { score: stars, comment: $("rate-comment").value });
    state.can.rate = false;
    renderRating();
  } catch (e) {
    showError(e.message);
  }
});

// -- web push: the browser subscribes to this order's messages ------------------------------

function keyBytes(b64) {
  const pad = "=".repeat((4 - (b64.length % 4)) % 4);
  const raw = atob((b64 + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function setUpPush() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  if (["delivered", "failed", "returned", "cancelled"].includes(state.phase)) return;
  let key = null;
  try { key = (await (await fetch("/notifications/push/key", { cache: "no-store" })).json()).public_key; } catch (_) { return; }
  if (!key) return;  // web push is not configured on this server
  const button = $("push-enable");
  const status = $("push-status");
  const registration = await navigator.serviceWorker.register("/t/push-sw.js", { scope: "/t/" });
  const existing = await registration.pushManager.getSubscription();
  button.hidden = Notification.permission === "denied" || (existing && Notification.permission === "granted");
  if (existing && Notification.permission === "granted") {
    status.textContent = t("push.on");
    status.hidden = false;
  }
  button.addEventListener("click", async () => {
    try {
      if ((await Notification.requestPermission()) !== "granted") {
        status.textContent = t("push.denied");
        status.hidden = false;
        button.hidden = true;
        return;
      }
      const sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      const res = await fetch("/notifications/push/subscriptions", {
        method: "POST", headers: { "content-type": "application/json" }, credentials: "omit",
        body: JSON.stringify({ token, subscription: sub.toJSON() }),
      });
      if (!res.ok) throw new Error(res.statusText);
      button.hidden = true;
      status.textContent = t("push.on");
      status.hidden = false;
      document.body.dataset.push = "on";
    } catch (e) {
      showError(e.message);
    }
  });
}

for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLanguage(b.dataset.lang, true));

setLanguage(lang);
connect();
setUpPush().catch(() => {});  // push is a bonus: the page works without it
document.body.dataset.ready = "true";
