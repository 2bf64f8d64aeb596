// Shared by the console's single-feature pages (liveness.html, streams.html) and, through
// kiosk-gate.js, the kiosk pages: the API key from this tab's sessionStorage (the console's
// sign-in), a fetch wrapper that turns problem+json into errors, and safe element building
// (server text only ever goes in as textContent).

export const $ = (id) => document.getElementById(id);

export class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
  }
}

export const auth = { key: sessionStorage.getItem("facegate.key") || "" };

// `raw`: a successful answer is returned as the fetch Response (a JPEG, a CSV download).
export async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${auth.key}` };
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

export function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

export function say(message, kind = "ok") {
  const node = $("status");
  node.textContent = message;
  node.className = `status ${kind}`;
}

export function fail(err) {
  say(err instanceof ApiError ? `${err.message} (${err.status})` : String(err), "error");
}

// The sign-in card (#signin, #signin-form, #key-input) and the page body (#page): `ready` runs
// once a key is accepted by /v1/me.
export function signInFlow(ready) {
  async function accept(key) {
    auth.key = key.trim();
    try {
      const me = await api("/v1/me");
      sessionStorage.setItem("facegate.key", auth.key);
      $("signin").hidden = true;
      $("page").hidden = false;
      $("whoami").textContent = `key ${me.id}`;
      await ready(me);
    } catch (err) {
      auth.key = "";
      $("signin").hidden = false;
      $("page").hidden = true;
      fail(err);
    }
  }
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    accept($("key-input").value);
  });
  if (auth.key) accept(auth.key);
}

export async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser gives no camera here (it needs https or localhost).");
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
  });
  video.srcObject = stream;
  await video.play();
  if (!video.videoWidth) {
    await new Promise((ok) => video.addEventListener("loadeddata", ok, { once: true }));
  }
  return stream;
}

export function closeCamera(stream, video) {
  for (const track of stream?.getTracks() || []) track.stop();
  video.srcObject = null;
}
