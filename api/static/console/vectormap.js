/* The vector map (no tiles): today's SVG drawing, used when tiles are off or fail.
   Same drawing calls as StreetMap, so the console does not care which one it has. */
import { ACTIVITY, PRIORITY, slaState } from "./style.js";

export class VectorMap {
  constructor(svg) {
    this.svg = svg;
    this.geo = new GeoMap(svg); // from /static/map.js (a classic script)
    this.sites = new Map();
    this.geo.onRedraw = () => { for (const s of this.sites.values()) this.fence(s); };
    this.stats = [];
  }
  invalidate() {}
  fit() {}
  engineer(e, order) {
    const lat = e.lat ?? e.home_lat, lon = e.lon ?? e.home_lon;
    if (lat == null) return;
    const t0 = performance.now();
    const el = this.geo.place(`eng:${e.id}`, lat, lon, "engineers", () => {
      const g = svgEl("g", { class: "eng", id: `eng-${e.id}` });
      svgEl("circle", { r: 11, fill: "none", "stroke-width": 2, opacity: 0.5, class: "halo" }, g);
      svgEl("circle", { r: 7, stroke: "#0b1118", "stroke-width": 2, class: "dot" }, g);
      svgEl("text", { x: 12, y: 4, fill: "#e6edf3", "font-size": 11, class: "lbl" }, g);
      svgEl("title", {}, g);
      return g;
    });
    const colour = ACTIVITY[e.activity] || ACTIVITY.idle;
    el.querySelector(".dot").setAttribute("fill", colour);
    el.querySelector(".halo").setAttribute("stroke", colour);
    el.querySelector(".lbl").textContent = e.name || e.id;
    el.querySelector("title").textContent = `${e.name || e.id}: ${e.activity || "idle"}${order ? ` · ${order.id}` : ""}`;
    el.dataset.activity = e.activity || "";
    el.setAttribute("opacity", e.lat == null ? 0.55 : 1); // at home base: no live position yet
    this.stats.push({ n: 1, ms: performance.now() - t0 });
    if (this.stats.length > 5000) this.stats.splice(0, 2500);
  }
  site(s) {
    if (s.lat == null) return;
    this.sites.set(s.id, s);
    this.geo.place(`site:${s.id}`, s.lat, s.lon, "sites", () => {
      const g = svgEl("g", { class: "site", id: `site-${s.id}` });
      svgEl("circle", { r: 3, class: "fence", fill: "rgba(63,182,255,.06)", stroke: "#24445e" }, g);
      svgEl("rect", { x: -4, y: -4, width: 8, height: 8, fill: "#4d6278", rx: 1.5 }, g);
      svgEl("title", {}, g).textContent = s.name;
      return g;
    });
    this.fence(s);
  }
  fence(s) {
    const fence = this.svg.querySelector(`#site-${CSS.escape(s.id)} .fence`);
    if (fence) fence.setAttribute("r", Math.max(4, this.geo.metresToPx(s.fence_radius_m || 100)));
  }
  order(o, lat, lon) {
    const el = this.geo.place(`order:${o.id}`, lat, lon, "orders", () => {
      const g = svgEl("g", { class: "order", id: `mo-${o.id}` });
      svgEl("path", { d: "M0,-15 L7,-5 A8,8 0 1,1 -7,-5 Z", stroke: "#0b1118", "stroke-width": 1.5, transform: "translate(0,-2) scale(.9)" }, g);
      svgEl("title", {}, g);
      return g;
    });
    const sla = slaState(o);
    el.querySelector("path").setAttribute("fill", PRIORITY[o.priority] || "#999");
    el.querySelector("path").setAttribute("stroke", sla === "breached" ? "#ff4d5e" : sla === "risk" ? "#ffd23f" : "#0b1118");
    el.dataset.sla = sla;
    el.querySelector("title").textContent = `${o.id} ${o.priority} ${o.status}: ${o.title} (SLA ${sla})`;
  }
  removeOrder(id) { this.geo.remove(`order:${id}`); }
  alert(a, lat, lon) {
    const el = this.geo.place(`alert:${a.dedup_key}`, lat, lon, "orders", () => {
      const g = svgEl("g", { class: "alert-pin" });
      svgEl("path", { d: "M0,-9 L8,6 L-8,6 Z", fill: "#ff4d5e", stroke: "#0b1118", transform: "translate(10,-10)" }, g);
      svgEl("title", {}, g);
      return g;
    });
    el.querySelector("title").textContent = `${a.severity}: ${a.message || a.fault_type} (${a.state})`;
  }
  removeAlert(key) { this.geo.remove(`alert:${key}`); }
  routes(list) {
    this.geo.removeLines("route:");
    for (const r of list) {
      if (r.points.length > 1) this.geo.line(`route:${r.engineer_id}`, r.points, { stroke: r.colour, "stroke-width": 3, class: "plan-route" });
    }
  }
  track(points, fences) {
    this.geo.removeLines("track:");
    this.geo.remove("track:now");
    if (!points.length) return;
    this.geo.line("track:line", points.map((p) => [p.lat, p.lon]), { stroke: "#4de8d0", "stroke-width": 3, class: "track-line" });
    const last = points[points.length - 1];
    this.geo.place("track:now", last.lat, last.lon, "engineers", () => svgEl("circle", { r: 6, fill: "#4de8d0", stroke: "#fff", class: "track-now" }));
  }
  replay(p) { if (p) this.geo.place("track:now", p.lat, p.lon, "engineers", () => svgEl("circle", { r: 6, fill: "#4de8d0", stroke: "#fff", class: "track-now" })); }
}
