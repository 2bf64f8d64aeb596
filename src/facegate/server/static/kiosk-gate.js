// Shared helpers of facegate's kiosk pages (door, check-in, till, registration desk), on top of
// pagekit.js (the API key, API calls that throw the problem's detail, safe element building):
// the kiosk's own sign-in card, the notice shown before any camera starts, the camera and one
// frame of it as a JPEG blob, and the liveness loop. Texts from the server are inserted with
// textContent only.
import { $, ApiError, api, auth, el, fail, say } from "./pagekit.js";

export { $, ApiError, api, el, fail, say };

export function apiKey() {
  return auth.key;
}

export function setKey(key) {
  auth.key = key.trim();
  sessionStorage.setItem("facegate.key", auth.key);
}

/** Fill #notice with a notice (as GET /v1/apps/notices/{purpose} or an attempt gives it). */
export function fillNotice(notice) {
  $("notice-text").textContent = notice.text;
  $("notice-refuse").textContent = notice.how_to_refuse;
  $("notice").hidden = false;
}

/** Leave #setup for #kiosk on a new attempt: its notice, and the face button only while
 * the attempt still offers the face path. */
export function showAttempt(attempt) {
  $("setup").hidden = true;
  $("kiosk").hidden = false;
  fillNotice(attempt.notice);
  $("use-face").hidden = !attempt.face_offered;
}

/** Fill #notice with the purpose's notice; resolves false (and says why) if it has none. */
export async function showNotice(purpose) {
  try {
    fillNotice(await api(`/v1/apps/notices/${encodeURIComponent(purpose)}`));
    return true;
  } catch (err) {
    fail(err);
    return false;
  }
}

let stream = null;

export async function startCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error("no camera in this browser");
  stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  video.srcObject = stream;
  await video.play();
  while (!video.videoWidth) await new Promise((ok) => setTimeout(ok, 50));
}

export function stopCamera(video) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  video.srcObject = null;
}

/** Start the camera on #video with #capture disabled until it runs (an error is shown). */
export async function cameraOn() {
  $("capture").disabled = true;
  try {
    await startCamera($("video"));
    $("capture").disabled = false;
  } catch (err) {
    fail(err);
  }
}

export function frame(video) {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((ok) => canvas.toBlob(ok, "image/jpeg", 0.92));
}

/** Run a liveness session on the camera, showing each prompt in #prompt; resolves to the
 * session id once it passed, else throws naming the reason and `instead` (the way out). */
export async function runLiveness(video, instead) {
  const session = await api("/v1/liveness/sessions", { method: "POST" });
  const started = performance.now();
  let body = session;
  while (body.status === "active") {
    $("prompt").textContent = body.prompt;
    const form = new FormData();
    form.append("image", await frame(video), "frame.jpg");
    form.append("nonce", session.nonce);
    form.append("timestamp_ms", String(Math.round(performance.now() - started)));
    body = await api(`/v1/liveness/sessions/${session.id}/frames`, { method: "POST", form });
  }
  $("prompt").textContent = body.prompt;
  if (body.status !== "passed") throw new Error(`liveness check failed: ${body.reason || "no verdict"}; ${instead}`);
  return session.id;
}

/** The sign-in card, built into the page's empty #signin (its data-label names the device:
 * "Key of this kiosk"), for a page opened without the console's key. */
function signInCard() {
  const card = $("signin");
  const form = el("form");
  form.id = "signin-form";
  const label = el("label", card.dataset.label || "API key");
  label.htmlFor = "key-input";
  const input = el("input");
  Object.assign(input, { id: "key-input", type: "password", autocomplete: "off", required: true });
  const start = el("button", "Start", "primary");
  start.type = "submit";
  form.append(label, input, start);
  card.replaceChildren(el("h1", "API key"), form);
  return form;
}

/** Run `onReady` at once with the console's key, else after the sign-in card gave one. */
export function keyGate(onReady) {
  if (apiKey()) return onReady();
  const form = signInCard();
  $("signin").hidden = false;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    setKey($("key-input").value);
    $("signin").hidden = true;
    onReady();
  });
}
