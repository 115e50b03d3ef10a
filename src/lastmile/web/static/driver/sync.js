// The offline queue. Every action the driver takes is written to IndexedDB first (with its
// files and a client-generated UUID), then replayed in order when the network is there:
// each entry's files first (POST /driver/files), then the actions (POST /driver/actions,
// idempotent by id). "applied" and "duplicate" leave the queue; "rejected" moves to the
// rejected store with the server's reason (shown to the driver, never silently dropped).
// Positions have their own queue: old ones are dropped, they never block actions.
// Every entry belongs to the user who made it (setUser): only that user's entries are shown
// and replayed, so a second driver signing in on the same phone neither sends nor loses the
// first one's queue; it is still there when the first driver signs in again.
import { HttpError, Offline, post, serverNow } from "./api.js";
import * as store from "./store.js";

const BATCH = 20;
const POSITION_MAX_AGE_MS = 60 * 60 * 1000;
const POSITION_MAX_QUEUED = 2000;
const listeners = new Set();
let running = null;
let positionsRunning = null;
let positionsEndpoint = true;
export const state = { authNeeded: false, lastError: null, user: null };

/** Whose queue this is: the signed-in user's id (null: nobody, nothing is replayed). */
export async function setUser(id) {
  state.user = id || null;
  state.authNeeded = false;
  if (!state.user) return;
  // entries queued before queues had an owner were made by the last user signed in here
  const owner = (await store.getKV("queue_owner")) || state.user;
  for (const e of (await store.all("outbox")).filter((x) => !x.user)) await store.put("outbox", { ...e, user: owner });
  await store.setKV("queue_owner", state.user);
  // positions are only worth sending as their own driver: another user's are dropped
  const others = (await store.all("positions")).filter((r) => r.user !== state.user).map((r) => r.seq);
  if (others.length) await store.remove("positions", others);
}

const mine = (e) => state.user !== null && e.user === state.user;

export function onChange(fn) {
  listeners.add(fn);
}

function changed(detail = {}) {
  for (const fn of listeners) {
    try { fn(detail); } catch (e) { console.error(e); }
  }
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function sha256Hex(blob) {
  const buf = await blob.arrayBuffer();
  const digest = await crypto.subtle.digest("SHA-256", buf);
  return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** A file ready to queue: {sha256, blob, type, name}. */
export async function fileEntry(blob, name) {
  return { sha256: await sha256Hex(blob), blob, type: blob.type || "image/jpeg", name, uploaded: false };
}

/** Queue an action; returns it. `files` are fileEntry()s named by sha256 in `data`. */
export async function enqueue(type, { routeId, stopId = null, data = {}, files = [], position = null }) {
  const action = { id: uuid(), type, route_id: routeId, device_time: new Date(serverNow()).toISOString(), data };
  if (stopId) action.stop_id = stopId;
  if (position) action.position = position;
  if (!state.user) throw new Error("not signed in");
  await store.add("outbox", { id: action.id, action, files, created_at: action.device_time, user: state.user });
  changed({ queued: action });
  flush().catch(() => {});
  return action;
}

export async function pending() {
  return (await store.all("outbox")).filter(mine).sort((a, b) => a.seq - b.seq);
}

export async function rejectedList() {
  return (await store.all("rejected")).filter((e) => !e.user || mine(e));
}

/** Entries kept on this phone for other users (never sent under this user's session). */
export async function othersWaiting() {
  return (await store.all("outbox")).filter((e) => e.user && e.user !== state.user).length;
}

export async function counts() {
  return { waiting: (await pending()).length, rejected: (await rejectedList()).length };
}

export function flush() {
  if (!running) {
    running = replay().finally(() => { running = null; });
  }
  return running;
}

async function uploadFile(f) {
  const form = new FormData();
  form.append("file", f.blob, f.name || `${f.sha256}.jpg`);
  return post("/driver/files", form);
}

function rejectedError(e) {
  return e instanceof HttpError ? { code: e.code, message: e.message, field: e.field } : { code: "error", message: String(e) };
}

function stopsReplay(e) {
  // Offline: try later. 401: sign in first. 5xx / 429: the server is busy, try later.
  if (e instanceof Offline) return true;
  if (e instanceof HttpError && (e.status === 401 || e.status === 403 || e.status === 429 || e.status >= 500 || e.status === 404)) {
    if (e.status === 401) state.authNeeded = true;
    return true;
  }
  return false;
}

async function sendActions(entries) {
  const out = await post("/driver/actions", { actions: entries.map((e) => e.action) });
  const byId = new Map(((out && out.results) || []).map((r) => [r.id, r]));
  const applied = [];
  const rejected = [];
  for (const e of entries) {
    const r = byId.get(e.id);
    if (!r) continue; // not answered: stays queued
    if (r.status === "applied" || r.status === "duplicate") applied.push(e.seq);
    else rejected.push({ ...e, error: r.error || { code: "rejected", message: "rejected" } });
  }
  if (applied.length) await store.remove("outbox", applied);
  if (rejected.length) await store.reject(rejected);
  changed({ sent: applied.length, rejected });
}

async function replay() {
  for (;;) {
    const entries = (await pending()).slice(0, BATCH);
    if (!entries.length) {
      state.lastError = null;
      return;
    }
    const ready = [];
    try {
      for (const e of entries) {
        let bad = null;
        for (const f of e.files || []) {
          if (f.uploaded) continue;
          try {
            await uploadFile(f);
            f.uploaded = true;
            await store.put("outbox", e);
          } catch (err) {
            if (stopsReplay(err)) throw err;
            bad = err;
            break;
          }
        }
        if (bad) await store.reject([{ ...e, error: rejectedError(bad) }]);
        else ready.push(e);
      }
      if (ready.length) {
        try {
          await sendActions(ready);
        } catch (err) {
          if (stopsReplay(err) || ready.length === 1) {
            if (!stopsReplay(err)) await store.reject([{ ...ready[0], error: rejectedError(err) }]);
            else throw err;
          } else {
            // the batch as a whole was refused (e.g. one malformed action): one at a time
            for (const e of ready) {
              try { await sendActions([e]); } catch (one) {
                if (stopsReplay(one)) throw one;
                await store.reject([{ ...e, error: rejectedError(one) }]);
              }
            }
          }
        }
      }
      state.authNeeded = false;
      changed({});
    } catch (err) {
      state.lastError = err;
      changed({ error: err });
      throw err;
    }
  }
}

// ---- positions -------------------------------------------------------------------

export async function queuePosition(p) {
  if (!state.user) return;
  await store.add("positions", { ...p, user: state.user });
  const n = await store.count("positions");
  if (n > POSITION_MAX_QUEUED) {
    const rows = await store.all("positions");
    await store.remove("positions", rows.slice(0, n - POSITION_MAX_QUEUED).map((r) => r.seq));
  }
}

export function flushPositions() {
  if (!positionsRunning) positionsRunning = sendPositions().finally(() => { positionsRunning = null; });
  return positionsRunning;
}

async function sendPositions() {
  if (!positionsEndpoint) return;
  const now = Date.now();
  let rows = await store.all("positions");
  const old = rows.filter((r) => now - Date.parse(r.at) > POSITION_MAX_AGE_MS || r.user !== state.user)
    .map((r) => r.seq);
  if (old.length) await store.remove("positions", old);
  rows = rows.filter((r) => !old.includes(r.seq));
  while (rows.length) {
    const batch = rows.slice(0, 100);
    rows = rows.slice(100);
    const positions = batch.map(({ seq, user, ...p }) => p);
    try {
      await post("/tracking/positions", { positions });
    } catch (e) {
      if (e instanceof Offline || (e instanceof HttpError && (e.status === 401 || e.status >= 500 || e.status === 429))) return;
      if (e instanceof HttpError && (e.status === 404 || e.status === 405)) positionsEndpoint = false; // not offered here
      // anything else: these fixes are refused; drop them (positions are not worth blocking on)
    }
    await store.remove("positions", batch.map((r) => r.seq));
  }
}
