/* Dispatcher actions: create an order, rank candidates and assign, change priority,
   cancel with a reason, acknowledge and clear alerts. Each through the public API. */
import { api, act, notify, esc, hhmm } from "./api.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
const options = (items, label, empty) =>
  [`<option value="">${esc(empty)}</option>`, ...items.map((x) => `<option value="${esc(x.id)}">${esc(label(x))}</option>`)].join("");

/* ------------------------------------------------------------ new order */
async function fill(select, path, label, empty) {
  try {
    const page = await api(path);
    select.innerHTML = options(page.items, label, empty);
  } catch (e) { notify(`Loading ${empty} failed: ${e.message}`); }
}
export function setupOrderForm() {
  const form = $("order-form");
  $("new-order").addEventListener("click", async () => {
    form.hidden = !form.hidden;
    if (!form.hidden) await fill($("f-customer"), "/api/v1/customers?limit=500", (c) => `${c.name} (${c.id})`, "customer…");
  });
  $("f-customer").addEventListener("change", () => {
    $("f-asset").innerHTML = options([], () => "", "asset (optional)…");
    const c = $("f-customer").value;
    return fill($("f-site"), `/api/v1/sites?limit=500${c ? `&customer_id=${encodeURIComponent(c)}` : ""}`, (s) => `${s.name} (${s.id})`, "site…");
  });
  $("f-site").addEventListener("change", () => {
    const s = $("f-site").value;
    if (s) fill($("f-asset"), `/api/v1/assets?limit=500&site_id=${encodeURIComponent(s)}`, (a) => `${a.serial || a.id} (${a.id})`, "asset (optional)…");
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { title: $("f-title").value.trim(), order_type: $("f-type").value, priority: $("f-priority").value };
    for (const [k, id] of [["customer_id", "f-customer"], ["site_id", "f-site"], ["asset_id", "f-asset"]]) if ($(id).value) body[k] = $(id).value;
    if ($("f-sla").value) body.sla_due = new Date($("f-sla").value).toISOString();
    const skills = $("f-skills").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (skills.length) body.required_skills = skills;
    const row = await act("Create order", () => api("/api/v1/work-orders", { method: "POST", body }));
    if (row) {
      state.orders.set(row.id, { ...state.orders.get(row.id), ...row });
      form.reset(); form.hidden = true;
      document.dispatchEvent(new CustomEvent("orders-changed"));
      showOrder(row.id);
    }
  });
}

/* -------------------------------------------------------- order details */
let current = null;
export async function showOrder(id) {
  current = id;
  const panel = $("order-detail"); panel.hidden = false; panel.dataset.order = id;
  $("od-candidates").innerHTML = "<li class='st'>ranking candidates…</li>";
  let o;
  try { o = await api(`/api/v1/work-orders/${encodeURIComponent(id)}`); } catch (e) { notify(`Order ${id}: ${e.message}`); return; }
  $("od-title").innerHTML = `<b>${esc(o.id)}</b> <span class="pill ${esc(o.priority)}">${esc(o.priority)}</span> ${esc(o.status.replace("_", " "))}<br><span class="st">${esc(o.title)}`
    + `${o.engineer_id ? ` · engineer ${esc(o.engineer_id)}` : ""}${o.sla_due ? ` · SLA due ${hhmm(o.sla_due)}` : ""}${o.alert_id ? ` · alert #${o.alert_id}` : ""}</span>`;
  $("od-priority").value = o.priority;
  await rankCandidates(id);
}
async function rankCandidates(id) {
  const list = $("od-candidates");
  let view;
  try { view = await api(`/api/v1/work-orders/${encodeURIComponent(id)}/candidates`); } catch (e) {
    list.innerHTML = `<li class="error">${esc(e.message)}</li>`; notify(`Candidates for ${id}: ${e.message}`); return;
  }
  if (id !== current) return;
  if (!view.candidates.length) { list.innerHTML = `<li class="st">nobody fits now${view.note ? `: ${esc(view.note)}` : ""}</li>`; return; }
  list.innerHTML = view.candidates.map((c, i) => `<li data-engineer="${esc(c.engineer_id)}">`
    + `<button class="assign" data-engineer="${esc(c.engineer_id)}">Assign</button>`
    + `<b>${i + 1}. ${esc(state.engineers.get(c.engineer_id)?.name || c.engineer_id)}</b> <span class="st">${esc(c.engineer_id)}</span>`
    + ` · score ${c.score.toFixed(1)} · ETA ${hhmm(c.eta)} · travel ${Math.round(c.travel_s / 60)} min${c.rejected_before ? " · <b>rejected before</b>" : ""}`
    + `<ul class="reasons">${c.reasons.map((r) => `<li>${esc(r)}</li>`).join("")}</ul></li>`).join("");
}
async function assign(engineerId) {
  const id = current;
  const body = engineerId ? { engineer_id: engineerId, reason: "chosen in the console" } : { reason: "console auto-assign" };
  const out = await act(`Assign ${id}`, () => api(`/api/v1/work-orders/${encodeURIComponent(id)}/assign`, { method: "POST", body }));
  if (out) { notify(`${id} assigned to ${out.engineer_id} (${out.mode})${out.reasons.length ? `: ${out.reasons[0]}` : ""}`, "ok"); showOrder(id); }
}
export function setupOrderDetail() {
  $("od-candidates").addEventListener("click", (ev) => {
    const b = ev.target.closest("button.assign");
    if (b) assign(b.dataset.engineer);
  });
  $("od-auto").addEventListener("click", () => assign(null));
  $("od-close").addEventListener("click", () => { $("order-detail").hidden = true; current = null; });
  $("od-priority-save").addEventListener("click", async () => {
    const id = current;
    const row = await act(`Priority of ${id}`, () => api(`/api/v1/work-orders/${encodeURIComponent(id)}`, { method: "PATCH", body: { priority: $("od-priority").value } }));
    if (row) { Object.assign(state.orders.get(id) || {}, { priority: row.priority }); document.dispatchEvent(new CustomEvent("orders-changed")); showOrder(id); }
  });
  $("od-cancel").addEventListener("click", async () => {
    const id = current, reason = $("od-reason").value.trim();
    if (!reason) { notify("Give a reason to cancel the order."); return; }
    const row = await act(`Cancel ${id}`, () => api(`/api/v1/work-orders/${encodeURIComponent(id)}/transitions`, { method: "POST", body: { to: "cancelled", reason } }));
    if (row) { $("od-reason").value = ""; showOrder(id); }
  });
  $("queue").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[id^='order-']");
    if (tr) showOrder(tr.id.slice("order-".length));
  });
}

/* --------------------------------------------------------------- alerts */
async function alertId(a) {
  if (a.id != null) return a.id;
  const page = await api(`/api/v1/alerts?open_only=true&limit=500&device_id=${encodeURIComponent(a.device_id)}`);
  const found = page.items.find((x) => x.dedup_key === a.dedup_key);
  if (!found) throw new Error(`alert ${a.dedup_key} is no longer open`);
  a.id = found.id;
  return a.id;
}
export function setupAlerts(onChanged) {
  $("alerts").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const a = state.alerts.get(b.closest("li").dataset.key);
    if (!a) return;
    const action = b.dataset.action; // acknowledge | clear
    const row = await act(`${action === "clear" ? "Clear" : "Acknowledge"} alert`, async () =>
      api(`/api/v1/alerts/${await alertId(a)}/${action}`, { method: "POST", body: {} }));
    if (row) {
      if (row.state === "cleared") state.alerts.delete(row.dedup_key);
      else state.alerts.set(row.dedup_key, { ...a, ...row });
      onChanged();
    }
  });
}
