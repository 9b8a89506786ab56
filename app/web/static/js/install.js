// Installation at a practice (technicians, phone). Works offline:
//   * the work package (installable connectors, practices with their salted digests) is
//     fetched while online and kept in IndexedDB;
//   * statements are drafted by the server when it is reachable, else built here with
//     the same canonical encoding (dsse.js) — the ledger re-checks the bytes either way;
//   * the seal check and the installation are signed with the device key and queued in
//     the outbox as ONE batch (the installation cites the check's nonce, rule 1), which
//     is delivered on reconnect;
//   * a service worker (sw.js, served as /sw.js) keeps this page and its files, so that
//     it also OPENS offline after one online visit (network first for the page itself).

import { ApiError, api, t } from "./app.js";
import { PAYLOAD_TYPE, buildStatement, b64decode, envelope, timestamp } from "./dsse.js";
import { describeError, requireApprovedKey, startField } from "./field.js";
import * as db from "./idb.js";
import * as keys from "./keys.js";
import * as outbox from "./outbox.js";
import { attachWedge, feedback, wireCamera } from "./scanner.js";

const root = document.getElementById("install-page");
const $ = (id) => document.getElementById(id);
const feedbackBox = $("feedback");
const SEAL_ID = /[A-Z]{2}[0-9]{7}[0-9A-Z]/;
const DAY = 86400000;

let party = root.dataset.party;
let work = { connectors: [], practices: [] };
const state = { unit: null, observed: [] };

const cacheName = () => `install-context:${party}`;

async function loadWork() {
  if (navigator.onLine) {
    try {
      work = await api("GET", "/api/v1/drafts/install-context");
      await db.put("cache", { name: cacheName(), value: work, fetched: new Date().toISOString() });
      return renderWork(false);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 0) throw error;
    }
  }
  const cached = await db.get("cache", cacheName());
  if (cached) work = cached.value;
  renderWork(true, cached && cached.fetched);
}

function renderWork(fromCache, fetched) {
  $("in-package").replaceChildren(
    ...work.connectors.map((unit) => {
      const li = document.createElement("li");
      li.textContent = `${unit.subject} (${unit.seals.join(", ")})`;
      return li;
    }),
  );
  $("in-package-info").textContent = fromCache
    ? t("field.install.package_cached", { when: fetched || "–" })
    : t("field.install.package_fresh", { count: work.connectors.length });
  const select = $("in-practice");
  const chosen = select.value;
  select.replaceChildren(select.options[0]);
  for (const practice of work.practices) {
    const option = document.createElement("option");
    option.value = practice.practice_id;
    option.textContent = `${practice.name} (${practice.practice_id})`;
    select.append(option);
  }
  select.value = chosen;
}

function render() {
  const unit = state.unit;
  $("in-connector").textContent = unit ? unit.subject : "–";
  const list = (element, ids, cls) =>
    element.replaceChildren(
      ...ids.map((id) => {
        const li = document.createElement("li");
        li.textContent = id;
        li.className = cls(id);
        return li;
      }),
    );
  list($("in-expected"), unit ? unit.seals : [], (id) => (state.observed.includes(id) ? "seen" : ""));
  list($("in-observed"), state.observed, (id) => (unit && unit.seals.includes(id) ? "seen" : "extra"));
  $("in-verify").textContent = !unit || !state.observed.length ? "–" : sameSeals() ? t("field.vvtt.numbers_match") : t("field.vvtt.numbers_differ");
}

function sameSeals() {
  return state.unit && [...state.unit.seals].sort().join() === [...state.observed].sort().join();
}

// What a scan names, from the server when reachable (it repairs layout mix-ups), else read
// here: a seal id (bare or the last part of a label URL …/s/<ID>) or a connector id.
async function identify(raw) {
  try {
    const found = await api("POST", "/api/v1/scan", { input: raw });
    return { kind: found.kind, id: found.id, connector: found.connector };
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 0) throw error;
  }
  const text = raw.trim().toUpperCase();
  const subject = `connector:${text.startsWith("CONNECTOR:") ? text.slice(10) : text}`;
  const unit = work.connectors.find((u) => u.subject === subject);
  if (unit) return { kind: "connector", id: unit.subject, connector: unit.subject };
  const match = text.split("/").pop().match(SEAL_ID);
  if (match) {
    const holder = work.connectors.find((u) => u.seals.includes(match[0]));
    return { kind: "seal", id: match[0], connector: holder ? holder.subject : null };
  }
  return { kind: "unknown", id: null, connector: null };
}

async function onScan(raw) {
  try {
    const found = await identify(raw);
    if (found.kind === "unknown") return feedback(feedbackBox, false, t("field.scan.unknown", { input: raw }));
    if (!state.unit || (found.connector && found.connector !== state.unit.subject && found.kind === "connector")) {
      const unit = work.connectors.find((u) => u.subject === found.connector);
      if (!unit) return feedback(feedbackBox, false, t("field.install.not_installable", { id: found.id }));
      state.unit = unit;
      state.observed = [];
    }
    if (found.kind === "seal") {
      if (!state.observed.includes(found.id)) state.observed.push(found.id);
      state.observed.sort();
      const expected = state.unit.seals.includes(found.id);
      feedback(feedbackBox, expected, t(expected ? "field.seal.expected" : "field.seal.unexpected", { id: found.id }));
    } else {
      feedback(feedbackBox, true, t("field.install.connector", { id: state.unit.subject }));
    }
    render();
  } catch (error) {
    feedback(feedbackBox, false, describeError(error));
  }
}

// One statement: drafted by the server (the CLI's code) when reachable, else built here.
async function statement(kind, subject, data, place, fallbackData) {
  if (navigator.onLine) {
    try {
      const draft = await api("POST", "/api/v1/drafts", { kind, subject, data, place });
      return { payload: b64decode(draft.payload), nonce: draft.nonce };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 0) throw error;
    }
  }
  const built = buildStatement({ kind, subject, by: party, data: fallbackData || data, place, at: timestamp() });
  return { payload: built.payload, nonce: built.statement.nonce };
}

function inspectionData(unit, observed, view, holds) {
  const expected = [...unit.seals].sort();
  const results = [...new Set([...expected, ...observed])].sort().map((seal) => {
    let result = "intact";
    if (!expected.includes(seal)) result = "mismatch";
    else if (!observed.includes(seal)) result = "missing";
    else if (!view) result = "void_pattern";
    else if (!holds) result = "torn";
    return { seal, result };
  });
  return { expected, observed: [...observed].sort(), results, checklist: "VVTT-1" };
}

async function sign() {
  const key = requireApprovedKey();
  const unit = state.unit;
  if (!unit) return feedback(feedbackBox, false, t("field.install.scan_first"));
  const practice = work.practices.find((p) => p.practice_id === $("in-practice").value);
  if (!practice) {
    $("in-practice").focus();
    return feedback(feedbackBox, false, t("field.install.practice_needed"));
  }
  const view = $("in-view").checked;
  const holds = $("in-tug").checked && $("in-twist").checked;
  const check = inspectionData(unit, state.observed, view, holds);
  const conformant = sameSeals() && check.results.every((r) => r.result === "intact");
  const place = practice.location;
  const signed = [];
  const add = async (built) => signed.push(envelope(PAYLOAD_TYPE, built.payload, [await keys.signPayload(key, PAYLOAD_TYPE, built.payload)]));

  const inspection = await statement("seal.inspected", unit.subject, check, place);
  await add(inspection);
  if (conformant) {
    const at = new Date();
    const local = {
      practice: practice.digest,
      seal_check: inspection.nonce,
      firmware: unit.firmware,
      remaining_validity_days: Math.floor((Date.parse(unit.cert_not_after) - Math.floor(at.getTime() / 1000) * 1000) / DAY),
    };
    // The server fills in firmware, validity and the digest itself (as the CLI does).
    await add(await statement("installed", unit.subject, { practice: practice.practice_id, seal_check: inspection.nonce }, place, local));
  } else {
    const category = sameSeals() ? "seal_damage" : "seal_mismatch";
    const description = t("field.install.incident", { expected: check.expected.join(", ") || "–", observed: check.observed.join(", ") || "–" });
    await add(await statement("incident.reported", unit.subject, { category, description }, place));
  }
  await outbox.add({
    path: "/api/v1/statements/batch",
    body: { envelopes: signed },
    label: t(conformant ? "field.install.outbox_label" : "field.install.outbox_label_incident", { id: unit.subject, practice: practice.name }),
  });
  // Installed (or reported) once: the unit leaves this device's work package.
  work.connectors = work.connectors.filter((u) => u.subject !== unit.subject);
  await db.put("cache", { name: cacheName(), value: work, fetched: new Date().toISOString() });
  state.unit = null;
  state.observed = [];
  for (const id of ["in-view", "in-tug", "in-twist"]) $(id).checked = false;
  render();
  renderWork(!navigator.onLine, new Date().toISOString());
  const text = conformant
    ? t(navigator.onLine ? "field.install.signed" : "field.install.signed_offline", { id: unit.subject })
    : t("field.install.not_conformant", { id: unit.subject });
  feedback(feedbackBox, conformant, text);
  if (navigator.onLine) outbox.sync();
}

const wedge = attachWedge($("scan-input"), onScan);
wireCamera($("camera-toggle"), $("camera-box"), $("camera-video"), onScan, () => feedback(feedbackBox, false, t("field.scan.no_camera")));
$("in-sign").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    await sign();
  } catch (error) {
    feedback(feedbackBox, false, describeError(error));
  } finally {
    button.disabled = false;
    wedge.focus();
  }
});

// Registered from here only: no other page is kept for offline use. Where service workers
// are missing (or blocked), the page still works offline as long as it stays open.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => console.warn("service worker not registered:", error));
}

startField(root)
  .then((started) => {
    party = started.party;
    return loadWork();
  })
  .catch((error) => feedback(feedbackBox, false, describeError(error)))
  .finally(() => root.setAttribute("data-ready", "true"));
