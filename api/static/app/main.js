// FieldFlow engineer app: enrolment, today's jobs, one job, on site; live inbox; outbox.
import { call, HttpError } from "./api.js";
import * as db from "./db.js";
import * as gps from "./gps.js";
import * as live from "./live.js";
import * as outbox from "./outbox.js";
import { renderEnrol, renderToday, renderOrder, toast, renderConflicts } from "./views.js";

const DRIVING = new Set(["en_route", "on_site", "in_progress", "waiting_parts"]);
const state = { auth: null, jobs: [], fresh: new Set(), lastStatus: new Map(), liveUp: false };

function $(sel) { return document.querySelector(sel); }

// ---- jobs: the server's view with this phone's queued moves applied on top ----
async function projected(jobs) {
  const moves = (await outbox.pending()).filter((e) => e.kind === "transition" || e.kind === "signoff");
  return jobs
    .map((j) => {
      let status = j.status;
      for (const m of moves) {
        if (m.order_id !== j.id) continue;
        status = m.kind === "signoff" ? "signed_off" : (m.to === "rejected" ? "rejected" : m.to);
      }
      return { ...j, status, queued: moves.some((m) => m.order_id === j.id) };
    })
    .filter((j) => !["rejected", "signed_off"].includes(j.status));
}

export async function refresh() {
  if (!state.auth) return;
  try {
    const me = `/api/v1/engineers/${encodeURIComponent(state.auth.engineer_id)}`;
    const [jobs, route] = await Promise.all([call("GET", `${me}/jobs`), call("GET", `${me}/route`).catch(() => null)]);
    // The live ETA (streams) when driving, else the one the route plan expects.
    const planned = new Map((route?.stops || []).filter((s) => s.kind !== "pickup").map((s) => [s.work_order_id, s.eta]));
    for (const j of jobs) j.eta = j.eta || planned.get(j.id) || null;
    await db.set("jobs", jobs);
    setNet(true);
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) return signedOut();
    if (!(err instanceof TypeError) && !(err instanceof HttpError)) throw err;
    setNet(false);
  }
  state.jobs = await projected((await db.get("jobs")) || []);
  for (const j of state.jobs) {
    const before = state.lastStatus.get(j.id);
    if (before === "en_route" && j.status === "on_site" && j.checkin_at) {
      toast(`Checked in at ${j.site_name || j.site_id}`);
    }
    state.lastStatus.set(j.id, j.status);
  }
  const driving = state.jobs.some((j) => DRIVING.has(j.status));
  if (driving) gps.start((e) => { if (e.code === 1) toast("Allow location for this app: check-in needs it."); });
  else await gps.stop();
  $("#gps").hidden = !gps.tracking();
  await render();
}

// ---- screens ----
// The order screen is drawn again only when its job changed (not under a finger signing).
async function render(force = false) {
  await showQueue();
  const hash = location.hash;
  if (hash.startsWith("#enrol=")) return;
  if (!state.auth) return renderEnrol($("#view"), redeem);
  const m = hash.match(/^#\/order\/(.+)$/);
  if (m) {
    const id = decodeURIComponent(m[1]);
    const job = state.jobs.find((j) => j.id === id);
    const drawn = `${hash}|${job?.status}|${job?.checkin_at}`;
    if (!force && state.drawn === drawn) return;
    state.drawn = drawn;
    return renderOrder($("#view"), { id, state, act, redraw });
  }
  state.drawn = null;
  renderToday($("#view"), state);
}

async function showQueue() {
  const n = (await outbox.pending()).length;
  $("#outbox").hidden = n === 0;
  $("#outbox").textContent = `${n} to send`;
  renderConflicts($("#conflicts"), await outbox.conflicts(), async (seq) => {
    await outbox.dismiss(seq);
    await render();
  });
}

function setNet(up) {
  const el = $("#net");
  el.className = `net ${up ? "on" : "off"}`;
  el.textContent = up ? (state.liveUp ? "live" : "online") : "offline";
}

// An action: into the outbox, the screen follows at once (the server when it can).
async function act(kind, orderId, data) {
  const entry = await outbox.enqueue(kind, orderId, data);
  state.jobs = await projected((await db.get("jobs")) || []);
  await redraw();
  refreshSoon();
  return entry;
}

// Show what was just done (the job's screen, even when its status did not change).
async function redraw() {
  state.drawn = null;
  await render();
}

let soon = null;
function refreshSoon() {
  clearTimeout(soon);
  return new Promise((done) => { soon = setTimeout(() => refresh().then(done, done), 50); });
}

// ---- enrolment ----
async function redeem(code) {
  const view = $("#view");
  view.innerHTML = `<p class="muted">Enrolling this phone…</p>`;
  try {
    const got = await call("POST", "/api/v1/enrolment/redeem", { json: { code }, token: null });
    state.auth = { token: got.token, engineer_id: got.engineer_id, expires_at: got.expires_at };
    await db.set("auth", state.auth);
    history.replaceState(null, "", "/app/#/");
    start();
  } catch (err) {
    view.innerHTML = "";
    renderEnrol(view, redeem, err instanceof HttpError
      ? `This link cannot be used (${err.message}). Ask your dispatcher for a new one.`
      : "No network: open the link again once you are online.");
  }
}

async function signedOut() {
  state.auth = null;
  live.disconnect();
  await db.del("auth");
  toast("Your phone's enrolment has expired: ask your dispatcher for a new link.");
  await render();
}

function start() {
  $("#who").textContent = state.auth ? state.auth.engineer_id : "";
  live.connect(state.auth.token, onInbox, (up) => { state.liveUp = up; setNet(up || outbox.online); });
  refresh();
}

async function onInbox(msg) {
  if (msg.type === "assignment") {
    state.fresh.add(msg.work_order_id);
    live.alertEngineer();
    toast(`New job: ${msg.title}`);
  } else if (msg.type === "withdrawn") {
    toast(`Job ${msg.work_order_id} was taken off you: ${msg.reason || ""}`);
  }
  await refresh();
}

outbox.onChange(async (what, entry, detail) => {
  if (what === "network") setNet(detail);
  if (what === "conflict") {
    toast(`Not applied: ${describe(entry)} — ${detail.status === 404 ? "no longer your job" : detail.message}`);
  }
  if (what === "sent" && entry.kind !== "positions") refreshSoon();
  await showQueue();
});

function describe(e) {
  const job = state.jobs.find((j) => j.id === e.order_id);
  const what = { transition: `move to ${e.to}`, part: `part ${e.part_id}`, attachment: e.attachment_kind,
    checklist: "checklist", signoff: "sign-off", positions: "positions" }[e.kind] || e.kind;
  return `${what}${job ? ` on “${job.title}”` : e.order_id ? ` on ${e.order_id}` : ""}`;
}

window.addEventListener("hashchange", async () => {
  if (location.hash.startsWith("#enrol=")) return redeem(decodeURIComponent(location.hash.slice(7)));
  await render(true);
});
window.addEventListener("online", () => refresh());
window.addEventListener("offline", () => setNet(false));
setInterval(() => {
  const driving = state.jobs.some((j) => j.status === "en_route");
  if (driving || Date.now() % 30000 < 5000) refresh();
}, 5000);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
}

(async () => {
  if (location.hash.startsWith("#enrol=")) {
    await redeem(decodeURIComponent(location.hash.slice(7)));
    return;
  }
  state.auth = (await db.get("auth")) || null;
  if (state.auth) start();
  else await render();
})();
