// Handovers: the receiver scans every connector and seal of an offer, then countersigns
// (accept) or rejects with a reason. Countersigning signs PAE(payloadType, payload) of the
// releaser's own statements — after checking here that each one hands over to us.

import { api, newIdempotencyKey, t } from "./app.js";
import { countersign, decodeStatement, describeError, draftAndSign, startField } from "./field.js";
import { attachWedge, feedback, wireCamera } from "./scanner.js";

const root = document.getElementById("handover-page");
const $ = (id) => document.getElementById(id);
const feedbackBox = $("feedback");
const offers = new Map(); // offer_id → {offer, element, seen:Set, observed:Map(connector → Set)}
let party = root.dataset.party;
let current = null; // {offerId, connector}: where an unexpected seal is counted

function complete(state) {
  for (const unit of state.offer.connectors) {
    if (!state.seen.has(unit.connector)) return false;
    const observed = state.observed.get(unit.connector);
    if (unit.seals.some((s) => !observed.has(s)) || observed.size !== unit.seals.length) return false;
  }
  return true;
}

function render(state) {
  const rows = state.element.querySelector(".offer-rows");
  rows.replaceChildren(
    ...state.offer.connectors.map((unit) => {
      const row = document.createElement("tr");
      const observed = [...state.observed.get(unit.connector)].sort();
      row.className = state.seen.has(unit.connector) ? "checked" : "";
      row.dataset.connector = unit.connector;
      for (const text of [unit.connector, unit.seals.join(", ") || "–", observed.join(", ") || "–"]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }),
  );
  const total = state.offer.connectors.reduce((n, u) => n + 1 + u.seals.length, 0);
  const done = state.offer.connectors.reduce(
    (n, u) => n + (state.seen.has(u.connector) ? 1 : 0) + u.seals.filter((s) => state.observed.get(u.connector).has(s)).length,
    0,
  );
  state.element.querySelector(".offer-progress").textContent = t("field.handover.progress", { done, total });
  state.element.querySelector(".offer-accept").disabled = !complete(state);
}

function addOffer(offer) {
  const fragment = $("offer-template").content.cloneNode(true);
  const element = fragment.querySelector(".offer");
  element.dataset.offer = offer.offer_id;
  element.querySelector(".offer-title").textContent = t("field.handover.offer_from", { from: offer.from, count: offer.connectors.length });
  element.querySelector(".offer-meta").textContent = `${offer.created_at} · ${offer.offer_id}`;
  const reason = element.querySelector(".offer-reason");
  reason.id = `reason-${offer.offer_id}`;
  element.querySelector(".offer-reason-label").htmlFor = reason.id;
  const state = { offer, element, seen: new Set(), observed: new Map(offer.connectors.map((u) => [u.connector, new Set()])) };
  element.querySelector(".offer-accept").addEventListener("click", guarded(() => accept(state)));
  element.querySelector(".offer-reject").addEventListener("click", guarded(() => reject(state)));
  offers.set(offer.offer_id, state);
  $("offers").append(element);
  render(state);
}

async function load() {
  const answer = await api("GET", "/api/v1/handovers?role=to&status=pending");
  $("offers").replaceChildren();
  offers.clear();
  answer.items.forEach(addOffer);
  $("offers-empty").classList.toggle("hidden", answer.items.length > 0);
  const sent = await api("GET", "/api/v1/handovers?role=from&status=all");
  $("sent-list").replaceChildren(
    ...sent.items.map((offer) => {
      const row = document.createElement("tr");
      for (const text of [offer.to, offer.connectors.map((u) => u.connector).join(", "), t(`field.handover.status.${offer.status}`)]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }),
  );
}

function findConnector(subject) {
  for (const state of offers.values()) {
    if (state.observed.has(subject)) return state;
  }
  return null;
}

async function onScan(raw) {
  try {
    const found = await api("POST", "/api/v1/scan", { input: raw });
    if (found.kind === "connector") {
      const state = findConnector(found.subject);
      if (!state) return feedback(feedbackBox, false, t("field.handover.not_offered", { id: found.id }));
      state.seen.add(found.subject);
      current = { offerId: state.offer.offer_id, connector: found.subject };
      feedback(feedbackBox, true, t("field.handover.connector_ok", { id: found.subject }));
      return render(state);
    }
    if (found.kind === "seal") {
      for (const state of offers.values()) {
        const unit = state.offer.connectors.find((u) => u.seals.includes(found.id));
        if (unit) {
          state.observed.get(unit.connector).add(found.id);
          current = { offerId: state.offer.offer_id, connector: unit.connector };
          feedback(feedbackBox, true, t("field.seal.expected", { id: found.id }));
          return render(state);
        }
      }
      // A seal nobody declared: it counts against the connector being checked.
      if (current) {
        const state = offers.get(current.offerId);
        state.observed.get(current.connector).add(found.id);
        render(state);
      }
      return feedback(feedbackBox, false, t("field.seal.unexpected", { id: found.id }));
    }
    feedback(feedbackBox, false, t("field.scan.unknown", { input: found.input }));
  } catch (error) {
    feedback(feedbackBox, false, describeError(error));
  }
}

async function accept(state) {
  // Countersign only what we checked: each statement hands over a scanned connector to us.
  for (const item of state.offer.envelopes) {
    const statement = decodeStatement(item);
    if (statement.kind !== "custody.transferred" || statement.data.to !== party || !state.seen.has(statement.subject)) {
      throw new Error(t("field.handover.unexpected_statement", { subject: statement.subject }));
    }
  }
  const signatures = await countersign(state.offer.envelopes);
  await api("POST", `/api/v1/handovers/${state.offer.offer_id}/accept`, { signatures }, { idempotencyKey: newIdempotencyKey() });
  feedback(feedbackBox, true, t("field.handover.accepted", { count: state.offer.connectors.length, from: state.offer.from }));
  await load();
}

async function reject(state) {
  const reason = state.element.querySelector(".offer-reason").value.trim();
  if (!reason) {
    state.element.querySelector(".offer-reason").focus();
    return feedback(feedbackBox, false, t("field.handover.reason_needed"));
  }
  // Seals that differ from those declared are an incident for each such connector.
  const items = [];
  for (const unit of state.offer.connectors) {
    const observed = [...state.observed.get(unit.connector)].sort();
    if (observed.length && observed.join() !== [...unit.seals].sort().join()) {
      const description = t("field.handover.incident", { declared: unit.seals.join(", ") || "–", observed: observed.join(", "), reason }).slice(0, 1000);
      items.push({ kind: "incident.reported", subject: unit.connector, data: { category: "seal_mismatch", description } });
    }
  }
  const incidents = items.length ? (await draftAndSign(items)).envelopes : [];
  await api("POST", `/api/v1/handovers/${state.offer.offer_id}/reject`, { reason, incidents });
  feedback(feedbackBox, false, t("field.handover.rejected", { count: incidents.length }));
  await load();
}

function guarded(action) {
  return async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      feedback(feedbackBox, false, describeError(error));
      button.disabled = false;
    }
  };
}

attachWedge($("scan-input"), onScan);
wireCamera($("camera-toggle"), $("camera-box"), $("camera-video"), onScan, () =>
  feedback(feedbackBox, false, t("field.scan.no_camera")),
);
startField(root)
  .then((started) => {
    party = started.party;
    return load();
  })
  .catch((error) => feedback(feedbackBox, false, describeError(error)))
  .finally(() => root.setAttribute("data-ready", "true"));
