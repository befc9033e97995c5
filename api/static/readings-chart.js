// Readings chart: min-max band and mean line of one asset metric per bucket, from
// GET /api/v1/assets/{id}/readings (TimescaleDB continuous aggregates or plain SQL).
// Used by the dispatcher dashboard panel (#readings-panel) and the asset page (asset.html).
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const authHeaders = () => ({ Authorization: `Bearer ${localStorage.getItem("fieldflow.token")}` });
  const el = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };

  function draw(svg, items, unit) {
    svg.replaceChildren();
    const W = 1000, H = 200, pad = 34;
    if (!items.length) {
      const t = el("text", { x: W / 2, y: H / 2, fill: "#8a9bb0", "text-anchor": "middle" });
      t.textContent = "no readings in this range"; svg.append(t); return;
    }
    const xs = items.map((b) => Date.parse(b.ts));
    const lo = Math.min(...items.map((b) => b.min)), hi = Math.max(...items.map((b) => b.max));
    const x0 = xs[0], x1 = xs[xs.length - 1] === x0 ? x0 + 1 : xs[xs.length - 1];
    const span = hi === lo ? 1 : hi - lo;
    const X = (t) => pad + ((t - x0) / (x1 - x0)) * (W - 2 * pad);
    const Y = (v) => H - pad / 2 - ((v - lo) / span) * (H - pad);
    const band = xs.map((t, i) => `${X(t)},${Y(items[i].max)}`)
      .concat(xs.map((t, i) => `${X(t)},${Y(items[i].min)}`).reverse());
    svg.append(el("polygon", { points: band.join(" "), fill: "#3fb6ff33", stroke: "none" }));
    svg.append(el("polyline", { points: xs.map((t, i) => `${X(t)},${Y(items[i].avg)}`).join(" "),
      fill: "none", stroke: "#3fb6ff", "stroke-width": 2 }));
    for (const [v, y] of [[hi, Y(hi) + 4], [lo, Y(lo)]]) {
      const t = el("text", { x: 2, y, fill: "#8a9bb0", "font-size": 11 });
      t.textContent = `${+v.toFixed(2)}${unit || ""}`; svg.append(t);
    }
    const last = items[items.length - 1];
    const t = el("text", { x: W - 2, y: 12, fill: "#8a9bb0", "font-size": 11, "text-anchor": "end" });
    t.textContent = `${new Date(last.ts).toLocaleTimeString()}: avg ${last.avg.toFixed(2)}, n=${last.count}`;
    svg.append(t);
  }

  async function load(svg, assetId, metric, bucket, hours) {
    const to = new Date(), from = new Date(to - hours * 3600e3);
    const q = new URLSearchParams({ metric, bucket, from: from.toISOString(), to: to.toISOString() });
    const r = await fetch(`/api/v1/assets/${encodeURIComponent(assetId)}/readings?${q}`,
      { headers: authHeaders() });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    draw(svg, body.items);
    return body;
  }

  // Wires a form (asset select, metric, bucket, hours) to an svg; refreshes every 30 s.
  async function mount(root) {
    const $ = (s) => root.querySelector(s);
    const status = $(".rc-status"), svg = $("svg");
    const assets = await fetch("/api/v1/assets?limit=500", { headers: authHeaders() })
      .then((r) => (r.ok ? r.json() : { items: [] }));
    const select = $(".rc-asset");
    if (select) {
      for (const a of assets.items.filter((x) => x.device_id)) select.append(new Option(a.id, a.id));
      const wanted = new URLSearchParams(location.search).get("asset");
      if (wanted) select.value = wanted;
    }
    const run = async () => {
      const id = select ? select.value : root.dataset.asset;
      if (!id) { status.textContent = "no asset with a device yet"; return; }
      try {
        const b = await load(svg, id, $(".rc-metric").value, $(".rc-bucket").value, +$(".rc-hours").value);
        status.textContent = `${b.items.length} buckets (${b.flavour})`;
      } catch (err) { status.textContent = err.message; }
    };
    root.addEventListener("change", run);
    run();
    setInterval(run, 30000);
  }

  window.ReadingsChart = { draw, load, mount };
  document.addEventListener("DOMContentLoaded", () => {
    const tryMount = () => {  // after the dashboard's sign-in, if there was none yet
      if (!localStorage.getItem("fieldflow.token")) { setTimeout(tryMount, 1000); return; }
      document.querySelectorAll("[data-readings-chart]").forEach((root) => mount(root));
    };
    tryMount();
  });
})();
