// HTTP with the browser session: the session cookie rides along, unsafe requests carry the
// CSRF token (the lastmile_csrf cookie, set by /auth/login). A network failure throws
// Offline; an HTTP error throws HttpError with the server's {"error": {...}}.
export class Offline extends Error {}

export class HttpError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_error";
    this.field = err.field || null;
    this.body = body;
  }
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)lastmile_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : localStorage.getItem("lastmile.driver.csrf") || "";
}

// The server's clock, learned from every answer's X-Server-Time and kept across reloads
// for offline work: actions and positions are stamped on it, so a phone whose clock is off
// (or the demo's simulated day) still records when things happened as the server counts.
const CLOCK_KEY = "lastmile.driver.clockOffsetMs";
let clockOffsetMs = Number(localStorage.getItem(CLOCK_KEY)) || 0;
export const clockOffset = () => clockOffsetMs;
export const serverNow = () => Date.now() + clockOffsetMs;

function learnClock(res) {
  const at = Date.parse(res.headers.get("x-server-time") || "");
  if (!Number.isFinite(at)) return;
  clockOffsetMs = at - Date.now();
  try { localStorage.setItem(CLOCK_KEY, String(clockOffsetMs)); } catch { /* private mode: this page only */ }
}

export async function request(method, url, body, { timeoutMs = 20000 } = {}) {
  const headers = { Accept: "application/json" };
  let payload;
  if (body instanceof FormData || body instanceof URLSearchParams) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken();
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(url, { method, headers, body: payload, credentials: "same-origin", cache: "no-store",
                             signal: ctl.signal });
  } catch (e) {
    throw new Offline(String(e));
  } finally {
    clearTimeout(timer);
  }
  learnClock(res);
  const text = await res.text().catch(() => "");
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) throw new HttpError(res.status, data);
  return data;
}

export const get = (url) => request("GET", url);
export const post = (url, body) => request("POST", url, body);

export async function login(email, password) {
  const form = new URLSearchParams({ email, password });
  const out = await request("POST", "/auth/login", form);
  if (out && out.csrf_token) localStorage.setItem("lastmile.driver.csrf", out.csrf_token);
  return out;
}
