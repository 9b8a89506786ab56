// The device key: a WebCrypto key pair that never leaves this browser.
//
// Generated NON-EXTRACTABLE (the private half cannot be exported, not even by our own
// scripts) and kept as a CryptoKeyPair in IndexedDB, one per signed-in party. Ed25519
// where the browser has it (Chromium ≥ 137, Firefox, Safari), ECDSA P-256 otherwise.
// Only the public key (SPKI DER) is sent, to POST /api/v1/enrolments; an administrator
// approves it with a key.added statement, after which the ledger accepts its signatures.

import * as db from "./idb.js";
import { b64encode, hex, pae } from "./dsse.js";

export const ED25519 = "ed25519";
export const P256 = "ecdsa-p256-sha256";
// The P-256 group order n: the ledger accepts only s ≤ n/2 (format §5, ledger/keys.py).
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

const PARAMS = {
  [ED25519]: { generate: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  [P256]: { generate: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } },
};

// ---- ECDSA: WebCrypto's IEEE P1363 r‖s → strict DER with low S ---------------------------

function toBigInt(bytes) {
  return bytes.length ? BigInt(`0x${hex(bytes)}`) : 0n;
}

function derInteger(value) {
  let text = value.toString(16);
  if (text.length % 2) text = `0${text}`;
  const bytes = text.match(/../g).map((h) => parseInt(h, 16));
  // Minimal encoding; a leading 0x00 only where the high bit would make it negative.
  if (bytes[0] & 0x80) bytes.unshift(0);
  return [0x02, bytes.length, ...bytes];
}

export function rawToDer(raw) {
  if (raw.length !== 64) throw new Error(`raw ECDSA signature must be 64 bytes, got ${raw.length}`);
  const r = toBigInt(raw.slice(0, 32));
  let s = toBigInt(raw.slice(32));
  // ECDSA is malleable: (r, s) and (r, n − s) both verify; the ledger insists on the low one.
  if (s > P256_N / 2n) s = P256_N - s;
  const body = [...derInteger(r), ...derInteger(s)];
  return new Uint8Array([0x30, body.length, ...body]);
}

// ---- The key pair ------------------------------------------------------------------------

export async function supportsEd25519() {
  try {
    await crypto.subtle.generateKey(PARAMS[ED25519].generate, false, ["sign", "verify"]);
    return true;
  } catch {
    return false;
  }
}

async function generate(prefer) {
  const order = prefer === P256 ? [P256] : [ED25519, P256];
  for (const algorithm of order) {
    try {
      // extractable = false: the private key can be used, never read.
      const pair = await crypto.subtle.generateKey(PARAMS[algorithm].generate, false, ["sign", "verify"]);
      return { algorithm, pair };
    } catch (error) {
      if (algorithm === order[order.length - 1]) throw error;
    }
  }
  throw new Error("no supported signature algorithm");
}

export async function loadKey(party) {
  return (await db.get("keys", party)) || null;
}

export async function createKey(party, { prefer } = {}) {
  const { algorithm, pair } = await generate(prefer);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const keyid = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", spki)));
  const record = { party, algorithm, pair, spki: b64encode(spki), keyid, enrolment: null, status: "new" };
  await db.put("keys", record);
  return record;
}

export async function saveKey(record) {
  await db.put("keys", record);
  return record;
}

export async function forgetKey(party) {
  await db.remove("keys", party);
}

// Sign PAE(payloadType, payload) → a DSSE signature object {keyid, sig}.
export async function signPayload(record, payloadType, payload) {
  const message = pae(payloadType, payload);
  let sig = new Uint8Array(await crypto.subtle.sign(PARAMS[record.algorithm].sign, record.pair.privateKey, message));
  if (record.algorithm === P256) sig = rawToDer(sig);
  return { keyid: record.keyid, sig: b64encode(sig) };
}

// ---- Enrolment ---------------------------------------------------------------------------

// The device key of `party`: created and enrolled on first use; its status refreshed from
// the server when online ("pending" until an administrator approves, then "approved").
// `api` is the page's fetch helper; offline, the stored status is used as it is.
export async function ensureDeviceKey(api, party, { label, prefer } = {}) {
  let record = await loadKey(party);
  if (record && record.status === "rejected") {
    // A key is enrolled once; after a rejection only a new key can be enrolled.
    await forgetKey(party);
    record = null;
  }
  if (!record) record = await createKey(party, { prefer });
  if (!navigator.onLine) return record;
  try {
    if (!record.enrolment) {
      const made = await api("POST", "/api/v1/enrolments", { spki: record.spki, label: label || deviceLabel() });
      record.enrolment = made.enrolment_id;
      record.status = made.status;
    } else if (record.status !== "approved") {
      const current = await api("GET", `/api/v1/enrolments/${record.enrolment}`);
      record.status = current.status;
      record.reason = current.reason || null;
    }
    await saveKey(record);
  } catch (error) {
    // Offline or server trouble: keep the stored status; the page shows it as it is.
    record.error = String(error && error.message ? error.message : error);
  }
  return record;
}

function deviceLabel() {
  const platform = (navigator.userAgentData && navigator.userAgentData.platform) || navigator.platform || "";
  return `Browser ${platform}`.trim().slice(0, 200) || "Browser";
}
