/* An engineer's track: GET /api/v1/engineers/{id}/track, drawn with a time slider. */
import { api, notify, esc } from "./api.js";
import { state } from "./state.js";

const $ = (id) => document.getElementById(id);
const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

export function setupTrack(view) {
  let points = [];
  const now = new Date();
  $("tr-from").value = local(new Date(now.getTime() - 3600e3)); $("tr-to").value = local(now);
  $("tr-engineer").addEventListener("focus", () => {
    $("tr-engineers").innerHTML = [...state.engineers.values()].slice(0, 3000).map((e) => `<option value="${esc(e.id)}">${esc(e.name || e.id)}</option>`).join("");
  });
  $("tr-show").addEventListener("click", async () => {
    const id = $("tr-engineer").value.trim();
    if (!id) { notify("Choose an engineer for the track."); return; }
    const q = new URLSearchParams({ from: new Date($("tr-from").value).toISOString(), to: new Date($("tr-to").value || Date.now()).toISOString(), tolerance_m: $("tr-tol").value || "10" });
    let t;
    try { t = await api(`/api/v1/engineers/${encodeURIComponent(id)}/track?${q}`); } catch (e) { notify(`Track of ${id}: ${e.message}`); return; }
    points = t.points;
    view().track(points, t.geofence);
    const slider = $("tr-slider");
    slider.max = String(Math.max(0, points.length - 1)); slider.value = slider.max; slider.disabled = points.length < 2;
    $("track-panel").dataset.points = String(points.length);
    $("tr-summary").innerHTML = `${points.length} of ${t.fixes} fixes drawn (tolerance ${t.tolerance_m} m)${t.truncated ? " · truncated" : ""}`
      + (t.geofence.length ? `<br>${t.geofence.map((g) => `${esc(g.kind)} ${esc(g.site_name || g.site_id)} ${new Date(g.ts).toLocaleTimeString()}`).join(" · ")}` : "");
    showTime();
    if (!points.length) notify(`No fixes from ${id} in that range.`, "ok");
  });
  const showTime = () => {
    const p = points[Number($("tr-slider").value)];
    $("tr-time").textContent = p ? new Date(p.ts).toLocaleTimeString() : "";
    view().replay(p);
  };
  $("tr-slider").addEventListener("input", showTime);
}
