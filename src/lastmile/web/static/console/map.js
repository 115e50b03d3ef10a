// The day map: Leaflet with one shared canvas renderer, so 100 routes and 5,000 stops
// are a few draw calls, not 5,000 DOM nodes. Tiles only when a tile URL is configured
// (the map still shows depots, routes, stops and drivers offline, on a plain background).
/* global L */
import { hhmm, t } from "./i18n.js";

export const STATUS_COLOURS = {
  planned: "#8a94a6", en_route: "#f0a202", arrived: "#2f7ef5", done: "#1f9d55", failed: "#d62839", skipped: "#c3c7cf",
};

/** A distinct colour per route index (golden-angle hues). */
export function routeColour(i) {
  return `hsl(${Math.round((i * 137.508) % 360)}, 70%, 42%)`;
}

export class DayMap {
  constructor(el, { tileUrl, tileAttribution, onStopClick, onMapClick }) {
    this.renderer = L.canvas({ padding: 0.3, tolerance: 4 });
    this.map = L.map(el, { preferCanvas: true, renderer: this.renderer, zoomControl: true, attributionControl: !!tileUrl, keyboard: true })
      .setView([27.52, -99.49], 12);
    if (tileUrl) L.tileLayer(tileUrl, { attribution: tileAttribution || "", maxZoom: 19 }).addTo(this.map);
    else el.classList.add("no-tiles");
    // one click listener for every stop (a feature group passes its markers' events on)
    this.layers = { routes: L.layerGroup().addTo(this.map), stops: L.featureGroup().addTo(this.map),
      depots: L.layerGroup().addTo(this.map), drivers: L.layerGroup().addTo(this.map) };
    this.stopMarkers = new Map(); // stop id -> circleMarker
    this.lines = new Map(); // route id -> polyline
    this.drivers = new Map(); // driver id -> marker
    this.onStopClick = onStopClick;
    this.layers.stops.on("click", (e) => this.onStopClick && e.layer && e.layer.stopId && this.onStopClick(e.layer.stopId));
    this.fitted = false;
    if (onMapClick) this.map.on("click", (e) => onMapClick(e.latlng));
    // the grid layout settles after the script runs: measure again then, and on resize
    requestAnimationFrame(() => this.map.invalidateSize({ animate: false }));
    window.addEventListener("resize", () => this.map.invalidateSize({ animate: false }));
  }

  setDepots(depots) {
    this.layers.depots.clearLayers();
    for (const d of depots) {
      L.marker([d.lat, d.lon], { icon: L.divIcon({ className: "depot-icon", html: "<span>▣</span>", iconSize: [22, 22] }),
        title: `${t("legend.depot")}: ${d.name}`, keyboard: false }).addTo(this.layers.depots);
    }
  }

  /** Draw every route (polyline depot → stops → depot) and its stops. */
  setRoutes(routes, depotsById) {
    this.layers.routes.clearLayers();
    this.layers.stops.clearLayers();
    this.stopMarkers.clear();
    this.lines.clear();
    const bounds = [];
    for (const r of routes) {
      const depot = depotsById.get(r.depot_id);
      const pts = r.stops.map((s) => [s.lat, s.lon]);
      const path = depot ? [[depot.lat, depot.lon], ...pts, [depot.lat, depot.lon]] : pts;
      const line = L.polyline(path, { color: r.colour, weight: 3, opacity: 0.75, renderer: this.renderer, interactive: false });
      line.addTo(this.layers.routes);
      this.lines.set(r.id, line);
      for (const s of r.stops) {
        const m = L.circleMarker([s.lat, s.lon], { renderer: this.renderer, radius: 6, weight: 2, color: r.colour,
          fillColor: STATUS_COLOURS[s.status] || STATUS_COLOURS.planned, fillOpacity: 0.95 });
        m.stopId = s.id;
        m.addTo(this.layers.stops);
        this.stopMarkers.set(s.id, m);
        bounds.push([s.lat, s.lon]);
      }
    }
    this.map.invalidateSize({ animate: false });
    if (!this.fitted && bounds.length) {
      this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15 });
      this.fitted = true;
    }
  }

  setStopStatus(stopId, status, locked) {
    const m = this.stopMarkers.get(stopId);
    if (m) m.setStyle({ fillColor: STATUS_COLOURS[status] || STATUS_COLOURS.planned, dashArray: locked ? "2 2" : null });
  }

  highlightRoute(routeId) {
    for (const [id, line] of this.lines) line.setStyle({ weight: id === routeId ? 6 : 3, opacity: !routeId || id === routeId ? 0.85 : 0.35 });
  }

  focusStop(stopId, popupHtml) {
    const m = this.stopMarkers.get(stopId);
    if (!m) return;
    this.map.setView(m.getLatLng(), Math.max(this.map.getZoom(), 15));
    if (popupHtml) L.popup({ offset: [0, -4] }).setLatLng(m.getLatLng()).setContent(popupHtml).openOn(this.map);
  }

  /** Many position updates: each driver's marker moves once per call. */
  moveDrivers(latest, nameOf, colourOf) {
    for (const p of latest.values()) {
      let m = this.drivers.get(p.driver_id);
      const heading = Number.isFinite(p.bearing) ? p.bearing : null;
      // a navigation arrow pointing where the driver heads (a disc when the heading is unknown)
      const fill = colourOf(p) || "#1b2a4a";
      const shape = heading === null ? `<circle cx="12" cy="12" r="7" fill="${fill}" stroke="#fff" stroke-width="2"/>`
        : `<path d="M12 2 L20 21 L12 16 L4 21 Z" fill="${fill}" stroke="#fff" stroke-width="1.5" stroke-linejoin="round" transform="rotate(${Math.round(heading)} 12 12)"/>`;
      const html = `<svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true">${shape}</svg>`;
      if (!m) {
        m = L.marker([p.lat, p.lon], { icon: L.divIcon({ className: "driver-icon", html, iconSize: [26, 26] }),
          title: `${t("legend.driver")}: ${nameOf(p.driver_id)}`, keyboard: false, zIndexOffset: 1000 });
        m.addTo(this.layers.drivers);
        this.drivers.set(p.driver_id, m);
        m._html = html;
      } else {
        m.setLatLng([p.lat, p.lon]);
        if (m._html !== html) {
          const el = m.getElement();
          if (el) el.innerHTML = html;
          m._html = html;
        }
      }
      m.options.title = `${t("legend.driver")}: ${nameOf(p.driver_id)} · ${hhmm(p.at)}`;
    }
  }
}
