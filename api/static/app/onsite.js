// On site: the order type's checklist (photos from the camera), the customer's signature
// on a canvas, parts used from the van, notes, complete; then the customer's sign-off.
// What the engineer enters is kept as a draft in IndexedDB until it is sent.
import SignaturePad from "/static/vendor/signature_pad/signature_pad.js";
import { call } from "./api.js";
import * as db from "./db.js";
import { lastFix } from "./gps.js";
import { el, toast } from "./views.js";

async function draftOf(id) {
  return (await db.get(`draft:${id}`)) || { answers: {}, files: {}, signature: null, notes: "", parts: [] };
}
const saveDraft = (id, d) => db.set(`draft:${id}`, d);

function here() { return lastFix ? { lat: lastFix.lat, lon: lastFix.lon } : { lat: null, lon: null }; }

async function upload(act, id, kind, file, filename) {
  const at = here();
  const entry = await act("attachment", id, { attachment_kind: kind, file, filename, ...at });
  return { upload: entry.key, taken_at: entry.ts, ...at };
}

export async function renderOnSite(box, { id, job, eng, act, cached, redraw }) {
  const draft = await draftOf(id);
  const list = await cached(`checklist:${id}`, () => call("GET", `/api/v1/work-orders/${encodeURIComponent(id)}/checklist`));
  const stock = await cached(`van:${eng}`, () => call("GET", `/api/v1/engineers/${encodeURIComponent(eng)}/van-stock`));
  const used = draft.parts.reduce((m, p) => ({ ...m, [p.part_id]: (m[p.part_id] || 0) + p.qty }), {});

  // -- checklist --
  const items = list.items.map((item) => {
    const answered = draft.answers[item.id] ?? item.value;
    const label = el("div", { class: `label${item.required ? " req" : ""}` }, item.label);
    if (item.kind === "checkbox") {
      return el("label", { class: "row" },
        el("input", { type: "checkbox", name: item.id, id: `item-${item.id}`, checked: answered === true,
          onchange: async (ev) => { draft.answers[item.id] = ev.target.checked; await saveDraft(id, draft); } }),
        item.label, item.required ? el("span", { class: "req" }) : null);
    }
    if (item.kind === "number") {
      return el("div", { class: "item" }, label, el("input", { type: "number", id: `item-${item.id}`,
        value: answered ?? "", min: item.min, max: item.max, step: "any",
        onchange: async (ev) => { draft.answers[item.id] = Number(ev.target.value); await saveDraft(id, draft); } }));
    }
    if (item.kind === "photo") {
      const file = draft.files[item.id];
      const preview = file?.blob ? el("img", { class: "thumb", id: `thumb-${item.id}`, src: URL.createObjectURL(file.blob), alt: "photo" })
        : (answered ? el("div", { class: "muted" }, "photo stored") : null);
      return el("div", { class: "item" }, label,
        el("input", { type: "file", accept: "image/*", capture: "environment", id: `item-${item.id}`,
          onchange: async (ev) => {
            const f = ev.target.files[0];
            if (!f) return;
            const ref = await upload(act, id, "photo", f, f.name);
            draft.answers[item.id] = ref;
            draft.files[item.id] = { blob: f };
            await saveDraft(id, draft);
            await redraw();
          } }), preview);
    }
    if (item.kind === "signature") {
      return el("div", { class: "item" }, label, el("div", { class: "muted", id: `item-${item.id}` },
        draft.signature ? "signed below ✓" : "the customer signs below"));
    }
    return el("div", { class: "item" }, label, el("span", { class: "muted" }, `(${item.kind})`));
  });

  // -- the customer's signature --
  const canvas = el("canvas", { class: "sig", id: "signature" });
  const sigBox = el("div", { class: "sig-wrap" }, canvas);
  const sigButtons = el("div", { class: "actions" },
    el("button", { class: "secondary", onclick: () => pad?.clear() }, "Clear"),
    el("button", { id: "save-signature", onclick: () => saveSig() }, "Save signature"));
  let sigDone = null;
  if (draft.signature?.blob) {  // signed: show it; "Sign again" brings the pad back
    sigBox.hidden = true;
    sigButtons.hidden = true;
    sigDone = el("div", { class: "item" },
      el("img", { class: "thumb", id: "signature-saved", src: URL.createObjectURL(draft.signature.blob), alt: "signature" }),
      el("button", { class: "secondary", onclick: (ev) => {
        sigBox.hidden = false; sigButtons.hidden = false; ev.target.hidden = true; sizePad();
      } }, "Sign again"));
  }
  let pad = null;
  const saveSig = async () => {
    if (!pad || pad.isEmpty()) { toast("The customer signs in the box first."); return; }
    const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
    const ref = await upload(act, id, "signature", blob, "signature.png");
    draft.signature = { ...ref, blob };
    for (const item of list.items.filter((i) => i.kind === "signature")) draft.answers[item.id] = ref;
    await saveDraft(id, draft);
    await redraw();
  };

  // -- parts used from the van --
  const options = stock.filter((s) => s.qty - (used[s.part_id] || 0) > 0)
    .map((s) => el("option", { value: s.part_id }, `${s.name} (${s.qty - (used[s.part_id] || 0)} in van)`));
  const partSel = el("select", { id: "part" }, options);
  const qty = el("input", { type: "number", id: "part-qty", value: "1", min: "1" });
  const usePart = async () => {
    if (!partSel.value) return;
    const n = Math.max(1, Number(qty.value) || 1);
    const part = partSel.value;
    draft.parts.push({ part_id: part, qty: n });
    await saveDraft(id, draft);
    await act("part", id, { part_id: part, qty: n });
  };

  const notes = el("textarea", { id: "notes", rows: "3", placeholder: "what was done, what to watch" }, draft.notes || "");
  notes.addEventListener("input", async () => { draft.notes = notes.value; await saveDraft(id, draft); });

  const complete = async () => {
    draft.notes = notes.value;
    await saveDraft(id, draft);
    const missing = list.items.filter((i) => i.required && draft.answers[i.id] == null && i.value == null
      && !(i.kind === "checkbox" && draft.answers[i.id] === false));
    if (missing.length) { toast(`Still to do: ${missing.map((i) => i.label).join(", ")}`); return; }
    if (Object.keys(draft.answers).length) await act("checklist", id, { answers: draft.answers });
    if (job.status === "on_site") await act("transition", id, { to: "in_progress" });
    await act("transition", id, { to: "completed", reason: draft.notes || "" });
  };

  box.append(...[
    el("h2", {}, "Checklist"), el("div", { class: "panel", id: "checklist" }, items),
    el("h2", {}, "Customer signature"), sigDone, sigBox, sigButtons,
    el("h2", {}, "Parts used"),
    el("div", { class: "panel" },
      draft.parts.length ? el("ul", { class: "list", id: "parts-used" }, draft.parts.map((p) => el("li", {}, `${p.qty} × ${p.part_id}`))) : null,
      partSel, el("div", { class: "actions" }, qty, el("button", { id: "use-part", onclick: usePart }, "Use part"))),
    el("h2", {}, "Notes"), notes,
    el("div", { class: "actions" }, el("button", { id: "complete", onclick: complete }, "Complete job")),
  ].filter(Boolean));
  // The pad needs the canvas on screen at its real size (and a sharp one on HiDPI phones).
  function sizePad() {
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad = pad || new SignaturePad(canvas, { backgroundColor: "rgb(255,255,255)" });
    pad.clear();
  }
  requestAnimationFrame(() => { if (!sigBox.hidden) sizePad(); });
}

export async function renderSignOff(box, { id, act }) {
  const draft = await draftOf(id);
  const name = el("input", { type: "text", id: "signed-by", placeholder: "customer's name" });
  box.append(...[
    el("div", { class: "banner ok", id: "completed" }, "Job completed."),
    draft.signature?.blob ? el("img", { class: "thumb", src: URL.createObjectURL(draft.signature.blob), alt: "signature" }) : null,
    el("h2", {}, "Customer sign-off"), name,
    el("div", { class: "actions" }, el("button", { id: "sign-off", onclick: async () => {
      if (!name.value.trim()) { name.focus(); return; }
      await act("signoff", id, { signed_by: name.value.trim() });
      location.hash = "#/";
    } }, "Customer signs off")),
  ].filter(Boolean));
}
