// The liveness page: runs one session of /v1/liveness/sessions on the webcam with on-screen
// prompts. Frames are sent one at a time (each after the answer to the last), stamped with
// their capture time since the session began.

import { $, api, closeCamera, el, fail, openCamera, say, signInFlow } from "/static/pagekit.js";

const LABELS = {
  blink: "Blink",
  turn_left: "Turn your head to your left",
  turn_right: "Turn your head to your right",
  smile: "Smile or open your mouth",
  move_closer: "Move closer",
};

const run = { active: false, stream: null, frames: 0 };

function capture(video, canvas) {
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  const taken = performance.now();
  return new Promise((ok) => canvas.toBlob((blob) => ok({ blob, taken }), "image/jpeg", 0.9));
}

function renderSteps(body) {
  const list = $("lv-steps");
  list.replaceChildren();
  body.challenges.forEach((challenge, i) => {
    let state = "pending";
    if (i < body.done.length) state = "done";
    else if (body.status === "active" && challenge === body.challenge) state = "current";
    else if (body.status === "failed" && i === body.done.length) state = "missed";
    const item = el("li", LABELS[challenge] || challenge, state);
    item.dataset.challenge = challenge;
    list.append(item);
  });
}

function render(body, faces) {
  let prompt = body.prompt;
  if (body.status === "active" && faces === 0) prompt = "No face seen: look at the camera";
  $("lv-prompt").textContent = prompt;
  $("lv-prompt").className = `prompt ${body.challenge ? "asking" : body.status}`;
  renderSteps(body);
}

function showVerdict(body) {
  const box = $("lv-verdict");
  const passed = body.status === "passed";
  box.hidden = false;
  box.className = `verdict ${body.status}`;
  $("lv-verdict-text").textContent = passed ? "Passed: a live person answered the prompts."
    : body.status === "failed" ? "Not passed." : "Stopped.";
  $("lv-reason").textContent = body.reason || "";
  $("lv-session").textContent = body.id;
  $("lv-frames").textContent = String(run.frames);
  const pad = $("lv-pad");
  pad.hidden = !body.pad;
  if (body.pad) {
    const word = body.pad.live ? "bona fide" : "attack";
    pad.textContent = `Passive PAD ${body.pad.method}: ${word} ` +
      `(score ${body.pad.score}, threshold ${body.pad.threshold})`;
  }
  say(passed ? "Liveness passed." : `Liveness not passed${body.reason ? `: ${body.reason}` : "."}`,
    passed ? "ok" : "error");
}

async function start() {
  $("lv-start").disabled = true;
  $("lv-stop").disabled = false;
  $("lv-verdict").hidden = true;
  run.frames = 0;
  const video = $("lv-video");
  const canvas = document.createElement("canvas");
  try {
    run.stream = await openCamera(video);
    const session = await api("/v1/liveness/sessions", { method: "POST" });
    const began = performance.now();
    run.active = true;
    render(session);
    say("Session started: follow the prompts.");
    let body = session;
    while (run.active && body.status === "active") {
      const { blob, taken } = await capture(video, canvas);
      const form = new FormData();
      form.append("image", blob, "frame.jpg");
      form.append("nonce", session.nonce);
      form.append("timestamp_ms", (taken - began).toFixed(1));
      const answer = await api(`/v1/liveness/sessions/${session.id}/frames`, { method: "POST", form });
      run.frames += 1;
      body = answer;
      render(body, answer.faces);
    }
    if (body.status === "active") body = await api(`/v1/liveness/sessions/${session.id}`);
    render(body);
    showVerdict(body);
  } catch (err) {
    fail(err);
  } finally {
    stop();
  }
}

function stop() {
  run.active = false;
  closeCamera(run.stream, $("lv-video"));
  run.stream = null;
  $("lv-start").disabled = false;
  $("lv-stop").disabled = true;
}

$("lv-start").addEventListener("click", start);
$("lv-stop").addEventListener("click", stop);
signInFlow(async () => say("Signed in: press “Start check”."));
