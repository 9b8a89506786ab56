// Statements and DSSE envelopes in the browser (docs/format.md §3, §6, §7).
//
// Online, the server drafts statements (POST /api/v1/drafts) with the code the CLI
// uses and the browser only signs the bytes it gets. Offline (the install page),
// the browser builds the statement itself; canonicalJson() then produces exactly
// the bytes of format §3 for the values statements contain, and the ledger checks
// them byte for byte again when the outbox delivers them (§3.3 step 6).

export const PAYLOAD_TYPE = "application/vnd.kcl.statement.v1+json";
const encoder = new TextEncoder();

export function b64encode(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

export function b64decode(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

export function b64urlEncode(bytes) {
  return b64encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body — what every signature covers.
export function pae(payloadType, payload) {
  const type = encoder.encode(payloadType);
  return concat(encoder.encode(`DSSEv1 ${type.length} `), type, encoder.encode(` ${payload.length} `), payload);
}

// Canonical JSON (RFC 8785 restricted to format v1's values: no floats). Object members
// sort by UTF-16 code units, which is what JavaScript's default string comparison does;
// JSON.stringify escapes strings exactly as §3.2 asks (lowercase \u00xx, literal UTF-8 else).
export function canonicalJson(value) {
  if (value === null || typeof value === "boolean") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer of format v1: ${value}`);
    return String(value);
  }
  if (typeof value === "string") return JSON.stringify(value.normalize("NFC"));
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    // Normalise the names before sorting: "e\u0301" sorts before "f", its NFC "é" after.
    const members = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .map((k) => [k.normalize("NFC"), value[k]])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`not a JSON value: ${typeof value}`);
}

export function canonicalBytes(value) {
  return encoder.encode(canonicalJson(value));
}

// Whole seconds, UTC, as the reference implementation writes `at`.
export function timestamp(date = new Date()) {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function newNonce() {
  return b64urlEncode(crypto.getRandomValues(new Uint8Array(16)));
}

// A statement built in the browser (offline): the members of format §6, place only when given.
export function buildStatement({ kind, subject, by, data, place, at, nonce }) {
  const statement = {
    v: "kcl/statement/v1",
    kind,
    subject,
    at: at || timestamp(),
    by,
    data,
    nonce: nonce || newNonce(),
  };
  if (place) statement.place = place;
  return { statement, payload: canonicalBytes(statement) };
}

export function envelope(payloadType, payload, signatures) {
  return { payloadType, payload: b64encode(payload), signatures };
}
