// Proof-of-delivery capture: photos compressed on the phone, the signature pad, the camera
// barcode scanner (npm's @zxing/browser, loaded on first use), and the stop's POD rules.
import { money, t } from "./i18n.js";
import { fileEntry } from "./sync.js";

export const MAX_SIDE = 1600;

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => resolve({ img, url });
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error("not an image")); };
    img.src = url;
  });
}

/** A camera picture as a JPEG of at most MAX_SIDE px on its longest side. */
export async function compressPhoto(file) {
  let source;
  let width;
  let height;
  let cleanup = () => {};
  try {
    source = await createImageBitmap(file, { imageOrientation: "from-image" });
    width = source.width;
    height = source.height;
    cleanup = () => source.close && source.close();
  } catch {
    const { img, url } = await loadImage(file);
    source = img;
    width = img.naturalWidth;
    height = img.naturalHeight;
    cleanup = () => URL.revokeObjectURL(url);
  }
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const ctx = canvas.getContext("2d");
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  cleanup();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
  const entry = await fileEntry(blob, "photo.jpg");
  entry.width = canvas.width;
  entry.height = canvas.height;
  return entry;
}

/** A signature pad on a canvas sized for the screen (npm's signature_pad, UMD global). */
export function signaturePad(canvas) {
  const ratio = Math.max(window.devicePixelRatio || 1, 1);
  canvas.width = canvas.offsetWidth * ratio;
  canvas.height = canvas.offsetHeight * ratio;
  canvas.getContext("2d").scale(ratio, ratio);
  if (!window.SignaturePad) return null;
  return new window.SignaturePad(canvas, { minWidth: 1.2, maxWidth: 3, penColor: "#000", backgroundColor: "#fff" });
}

export async function signatureFile(pad, canvas) {
  if (!pad || pad.isEmpty()) return null;
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  return fileEntry(blob, "signature.png");
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

/** Scan codes from the rear camera into `onCode`; returns a stop() function. */
export async function startScanner(video, zxingUrls, onCode) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error(t("camera_unavailable"));
  if (!window.ZXingBrowser) {
    for (const src of zxingUrls) await loadScript(src);
  }
  const reader = new window.ZXingBrowser.BrowserMultiFormatReader();
  let last = "";
  const controls = await reader.decodeFromConstraints(
    { video: { facingMode: "environment" } }, video, (result) => {
      if (!result) return;
      const text = result.getText();
      if (text && text !== last) {
        last = text;
        onCode(text);
        if (navigator.vibrate) navigator.vibrate(80);
      }
    });
  return () => controls.stop();
}

export function rulesOf(stop) {
  const r = stop.pod_rules || {};
  return { signature: !!r.signature, photo: !!r.photo, scan_all: !!r.scan_all, exact_cod: !!r.exact_cod,
           contactless: !!r.contactless };
}

export function codesOf(stop) {
  return (stop.parcels_codes || []).map(String);
}

/** Parse "850.00" / "850,00" into minor units, or null. */
export function toMinor(text) {
  const s = String(text || "").trim().replace(/\s/g, "").replace(",", ".");
  if (!/^\d+(\.\d{1,2})?$/.test(s)) return null;
  return Math.round(parseFloat(s) * 100);
}

/** What still stops a delivery from completing, as sentences for the driver. */
export function deliveryMissing(stop, form, signed) {
  const r = rulesOf(stop);
  const out = [];
  const contactless = form.contactless;
  if (!contactless && r.signature && !signed) out.push(t("need_signature"));
  if (!contactless && (r.signature || signed) && !form.recipient.trim()) out.push(t("need_recipient"));
  if ((r.photo || contactless) && !form.photos.length) out.push(t("need_photo"));
  const codes = codesOf(stop);
  if (r.scan_all && codes.some((c) => !form.scans.includes(c))) out.push(t("need_scan_all"));
  const cod = stop.cod;
  if (cod && cod.amount > 0) {
    const amount = toMinor(form.codAmount);
    if (amount === null || amount <= 0) out.push(t("need_cod"));
    else if (r.exact_cod && (amount !== cod.amount || form.codCurrency !== cod.currency)) {
      out.push(t("need_exact_cod", { amt: money(cod.amount, cod.currency) }));
    }
    if (form.codMethod === "card" && !form.codReference.trim()) out.push(t("need_reference"));
  }
  return out;
}
