// The live channel: /ws/inbox pushes what dispatch sends to this engineer's phone
// (assignments, withdrawals). Reconnects with a growing pause while the network is away.
let socket = null;
let retry = 1000;
let stopped = false;
let timer = null;
let again = null;

// Back online: reconnect now rather than after the current pause.
window.addEventListener("online", () => {
  if (again && !stopped && socket?.readyState !== WebSocket.OPEN) {
    clearTimeout(timer);
    again();
  }
});

export function connect(token, onMessage, onState) {
  stopped = false;
  again = () => connect(token, onMessage, onState);
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws/inbox?token=${encodeURIComponent(token)}`);
  socket = ws;
  ws.onopen = () => { retry = 1000; };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === "hello") onState(true);
    else onMessage(msg);
  };
  ws.onclose = (ev) => {
    onState(false);
    if (stopped || ev.code === 4401 || ev.code === 4403) return;
    timer = setTimeout(again, retry);
    retry = Math.min(retry * 2, 30000);
  };
}

export function disconnect() {
  stopped = true;
  socket?.close();
}

export function alertEngineer() {
  try { navigator.vibrate?.([200, 100, 200]); } catch { /* not on this device */ }
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.35);
    osc.onended = () => ctx.close();
  } catch { /* no audio before a tap on some browsers */ }
}
