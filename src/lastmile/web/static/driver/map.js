// The in-app map (npm's Leaflet, UMD global L): the stops in order, the route line
// (straight segments between stops), and the driver's position. Tiles only when the
// server names a tile URL; without one the map still draws everything on a plain ground.
import { t } from "./i18n.js";

let map = null;
let me = null;

export function drawMap(el, stops, position, tiles) {
  if (!window.L) {
    el.textContent = "Leaflet?";
    return;
  }
  const L = window.L;
  if (map) { map.remove(); map = null; me = null; }
  map = L.map(el, { zoomControl: true, attributionControl: !!tiles.url, tap: true });
  if (tiles.url) L.tileLayer(tiles.url, { maxZoom: 19, attribution: tiles.attribution || "" }).addTo(map);
  const points = [];
  for (const s of stops) {
    if (typeof s.lat !== "number" || typeof s.lon !== "number") continue;
    const ll = [s.lat, s.lon];
    points.push(ll);
    const finished = s.status === "done" || s.status === "failed" || s.status === "skipped";
    const icon = L.divIcon({ className: `pin ${finished ? "pin-done" : ""} ${s.status === "failed" ? "pin-failed" : ""}`,
                             html: `<span>${s.seq}</span>`, iconSize: [34, 34], iconAnchor: [17, 17] });
    L.marker(ll, { icon, title: `${s.seq}. ${s.contact?.name || ""}` }).addTo(map)
      .on("click", () => el.dispatchEvent(new CustomEvent("stop", { detail: s.id, bubbles: true })));
  }
  if (points.length > 1) L.polyline(points, { color: "#0b3d91", weight: 5, opacity: 0.8 }).addTo(map);
  const all = [...points];
  if (position) {
    const icon = L.divIcon({ className: "me-pin", html: `<span>${t("your_position")}</span>`, iconSize: [22, 22],
                             iconAnchor: [11, 11] });
    me = L.marker([position.lat, position.lon], { icon, zIndexOffset: 1000, title: t("your_position") }).addTo(map);
    all.push([position.lat, position.lon]);
  }
  if (all.length) map.fitBounds(L.latLngBounds(all).pad(0.15), { maxZoom: 16 });
  else map.setView([27.53, -99.49], 12);
  return map;
}

export function moveMe(position) {
  if (me && position) me.setLatLng([position.lat, position.lon]);
}

export function closeMap() {
  if (map) { map.remove(); map = null; me = null; }
}
