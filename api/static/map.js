/* A tile-free SVG map: equirectangular projection fitted to the points it shows. */
"use strict";
const NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, parent) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

class GeoMap {
  constructor(svg, { width = 800, height = 520, pad = 40 } = {}) {
    this.svg = svg; this.w = width; this.h = height; this.pad = pad;
    this.bounds = null;
    this.grid = svgEl("g", { class: "grid" }, svg);
    this.layers = {};
    for (const name of ["fences", "links", "sites", "orders", "engineers"]) {
      this.layers[name] = svgEl("g", { class: name }, svg);
    }
    this.items = new Map(); // key -> {lat, lon, el, layer}
    this.lines = new Map(); // key -> {latlngs, el}
  }
  extend(lat, lon) {
    if (lat == null || lon == null) return false;
    const b = this.bounds;
    if (!b) { this.bounds = { minLat: lat - 0.01, maxLat: lat + 0.01, minLon: lon - 0.01, maxLon: lon + 0.01 }; return true; }
    if (lat >= b.minLat && lat <= b.maxLat && lon >= b.minLon && lon <= b.maxLon) return false;
    const mLat = (b.maxLat - b.minLat) * 0.1, mLon = (b.maxLon - b.minLon) * 0.1;
    b.minLat = Math.min(b.minLat, lat - mLat); b.maxLat = Math.max(b.maxLat, lat + mLat);
    b.minLon = Math.min(b.minLon, lon - mLon); b.maxLon = Math.max(b.maxLon, lon + mLon);
    return true;
  }
  project(lat, lon) {
    const b = this.bounds, k = Math.cos(((b.minLat + b.maxLat) / 2) * Math.PI / 180);
    const spanX = (b.maxLon - b.minLon) * k, spanY = b.maxLat - b.minLat;
    const s = Math.min((this.w - 2 * this.pad) / spanX, (this.h - 2 * this.pad) / spanY);
    const ox = (this.w - spanX * s) / 2, oy = (this.h - spanY * s) / 2;
    return [ox + (lon - b.minLon) * k * s, oy + (b.maxLat - lat) * s, s];
  }
  metresToPx(m) { return this.bounds ? (m / 111320) * this.project(this.bounds.minLat, this.bounds.minLon)[2] : 0; }
  drawGrid() {
    this.grid.replaceChildren();
    if (!this.bounds) return;
    const b = this.bounds, step = niceStep(Math.max(b.maxLat - b.minLat, b.maxLon - b.minLon) / 6);
    for (let lat = Math.ceil(b.minLat / step) * step; lat <= b.maxLat; lat += step) {
      const [, y] = this.project(lat, b.minLon);
      svgEl("line", { x1: 0, x2: this.w, y1: y, y2: y, stroke: "#1b2733" }, this.grid);
      svgEl("text", { x: 4, y: y - 3, fill: "#3d5166", "font-size": 10 }, this.grid).textContent = lat.toFixed(3);
    }
    for (let lon = Math.ceil(b.minLon / step) * step; lon <= b.maxLon; lon += step) {
      const [x] = this.project(b.minLat, lon);
      svgEl("line", { x1: x, x2: x, y1: 0, y2: this.h, stroke: "#1b2733" }, this.grid);
      svgEl("text", { x: x + 3, y: this.h - 4, fill: "#3d5166", "font-size": 10 }, this.grid).textContent = lon.toFixed(3);
    }
  }
  place(key, lat, lon, layer, build) {
    let item = this.items.get(key);
    if (!item) {
      item = { el: build(), layer, lat, lon };
      this.layers[layer].appendChild(item.el);
      this.items.set(key, item);
    }
    item.lat = lat; item.lon = lon;
    if (this.extend(lat, lon)) this.redraw(); else this.move(item);
    return item.el;
  }
  move(item) {
    if (item.lat == null || !this.bounds) return;
    const [x, y] = this.project(item.lat, item.lon);
    item.el.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
    item.el.dataset.lat = item.lat; item.el.dataset.lon = item.lon;
  }
  remove(key) { const it = this.items.get(key); if (it) { it.el.remove(); this.items.delete(key); } }
  /* A polyline (routes, tracks) in the links layer, re-projected when the extent grows. */
  line(key, latlngs, attrs) {
    let ln = this.lines.get(key);
    if (!ln) { ln = { el: svgEl("polyline", { fill: "none", ...attrs }, this.layers.links) }; this.lines.set(key, ln); }
    ln.latlngs = latlngs;
    let grew = false;
    for (const [lat, lon] of latlngs) grew = this.extend(lat, lon) || grew;
    if (grew) this.redraw(); else this.project_line(ln);
    return ln.el;
  }
  project_line(ln) {
    if (!this.bounds) return;
    ln.el.setAttribute("points", ln.latlngs.map(([lat, lon]) => this.project(lat, lon).slice(0, 2).map((v) => v.toFixed(1)).join(",")).join(" "));
  }
  removeLines(prefix) {
    for (const [key, ln] of this.lines) if (key.startsWith(prefix)) { ln.el.remove(); this.lines.delete(key); }
  }
  redraw() {
    this.drawGrid(); for (const it of this.items.values()) this.move(it);
    for (const ln of this.lines.values()) this.project_line(ln);
    if (this.onRedraw) this.onRedraw();
  }
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1e-3)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}
