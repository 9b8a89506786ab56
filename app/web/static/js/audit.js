// The auditor's verify-all: start the job, poll its progress, show the result.
import { ApiError, flash, loadMessages, problemMessage, t } from "/static/js/app.js";

const form = document.querySelector("[data-verify-form]");
const status = document.querySelector("[data-verify-status]");
const bar = document.getElementById("verify-progress");
const text = document.querySelector("[data-verify-text]");
const list = document.querySelector("[data-verify-findings]");

async function call(method, path) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(path, { method, headers, credentials: "same-origin" });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function show(job) {
  bar.value = job.progress;
  bar.textContent = `${job.progress} %`;
  if (job.state === "running") {
    text.textContent = t("audit.running", { checked: job.checked, size: job.size });
    return;
  }
  if (job.state === "failed") {
    text.textContent = t(job.interrupted ? "audit.result_interrupted" : "audit.result_failed");
    return;
  }
  const key = job.valid ? "audit.result_valid" : "audit.result_invalid";
  text.textContent = t(key, { size: job.size, findings: job.findings_count, seconds: job.seconds });
  text.dataset.state = job.valid ? "valid" : "invalid";
  list.replaceChildren(
    ...job.findings.map((finding) => {
      const item = document.createElement("li");
      item.textContent = `${finding.code} #${finding.index ?? "–"} ${finding.message}`;
      return item;
    }),
  );
}

async function poll(jobId) {
  for (;;) {
    const job = await call("GET", `/audit/verify/${encodeURIComponent(jobId)}`);
    show(job);
    if (job.state !== "running") return job;
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

if (form && status) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await loadMessages();
      const job = await call("POST", "/audit/verify");
      show(job);
      await poll(job.job);
    } catch (error) {
      flash(problemMessage(error), "error");
    } finally {
      button.disabled = false;
    }
  });
  if (status.dataset.job) {
    loadMessages().then(() => poll(status.dataset.job)).catch((error) => flash(problemMessage(error), "error"));
  }
}
