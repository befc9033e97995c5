/* Plan the day: preview POST /api/v1/dispatch/plan as routes on the map, then apply. */
import { api, act, notify, esc, hhmm } from "./api.js";
import { state, orderPlace } from "./state.js";
import { ROUTE_COLOURS } from "./style.js";

const $ = (id) => document.getElementById(id);

async function depots() {
  if (state.depots.size) return;
  try { for (const d of (await api("/api/v1/depots?limit=500")).items) state.depots.set(d.id, d); } catch (e) { notify(`Loading depots failed: ${e.message}`); }
}
function stopPlace(s) {
  if (s.kind === "pickup") { const d = state.depots.get(s.depot_id); return d ? [d.lat, d.lon] : null; }
  const o = state.orders.get(s.work_order_id);
  return o ? orderPlace(o) : null;
}
export function routeLines(plan) {
  return plan.routes.map((r, i) => {
    const e = state.engineers.get(r.engineer_id);
    const start = e && (e.lat ?? e.home_lat) != null ? [[e.lat ?? e.home_lat, e.lon ?? e.home_lon]] : [];
    const stops = r.stops.map((s) => [s, stopPlace(s)]).filter(([, p]) => p);
    return { engineer_id: r.engineer_id, colour: ROUTE_COLOURS[i % ROUTE_COLOURS.length],
      label: `${e?.name || r.engineer_id}: ${r.stops.length} stops`,
      points: [...start, ...stops.map(([, p]) => p)],
      stops: stops.map(([s]) => `${s.kind === "pickup" ? "pick up at " + s.depot_id + " for " : ""}${s.work_order_id} ${hhmm(s.start)}`) };
  });
}
function render(plan, applied) {
  const lines = routeLines(plan);
  $("plan-result").innerHTML = [
    `<li class="st">${plan.date}: ${plan.planned.length} orders asked, ${plan.routes.length} routes, ${plan.unassigned.length} unplaced${applied ? `, ${plan.assigned.length} assigned` : " (preview)"}</li>`,
    ...plan.routes.map((r, i) => `<li class="plan-row" data-engineer="${esc(r.engineer_id)}"><i style="background:${lines[i].colour}"></i><b>${esc(state.engineers.get(r.engineer_id)?.name || r.engineer_id)}</b> `
      + `${hhmm(r.start)}–${hhmm(r.end)} · ${Math.round(r.travel_s / 60)} min driving<br><span class="st">${r.stops.map((s) => `${esc(s.work_order_id)}${s.kind === "pickup" ? " (pickup)" : ""} ${hhmm(s.start)}`).join(" → ")}</span></li>`),
    ...plan.unassigned.map((u) => `<li class="error">${esc(u.work_order_id)}: ${esc(u.reason)}</li>`),
    ...plan.apply_errors.map((u) => `<li class="error">${esc(u.work_order_id)}: ${esc(u.message)}</li>`),
  ].join("");
  return lines;
}
export function setupPlan(view) {
  let preview = null;
  $("plan-preview").addEventListener("click", async () => {
    await depots();
    const plan = await act("Plan the day (preview)", () => api("/api/v1/dispatch/plan", { method: "POST", body: { apply: false, time_limit_s: 2 } }));
    if (!plan) return;
    preview = plan;
    view().routes(render(plan, false));
    $("plan-apply").disabled = !plan.planned.length;
    $("plan-panel").dataset.state = "preview";
  });
  $("plan-apply").addEventListener("click", async () => {
    if (!preview) { notify("Preview a plan first."); return; }
    const plan = await act("Apply the plan", () => api("/api/v1/dispatch/plan", { method: "POST", body: { apply: true, time_limit_s: 2, work_order_ids: preview.planned.length ? preview.planned : undefined } }));
    if (!plan) return;
    view().routes(render(plan, true));
    $("plan-apply").disabled = true; preview = null;
    $("plan-panel").dataset.state = "applied";
  });
  $("plan-clear").addEventListener("click", () => { view().routes([]); $("plan-result").innerHTML = ""; $("plan-panel").dataset.state = ""; });
}
