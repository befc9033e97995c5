// While driving to a job and on site the phone's GPS goes to FieldFlow: watchPosition
// fixes are batched (BATCH fixes or FLUSH_MS, whichever first) into the outbox.
import { enqueue } from "./outbox.js";

const BATCH = 5;
const FLUSH_MS = 2000;
let watchId = null;
let buffer = [];
let timer = null;
let battery = null;
export let lastFix = null;

if (navigator.getBattery) {
  navigator.getBattery().then((b) => { battery = b; }).catch(() => {});
}

export function tracking() { return watchId !== null; }

export function start(onError) {
  if (watchId !== null || !navigator.geolocation) return;
  watchId = navigator.geolocation.watchPosition(onFix, (err) => onError?.(err), {
    enableHighAccuracy: true, maximumAge: 0, timeout: 60000,
  });
}

export async function stop() {
  if (watchId === null) return;
  navigator.geolocation.clearWatch(watchId);
  watchId = null;
  await flush();
}

function onFix(pos) {
  const c = pos.coords;
  // The phone's clock, like every other action of the app (pos.timestamp reads the same clock).
  const fix = { ts: Date.now(), lat: c.latitude, lon: c.longitude };
  if (Number.isFinite(c.accuracy)) fix.acc = Math.min(c.accuracy, 100000);
  if (Number.isFinite(c.speed) && c.speed >= 0) fix.spd = c.speed;
  if (Number.isFinite(c.heading) && c.heading >= 0) fix.hdg = c.heading % 360;
  if (battery) fix.batt = Math.round(battery.level * 100);
  lastFix = fix;
  buffer.push(fix);
  if (buffer.length >= BATCH) flush();
  else if (!timer) timer = setTimeout(flush, FLUSH_MS);
}

export async function flush() {
  clearTimeout(timer);
  timer = null;
  if (!buffer.length) return;
  const positions = buffer;
  buffer = [];
  await enqueue("positions", null, { positions });
}
