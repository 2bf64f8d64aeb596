// The registration desk: the notice first, then either a live selfie (liveness check on the
// camera) against the portrait on a photographed ID document, or a staff check. Once the staff
// check is chosen the face is not offered again for that person. The record keeps image
// hashes, never the images.
import { $, api, cameraOn, el, fail, frame, keyGate, runLiveness, say, showAttempt, stopCamera } from "./kiosk-gate.js";

const page = { attempt: null };
const base = () => `/v1/apps/registration/attempts/${page.attempt.id}`;

function panels(visible) {
  for (const id of ["choices", "face-panel", "staff-panel"]) $(id).hidden = id !== visible;
}

function reset() {
  stopCamera($("video"));
  page.attempt = null;
  $("kiosk").hidden = true;
  $("verdict").hidden = true;
  $("setup").hidden = false;
  $("document-input").value = "";
  say("");
}

function show(done) {
  stopCamera($("video"));
  const accepted = done.outcome === "accept";
  $("reg-state").textContent = accepted ? "ACCEPTED" : "NOT ACCEPTED";
  $("reg-state").className = `door ${accepted ? "open" : "closed"}`;
  const list = $("record");
  list.replaceChildren();
  const rows = [["Reason", done.reason], ["Operating point", done.operating_point], ["Decision", done.decision_id],
    ["Selfie SHA-256", done.selfie_sha256], ["Document SHA-256", done.document_sha256]];
  for (const [k, v] of rows) if (v) list.append(el("dt", k), el("dd", v));
  $("verdict").hidden = false;
}

async function start() {
  try {
    page.attempt = await api("/v1/apps/registration/attempts", { method: "POST", json: {} });
  } catch (err) {
    return fail(err);
  }
  showAttempt(page.attempt);
  panels("choices");
}

function useFace() {
  panels("face-panel");
  return cameraOn();
}

async function staff() {
  stopCamera($("video"));
  try {
    await api(`${base()}/alternative`, { method: "POST", json: { method: "staff" } });
  } catch (err) {
    return fail(err);
  }
  $("use-face").hidden = true; // never offered again for this person
  panels("staff-panel");
}

const liveness = () => runLiveness($("video"), "ask for a staff check instead");

async function capture() {
  const file = $("document-input").files[0];
  if (!file) return say("Take or choose a photo of your ID document first.", "error");
  $("capture").disabled = true;
  try {
    const lid = await liveness();
    const form = new FormData();
    form.append("selfie", await frame($("video")), "selfie.jpg");
    form.append("document", file, file.name || "document.jpg");
    form.append("liveness_session_id", lid);
    show(await api(`${base()}/check`, { method: "POST", form }));
    say("");
  } catch (err) {
    fail(err);
  } finally {
    $("capture").disabled = false;
  }
}

keyGate(() => {
  $("setup").hidden = false;
  $("start").addEventListener("click", start);
  $("use-face").addEventListener("click", useFace);
  $("use-staff").addEventListener("click", staff);
  $("face-to-staff").addEventListener("click", staff);
  $("capture").addEventListener("click", capture);
  $("next").addEventListener("click", reset);
});
