/* The street map: Leaflet with the tile layer from the settings, engineers clustered
   (Leaflet.markercluster), position updates applied in one batch per animation frame. */
import { ACTIVITY, PRIORITY, slaState } from "./style.js";
import { esc, ago } from "./api.js";

const L = window.L;
const RECLUSTER_MS = 5000;
const FRAME_BUDGET_MS = 8;

export class StreetMap {
  constructor(el, tiles, onFail) {
    this.el = el; this.onFail = onFail; this.loaded = 0; this.errors = 0; this.failed = false;
    this.map = L.map(el, { zoomControl: true, preferCanvas: false }).setView([51.5, -0.12], 12);
    this.tiles = L.tileLayer(tiles.url, { attribution: tiles.attribution, maxZoom: tiles.max_zoom });
    this.tiles.on("tileload", () => { this.loaded += 1; el.dataset.tiles = "loaded"; });
    this.tiles.on("tileerror", () => {
      this.errors += 1;
      // Nothing loaded yet, or far more failures than tiles: the street layer is down.
      if (!this.loaded || this.errors > 2 * this.loaded + 8) this.fail();
    });
    this.tiles.addTo(this.map);
    this.cluster = L.markerClusterGroup({ chunkedLoading: true, chunkInterval: 25, chunkDelay: 10,
      chunkProgress: (done, total) => {
        this.chunking = done < total;
        if (!this.chunking) el.dataset.engineers = String(this.cluster.getLayers().length);
      },
      maxClusterRadius: 60, animate: false,
      showCoverageOnHover: false, disableClusteringAtZoom: 17, removeOutsideVisibleBounds: true });
    this.layers = {};
    for (const name of ["fences", "routes", "track", "sites", "orders", "alerts"]) this.layers[name] = L.layerGroup().addTo(this.map);
    this.map.addLayer(this.cluster);
    this.map.on("zoomend", () => this.reclusterNow()); // clusters of where they are now
    this.markers = new Map(); // key -> marker
    this.pending = new Map(); // engineer id -> {e, order}
    this.icons = new Map();
    this.stats = []; // ms per applied batch of position updates
    this.fitted = false; this.frame = 0; this.clustered = 0; this.stale = false;
    this.chunking = false; // a chunked addLayers is under way: no rebuild until it ends
  }
  fail() {
    if (this.failed) return;
    this.failed = true; this.el.dataset.tiles = "failed"; this.onFail();
  }
  invalidate() { this.map.invalidateSize(); }
  fit(latlngs) {
    if (this.fitted || !latlngs.length) return;
    this.fitted = true;
    this.map.fitBounds(L.latLngBounds(latlngs).pad(0.15), { maxZoom: 15 });
  }

  /* ------------------------------------------------------------ engineers */
  engineerIcon(activity, heading) {
    const colour = ACTIVITY[activity] || ACTIVITY.idle;
    const hdg = heading == null ? null : Math.round(heading / 15) * 15;
    const key = `${colour}|${hdg}`;
    let icon = this.icons.get(key);
    if (!icon) {
      const arrow = hdg == null ? "" : `<b class="hdg" style="transform:rotate(${hdg}deg)"></b>`;
      icon = L.divIcon({ className: "eng-marker", iconSize: [18, 18],
        html: `<span class="eng-dot" style="background:${colour}">${arrow}</span>` });
      this.icons.set(key, icon);
    }
    return icon;
  }
  engineer(e, order) {
    const lat = e.lat ?? e.home_lat, lon = e.lon ?? e.home_lon;
    if (lat == null) return;
    this.pending.set(e.id, { e, order, lat, lon });
    this.schedule();
  }
  flush() {
    this.frame = 0;
    // While the cluster tree is being (re)built in chunks, it must not change under it.
    if (this.chunking) { this.schedule(); return; }
    const t0 = performance.now();
    const moved = [], added = [];
    for (const [id, { e, order, lat, lon }] of this.pending) {
      // A frame's budget: what is left waits for the next frame, so none runs long.
      if (performance.now() - t0 > FRAME_BUDGET_MS) break;
      this.pending.delete(id);
      const key = `eng:${id}`;
      let m = this.markers.get(key);
      const icon = this.engineerIcon(e.activity, e.heading);
      if (!m) {
        m = L.marker([lat, lon], { icon, title: e.name || id, keyboard: false });
        m.bindPopup(() => engineerPopup(m.fieldflow.e, m.fieldflow.order));
        this.markers.set(key, m); added.push(m);
      } else {
        const ll = m.getLatLng();
        if (ll.lat !== lat || ll.lng !== lon) moved.push([m, lat, lon]);
        if (m.options.icon !== icon) m.setIcon(icon);
      }
      m.fieldflow = { e, order };
    }
    if (moved.length) {
      // Moving a marker inside markercluster takes it out of its cluster tree and puts
      // it back (~0.1 ms each; 2,000 a second stall the page). Instead markers move where
      // they are drawn at once and the tree is rebuilt in one go every RECLUSTER_MS
      // (chunked, so no frame waits long). `_ignoreMove` is the flag markercluster's own
      // spiderfier sets for the same purpose. Until the rebuild the tree is stale: nothing
      // may be added to it one by one (its grid lookups would use the new positions).
      this.cluster._ignoreMove = true;
      for (const [m, lat, lon] of moved) m.setLatLng([lat, lon]);
      this.cluster._ignoreMove = false;
      this.stale = true;
    }
    if (added.length && !this.stale) this.cluster.addLayers(added);
    else if (added.length) this.clustered = 0; // newcomers join at a rebuild, now
    if (this.stale && t0 - this.clustered > RECLUSTER_MS) {
      this.cluster.clearLayers();
      this.clustered = t0; this.stale = false;
      this.cluster.addLayers(this.engineerMarkers());
    }
    const now = performance.now();
    if (!this.batch) this.batch = { n: 0, ms: 0, start: t0 };
    this.batch.n += moved.length + added.length; this.batch.ms += now - t0;
    if (this.pending.size) { this.schedule(); return; }
    // One batch = everything that arrived until the queue ran dry: its total work (ms)
    // and how long after its first frame the last update was drawn (span_ms).
    this.stats.push({ n: this.batch.n, ms: this.batch.ms, span_ms: now - this.batch.start });
    this.batch = null;
    if (this.stats.length > 600) this.stats.splice(0, 300);
    if (!this.chunking) this.el.dataset.engineers = String(this.cluster.getLayers().length);
  }
  schedule() { if (!this.frame) this.frame = requestAnimationFrame(() => this.flush()); }
  reclusterNow() { if (this.stale) { this.clustered = 0; this.schedule(); } }
  engineerMarkers() {
    const out = [];
    for (const [key, m] of this.markers) if (key.startsWith("eng:")) out.push(m);
    return out;
  }

  /* ------------------------------------------------------- sites, orders */
  site(s) {
    if (s.lat == null) return;
    const key = `site:${s.id}`;
    if (this.markers.has(key)) return;
    const fence = L.circle([s.lat, s.lon], { radius: s.fence_radius_m || 100, weight: 1, color: "#3fb6ff", fillOpacity: 0.05, className: "site-fence" });
    const m = L.marker([s.lat, s.lon], { icon: L.divIcon({ className: "site-marker", iconSize: [10, 10] }), title: s.name });
    m.bindPopup(`<b>${esc(s.name)}</b><br>${esc(s.id)}`);
    this.layers.fences.addLayer(fence); this.layers.sites.addLayer(m);
    this.markers.set(key, m);
  }
  order(o, lat, lon) {
    const key = `order:${o.id}`;
    let m = this.markers.get(key);
    const sla = slaState(o);
    const icon = L.divIcon({ className: `order-marker sla-${sla}`, iconSize: [16, 16],
      html: `<span style="background:${PRIORITY[o.priority] || "#999"}">${esc(o.priority)}</span>` });
    if (!m) { m = L.marker([lat, lon], { icon, zIndexOffset: 500 }); this.layers.orders.addLayer(m); this.markers.set(key, m); }
    else { m.setLatLng([lat, lon]); m.setIcon(icon); }
    m.getElement?.()?.setAttribute("data-order", o.id);
    m.bindPopup(`<b>${esc(o.id)}</b> ${esc(o.priority)} · ${esc(o.status)}<br>${esc(o.title)}<br>SLA: ${sla}`
      + (o.sla_due ? ` (due ${new Date(o.sla_due).toLocaleString()})` : ""));
  }
  removeOrder(id) { this.remove("order", id); }
  alert(a, lat, lon) {
    const key = `alert:${a.dedup_key}`;
    let m = this.markers.get(key);
    const icon = L.divIcon({ className: `alert-marker ${esc(a.severity)} ${esc(a.state)}`, iconSize: [14, 14], html: "!" });
    if (!m) { m = L.marker([lat, lon], { icon, zIndexOffset: 800 }); this.layers.alerts.addLayer(m); this.markers.set(key, m); }
    else { m.setLatLng([lat, lon]); m.setIcon(icon); }
    m.bindPopup(`<b>${esc(a.severity)}</b> ${esc(a.message || a.fault_type)}<br>${esc(a.device_id)} · ${esc(a.state)}`);
  }
  removeAlert(key) { this.remove("alert", key); }
  remove(kind, id) {
    const key = `${kind}:${id}`, m = this.markers.get(key);
    if (!m) return;
    this.markers.delete(key);
    for (const layer of Object.values(this.layers)) layer.removeLayer(m);
  }

  /* ------------------------------------------------------ routes, track */
  routes(list) {
    this.layers.routes.clearLayers();
    const all = [];
    for (const r of list) {
      if (r.points.length < 2) continue;
      L.polyline(r.points, { color: r.colour, weight: 4, opacity: 0.85, className: "plan-route" })
        .bindTooltip(r.label).addTo(this.layers.routes);
      r.points.forEach((p, i) => { if (i) L.circleMarker(p, { radius: 5, color: r.colour, className: "plan-stop" }).bindTooltip(`${i}. ${r.stops[i - 1]}`).addTo(this.layers.routes); });
      all.push(...r.points);
    }
    if (all.length) this.map.fitBounds(L.latLngBounds(all).pad(0.1), { maxZoom: 15 });
  }
  track(points, fences) {
    this.layers.track.clearLayers();
    this.replayMarker = null;
    if (!points.length) return;
    const ll = points.map((p) => [p.lat, p.lon]);
    L.polyline(ll, { color: "#4de8d0", weight: 4, className: "track-line" }).addTo(this.layers.track);
    for (const f of fences) {
      if (f.lat == null) continue;
      L.circleMarker([f.lat, f.lon], { radius: 6, color: f.kind === "enter" ? "#7bd88f" : "#ff9f1c", className: `track-fence ${f.kind}` })
        .bindTooltip(`${f.kind} ${esc(f.site_name || f.site_id)} ${new Date(f.ts).toLocaleTimeString()}`).addTo(this.layers.track);
    }
    this.replayMarker = L.circleMarker(ll[ll.length - 1], { radius: 8, color: "#fff", fillColor: "#4de8d0", fillOpacity: 1, className: "track-now" }).addTo(this.layers.track);
    this.map.fitBounds(L.latLngBounds(ll).pad(0.6), { maxZoom: 15 });
  }
  replay(p) { if (this.replayMarker && p) this.replayMarker.setLatLng([p.lat, p.lon]); }
}

function engineerPopup(e, order) {
  const seen = e.position_ts ? ago(e.position_ts) : "no fix yet";
  return `<b>${esc(e.name || e.id)}</b> <span class="st">${esc(e.id)}</span><br>`
    + `${esc((e.activity || "idle").replace("_", " "))} · last seen ${esc(seen)}`
    + (e.heading != null ? ` · heading ${Math.round(e.heading)}°` : "")
    + (order ? `<br>order <b>${esc(order.id)}</b> ${esc(order.priority)} ${esc(order.title)}` : "");
}
