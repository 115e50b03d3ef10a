// Spanish and English for the dispatch console. The browser language picks; the switch
// overrides and is remembered (localStorage "lastmile.lang").
const STRINGS = {
  es: {
    "app.title": "Consola de despacho", "app.date": "Fecha", "app.logout": "Salir",
    "login.title": "Consola de despacho", "login.email": "Correo", "login.password": "Contraseña",
    "login.submit": "Entrar", "login.failed": "Correo o contraseña incorrectos",
    "search.placeholder": "Buscar pedido, cliente, teléfono, dirección  ( / )", "search.none": "Sin resultados",
    "live.title": "Actualizaciones en vivo", "live.on": "En vivo", "live.off": "Sin conexión",
    "tab.routes": "Rutas", "tab.unassigned": "Sin asignar", "tab.alerts": "Alertas", "tab.proposals": "Propuestas",
    "route.none": "No hay rutas publicadas para este día.", "route.progress": "{done}/{total} paradas hechas",
    "route.late": "{min} min tarde", "route.ontime": "a tiempo", "route.draft": "borrador",
    "driver.driving": "manejando", "driver.at_stop": "en parada", "driver.stopped": "detenido",
    "driver.on_break": "en descanso", "driver.offline": "sin señal", "driver.unknown": "sin datos",
    "status.planned": "planificada", "status.en_route": "en camino", "status.arrived": "llegó",
    "status.done": "entregada", "status.failed": "fallida", "status.skipped": "omitida",
    "order.pending": "sin asignar", "order.assigned": "asignado", "order.out_for_delivery": "en reparto",
    "order.delivered": "entregado", "order.failed": "fallido", "order.returned": "devuelto", "order.cancelled": "cancelado",
    "stop.move": "Mover", "stop.lock": "Fijar", "stop.unlock": "Soltar", "stop.locked": "fijada",
    "stop.window": "Ventana", "stop.eta": "ETA", "stop.planned": "Plan",
    "orders.import": "Importar CSV", "orders.new": "Nuevo pedido", "orders.reference": "Referencia",
    "orders.name": "Cliente", "orders.phone": "Teléfono", "orders.address": "Dirección", "orders.from": "Desde",
    "orders.until": "Hasta", "orders.save": "Guardar", "orders.map_hint": "Clic en el mapa para tomar la posición.",
    "orders.none": "No hay pedidos sin asignar.", "orders.created": "Pedido creado",
    "import.report": "{created} pedidos importados, {errors} filas con error",
    "import.line": "Línea {line}", "plan.optimize": "Optimizar", "plan.running": "Optimizando… {pct}%",
    "plan.queued": "En cola…", "plan.failed": "La optimización falló: {msg}",
    "plan.ready": "Plan listo: {routes} rutas, {assigned} pedidos asignados, {unassigned} sin asignar",
    "plan.show": "Ver borrador", "plan.show_live": "Ver rutas publicadas", "plan.publish": "Publicar a los conductores",
    "plan.published": "Plan publicado", "plan.reason": "Motivo",
    "move.title": "Mover parada", "move.to": "A la ruta", "move.position": "Posición", "move.preview": "Revisar",
    "move.apply": "Aplicar", "move.unassign": "Quitar de la ruta", "move.lock": "Fijar", "move.cancel": "Cancelar",
    "move.feasible": "Factible", "move.infeasible": "No factible", "move.delta": "{min} min · {km} km · {late} paradas tarde",
    "move.applied": "Cambio aplicado", "move.what": "{ref} (ruta de {driver}, parada {seq})",
    "alerts.none": "Sin alertas.", "alert.late": "Tarde", "alert.at_risk": "En riesgo", "alert.failed": "Fallida",
    "alert.offline": "Sin señal", "alert.idle": "Detenido", "alert.message": "Mensaje",
    "alert.reply": "Responder al cliente", "alert.send": "Enviar", "alert.sent": "Respuesta enviada",
    "proposals.none": "Sin propuestas abiertas.", "proposal.apply": "Aceptar", "proposal.reject": "Rechazar",
    "timeline.title": "Línea de tiempo", "timeline.break": "Descanso", "timeline.legend": "ventana · planificado · ETA · real · descanso",
    "timeline.pick": "Elija una ruta para ver su línea de tiempo.",
    "error": "Error", "legend.depot": "Almacén", "legend.driver": "Conductor",
    "keys.help": "Teclas: / buscar · ↑↓ rutas · Enter abrir · m mover · l fijar · p prioridad · s dividir · u unir · Esc cerrar",
    "prio.label": "Prioridad (0–100)", "prio.save": "Guardar prioridad", "prio.saved": "Prioridad cambiada a {p}",
    "prio.short": "P{p}", "prio.title": "Prioridad {p}: se atiende antes cuando no caben todos",
    "route.split": "Dividir", "route.merge": "Unir", "split.title": "Dividir ruta", "merge.title": "Unir rutas",
    "split.what": "Pasar paradas de la ruta de {driver} a otro chofer", "split.tail": "Desde la parada n.º",
    "split.to": "A", "split.new": "Ruta nueva: {driver} ({vehicle})", "split.none": "Elija al menos una parada",
    "merge.what": "La ruta de {driver} toma las paradas pendientes de:", "merge.drop": "Soltar aquí para unir",
    "reshape.moved": "{n} paradas pasan", "reshape.kept": "{n} se quedan (fijadas o el chofer ya va en camino)",
    "reshape.applied": "Rutas actualizadas; los choferes fueron avisados", "reshape.applied_draft": "Borrador actualizado",
    "plan.editing": "Editando el borrador: los cambios llegan a los choferes al publicar",
    "live.resync": "Se perdieron actualizaciones: día recargado",
  },
  en: {
    "app.title": "Dispatch console", "app.date": "Date", "app.logout": "Sign out",
    "login.title": "Dispatch console", "login.email": "Email", "login.password": "Password",
    "login.submit": "Sign in", "login.failed": "Wrong email or password",
    "search.placeholder": "Search order, customer, phone, address  ( / )", "search.none": "No results",
    "live.title": "Live updates", "live.on": "Live", "live.off": "Offline",
    "tab.routes": "Routes", "tab.unassigned": "Unassigned", "tab.alerts": "Alerts", "tab.proposals": "Proposals",
    "route.none": "No published routes for this day.", "route.progress": "{done}/{total} stops done",
    "route.late": "{min} min late", "route.ontime": "on time", "route.draft": "draft",
    "driver.driving": "driving", "driver.at_stop": "at stop", "driver.stopped": "stopped",
    "driver.on_break": "on break", "driver.offline": "offline", "driver.unknown": "no data",
    "status.planned": "planned", "status.en_route": "en route", "status.arrived": "arrived",
    "status.done": "delivered", "status.failed": "failed", "status.skipped": "skipped",
    "order.pending": "unassigned", "order.assigned": "assigned", "order.out_for_delivery": "out for delivery",
    "order.delivered": "delivered", "order.failed": "failed", "order.returned": "returned", "order.cancelled": "cancelled",
    "stop.move": "Move", "stop.lock": "Lock", "stop.unlock": "Unlock", "stop.locked": "locked",
    "stop.window": "Window", "stop.eta": "ETA", "stop.planned": "Plan",
    "orders.import": "Import CSV", "orders.new": "New order", "orders.reference": "Reference",
    "orders.name": "Customer", "orders.phone": "Phone", "orders.address": "Address", "orders.from": "From",
    "orders.until": "Until", "orders.save": "Save", "orders.map_hint": "Click the map to take the position.",
    "orders.none": "No unassigned orders.", "orders.created": "Order created",
    "import.report": "{created} orders imported, {errors} rows with errors",
    "import.line": "Line {line}", "plan.optimize": "Optimize", "plan.running": "Optimizing… {pct}%",
    "plan.queued": "Queued…", "plan.failed": "Optimization failed: {msg}",
    "plan.ready": "Plan ready: {routes} routes, {assigned} orders assigned, {unassigned} unassigned",
    "plan.show": "Show draft", "plan.show_live": "Show published routes", "plan.publish": "Publish to drivers",
    "plan.published": "Plan published", "plan.reason": "Reason",
    "move.title": "Move stop", "move.to": "To route", "move.position": "Position", "move.preview": "Check",
    "move.apply": "Apply", "move.unassign": "Take off the route", "move.lock": "Lock", "move.cancel": "Cancel",
    "move.feasible": "Feasible", "move.infeasible": "Not feasible", "move.delta": "{min} min · {km} km · {late} late stops",
    "move.applied": "Change applied", "move.what": "{ref} ({driver}'s route, stop {seq})",
    "alerts.none": "No alerts.", "alert.late": "Late", "alert.at_risk": "At risk", "alert.failed": "Failed",
    "alert.offline": "Offline", "alert.idle": "Idle", "alert.message": "Message",
    "alert.reply": "Reply to the customer", "alert.send": "Send", "alert.sent": "Reply sent",
    "proposals.none": "No open proposals.", "proposal.apply": "Accept", "proposal.reject": "Reject",
    "timeline.title": "Timeline", "timeline.break": "Break", "timeline.legend": "window · planned · ETA · actual · break",
    "timeline.pick": "Pick a route to see its timeline.",
    "error": "Error", "legend.depot": "Depot", "legend.driver": "Driver",
    "keys.help": "Keys: / search · ↑↓ routes · Enter open · m move · l lock · p priority · s split · u merge · Esc close",
    "prio.label": "Priority (0–100)", "prio.save": "Save priority", "prio.saved": "Priority changed to {p}",
    "prio.short": "P{p}", "prio.title": "Priority {p}: served first when not all fit",
    "route.split": "Split", "route.merge": "Merge", "split.title": "Split route", "merge.title": "Merge routes",
    "split.what": "Hand stops of {driver}'s route to another driver", "split.tail": "From stop no.",
    "split.to": "To", "split.new": "New route: {driver} ({vehicle})", "split.none": "Pick at least one stop",
    "merge.what": "{driver}'s route takes the remaining stops of:", "merge.drop": "Drop here to merge",
    "reshape.moved": "{n} stops move", "reshape.kept": "{n} stay (locked, or the driver is heading there)",
    "reshape.applied": "Routes updated; the drivers were told", "reshape.applied_draft": "Draft updated",
    "plan.editing": "Editing the draft: changes reach the drivers when published",
    "live.resync": "Missed updates: day reloaded",
  },
};
const KEY = "lastmile.lang";
let lang = pick();

function pick() {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "es" || saved === "en") return saved;
  } catch (e) { /* storage disabled */ }
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "es"];
  for (const l of langs) {
    const base = String(l).slice(0, 2).toLowerCase();
    if (base === "es" || base === "en") return base;
  }
  return "es";
}

export function getLang() { return lang; }

export function t(key, vars = {}) {
  const s = (STRINGS[lang] && STRINGS[lang][key]) || STRINGS.es[key] || key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Translate every [data-i18n], [data-i18n-placeholder] and [data-i18n-title] under root. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const b of root.querySelectorAll(".lang-switch [data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
}

const listeners = [];
export function onLangChange(fn) { listeners.push(fn); }

export function setLang(next) {
  if (next !== "es" && next !== "en") return;
  lang = next;
  try { localStorage.setItem(KEY, next); } catch (e) { /* storage disabled */ }
  applyI18n();
  for (const fn of listeners) fn(lang);
}

export function wireLangSwitch(root = document) {
  for (const b of root.querySelectorAll(".lang-switch [data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));
}

const formats = new Map(); // "lang|zone" -> Intl.DateTimeFormat (building one per call cost 3 ms each)

/** "10:35" in the given IANA zone (the depot's), for an instant (ISO text or epoch ms). */
export function hhmm(iso, zone) {
  if (!iso) return "–";
  const d = new Date(iso);
  const key = `${lang}|${zone || ""}`;
  try {
    let f = formats.get(key);
    if (!f) {
      f = new Intl.DateTimeFormat(lang === "es" ? "es-MX" : "en-US", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone || undefined });
      formats.set(key, f);
    }
    return f.format(d);
  } catch (e) {
    return d.toISOString().slice(11, 16);
  }
}
