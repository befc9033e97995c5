/* FieldFlow dispatcher dashboard: snapshot + live websocket, no framework, no CDN. */
"use strict";
const TOKEN_KEY = "fieldflow.token";
const ACTIVITY = { offline: "#5b6b7c", idle: "#3fb6ff", assigned: "#b48cff", accepted: "#b48cff",
  en_route: "#ff9f1c", on_site: "#7bd88f", in_progress: "#2ecc71", waiting_parts: "#ffd23f" };
const PRIORITY = { P1: "#ff4d5e", P2: "#ff9f1c", P3: "#ffd23f", P4: "#7bd88f" };
const OPEN = new Set(["new", "assigned", "accepted", "en_route", "on_site", "in_progress", "waiting_parts"]);
const state = { engineers: new Map(), sites: new Map(), orders: new Map(), alerts: new Map(),
  etas: new Map(), hourly: new Map(), ws: null, retry: 1000 };
const $ = (id) => document.getElementById(id);
let map;

function token() { return localStorage.getItem(TOKEN_KEY); }
function showLogin(msg) {
  $("app").hidden = true; $("login").hidden = false; $("login-error").textContent = msg || "";
}
function esc(s) { return String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }
function ago(ts) {
  const s = (Date.now() - new Date(ts).getTime()) / 1000;
  return s < 90 ? `${Math.max(0, Math.round(s))}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}
function dur(s) { return s == null ? "–" : s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`; }
function pct(x) { return x == null ? "–" : `${Math.round(x * 100)}%`; }

async function api(path) {
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (r.status === 401 || r.status === 403) { localStorage.removeItem(TOKEN_KEY); showLogin("That token was refused."); throw new Error("auth"); }
  return r.json();
}

/* ---------------------------------------------------------------- map */
function drawEngineer(e) {
  const lat = e.lat ?? e.home_lat, lon = e.lon ?? e.home_lon;
  if (lat == null) return;
  const el = map.place(`eng:${e.id}`, lat, lon, "engineers", () => {
    const g = svgEl("g", { class: "eng", id: `eng-${e.id}` });
    svgEl("circle", { r: 11, fill: "none", "stroke-width": 2, opacity: 0.5, class: "halo" }, g);
    svgEl("circle", { r: 7, stroke: "#0b1118", "stroke-width": 2, class: "dot" }, g);
    svgEl("text", { x: 12, y: 4, fill: "#e6edf3", "font-size": 11, class: "lbl" }, g);
    return g;
  });
  const colour = ACTIVITY[e.activity] || ACTIVITY.idle;
  el.querySelector(".dot").setAttribute("fill", colour);
  el.querySelector(".halo").setAttribute("stroke", colour);
  el.querySelector(".lbl").textContent = e.name || e.id;
  el.dataset.activity = e.activity || "";
  el.setAttribute("opacity", e.lat == null ? 0.55 : 1);  // at home base: no live position yet
}
function drawSite(s) {
  map.place(`site:${s.id}`, s.lat, s.lon, "sites", () => {
    const g = svgEl("g", { class: "site", id: `site-${s.id}` });
    svgEl("circle", { r: 3, class: "fence", fill: "rgba(63,182,255,.06)", stroke: "#24445e" }, g);
    svgEl("rect", { x: -4, y: -4, width: 8, height: 8, fill: "#4d6278", rx: 1.5 }, g);
    svgEl("title", {}, g).textContent = s.name;
    return g;
  });
  const fence = document.querySelector(`#site-${CSS.escape(s.id)} .fence`);
  if (fence) fence.setAttribute("r", Math.max(4, map.metresToPx(s.fence_radius_m || 100)));
}
function drawOrder(o) {
  const site = state.sites.get(o.site_id);
  const lat = o.lat ?? site?.lat, lon = o.lon ?? site?.lon;
  if (!OPEN.has(o.status) || lat == null) { map.remove(`order:${o.id}`); return; }
  const el = map.place(`order:${o.id}`, lat, lon, "orders", () => {
    const g = svgEl("g", { class: "order", id: `mo-${o.id}` });
    svgEl("path", { d: "M0,-15 L7,-5 A8,8 0 1,1 -7,-5 Z", stroke: "#0b1118", "stroke-width": 1.5, transform: "translate(0,-2) scale(.9)" }, g);
    svgEl("title", {}, g);
    return g;
  });
  el.querySelector("path").setAttribute("fill", PRIORITY[o.priority] || "#999");
  el.querySelector("title").textContent = `${o.id} ${o.priority} ${o.status}: ${o.title}`;
}
function redrawAll() {
  for (const s of state.sites.values()) drawSite(s);
  for (const o of state.orders.values()) drawOrder(o);
  for (const e of state.engineers.values()) drawEngineer(e);
}

/* ------------------------------------------------------------- panels */
function renderQueue() {
  const rows = [...state.orders.values()].filter((o) => OPEN.has(o.status))
    .sort((a, b) => a.priority.localeCompare(b.priority) || String(a.created_at).localeCompare(String(b.created_at)));
  const body = $("queue").tBodies[0];
  body.replaceChildren(...rows.slice(0, 200).map((o) => {
    const tr = document.createElement("tr");
    tr.id = `order-${o.id}`; tr.dataset.status = o.status;
    if (o._flash) { tr.className = "flash"; o._flash = false; }
    const eta = state.etas.get(o.id);
    tr.innerHTML = `<td class="title" title="${esc(o.title)}"><b>${esc(o.id)}</b><br><span class="st">${esc(o.title)}</span></td>`
      + `<td><span class="pill ${esc(o.priority)}">${esc(o.priority)}</span></td>`
      + `<td class="status">${esc(o.status.replace("_", " "))}${eta ? `<br><span class="st">ETA ${new Date(eta.eta).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</span>` : ""}</td>`
      + `<td>${esc(state.engineers.get(o.engineer_id)?.name || o.engineer_id || "—")}</td>`;
    return tr;
  }));
  $("queue-count").textContent = rows.length;
  $("k-open").textContent = rows.length;
}
function renderAlerts() {
  const rows = [...state.alerts.values()].sort((a, b) => String(b.opened_at).localeCompare(String(a.opened_at)));
  $("alerts").replaceChildren(...rows.slice(0, 100).map((a) => {
    const li = document.createElement("li");
    li.id = `alert-${a.id ?? a.dedup_key}`;
    li.innerHTML = `<span class="sev ${esc(a.severity)}">${esc(a.severity)}</span>${esc(a.message || a.fault_type)}`
      + `<span class="when">${a.opened_at ? ago(a.opened_at) : ""}</span><br><span class="st">${esc(a.device_id)} · ${esc(a.kind)}</span>`;
    return li;
  }));
  $("alert-count").textContent = rows.length;
  $("k-alerts").textContent = rows.length;
}
function renderTiles() {
  const active = [...state.engineers.values()].filter((e) => e.activity && e.activity !== "offline").length;
  $("k-online").textContent = `${active}/${state.engineers.size}`;
}
function renderChart() {
  const svg = $("chart"); svg.replaceChildren();
  const now = new Date(); now.setMinutes(0, 0, 0);
  const hours = [...Array(24).keys()].map((i) => new Date(now.getTime() - (23 - i) * 3600e3));
  const counts = hours.map((h) => state.hourly.get(h.toISOString()) || 0);
  const max = Math.max(1, ...counts), W = 1000, H = 160, bw = W / 24, top = 22;
  for (let i = 0; i <= 4; i++) {
    const y = top + (H - 20 - top) * (i / 4);
    svgEl("line", { x1: 0, x2: W, y1: y, y2: y, stroke: "#1f2c39" }, svg);
  }
  counts.forEach((c, i) => {
    const h = (H - 20 - top) * (c / max), x = i * bw + 4, y = H - 20 - h;
    svgEl("rect", { x, y, width: bw - 8, height: Math.max(h, c ? 2 : 0), rx: 3, fill: i === 23 ? "#3fb6ff" : "#2a6f99", "data-count": c }, svg);
    if (c) svgEl("text", { x: x + (bw - 8) / 2, y: y - 4, fill: "#cfe3f3", "font-size": 11, "text-anchor": "middle" }, svg).textContent = c;
    if (i % 3 === 0 || i === 23) svgEl("text", { x: x + (bw - 8) / 2, y: H - 5, fill: "#6b7f94", "font-size": 11, "text-anchor": "middle" }, svg)
      .textContent = hours[i].toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  });
}
async function loadKpis() {
  try {
    const page = await api("/api/v1/kpis?group_by=customer&bucket=day&limit=500");
    let n = 0, resp = 0, rn = 0, sla = 0, sn = 0, ftf = 0, fn = 0, util = 0, un = 0;
    for (const r of page.items) {
      n += r.orders;
      if (r.first_response_s != null) { resp += r.first_response_s * r.orders; rn += r.orders; }
      if (r.sla_compliance != null) { sla += r.sla_compliance * r.orders; sn += r.orders; }
      if (r.first_time_fix_rate != null) { ftf += r.first_time_fix_rate * r.completed; fn += r.completed; }
      if (r.utilisation != null) { util += r.utilisation; un += 1; }
    }
    $("k-response").textContent = rn ? dur(resp / rn) : "–";
    $("k-sla").textContent = sn ? pct(sla / sn) : "–";
    $("k-ftf").textContent = fn ? pct(ftf / fn) : "–";
    $("k-util").textContent = un ? pct(util / un) : "–";
  } catch (e) { /* shown on the next refresh */ }
}

/* --------------------------------------------------------------- feed */
function applySnapshot(d) {
  for (const s of d.sites) state.sites.set(s.id, s);
  for (const e of d.engineers) state.engineers.set(e.id, e);
  state.orders.clear(); for (const o of d.orders) state.orders.set(o.id, o);
  state.alerts.clear(); for (const a of d.alerts) state.alerts.set(a.dedup_key || a.id, a);
  for (const t of d.etas) state.etas.set(t.work_order_id, t);
  state.hourly.clear();
  for (const h of d.orders_per_hour) state.hourly.set(new Date(h.hour).toISOString(), h.orders);
  redrawAll(); renderQueue(); renderAlerts(); renderTiles(); renderChart();
}
function engineerActivity(id) {
  const order = [...state.orders.values()].find((o) => o.engineer_id === id && OPEN.has(o.status) && o.status !== "new");
  const e = state.engineers.get(id);
  return order ? order.status : (e && e.status === "offline" && !e._live ? "offline" : "idle");
}
function onMessage(msg) {
  const d = msg.data;
  if (msg.type === "snapshot") { applySnapshot(d); return; }
  if (msg.type === "position") {
    const e = state.engineers.get(d.engineer_id) || { id: d.engineer_id, name: d.engineer_id };
    Object.assign(e, { lat: d.lat, lon: d.lon, _live: true });
    e.activity = engineerActivity(e.id);
    state.engineers.set(e.id, e); drawEngineer(e); renderTiles();
  } else if (msg.type === "workorder") {
    let o = state.orders.get(d.work_order_id);
    if (!o) {
      o = { id: d.work_order_id, priority: d.details?.priority || "P3", title: d.details?.title || "",
        site_id: d.details?.site_id, created_at: new Date(d.ts).toISOString() };
      const hour = new Date(d.ts); hour.setMinutes(0, 0, 0);
      state.hourly.set(hour.toISOString(), (state.hourly.get(hour.toISOString()) || 0) + 1);
      renderChart();
    }
    o.status = d.to_status === "rejected" ? "new" : d.to_status;
    if (d.engineer_id) o.engineer_id = d.engineer_id;
    if (d.to_status === "rejected") o.engineer_id = null;
    o._flash = true;
    state.orders.set(o.id, o); drawOrder(o);
    for (const id of [o.engineer_id, d.engineer_id]) {
      const e = id && state.engineers.get(id);
      if (e) { e.activity = engineerActivity(id); drawEngineer(e); }
    }
    renderQueue(); renderTiles();
  } else if (msg.type === "alert") {
    if (d.state === "cleared") state.alerts.delete(d.dedup_key);
    else state.alerts.set(d.dedup_key, { ...state.alerts.get(d.dedup_key), ...d,
      opened_at: state.alerts.get(d.dedup_key)?.opened_at || new Date(d.ts).toISOString() });
    renderAlerts();
  } else if (msg.type === "eta") {
    state.etas.set(d.work_order_id, { ...d, eta: new Date(d.eta_ts).toISOString() }); renderQueue();
  }
  $("feed-log").textContent = `Last update ${new Date().toLocaleTimeString()} · ${msg.type}`;
}
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  // The token goes as a subprotocol, not in the URL (URLs end up in access logs).
  const ws = new WebSocket(`${proto}://${location.host}/ws/live`, ["fieldflow.v1", `bearer.${token()}`]);
  state.ws = ws;
  ws.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn on"; state.retry = 1000; };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    $("conn").textContent = "offline"; $("conn").className = "conn off";
    if (ev.code === 4401 || ev.code === 4403) { localStorage.removeItem(TOKEN_KEY); showLogin(ev.reason); return; }
    setTimeout(connect, state.retry); state.retry = Math.min(state.retry * 2, 15000);
  };
}
function start() {
  $("login").hidden = true; $("app").hidden = false;
  map = map || new GeoMap($("map"));
  map.onRedraw = () => { for (const s of state.sites.values()) drawSite(s); };
  $("legend").innerHTML = Object.entries({ idle: ACTIVITY.idle, "en route": ACTIVITY.en_route, "on site": ACTIVITY.on_site, offline: ACTIVITY.offline })
    .map(([k, c]) => `<span><i style="background:${c}"></i>${k}</span>`).join("");
  connect(); loadKpis(); setInterval(loadKpis, 30000); setInterval(renderChart, 60000);
}
$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault(); localStorage.setItem(TOKEN_KEY, $("token").value.trim()); start();
});
$("logout").addEventListener("click", () => { localStorage.removeItem(TOKEN_KEY); if (state.ws) state.ws.close(); location.reload(); });
if (token()) start(); else showLogin();
