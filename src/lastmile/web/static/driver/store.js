// IndexedDB: the outbox of actions (with their files), rejected actions, queued positions,
// and a small key/value store (the cached route, who is signed in).
const DB_NAME = "lastmile-driver";
const DB_VERSION = 1;
let dbPromise = null;

function open() {
  if (dbPromise) return dbPromise;
  dbPromise = new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      if (!db.objectStoreNames.contains("rejected")) db.createObjectStore("rejected", { keyPath: "id" });
      if (!db.objectStoreNames.contains("positions")) db.createObjectStore("positions", { keyPath: "seq", autoIncrement: true });
      if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv", { keyPath: "k" });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return dbPromise;
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
}

function result(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export async function all(store) {
  const db = await open();
  return result(db.transaction(store).objectStore(store).getAll());
}

export async function count(store) {
  const db = await open();
  return result(db.transaction(store).objectStore(store).count());
}

export async function add(store, value) {
  const db = await open();
  const tx = db.transaction(store, "readwrite");
  const key = result(tx.objectStore(store).add(value));
  await done(tx);
  return key;
}

export async function put(store, value) {
  const db = await open();
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).put(value);
  await done(tx);
}

export async function remove(store, keys) {
  const db = await open();
  const tx = db.transaction(store, "readwrite");
  for (const k of [].concat(keys)) tx.objectStore(store).delete(k);
  await done(tx);
}

/** Move outbox entries to the rejected store in one transaction (nothing is lost). */
export async function reject(entries) {
  const db = await open();
  const tx = db.transaction(["outbox", "rejected"], "readwrite");
  for (const e of entries) {
    tx.objectStore("rejected").put({ id: e.id, action: e.action, error: e.error, at: new Date().toISOString(),
                                     user: e.user || null });
    tx.objectStore("outbox").delete(e.seq);
  }
  await done(tx);
}

export async function getKV(k) {
  const db = await open();
  const row = await result(db.transaction("kv").objectStore("kv").get(k));
  return row ? row.v : undefined;
}

export async function setKV(k, v) {
  await put("kv", { k, v });
}

export async function clearAll() {
  const db = await open();
  const names = ["outbox", "rejected", "positions", "kv"];
  const tx = db.transaction(names, "readwrite");
  for (const n of names) tx.objectStore(n).clear();
  await done(tx);
}
