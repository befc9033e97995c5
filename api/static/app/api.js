// HTTP to the FieldFlow API with the engineer's token. A failed fetch (no network)
// throws TypeError; an answer outside 2xx throws HttpError with the API's message.
import * as db from "./db.js";

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function auth() { return db.get("auth"); }

export async function call(method, path, { json, form, token } = {}) {
  const headers = {};
  const tok = token === undefined ? (await auth())?.token : token;
  if (tok) headers.Authorization = `Bearer ${tok}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const resp = await fetch(path, { method, headers, body, cache: "no-store" });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!resp.ok) {
    const msg = data?.error?.message || data?.detail || `${resp.status} ${resp.statusText}`;
    throw new HttpError(resp.status, typeof msg === "string" ? msg : JSON.stringify(msg));
  }
  return data;
}

export const get = (path) => call("GET", path);
