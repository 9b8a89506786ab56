// Konnektor Custody Ledger — shared page code (an ES module, no build step).
//
//   import { api, ApiError, flash, t } from "/static/js/app.js";
//   const receipt = await api("POST", "/statements", envelope, { idempotencyKey });
//
// api() calls /api/v1 with the session cookie and the page's CSRF token (the API refuses
// cookie-authenticated writes without it: 403 auth.csrf). Errors are RFC 9457 problems,
// thrown as ApiError with .status, .code and .problem. No inline script exists on any page
// (the Content-Security-Policy forbids it): pages load their own modules from /static/js.

const API_PREFIX = "/api/v1";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || `http.${status}`;
  }
}

/** The CSRF token of this page's session (from <meta name="csrf-token">). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

let csrfRefresh = null;

/**
 * Ask the server for the session's current CSRF token (GET /session/csrf) and put it in
 * the page (the meta tag and every form's hidden field). A page can carry a stale one: the
 * install page opened offline from the service worker's copy, after the person signed in
 * again. Resolves to the token, or null (not signed in, offline).
 */
export function refreshCsrfToken() {
  if (!csrfRefresh) {
    csrfRefresh = (async () => {
      try {
        const response = await fetch("/session/csrf", {
          credentials: "same-origin",
          cache: "no-store",
          headers: { Accept: "application/json" },
        });
        if (!response.ok) return null;
        const token = (await response.json()).csrf_token;
        if (!token) return null;
        const meta = document.querySelector('meta[name="csrf-token"]');
        if (meta) meta.setAttribute("content", token);
        for (const field of document.querySelectorAll('input[type="hidden"][name="csrf_token"]')) field.value = token;
        return token;
      } catch (_) {
        return null;
      } finally {
        csrfRefresh = null;
      }
    })();
  }
  return csrfRefresh;
}

/** The page's language ("de" or "en"). */
export function lang() {
  return document.documentElement.lang || "de";
}

/** A random idempotency key (for retries and the offline outbox). */
export function newIdempotencyKey() {
  return crypto.randomUUID();
}

/**
 * Call the API. `path` is either a full path ("/api/v1/…") or relative to /api/v1 ("/scan").
 * Returns parsed JSON, text, or a Blob (PDF and other binary answers); throws ApiError.
 * A write refused for a stale CSRF token (403 auth.csrf) is sent once more with a fresh one
 * (same Idempotency-Key, so it cannot happen twice).
 */
export async function api(method, path, body = undefined, options = {}) {
  const sent = csrfToken();
  try {
    return await apiOnce(method, path, body, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403 || error.code !== "auth.csrf") throw error;
    const fresh = await refreshCsrfToken();
    if (!fresh || fresh === sent) throw error;
    return apiOnce(method, path, body, options);
  }
}

async function apiOnce(method, path, body, { idempotencyKey, headers = {}, signal } = {}) {
  const url = path.startsWith("/api/") ? path : API_PREFIX + path;
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json, application/problem+json;q=0.9, */*;q=0.1", ...headers },
    signal,
  };
  if (!["GET", "HEAD"].includes(method.toUpperCase())) {
    init.headers["X-CSRF-Token"] = csrfToken();
  }
  if (idempotencyKey) init.headers["Idempotency-Key"] = idempotencyKey;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    // Offline or the server is gone: callers that queue (the outbox) look for status 0.
    throw new ApiError(0, { code: "network", detail: String(error && error.message ? error.message : error) });
  }
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    let problem = null;
    if (type.includes("json")) {
      try { problem = await response.json(); } catch (_) { problem = null; }
    }
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  if (type.includes("json")) return response.json();
  if (type.startsWith("text/")) return response.text();
  return response.blob();
}

// ---------------------------------------------------------------------------
// Translations for scripts: /i18n/<lang>.json (the same catalogue as the templates).

let messages = null;

/** Load the page language's messages once; t() works (with key fallback) before that too. */
export async function loadMessages() {
  if (messages) return messages;
  try {
    const response = await fetch(`/i18n/${lang()}.json`, { credentials: "same-origin" });
    messages = response.ok ? await response.json() : {};
  } catch (_) {
    messages = {};
  }
  return messages;
}

export function t(key, values = {}) {
  const text = (messages && messages[key]) || key;
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

// ---------------------------------------------------------------------------
// Flash messages: shown in the page's live region; survive one navigation.

const FLASH_KEY = "kcl.flash";

/** Show a message now ("ok", "error", "warn" or "info"). */
export function flash(message, kind = "info") {
  const area = document.getElementById("flash");
  if (!area) return;
  const box = document.createElement("p");
  box.className = `notice ${kind === "info" ? "" : kind}`.trim();
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.textContent = message; // text, never HTML
  area.replaceChildren(box);
}

/** Show a message on the next page (after a redirect or location change). */
export function flashNext(message, kind = "info") {
  sessionStorage.setItem(FLASH_KEY, JSON.stringify({ message, kind }));
}

function showPendingFlash() {
  const pending = sessionStorage.getItem(FLASH_KEY);
  if (!pending) return;
  sessionStorage.removeItem(FLASH_KEY);
  try {
    const { message, kind } = JSON.parse(pending);
    flash(message, kind);
  } catch (_) { /* ignore a malformed entry */ }
}

/** A message for an error thrown by api(): the problem's detail and code. */
export function problemMessage(error) {
  if (error instanceof ApiError) {
    return error.status === 0 ? t("js.offline") : `${error.message} [${error.code}]`;
  }
  return String(error);
}

// Forms with data-confirm="…" ask first (no inline handlers: the CSP forbids them).
function wireConfirmations() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
}

showPendingFlash();
wireConfirmations();
loadMessages();
