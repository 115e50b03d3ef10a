// JSON API calls with the browser session: unsafe methods send the CSRF token
// (the readable lastmile_csrf cookie set by POST /auth/login).
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_error";
    this.field = err.field || null;
  }
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)lastmile_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

// The server's clock, learned from each answer's X-Server-Time: lateness and the timeline's
// "now" follow it, not this computer's clock (which may be off -- or the demo's simulated day).
let clockOffsetMs = 0;
export const serverNow = () => Date.now() + clockOffsetMs;

function learnClock(r) {
  const at = Date.parse(r.headers.get("x-server-time") || "");
  if (Number.isFinite(at)) clockOffsetMs = at - Date.now();
}

export async function api(method, path, { json, form, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (form !== undefined) body = form;
  if (!["GET", "HEAD"].includes(method)) headers["X-CSRF-Token"] = csrfToken();
  const r = await fetch(url, { method, headers, body, credentials: "same-origin" });
  learnClock(r);
  if (r.status === 401 && !path.startsWith("/auth/")) { location.reload(); throw new ApiError(401, null); }
  if (r.status === 204) return null;
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, json, query) => api("POST", path, { json, query });
