/* Colours and order states shared by both map renderers and the panels. */
export const ACTIVITY = { offline: "#5b6b7c", idle: "#3fb6ff", assigned: "#b48cff", accepted: "#b48cff",
  en_route: "#ff9f1c", on_site: "#7bd88f", in_progress: "#2ecc71", waiting_parts: "#ffd23f" };
export const PRIORITY = { P1: "#ff4d5e", P2: "#ff9f1c", P3: "#ffd23f", P4: "#7bd88f" };
export const OPEN = new Set(["new", "assigned", "accepted", "en_route", "on_site", "in_progress", "waiting_parts"]);
export const ROUTE_COLOURS = ["#3fb6ff", "#ff9f1c", "#b48cff", "#7bd88f", "#ff4d5e", "#ffd23f", "#4de8d0", "#f78fb3"];
export const SLA_RISK_S = 1800;

/* SLA state of an open order: ok, at risk (due within 30 min) or breached. */
export function slaState(o, now = Date.now()) {
  if (!o.sla_due) return "none";
  const left = (new Date(o.sla_due).getTime() - now) / 1000;
  return left < 0 ? "breached" : left < SLA_RISK_S ? "risk" : "ok";
}
