// The outbox: every action and every batch of positions is stored first (IndexedDB) with
// an idempotency key and the time it happened on the phone, then sent in order. A replay
// stops at the first network failure and resumes when the network returns; the API never
// applies one twice (transitions by idempotency_key, parts used by their ts, attachments
// by their SHA-256, positions by engineer and ts, checklist answers are set, not added).
// An answer the API refuses (409 the order moved or was re-assigned, 404 no longer
// yours, 422) is moved to the conflicts, shown to the engineer, never dropped.
import { call, HttpError } from "./api.js";
import * as db from "./db.js";

const listeners = new Set();
let running = null;
export let online = navigator.onLine;

export function onChange(fn) { listeners.add(fn); }
function emit(what, entry, detail) { for (const fn of listeners) fn(what, entry, detail); }

export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

// kind: transition | checklist | attachment | part | positions | signoff
export async function enqueue(kind, orderId, data) {
  const entry = { key: newKey(), ts: Date.now(), kind, order_id: orderId, ...data };
  entry.seq = await db.outboxAdd(entry);
  emit("queued", entry);
  kick();
  return entry;
}

export function kick() {
  if (!running) running = replay().finally(() => { running = null; });
  return running;
}

async function replay() {
  for (;;) {
    const entry = await db.outboxFirst();
    if (!entry) { setOnline(true); emit("drained"); return; }
    let result;
    try {
      result = await send(entry);
    } catch (err) {
      if (err instanceof HttpError && refused(err.status)) {
        await db.conflictAdd({ ...entry, status: err.status, message: err.message });
        await db.outboxDelete(entry.seq);
        emit("conflict", entry, err);
        continue;
      }
      setOnline(!(err instanceof TypeError));
      emit("stalled", entry, err);
      return;  // try again later, in the same order
    }
    if (entry.kind === "attachment") await db.set(`result:${entry.key}`, result);
    await db.outboxDelete(entry.seq);
    setOnline(true);
    emit("sent", entry, result);
  }
}

// Server errors, rate limits and an expired token are retried; the rest are answers.
function refused(status) { return status >= 400 && status < 500 && ![401, 408, 429].includes(status); }

function setOnline(value) {
  if (online !== value) { online = value; emit("network", null, value); }
}

const orderPath = (e) => `/api/v1/work-orders/${encodeURIComponent(e.order_id)}`;

async function send(e) {
  switch (e.kind) {
    case "transition":
      return call("POST", `${orderPath(e)}/transitions`, {
        json: { to: e.to, reason: e.reason || "", ts: e.ts, idempotency_key: e.key },
      });
    case "part":
      return call("POST", `${orderPath(e)}/parts`, {
        json: { part_id: e.part_id, qty: e.qty, ts: e.ts },
      });
    case "positions":
      return call("POST", "/api/v1/positions", { json: e.positions });
    case "attachment": {
      const form = new FormData();
      form.append("file", e.file, e.filename || "file");
      form.append("kind", e.attachment_kind);
      form.append("captured_at", new Date(e.ts).toISOString());
      if (e.lat != null && e.lon != null) {
        form.append("lat", String(e.lat));
        form.append("lon", String(e.lon));
      }
      return call("POST", `${orderPath(e)}/attachments`, { form });
    }
    case "checklist":
      return call("PUT", `${orderPath(e)}/checklist`, { json: { answers: await resolve(e.answers) } });
    case "signoff":
      try {
        return await call("POST", `${orderPath(e)}/sign-off`, { json: { signed_by: e.signed_by } });
      } catch (err) {  // signed already (our first try's answer was lost): done, not a conflict
        if (!(err instanceof HttpError) || err.status !== 409) throw err;
        const order = await call("GET", orderPath(e));
        if (["signed_off", "closed"].includes(order.status) && order.signed_by === e.signed_by) return order;
        throw err;
      }
    default:
      throw new HttpError(400, `unknown outbox entry ${e.kind}`);
  }
}

// A photo or signature answer points at the outbox entry that uploads the file; by the
// time the answer is sent (after it, in order) the upload's id is known.
async function resolve(answers) {
  const out = {};
  for (const [item, value] of Object.entries(answers)) {
    if (value && typeof value === "object" && value.upload) {
      const stored = await db.get(`result:${value.upload}`);
      if (!stored) throw new HttpError(422, `${item}: its file was not stored`);
      out[item] = attachmentAnswer(stored);
    } else {
      out[item] = value;
    }
  }
  return out;
}

// A photo or signature item takes the id of the attachment (same order, same kind).
export function attachmentAnswer(stored) { return { attachment_id: stored.id }; }

export async function pending() { return db.outboxAll(); }
export async function conflicts() { return db.conflictsAll(); }
export async function dismiss(seq) { await db.conflictDelete(seq); emit("dismissed"); }

window.addEventListener("online", () => kick());
setInterval(() => kick(), 5000);
