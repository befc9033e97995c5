// IndexedDB (through idb): the engineer's token, cached jobs, the outbox and conflicts.
import { openDB } from "/static/vendor/idb/idb.js";

const dbp = openDB("fieldflow-app", 1, {
  upgrade(db) {
    db.createObjectStore("kv");
    db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
    db.createObjectStore("conflicts", { keyPath: "seq" });
  },
});

export async function get(key) { return (await dbp).get("kv", key); }
export async function set(key, value) { return (await dbp).put("kv", value, key); }
export async function del(key) { return (await dbp).delete("kv", key); }

export async function outboxAdd(entry) { return (await dbp).add("outbox", entry); }
export async function outboxAll() { return (await dbp).getAll("outbox"); }
export async function outboxFirst() {
  const cursor = await (await dbp).transaction("outbox").store.openCursor();
  return cursor ? cursor.value : undefined;
}
export async function outboxCount() { return (await dbp).count("outbox"); }
export async function outboxDelete(seq) { return (await dbp).delete("outbox", seq); }

export async function conflictAdd(entry) { return (await dbp).put("conflicts", entry); }
export async function conflictsAll() { return (await dbp).getAll("conflicts"); }
export async function conflictDelete(seq) { return (await dbp).delete("conflicts", seq); }

export async function clearAll() {
  const db = await dbp;
  await Promise.all(["kv", "outbox", "conflicts"].map((s) => db.clear(s)));
}
