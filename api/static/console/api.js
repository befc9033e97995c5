/* The console's HTTP client: every call goes through the same API and roles as scripts,
   and every failure becomes a visible message (never a silent no-op). */
const TOKEN_KEY = "fieldflow.token";
export const token = () => localStorage.getItem(TOKEN_KEY);
export const setToken = (t) => localStorage.setItem(TOKEN_KEY, t);
export const forgetToken = () => localStorage.removeItem(TOKEN_KEY);

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

let onUnauthorised = () => {};
export function whenUnauthorised(fn) { onUnauthorised = fn; }

function errorText(status, body) {
  const err = body && body.error;
  if (!err) return `HTTP ${status}`;
  const details = (err.details || []).map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`);
  return [err.message, ...details].filter(Boolean).join(" — ");
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, `the API cannot be reached (${e.message})`);
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (r.status === 401) { forgetToken(); onUnauthorised("That token was refused."); }
  if (!r.ok) throw new ApiError(r.status, errorText(r.status, data));
  return data;
}

/* Messages: one line at the top of the page, kept until replaced or dismissed. */
export function notify(message, kind = "error") {
  const box = document.getElementById("toast");
  box.textContent = message; box.dataset.kind = kind; box.hidden = false;
  clearTimeout(notify.timer);
  if (kind !== "error") notify.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

/* Run a dispatcher action: success and failure both end as a message. */
export async function act(label, fn) {
  try {
    const out = await fn();
    notify(`${label}: done`, "ok");
    return out;
  } catch (e) {
    notify(`${label} failed: ${e.message}`, "error");
    return undefined;
  }
}

export const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
export function ago(ts) {
  const s = (Date.now() - new Date(ts).getTime()) / 1000;
  return s < 90 ? `${Math.max(0, Math.round(s))}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}
export const hhmm = (ts) => new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
