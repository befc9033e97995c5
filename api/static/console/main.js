/* FieldFlow dispatcher console: snapshot + live websocket, street map (or the vector map
   when tiles are off or fail), and the dispatcher's actions. Plain modules, no build. */
import { api, token, setToken, forgetToken, whenUnauthorised, notify, esc, ago } from "./api.js";
import { state, alertKey, orderOf, ordersChanged, orderPlace, alertPlace } from "./state.js";
import { ACTIVITY, OPEN } from "./style.js";
import { StreetMap } from "./streetmap.js";
import { VectorMap } from "./vectormap.js";
import { setupOrderForm, setupOrderDetail, setupAlerts } from "./actions.js";
import { setupPlan } from "./plan.js";
import { setupTrack } from "./track.js";
import { renderChart, loadKpis } from "./tiles.js";

const $ = (id) => document.getElementById(id);
let view = null, vector = null;

function showLogin(msg) { $("app").hidden = true; $("login").hidden = false; $("login-error").textContent = msg || ""; }
whenUnauthorised(showLogin);

/* ---------------------------------------------------------------- map */
function useVector(why) {
  vector = vector || new VectorMap($("map"));
  view = vector;
  $("streetmap").hidden = true; $("map").removeAttribute("hidden"); // an SVG has no .hidden
  document.body.dataset.map = "vector";
  $("map-mode").textContent = why;
  redrawAll();
}
async function chooseMap() {
  let cfg = { tiles: null };
  try { cfg = await api("/api/v1/console/config"); } catch (e) { notify(`Console settings: ${e.message}`); }
  if (!cfg.tiles || !window.L) { useVector(cfg.tiles ? "vector map (Leaflet missing)" : "vector map (tiles off)"); return; }
  $("streetmap").hidden = false; $("map").setAttribute("hidden", "");
  document.body.dataset.map = "street";
  $("map-mode").textContent = "street map";
  view = new StreetMap($("streetmap"), cfg.tiles, () => useVector("vector map (tiles failed to load)"));
  redrawAll();
}
function drawEngineer(e) { if (view) view.engineer(e, orderOf(e.id, OPEN)); }
function drawOrder(o) {
  if (!view) return;
  const at = orderPlace(o);
  if (!OPEN.has(o.status) || !at) view.removeOrder(o.id); else view.order(o, at[0], at[1]);
}
function drawAlert(a) {
  if (!view) return;
  const at = alertPlace(a);
  if (at) view.alert(a, at[0], at[1]);
  else if (a.asset_id && !state.assetSites.has(a.asset_id)) {
    state.assetSites.set(a.asset_id, null);
    api(`/api/v1/assets/${encodeURIComponent(a.asset_id)}`).then((asset) => {
      state.assetSites.set(a.asset_id, asset.site_id);
      const cur = state.alerts.get(alertKey(a)); if (cur) drawAlert(cur);
    }).catch(() => {});
  }
}
function redrawAll() {
  if (!view) return;
  for (const s of state.sites.values()) view.site(s);
  for (const o of state.orders.values()) drawOrder(o);
  for (const a of state.alerts.values()) drawAlert(a);
  for (const e of state.engineers.values()) drawEngineer(e);
  view.fit([...state.sites.values(), ...state.engineers.values()]
    .map((x) => [x.lat ?? x.home_lat, x.lon ?? x.home_lon]).filter(([a]) => a != null));
}

/* ------------------------------------------------------------- panels */
function renderQueue() {
  const rows = [...state.orders.values()].filter((o) => OPEN.has(o.status))
    .sort((a, b) => a.priority.localeCompare(b.priority) || String(a.created_at).localeCompare(String(b.created_at)));
  $("queue").tBodies[0].replaceChildren(...rows.slice(0, 200).map((o) => {
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
  $("queue-count").textContent = rows.length; $("k-open").textContent = rows.length;
}
function renderAlerts() {
  const rows = [...state.alerts.values()].sort((a, b) => String(b.opened_at).localeCompare(String(a.opened_at)));
  $("alerts").replaceChildren(...rows.slice(0, 100).map((a) => {
    const li = document.createElement("li");
    li.id = `alert-${a.dedup_key}`; li.dataset.key = a.dedup_key; li.dataset.state = a.state || "open";
    li.dataset.events = String(a._events || 0); // live events seen for this alert
    li.innerHTML = `<span class="sev ${esc(a.severity)}">${esc(a.severity)}</span>${esc(a.message || a.fault_type)}`
      + `<span class="when">${a.opened_at ? ago(a.opened_at) : ""}</span><br><span class="st">${esc(a.device_id)} · ${esc(a.kind)} · ${esc(a.state || "open")}</span>`
      + `<span class="acts">${a.state === "acknowledged" ? "" : '<button data-action="acknowledge">Ack</button>'}<button data-action="clear">Clear</button></span>`;
    return li;
  }));
  $("alert-count").textContent = state.alerts.size; $("k-alerts").textContent = state.alerts.size;
}
function renderTiles() {
  const active = [...state.engineers.values()].filter((e) => e.activity && e.activity !== "offline").length;
  $("k-online").textContent = `${active}/${state.engineers.size}`;
}

/* --------------------------------------------------------------- feed */
function applySnapshot(d) {
  for (const s of d.sites) state.sites.set(s.id, s);
  for (const e of d.engineers) state.engineers.set(e.id, e);
  state.orders.clear(); for (const o of d.orders) state.orders.set(o.id, o);
  ordersChanged();
  state.alerts.clear(); for (const a of d.alerts) state.alerts.set(alertKey(a), a);
  for (const a of d.alerts) if (a.site_id) state.assetSites.set(a.asset_id, a.site_id);
  for (const t of d.etas) state.etas.set(t.work_order_id, t);
  state.hourly.clear();
  for (const h of d.orders_per_hour) state.hourly.set(new Date(h.hour).toISOString(), h.orders);
  redrawAll(); renderQueue(); renderAlerts(); renderTiles(); renderChart(state.hourly);
}
function engineerActivity(id) {
  const order = orderOf(id, OPEN), e = state.engineers.get(id);
  return order ? order.status : (e && e.status === "offline" && !e._live ? "offline" : "idle");
}
export function onPosition(d) {
  const e = state.engineers.get(d.engineer_id) || { id: d.engineer_id, name: d.engineer_id };
  Object.assign(e, { lat: d.lat, lon: d.lon, heading: d.heading ?? e.heading, position_ts: new Date(d.ts).toISOString(), _live: true });
  e.activity = engineerActivity(e.id);
  state.engineers.set(e.id, e); drawEngineer(e);
}
function onWorkOrder(d) {
  let o = state.orders.get(d.work_order_id);
  if (!o) {
    o = { id: d.work_order_id, priority: d.details?.priority || "P3", title: d.details?.title || "",
      site_id: d.details?.site_id, created_at: new Date(d.ts).toISOString() };
    const hour = new Date(d.ts); hour.setMinutes(0, 0, 0);
    state.hourly.set(hour.toISOString(), (state.hourly.get(hour.toISOString()) || 0) + 1);
    renderChart(state.hourly);
  }
  o.status = d.to_status === "rejected" ? "new" : d.to_status;
  if (d.details?.priority) o.priority = d.details.priority;
  if (d.engineer_id) o.engineer_id = d.engineer_id;
  if (d.to_status === "rejected") o.engineer_id = null;
  o._flash = true;
  state.orders.set(o.id, o); ordersChanged(); drawOrder(o);
  for (const id of [o.engineer_id, d.engineer_id]) {
    const e = id && state.engineers.get(id);
    if (e) { e.activity = engineerActivity(id); drawEngineer(e); }
  }
  renderQueue(); renderTiles();
}
function onAlert(d) {
  const key = alertKey(d), prev = state.alerts.get(key);
  if (d.state === "cleared") { state.alerts.delete(key); if (view) view.removeAlert(key); }
  else {
    const st = d.details?.action === "acknowledge" ? "acknowledged" : prev?.state || "open";
    const a = { ...prev, ...d, state: st, opened_at: prev?.opened_at || new Date(d.ts).toISOString(),
      _events: (prev?._events || 0) + 1 };
    state.alerts.set(key, a); drawAlert(a);
  }
  renderAlerts();
}
function onMessage(msg) {
  const d = msg.data;
  if (msg.type === "snapshot") applySnapshot(d);
  else if (msg.type === "position") { onPosition(d); renderTilesSoon(); }
  else if (msg.type === "workorder") onWorkOrder(d);
  else if (msg.type === "alert") onAlert(d);
  else if (msg.type === "eta") { state.etas.set(d.work_order_id, { ...d, eta: new Date(d.eta_ts).toISOString() }); renderQueue(); }
  $("feed-log").textContent = `Last update ${new Date().toLocaleTimeString()} · ${msg.type}`;
}
let tilesTimer = 0;
function renderTilesSoon() { if (!tilesTimer) tilesTimer = setTimeout(() => { tilesTimer = 0; renderTiles(); }, 500); }
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  // The token goes as a subprotocol, not in the URL (URLs end up in access logs).
  const ws = new WebSocket(`${proto}://${location.host}/ws/live`, ["fieldflow.v1", `bearer.${token()}`]);
  state.ws = ws;
  ws.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn on"; state.retry = 1000; };
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    $("conn").textContent = "offline"; $("conn").className = "conn off";
    if (ev.code === 4401 || ev.code === 4403) { forgetToken(); showLogin(ev.reason); return; }
    setTimeout(connect, state.retry); state.retry = Math.min(state.retry * 2, 15000);
  };
}
let started = false;
async function start() {
  $("login").hidden = true; $("app").hidden = false;
  if (started) return;
  started = true;
  $("legend").innerHTML = Object.entries({ idle: ACTIVITY.idle, "en route": ACTIVITY.en_route, "on site": ACTIVITY.on_site, offline: ACTIVITY.offline })
    .map(([k, c]) => `<span><i style="background:${c}"></i>${k}</span>`).join("");
  setupOrderForm(); setupOrderDetail(); setupAlerts(renderAlerts);
  setupPlan(() => view); setupTrack(() => view);
  document.addEventListener("orders-changed", () => { ordersChanged(); for (const o of state.orders.values()) drawOrder(o); renderQueue(); });
  await chooseMap();
  connect(); loadKpis(); setInterval(loadKpis, 30000); setInterval(() => renderChart(state.hourly), 60000);
}
/* For the browser test and for curious operators: how long 2,000 moving engineers take. */
window.fieldflowConsole = { state, onPosition, mapMode: () => document.body.dataset.map,
  stats: () => view && view.stats, busy: () => Boolean(view && (view.chunking || view.frame)), marker: (id) => view && view.markers && view.markers.get(`eng:${id}`) };
$("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); setToken($("token").value.trim()); start(); });
$("logout").addEventListener("click", () => { forgetToken(); if (state.ws) state.ws.close(); location.reload(); });
$("toast").addEventListener("click", () => { $("toast").hidden = true; });
if (token()) start(); else showLogin();
