// The scan station (warehouse): goods-in with the VVTT seal check, store, goods-out.
//
// Every scan goes to POST /api/v1/scan, which undoes keyboard-layout mix-ups and says
// what the code names. Bookings are drafted by the server (POST /drafts/batch), signed
// here with the device key and appended as one all-or-nothing batch.

import { api, flash, newIdempotencyKey, t } from "./app.js";
import { describeError, draftAndSign, startField } from "./field.js";
import { attachWedge, feedback, wireCamera } from "./scanner.js";

const root = document.getElementById("scan-station");
const $ = (id) => document.getElementById(id);
const feedbackBox = $("feedback");

const goodsIn = { connector: null, expected: [], observed: [] };
const store = { bin: null, items: [] };
const goodsOut = { items: [] };

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function location() {
  const value = $("location").value.trim();
  return value.startsWith("location:") ? value : `location:${value}`;
}

function partyRef(value) {
  const text = value.trim();
  return text.startsWith("party:") ? text : `party:${text}`;
}

function sealItems(list, ids, classify) {
  list.replaceChildren(
    ...ids.map((id) => {
      const li = document.createElement("li");
      li.textContent = id;
      const kind = classify ? classify(id) : "";
      if (kind) li.className = kind;
      return li;
    }),
  );
}

function done(what, subject, result, ok) {
  const row = document.createElement("tr");
  for (const text of [what, subject, result]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.append(cell);
  }
  row.dataset.ok = ok ? "true" : "false";
  $("done-list").prepend(row);
}

function same(a, b) {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

// ---- Goods-in ----------------------------------------------------------------------------

function renderGoodsIn() {
  $("gi-connector").textContent = goodsIn.connector || "–";
  sealItems($("gi-expected"), goodsIn.expected, (id) => (goodsIn.observed.includes(id) ? "seen" : ""));
  sealItems($("gi-observed"), goodsIn.observed, (id) => (goodsIn.expected.includes(id) ? "seen" : "extra"));
  const verify = $("gi-verify");
  if (!goodsIn.connector || !goodsIn.observed.length) verify.textContent = "–";
  else verify.textContent = same(goodsIn.expected, goodsIn.observed) ? t("field.vvtt.numbers_match") : t("field.vvtt.numbers_differ");
}

async function setConnector(state, subject) {
  const detail = await api("GET", `/api/v1/connectors/${encodeURIComponent(subject)}`);
  state.connector = subject;
  state.expected = [...detail.seals].sort();
  state.observed = [];
  return detail;
}

function clearGoodsIn() {
  Object.assign(goodsIn, { connector: null, expected: [], observed: [] });
  for (const id of ["gi-view", "gi-tug", "gi-twist"]) $(id).checked = false;
  renderGoodsIn();
}

async function goodsInScan(found) {
  if (found.kind === "connector") {
    if (!found.known) return feedback(feedbackBox, false, t("field.scan.unknown_connector", { id: found.id }));
    const detail = await setConnector(goodsIn, found.subject);
    feedback(feedbackBox, true, t("field.goods_in.connector", { id: found.subject, count: detail.seals.length }));
  } else if (found.kind === "seal") {
    if (!goodsIn.connector) {
      if (!found.connector) return feedback(feedbackBox, false, t("field.goods_in.connector_first"));
      await setConnector(goodsIn, found.connector);
    }
    if (!goodsIn.observed.includes(found.id)) goodsIn.observed.push(found.id);
    goodsIn.observed.sort();
    const expected = goodsIn.expected.includes(found.id);
    feedback(feedbackBox, expected, t(expected ? "field.seal.expected" : "field.seal.unexpected", { id: found.id }));
  } else {
    feedback(feedbackBox, false, t("field.scan.unknown", { input: found.input }));
  }
  renderGoodsIn();
}

async function bookGoodsIn() {
  if (!goodsIn.connector) return feedback(feedbackBox, false, t("field.goods_in.connector_first"));
  const view = $("gi-view").checked;
  const holds = $("gi-tug").checked && $("gi-twist").checked;
  // The checklist decides the result of each seal that is both expected and present;
  // the server fills in "missing" / "mismatch" for the others (as the CLI does).
  const results = {};
  for (const id of goodsIn.observed.filter((s) => goodsIn.expected.includes(s))) {
    if (!view) results[id] = "void_pattern";
    else if (!holds) results[id] = "torn";
  }
  const numbersMatch = same(goodsIn.expected, goodsIn.observed);
  const subject = goodsIn.connector;
  const place = location();
  const items = [
    { kind: "seal.inspected", subject, place, data: { observed: goodsIn.observed, results, checklist: "VVTT-1" } },
    { kind: "received", subject, place, data: { seals_observed: goodsIn.observed } },
  ];
  if (numbersMatch && Object.keys(results).length) {
    // Same seals, but damaged: the receipt alone would not open an incident (rule 5 is
    // about seal ids), so report it explicitly.
    items.push({
      kind: "incident.reported",
      subject,
      place,
      data: { category: "seal_damage", description: t("field.goods_in.damage_description") },
    });
  }
  const { envelopes } = await draftAndSign(items);
  const answer = await api("POST", "/api/v1/statements/batch", { envelopes }, { idempotencyKey: newIdempotencyKey() });
  const receipts = answer.receipts;
  if (numbersMatch && !Object.keys(results).length) {
    feedback(feedbackBox, true, t("field.goods_in.booked", { id: subject }));
    done(t("field.mode.goods_in"), subject, t("field.result.conformant"), true);
  } else {
    // A receipt with other seal ids opens incident INC-<its index> (rule 5); a damage report
    // opens one at its own index.
    const incident = numbersMatch ? receipts[2].index : receipts[1].index;
    const text = t("field.goods_in.mismatch", { id: subject, incident: `INC-${incident}` });
    feedback(feedbackBox, false, text);
    done(t("field.mode.goods_in"), subject, text, false);
  }
  clearGoodsIn();
}

// ---- Store -------------------------------------------------------------------------------

function renderStore() {
  $("st-bin").textContent = store.bin || "–";
  sealItems($("st-items"), store.items);
}

async function storeScan(found) {
  const subject = found.kind === "connector" && found.known ? found.subject : found.kind === "seal" ? found.connector : null;
  if (subject) {
    if (!store.bin) return feedback(feedbackBox, false, t("field.store.bin_first"));
    if (!store.items.includes(subject)) store.items.push(subject);
    feedback(feedbackBox, true, t("field.store.item", { id: subject, bin: store.bin }));
  } else if (found.kind === "unknown" || (found.kind === "connector" && !found.known)) {
    // Anything that is not a known connector or seal is a bin label.
    store.bin = (found.normalised || found.input).slice(0, 80);
    feedback(feedbackBox, true, t("field.store.bin_set", { bin: store.bin }));
  } else {
    feedback(feedbackBox, false, t("field.scan.unknown", { input: found.input }));
  }
  renderStore();
}

async function bookStore() {
  if (!store.items.length) return feedback(feedbackBox, false, t("field.list.empty"));
  const place = location();
  const items = store.items.map((subject) => ({ kind: "stored", subject, place, data: { location: place, bin: store.bin } }));
  const { envelopes } = await draftAndSign(items);
  await api("POST", "/api/v1/statements/batch", { envelopes }, { idempotencyKey: newIdempotencyKey() });
  for (const subject of store.items) done(t("field.mode.store"), subject, `${place} · ${store.bin}`, true);
  feedback(feedbackBox, true, t("field.store.booked", { count: store.items.length, bin: store.bin }));
  store.items = [];
  renderStore();
}

// ---- Goods-out ---------------------------------------------------------------------------

function renderGoodsOut() {
  sealItems($("go-items"), goodsOut.items);
}

async function goodsOutScan(found) {
  const subject = found.kind === "connector" && found.known ? found.subject : found.kind === "seal" ? found.connector : null;
  if (!subject) return feedback(feedbackBox, false, t("field.scan.unknown", { input: found.input }));
  if (!goodsOut.items.includes(subject)) goodsOut.items.push(subject);
  feedback(feedbackBox, true, t("field.goods_out.item", { id: subject, count: goodsOut.items.length }));
  renderGoodsOut();
}

async function bookGoodsOut() {
  if (!goodsOut.items.length) return feedback(feedbackBox, false, t("field.list.empty"));
  const to = partyRef($("go-to").value);
  const rawDestination = $("go-destination").value.trim();
  const note = $("go-note").value.trim();
  if (to === "party:" || !rawDestination || !note) return feedback(feedbackBox, false, t("field.goods_out.missing"));
  const destination = rawDestination.startsWith("location:") ? rawDestination : `location:${rawDestination}`;
  const place = location();
  const shipped = goodsOut.items.map((subject) => ({ kind: "shipped", subject, place, data: { destination, to, delivery_note: note } }));
  // The handover travels with the goods: one custody.transferred per connector, offered to
  // the receiver, who countersigns on arrival (the seals the ledger knows are filled in).
  const transfers = goodsOut.items.map((subject) => ({ kind: "custody.transferred", subject, data: { to, delivery_note: note, shipment: note } }));
  const { envelopes } = await draftAndSign([...shipped, ...transfers]);
  const count = goodsOut.items.length;
  await api("POST", "/api/v1/statements/batch", { envelopes: envelopes.slice(0, count) }, { idempotencyKey: newIdempotencyKey() });
  const offer = await api("POST", "/api/v1/handovers", { to, envelopes: envelopes.slice(count) });
  const pdf = $("go-pdf");
  pdf.href = `/api/v1/labels/delivery-note/${encodeURIComponent(note)}`;
  pdf.classList.remove("hidden");
  for (const subject of goodsOut.items) done(t("field.mode.goods_out"), subject, t("field.goods_out.offered", { to, note }), true);
  feedback(feedbackBox, true, t("field.goods_out.booked", { count, to, offer: offer.offer_id.slice(0, 8) }));
  goodsOut.items = [];
  renderGoodsOut();
}

// ---- Wiring ------------------------------------------------------------------------------

async function onScan(raw) {
  try {
    const found = await api("POST", "/api/v1/scan", { input: raw });
    if (mode() === "goods-in") await goodsInScan(found);
    else if (mode() === "store") await storeScan(found);
    else await goodsOutScan(found);
  } catch (error) {
    feedback(feedbackBox, false, describeError(error));
  }
}

function guarded(action) {
  return async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      feedback(feedbackBox, false, describeError(error));
      flash(describeError(error), "error");
    } finally {
      button.disabled = false;
      wedge.focus();
    }
  };
}

function showMode() {
  for (const name of ["goods-in", "store", "goods-out"]) $(`panel-${name}`).classList.toggle("hidden", name !== mode());
  wedge.focus();
}

const wedge = attachWedge($("scan-input"), onScan);
for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", showMode);
$("gi-book").addEventListener("click", guarded(bookGoodsIn));
$("gi-clear").addEventListener("click", () => clearGoodsIn());
$("st-book").addEventListener("click", guarded(bookStore));
$("st-clear").addEventListener("click", () => Object.assign(store, { bin: null, items: [] }) && renderStore());
$("go-book").addEventListener("click", guarded(bookGoodsOut));
$("go-clear").addEventListener("click", () => (goodsOut.items = []) && renderGoodsOut());

wireCamera($("camera-toggle"), $("camera-box"), $("camera-video"), onScan, () =>
  feedback(feedbackBox, false, t("field.scan.no_camera")),
);

showMode();
startField(root).then(() => root.setAttribute("data-ready", "true"));
