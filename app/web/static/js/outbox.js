// The outbox: signed envelopes waiting for the network, in IndexedDB.
//
// Every item carries its Idempotency-Key from the moment it is signed, so a retry after
// a lost answer can never append twice. Delivery:
//   201                         → delivered, removed;
//   409 conflict.replayed_*     → the statement is already in the log: delivered too;
//   other 4xx (a guard rule…)   → refused: kept aside and shown, never silently dropped;
//   401/403/408/429, 5xx, none  → kept pending, tried again on `online` and on page load.

import * as db from "./idb.js";

const listeners = new Set();
let syncing = null;
let sender = null;

export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// `send(path, body, idempotencyKey)` posts and resolves to the answer, or rejects with an
// error carrying `status` (absent for network failures) and `problem` (RFC 9457 body).
export function configure(send) {
  sender = send;
}

export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

async function changed() {
  const state = await counts();
  for (const listener of listeners) listener(state);
}

export async function items() {
  return (await db.all("outbox")).sort((a, b) => a.id - b.id);
}

export async function counts() {
  const list = await items();
  return {
    pending: list.filter((i) => i.state === "pending").length,
    refused: list.filter((i) => i.state === "refused"),
  };
}

// Queue one request: `path` (e.g. /api/v1/statements/batch) and its JSON body.
export async function add({ path, body, label }) {
  const id = await db.put("outbox", {
    path,
    body,
    label: label || "",
    idempotencyKey: newIdempotencyKey(),
    created: new Date().toISOString(),
    state: "pending",
    attempts: 0,
  });
  await changed();
  return id;
}

export async function discard(id) {
  await db.remove("outbox", id);
  await changed();
}

function classify(error) {
  const status = error && error.status;
  const problem = (error && error.problem) || {};
  if (!status) return "retry"; // network down or the server unreachable
  if (status === 409 && typeof problem.code === "string" && problem.code.startsWith("conflict.replayed")) {
    return "delivered";
  }
  if (status === 401 || status === 403 || status === 408 || status === 429 || status >= 500) return "retry";
  return "refused";
}

// Deliver what is pending, oldest first; one sync at a time. Returns the counts.
export function sync() {
  if (!sender) return counts();
  if (!syncing) {
    syncing = (async () => {
      try {
        for (const item of await items()) {
          if (item.state !== "pending") continue;
          if (!navigator.onLine) break;
          item.attempts += 1;
          try {
            const answer = await sender(item.path, item.body, item.idempotencyKey);
            await db.remove("outbox", item.id);
            await changed();
            document.dispatchEvent(new CustomEvent("outbox:delivered", { detail: { item, answer } }));
          } catch (error) {
            const verdict = classify(error);
            if (verdict === "delivered") {
              await db.remove("outbox", item.id);
            } else if (verdict === "refused") {
              item.state = "refused";
              item.problem = (error && error.problem) || { title: String(error && error.message) };
              await db.put("outbox", item);
            } else {
              await db.put("outbox", item);
              await changed();
              break; // the order matters (an inspection before its installation): stop here
            }
            await changed();
          }
        }
      } finally {
        syncing = null;
      }
      return counts();
    })();
  }
  return syncing;
}

// Sync now and whenever the browser says it is back online.
export function start() {
  window.addEventListener("online", () => {
    sync();
  });
  // `online` is not always fired (captive portals, flaky radio): look again now and then.
  setInterval(async () => {
    if (navigator.onLine && (await counts()).pending) sync();
  }, 10000);
  sync();
  changed();
}
