/* The page's state. Alerts are keyed by dedup_key everywhere (snapshot and live events),
   so an alert updated any number of times is one entry and counts once. */
export const state = {
  engineers: new Map(), sites: new Map(), orders: new Map(), alerts: new Map(),
  etas: new Map(), hourly: new Map(), assetSites: new Map(), depots: new Map(),
  ws: null, retry: 1000, ordersVersion: 0,
};
export const alertKey = (a) => a.dedup_key;

/* An engineer's current order, from an index rebuilt only after the orders changed
   (2,000 engineers a second must not each scan every order). */
let indexed = -1;
const byEngineer = new Map();
export function ordersChanged() { state.ordersVersion += 1; }
export function orderOf(engineerId, OPEN) {
  if (indexed !== state.ordersVersion) {
    byEngineer.clear();
    for (const o of state.orders.values()) {
      if (o.engineer_id && OPEN.has(o.status) && o.status !== "new" && !byEngineer.has(o.engineer_id)) byEngineer.set(o.engineer_id, o);
    }
    indexed = state.ordersVersion;
  }
  return byEngineer.get(engineerId) || null;
}

/* Where an order or alert is drawn: its own coordinates, else its site's. */
export function orderPlace(o) {
  const site = state.sites.get(o.site_id);
  const lat = o.lat ?? site?.lat, lon = o.lon ?? site?.lon;
  return lat == null ? null : [lat, lon];
}
export function alertPlace(a) {
  const siteId = a.site_id || state.assetSites.get(a.asset_id);
  const site = siteId && state.sites.get(siteId);
  if (site) return [site.lat, site.lon];
  const order = a.work_order_id && state.orders.get(a.work_order_id);
  return order ? orderPlace(order) : null;
}
