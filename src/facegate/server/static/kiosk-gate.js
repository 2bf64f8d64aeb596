// Shared helpers of facegate's access and attendance kiosk pages: the API key (the console's
// sessionStorage key "facegate.key"), API calls that throw the problem's detail, the notice
// shown before any camera starts, and one camera frame as a JPEG blob. Texts from the server
// are inserted with textContent only.

export const $ = (id) => document.getElementById(id);

export class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
  }
}

export function apiKey() {
  return sessionStorage.getItem("facegate.key") || "";
}

export function setKey(key) {
  sessionStorage.setItem("facegate.key", key.trim());
}

export async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const res = await fetch(path, { method, headers, body });
  if (raw && res.ok) return res;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(data, res.status);
  return data;
}

export function say(message, kind = "ok") {
  const node = $("status");
  node.textContent = message;
  node.className = `status ${kind}`;
}

export function fail(err) {
  say(err instanceof ApiError ? `${err.message} (${err.status})` : String(err), "error");
}

export function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

/** Fill #notice with the purpose's notice; resolves false (and says why) if it has none. */
export async function showNotice(purpose) {
  try {
    const notice = await api(`/v1/apps/notices/${encodeURIComponent(purpose)}`);
    $("notice-text").textContent = notice.text;
    $("notice-refuse").textContent = notice.how_to_refuse;
    $("notice").hidden = false;
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

/** Sign-in box for a page opened without the console's key. */
export function keyGate(onReady) {
  if (apiKey()) return onReady();
  $("signin").hidden = false;
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setKey($("key-input").value);
    $("signin").hidden = true;
    onReady();
  });
}
