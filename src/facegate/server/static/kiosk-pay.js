// The till: the cashier types the amount; the customer sees the notice first and chooses the
// face, the PIN or a QR code from the first screen. The face path runs a liveness check on the
// camera, shows a smoothed preview (display only: the raw frame is what is checked), then asks
// the server to decide; a step-up asks the PIN. Once the customer chooses PIN or QR, the face
// is not offered again for that payment.
import { $, api, cameraOn, el, fail, frame, keyGate, runLiveness, say, showAttempt, stopCamera } from "./kiosk-gate.js";

const page = { attempt: null };
const base = () => `/v1/apps/payment/attempts/${page.attempt.id}`;
const LABELS = { approve: "APPROVED", decline: "DECLINED", "step-up": "PIN NEEDED" };

function panels(visible) {
  for (const id of ["choices", "face-panel", "pin-panel", "qr-panel"]) $(id).hidden = id !== visible;
}

function reset() {
  stopCamera($("video"));
  page.attempt = null;
  $("kiosk").hidden = true;
  $("verdict").hidden = true;
  $("preview-box").hidden = true;
  $("setup").hidden = false;
  for (const id of ["amount-input", "digits-input", "pin-input", "account-input"]) $(id).value = "";
  say("");
}

function receipt(r) {
  stopCamera($("video"));
  const state = $("pay-state");
  state.textContent = LABELS[r.outcome] || r.outcome;
  state.className = `door ${r.outcome === "approve" ? "open" : "closed"}`;
  const list = $("receipt");
  list.replaceChildren();
  const rows = [["Amount", `${r.amount} ${r.currency}`], ["How", r.method], ["Operating point", r.operating_point],
    ["Decision", r.decision_id], ["Audit record", r.audit_seq]];
  for (const [k, v] of rows) if (v !== null && v !== undefined) list.append(el("dt", k), el("dd", v));
  $("verdict").hidden = false;
}

async function start(ev) {
  ev.preventDefault();
  try {
    page.attempt = await api("/v1/apps/payment/attempts", { method: "POST", json: { amount: $("amount-input").value.trim() } });
  } catch (err) {
    return fail(err);
  }
  showAttempt(page.attempt);
  $("amount-title").textContent = `${page.attempt.amount} ${page.attempt.currency}`;
  panels("choices");
}

function useFace() {
  panels("face-panel");
  return cameraOn();
}

async function alternative(method) {
  stopCamera($("video"));
  try {
    page.attempt = { ...page.attempt, ...(await api(`${base()}/alternative`, { method: "POST", json: { method } })) };
  } catch (err) {
    return fail(err);
  }
  $("use-face").hidden = true; // never offered again for this payment
  if (method === "qr") return panels("qr-panel");
  $("pin-why").textContent = "Pay with your account and PIN.";
  $("account-row").hidden = false;
  panels("pin-panel");
}

const liveness = () => runLiveness($("video"), "you can pay by PIN or QR instead");

async function showPreview(raw) {
  const form = new FormData();
  form.append("image", raw, "frame.jpg");
  const res = await api(`${base()}/preview`, { method: "POST", form, raw: true });
  $("preview").src = URL.createObjectURL(await res.blob());
  $("preview-box").hidden = false;
}

async function capture() {
  const digits = $("digits-input").value.trim();
  if (!/^[0-9]{4}$/.test(digits)) return say("Type the last 4 digits of your phone number first.", "error");
  $("capture").disabled = true;
  try {
    const lid = await liveness();
    const raw = await frame($("video"));
    await showPreview(raw);
    const form = new FormData();
    form.append("image", raw, "frame.jpg"); // the camera's own frame, never the preview
    form.append("phone_last4", digits);
    form.append("liveness_session_id", lid);
    const done = await api(`${base()}/face`, { method: "POST", form });
    page.attempt = { ...page.attempt, ...done };
    if (done.state === "step-up") {
      stopCamera($("video"));
      $("pin-why").textContent = "Please confirm with your PIN.";
      $("account-row").hidden = true;
      panels("pin-panel");
      return say("");
    }
    receipt(done.receipt);
    say("");
  } catch (err) {
    fail(err);
  } finally {
    $("capture").disabled = false;
  }
}

async function pin(ev) {
  ev.preventDefault();
  const json = { pin: $("pin-input").value };
  if (!$("account-row").hidden) json.account_id = $("account-input").value.trim();
  try {
    const done = await api(`${base()}/pin`, { method: "POST", json });
    $("pin-input").value = "";
    if (done.state === "decided" || done.receipt.outcome === "approve") return receipt(done.receipt);
    say(`Wrong PIN: ${done.pins_left} tries left.`, "error");
  } catch (err) {
    fail(err);
  }
}

keyGate(() => {
  $("setup").hidden = false;
  $("amount-form").addEventListener("submit", start);
  $("use-face").addEventListener("click", useFace);
  $("use-pin").addEventListener("click", () => alternative("pin"));
  $("use-qr").addEventListener("click", () => alternative("qr"));
  $("face-to-pin").addEventListener("click", () => alternative("pin"));
  $("capture").addEventListener("click", capture);
  $("pin-panel").addEventListener("submit", pin);
  $("next-payment").addEventListener("click", reset);
});
