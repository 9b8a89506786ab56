// What the field pages share: the device key and its status badge, the outbox badge,
// the network badge, and "draft → sign → envelope" for statements.

import { ApiError, api, loadMessages, problemMessage, t } from "./app.js";
import { PAYLOAD_TYPE, b64decode, envelope } from "./dsse.js";
import * as keys from "./keys.js";
import * as outbox from "./outbox.js";

let deviceKey = null;

function badge(element, kind, text, state) {
  if (!element) return;
  element.className = `badge ${kind}`;
  element.textContent = text;
  if (state) element.dataset.state = state;
}

export function showKeyStatus(record) {
  const element = document.getElementById("key-status");
  if (!record) return badge(element, "bad", t("field.key.none"), "none");
  if (record.status === "approved") return badge(element, "ok", t("field.key.approved", { alg: record.algorithm }), "approved");
  if (record.status === "rejected") return badge(element, "bad", t("field.key.rejected"), "rejected");
  return badge(element, "warn", t("field.key.pending", { keyid: record.keyid.slice(0, 8) }), "pending");
}

function showNet() {
  const element = document.getElementById("net-status");
  badge(element, navigator.onLine ? "ok" : "warn", navigator.onLine ? t("field.net.online") : t("field.net.offline"), navigator.onLine ? "online" : "offline");
}

function showOutbox(state) {
  const element = document.getElementById("outbox-status");
  if (element) {
    badge(element, state.pending ? "warn" : "neutral", t("field.outbox.pending", { count: state.pending }));
    element.dataset.pending = String(state.pending);
  }
  const box = document.getElementById("refused-box");
  const list = document.getElementById("refused-list");
  if (!box || !list) return;
  box.classList.toggle("hidden", state.refused.length === 0);
  list.replaceChildren(
    ...state.refused.map((item) => {
      const li = document.createElement("li");
      const problem = item.problem || {};
      // The rule id names what the ledger refused (e.g. rule.blocked_state); else the code.
      li.textContent = `${item.label}: ${problem.detail || problem.title || ""} [${problem.rule || problem.code || "?"}] `;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button secondary";
      button.textContent = t("field.outbox.dismiss");
      // Dismissing is a deliberate act by the person who read the refusal.
      button.addEventListener("click", () => outbox.discard(item.id));
      li.append(button);
      return li;
    }),
  );
}

// Start the shared parts; returns the party and its device key record.
export async function startField(root) {
  await loadMessages();
  const party = root.dataset.party;
  showNet();
  window.addEventListener("online", showNet);
  window.addEventListener("offline", showNet);
  outbox.configure((path, body, idempotencyKey) => api("POST", path, body, { idempotencyKey }));
  outbox.onChange(showOutbox);
  outbox.start();
  deviceKey = await keys.ensureDeviceKey(api, party);
  showKeyStatus(deviceKey);
  // An approval happens elsewhere (an administrator): look again now and then while pending.
  const poll = setInterval(async () => {
    if (deviceKey.status === "approved") return clearInterval(poll);
    deviceKey = await keys.ensureDeviceKey(api, party);
    showKeyStatus(deviceKey);
  }, 5000);
  return { party, key: deviceKey };
}

export function currentKey() {
  return deviceKey;
}

// Refuse early, in words, rather than let the ledger answer "unknown key".
export function requireApprovedKey() {
  if (!deviceKey || deviceKey.status !== "approved") throw new Error(t("field.key.not_approved"));
  return deviceKey;
}

// Sign server drafts (POST /drafts/batch answers) with the device key → DSSE envelopes.
export async function signDrafts(drafts) {
  const key = requireApprovedKey();
  const out = [];
  for (const draft of drafts) {
    const payload = b64decode(draft.payload);
    out.push(envelope(draft.payloadType, payload, [await keys.signPayload(key, draft.payloadType, payload)]));
  }
  return out;
}

export async function draftAndSign(items) {
  const answer = await api("POST", "/api/v1/drafts/batch", { drafts: items });
  return { drafts: answer.drafts, envelopes: await signDrafts(answer.drafts) };
}

// Countersign statements another party signed (a handover offer): PAE of their payload.
export async function countersign(envelopes) {
  const key = requireApprovedKey();
  const out = [];
  for (const item of envelopes) {
    if (item.payloadType !== PAYLOAD_TYPE) throw new Error(`unexpected payloadType ${item.payloadType}`);
    out.push(await keys.signPayload(key, item.payloadType, b64decode(item.payload)));
  }
  return out;
}

export function describeError(error) {
  if (error instanceof ApiError) return problemMessage(error);
  return (error && error.message) || String(error);
}

export function decodeStatement(item) {
  return JSON.parse(new TextDecoder().decode(b64decode(item.payload)));
}
