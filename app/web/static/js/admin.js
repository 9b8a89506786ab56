// Approving a key enrolment: the administrator signs key.added with their own device key.
//
// The server never holds private keys, so it cannot approve for anyone. This browser's key
// for the administrator's party (static/js/keys.js, non-extractable, in IndexedDB) signs the
// statement; it must itself be approved first (by another administrator's key or the CLI).
import { api, flash, flashNext, loadMessages, problemMessage, t } from "/static/js/app.js";
import { PAYLOAD_TYPE, buildStatement, envelope } from "/static/js/dsse.js";
import { ensureDeviceKey, loadKey, signPayload } from "/static/js/keys.js";

const section = document.querySelector("[data-admin]");
const party = section ? section.dataset.admin : null;
const status = document.querySelector("[data-key-status]");

async function approvedKey() {
  const record = (await loadKey(party)) && (await ensureDeviceKey(api, party));
  return record && record.status === "approved" ? record : null;
}

async function approve(button) {
  const key = await approvedKey();
  if (!key) {
    flash(t("admin.no_key", { party }), "error");
    return;
  }
  const { payload } = buildStatement({
    kind: "key.added",
    subject: button.dataset.party,
    by: party,
    data: { keyid: button.dataset.keyid, algorithm: button.dataset.algorithm, spki: button.dataset.spki },
  });
  const signature = await signPayload(key, PAYLOAD_TYPE, payload);
  await api("POST", `/enrolments/${encodeURIComponent(button.dataset.approve)}/approve`, {
    envelope: envelope(PAYLOAD_TYPE, payload, [signature]),
  });
  flashNext(t("admin.approved", { party: button.dataset.party }), "ok");
  window.location.reload();
}

if (section) {
  loadMessages().then(async () => {
    const key = await loadKey(party);
    if (status && key) status.textContent = t("admin.key_state", { party, state: key.status });
  });
  section.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-approve], button[data-enrol-admin]");
    if (!button) return;
    button.disabled = true;
    try {
      await loadMessages();
      if (button.dataset.approve) {
        await approve(button);
      } else {
        const record = await ensureDeviceKey(api, party, { label: "Admin browser" });
        flashNext(t("admin.key_state", { party, state: record.status }), "ok");
        window.location.reload();
      }
    } catch (error) {
      flash(problemMessage(error), "error");
    } finally {
      button.disabled = false;
    }
  });
}
