/* The KPI tiles and the orders-per-hour chart. */
import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
function dur(s) { return s == null ? "–" : s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`; }
function pct(x) { return x == null ? "–" : `${Math.round(x * 100)}%`; }

export function renderChart(hourly) {
  const svg = $("chart"); svg.replaceChildren();
  const now = new Date(); now.setMinutes(0, 0, 0);
  const hours = [...Array(24).keys()].map((i) => new Date(now.getTime() - (23 - i) * 3600e3));
  const counts = hours.map((h) => hourly.get(h.toISOString()) || 0);
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
export async function loadKpis() {
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
  } catch { /* shown on the next refresh */ }
}
