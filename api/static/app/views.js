// Screens: enrolment, today's jobs, one job (the on-site part lives in onsite.js).
import { call } from "./api.js";
import * as db from "./db.js";
import { renderOnSite, renderSignOff } from "./onsite.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  const t = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return today ? t : `${d.toLocaleDateString([], { weekday: "short", day: "numeric" })} ${t}`;
}

let toastTimer = null;
export function toast(text) {
  const t = document.querySelector("#toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

export function renderConflicts(box, conflicts, dismiss) {
  box.replaceChildren(...conflicts.map((c) => el("div", { class: "conflict", dataset: { kind: c.kind } },
    `Not applied: ${c.kind === "transition" ? `move to ${c.to}` : c.kind} on ${c.order_id || "—"}: `,
    c.status === 404 ? "the job is no longer yours (re-assigned?)" : `${c.message} (${c.status})`,
    el("button", { class: "secondary", onclick: () => dismiss(c.seq) }, "OK"))));
  box.hidden = conflicts.length === 0;
}

export function renderEnrol(view, redeem, problem) {
  const input = el("input", { type: "text", id: "enrol-code", placeholder: "enrolment code", autocomplete: "off" });
  view.replaceChildren(...[
    el("h1", {}, "Enrol this phone"),
    problem ? el("div", { class: "banner warn", id: "enrol-error" }, problem) : null,
    el("p", {}, "Open the enrolment link or scan the QR code your dispatcher gives you. ",
      "Or type the code here:"),
    input,
    el("div", { class: "actions" }, el("button", { onclick: () => input.value.trim() && redeem(input.value.trim()) }, "Enrol")),
  ].filter(Boolean));
}

export function renderToday(view, state) {
  const jobs = state.jobs;
  const cards = jobs.map((j, i) => {
    const late = j.sla_due && j.eta && new Date(j.eta) > new Date(j.sla_due);
    return el("a", {
      class: `card ${j.priority}${state.fresh.has(j.id) ? " new-arrival" : ""}`,
      href: `#/order/${encodeURIComponent(j.id)}`, id: `job-${j.id}`,
      dataset: { status: j.status, seq: String(i + 1) },
    },
    el("div", { class: "top" },
      el("span", { class: "title" }, `${i + 1}. ${j.title}`),
      el("span", { class: `status ${j.status}` }, j.status.replace("_", " "))),
    el("div", { class: "meta" },
      el("div", {}, el("b", {}, j.customer_name || j.customer_id || "—"), " · ", j.site_name || j.site_id || "no site"),
      j.site_address ? el("div", {}, j.site_address) : null,
      el("div", {}, `${j.priority} · SLA due `, el("b", { class: "sla" }, fmtTime(j.sla_due)),
        " · ETA ", el("b", { class: late ? "eta late" : "eta" }, j.eta ? fmtTime(j.eta) : "—")),
      j.queued ? el("div", { class: "muted" }, "waiting to send…") : null));
  });
  view.replaceChildren(
    el("h1", {}, "Today"),
    cards.length ? el("div", { id: "jobs" }, cards)
      : el("p", { class: "muted", id: "no-jobs" }, "No jobs for you right now. New ones appear here as they are assigned."),
  );
}

async function cached(key, load) {
  try {
    const value = await load();
    await db.set(key, value);
    return value;
  } catch (err) {
    const value = await db.get(key);
    if (value === undefined) throw err;
    return value;
  }
}

export async function renderOrder(view, ctx) {
  const { id, state, act, redraw } = ctx;
  const eng = state.auth.engineer_id;
  let detail;
  try {
    detail = await cached(`job:${id}`, () => call("GET", `/api/v1/work-orders/${encodeURIComponent(id)}/job`));
  } catch (err) {
    view.replaceChildren(el("p", { class: "banner warn" }, `This job cannot be shown: ${err.message}`),
      el("a", { class: "btn secondary", href: "#/" }, "Back"));
    return;
  }
  const current = state.jobs.find((j) => j.id === id);
  const job = { ...detail.job, ...(current || {}) };
  const status = current ? job.status : "gone";
  const hist = detail.asset_history;
  const nav = job.site_lat != null ? [
    el("a", { class: "btn secondary", id: "nav-geo", href: `geo:${job.site_lat},${job.site_lon}?q=${job.site_lat},${job.site_lon}(${encodeURIComponent(job.site_name || "site")})` }, "Navigate"),
    el("a", { class: "btn secondary", id: "nav-osm", target: "_blank", rel: "noopener",
      href: `https://www.openstreetmap.org/?mlat=${job.site_lat}&mlon=${job.site_lon}#map=17/${job.site_lat}/${job.site_lon}` }, "Map"),
  ] : [];
  const reason = el("input", { type: "text", id: "reason", placeholder: "reason" });
  const actions = el("div", { class: "actions", id: "actions" });
  const body = el("div", { id: "order-body" });
  if (status === "gone") {
    body.append(el("div", { class: "banner warn", id: "not-mine" },
      "This job is no longer on your list: it was re-assigned, withdrawn or signed off."));
  } else if (status === "assigned") {
    actions.append(
      el("button", { id: "accept", onclick: () => act("transition", id, { to: "accepted" }) }, "Accept"),
      el("button", { class: "danger", id: "reject", onclick: () => {
        if (!reason.value.trim()) { reason.focus(); reason.placeholder = "a reason is needed to reject"; return; }
        act("transition", id, { to: "rejected", reason: reason.value.trim() }).then(() => { location.hash = "#/"; });
      } }, "Reject"));
    body.append(reason);
  } else if (status === "accepted") {
    actions.append(el("button", { id: "drive", onclick: () => act("transition", id, { to: "en_route" }) }, "Start driving"));
  } else if (status === "en_route") {
    body.append(
      el("div", { class: "banner", id: "driving" }, "Driving. You are checked in automatically when you arrive on site."),
      el("details", {}, el("summary", {}, "Check in by hand"), reason,
        el("div", { class: "actions" }, el("button", { class: "secondary", id: "manual-checkin", onclick: () => {
          if (!reason.value.trim()) { reason.focus(); reason.placeholder = "a reason is needed (e.g. GPS is off)"; return; }
          act("transition", id, { to: "on_site", reason: reason.value.trim() });
        } }, "Check in"))));
  } else if (["on_site", "in_progress", "waiting_parts"].includes(status)) {
    body.append(el("div", { class: "banner ok", id: "checked-in" },
      `On site${job.checkin_at ? ` since ${fmtTime(job.checkin_at)}` : ""}.`));
    await renderOnSite(body, { id, job, eng, act, cached, redraw });
  } else if (status === "completed") {
    await renderSignOff(body, { id, job, act });
  }
  view.replaceChildren(
    el("a", { href: "#/", class: "muted" }, "‹ Today"),
    el("h1", { id: "order-title", dataset: { status } }, job.title),
    el("div", { class: "panel meta" },
      el("div", {}, el("span", { class: `status ${status}`, id: "order-status" }, status.replace("_", " ")), ` ${job.priority}`),
      el("div", {}, el("b", {}, job.customer_name || "—"), " · ", job.site_name || "—"),
      job.site_address ? el("div", {}, job.site_address) : null,
      el("div", {}, "SLA due ", el("b", {}, fmtTime(job.sla_due)), " · ETA ", el("b", {}, fmtTime(job.eta))),
      job.description ? el("p", {}, job.description) : null),
    el("div", { class: "actions" }, nav),
    actions, body,
    el("h2", {}, "Asset"),
    el("div", { class: "panel meta", id: "asset" }, job.asset_id
      ? [el("div", {}, el("b", {}, job.asset_model || job.asset_id), ` · serial ${job.asset_serial || "—"}`),
        hist ? historyList(hist, id) : null]
      : "No asset on this job."),
    el("h2", {}, "Parts needed"),
    el("div", { class: "panel" }, detail.parts_needed.length
      ? el("ul", { class: "list", id: "parts-needed" }, detail.parts_needed.map((p) => el("li", {}, `${p.qty} × ${p.name || p.part_id}`)))
      : el("span", { class: "muted" }, "None listed."),
    job.pickup_parts ? el("p", { class: "meta" }, `Collect at depot ${job.pickup_depot_id}: ${Object.entries(job.pickup_parts).map(([k, v]) => `${v} × ${k}`).join(", ")}`) : null),
  );
}

function historyList(hist, current) {
  const rows = [
    ...hist.orders.filter((o) => o.id !== current && o.status !== "new").slice(0, 5).map((o) => `${fmtTime(o.completed_at || o.created_at)} — ${o.title} (${o.status})`),
    ...hist.parts_replaced.slice(0, 5).map((p) => `${fmtTime(p.used_at)} — replaced ${p.qty} × ${p.name}`),
    ...hist.alerts.slice(0, 3).map((a) => `${fmtTime(a.opened_at)} — alert: ${a.message || a.fault_type} (${a.state})`),
  ];
  return rows.length ? el("ul", { class: "list", id: "asset-history" }, rows.map((r) => el("li", {}, r)))
    : el("div", { class: "muted" }, "No history yet.");
}
