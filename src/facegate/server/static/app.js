// facegate console: plain JavaScript over the /v1 API, no build step, nothing fetched from elsewhere.
// The API key lives in sessionStorage (this tab only; pagekit.js's `auth`). Names and texts
// from the server are always inserted with textContent, never as HTML.

import { $, ApiError, api as request, auth, el, fail, say } from "/static/pagekit.js";

const state = { me: null, subjectId: null, shots: [], auditBefore: null, live: null,
  enrolStream: null, consentEdited: false };

const CONSENT_TEMPLATE = (purpose) =>
  `I agree that my face may be processed by facegate for the purpose "${purpose}" only. ` +
  "A face template (numbers, not my photo) will be stored, encrypted, until I withdraw this " +
  "consent or ask for erasure, which I can do at any time without losing access to the " +
  "service by another way.";

// ---- API --------------------------------------------------------------------------------

// pagekit's fetch wrapper (problem+json -> ApiError, the key in `auth`); a key refused later
// (revoked while the console is open) signs the console out.
async function api(path, options) {
  try {
    return await request(path, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && path !== "/v1/me") {
      signOut("Your key was refused; sign in again.");
    }
    throw err;
  }
}

// ---- sign in, tabs ---------------------------------------------------------------------

async function signIn(key) {
  auth.key = key.trim();
  try {
    state.me = await api("/v1/me");
  } catch (err) {
    auth.key = "";
    fail(err);
    return;
  }
  sessionStorage.setItem("facegate.key", auth.key);
  $("signin").hidden = true;
  $("tabs").hidden = false;
  $("who").hidden = false;
  const purposes = state.me.purposes.join(", ") || "none";
  $("whoami").textContent = `key ${state.me.id} · ${state.me.scopes.join(", ")} · purposes: ${purposes}`;
  say("Signed in.");
  showTab("subjects");
  await Promise.all([loadSubjects(), loadPurposes()]);
}

function signOut(message) {
  stopLive();
  stopEnrolCamera();
  auth.key = "";
  state.me = null;
  sessionStorage.removeItem("facegate.key");
  $("signin").hidden = false;
  $("tabs").hidden = true;
  $("who").hidden = true;
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = true;
  say(message || "Signed out.");
}

function showTab(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== `tab-${name}`;
  for (const btn of document.querySelectorAll("#tabs button")) {
    btn.classList.toggle("active", btn.dataset.tab === name);
  }
  if (name !== "identify") stopLive();
  if (name !== "enrol") stopEnrolCamera();
  if (name === "audit") loadAudit(true).catch(fail);
  if (name === "enrol") fillSubjectSelect();
}

function defaultPurpose() {
  const own = (state.me?.purposes || []).filter((p) => p !== "*");
  return own[0] || document.querySelector("#purpose-list option")?.value || "";
}

async function loadPurposes() {
  const { purposes } = await api("/v1/purposes");
  const list = $("purpose-list");
  list.replaceChildren(...purposes.map((p) => { const o = el("option"); o.value = p.name; return o; }));
  for (const id of ["consent-purpose", "enrol-purpose", "identify-purpose"]) {
    if (!$(id).value) $(id).value = defaultPurpose();
  }
}

// ---- subjects and consent ---------------------------------------------------------------

let subjects = [];

async function loadSubjects() {
  ({ subjects } = await api("/v1/subjects"));
  const rows = subjects.map((s) => {
    const tr = el("tr");
    tr.dataset.id = s.subject_id;
    tr.classList.toggle("selected", s.subject_id === state.subjectId);
    const open = el("button", "Open", "link");
    open.addEventListener("click", () => selectSubject(s.subject_id).catch(fail));
    const cell = el("td");
    cell.append(open);
    tr.append(el("td", s.subject), el("td", s.templates), cell);
    return tr;
  });
  if (!rows.length) {
    const tr = el("tr");
    const td = el("td", "No subjects yet.", "muted");
    td.colSpan = 3;
    tr.append(td);
    rows.push(tr);
  }
  $("subject-rows").replaceChildren(...rows);
  fillSubjectSelect();
}

function fillSubjectSelect() {
  const select = $("enrol-subject");
  const options = subjects.map((s) => {
    const o = el("option", `${s.subject} (${s.subject_id.slice(0, 8)})`);
    o.value = s.subject_id;
    return o;
  });
  select.replaceChildren(...options);
  if (state.subjectId) select.value = state.subjectId;
}

async function selectSubject(id) {
  state.subjectId = id;
  const s = await api(`/v1/subjects/${id}`);
  $("subject-detail").hidden = false;
  $("export-output").hidden = true;
  $("detail-name").textContent = s.subject;
  $("detail-id").textContent = `${s.subject_id} · ${s.templates} template(s)` +
    (s.external_id ? ` · external id ${s.external_id}` : "");
  const items = s.consents.map((c) => {
    const li = el("li");
    const active = !c.revoked_at && (!c.expires_at || new Date(c.expires_at) > new Date());
    li.append(el("strong", c.purpose), " ", el("span", active ? "active" : "inactive",
      active ? "badge" : "badge off"));
    li.append(el("div", `granted ${new Date(c.granted_at).toLocaleString()}`, "muted"));
    li.append(el("div", c.text ? `“${c.text}” (${c.method || "method not stated"})` : c.evidence, "muted"));
    if (active) {
      const revoke = el("button", "Withdraw", "link");
      revoke.addEventListener("click", () => revokeConsent(id, c.purpose).catch(fail));
      li.append(revoke);
    }
    return li;
  });
  $("detail-consents").replaceChildren(...(items.length ? items : [el("li", "No consent recorded.", "muted")]));
  const purpose = $("consent-purpose").value || defaultPurpose();
  $("consent-purpose").value = purpose;
  if (!$("consent-text").value) $("consent-text").value = CONSENT_TEMPLATE(purpose || "…");
  for (const tr of $("subject-rows").children) tr.classList.toggle("selected", tr.dataset.id === id);
  fillSubjectSelect();
}

async function createSubject(event) {
  event.preventDefault();
  const body = { display_name: $("new-subject-name").value.trim() };
  const external = $("new-subject-external").value.trim();
  if (external) body.external_id = external;
  const s = await api("/v1/subjects", { method: "POST", json: body });
  $("subject-form").reset();
  say(`Created ${s.subject}.`);
  await loadSubjects();
  await selectSubject(s.subject_id);
}

async function grantConsent(event) {
  event.preventDefault();
  const purpose = $("consent-purpose").value.trim();
  const shown = $("consent-text").value.trim();
  const evidence = "text shown in the facegate console; the person ticked 'accepted'";
  await api(`/v1/subjects/${state.subjectId}/consents`,
    { method: "POST", json: { purpose, evidence, text: shown, method: "console-checkbox" } });
  $("consent-accepted").checked = false;
  state.consentEdited = false;
  say(`Consent for ${purpose} recorded.`);
  for (const id of ["enrol-purpose", "identify-purpose"]) if (!$(id).value) $(id).value = purpose;
  await Promise.all([selectSubject(state.subjectId), loadPurposes()]);
}

async function revokeConsent(id, purpose) {
  await api(`/v1/subjects/${id}/consents/${encodeURIComponent(purpose)}`, { method: "DELETE" });
  say(`Consent for ${purpose} withdrawn; the subject left that purpose's searches.`);
  await selectSubject(id);
}

async function eraseSubject() {
  const name = $("detail-name").textContent;
  if (!confirm(`Erase ${name} for good? Templates and the key that decrypts them are destroyed.`)) return;
  await api(`/v1/subjects/${state.subjectId}`, { method: "DELETE" });
  say(`Erased ${name}.`);
  state.subjectId = null;
  $("subject-detail").hidden = true;
  await loadSubjects();
}

async function exportSubject() {
  const data = await api(`/v1/subjects/${state.subjectId}/export`);
  $("export-output").textContent = JSON.stringify(data, null, 2);
  $("export-output").hidden = false;
}

// ---- camera -----------------------------------------------------------------------------

async function openCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This browser gives no camera here (it needs https or localhost).");
  }
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
  });
  video.srcObject = stream;
  await video.play();
  if (!video.videoWidth) await new Promise((ok) => video.addEventListener("loadeddata", ok, { once: true }));
  return stream;
}

function closeCamera(stream, video) {
  for (const track of stream?.getTracks() || []) track.stop();
  video.srcObject = null;
}

function frameBlob(video) {
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((ok) => canvas.toBlob(ok, "image/jpeg", 0.92));
}

// ---- enrolment --------------------------------------------------------------------------

async function startEnrolCamera() {
  state.enrolStream = await openCamera($("enrol-video"));
  $("enrol-capture").disabled = false;
  $("enrol-camera-stop").disabled = false;
  say("Camera on: capture one or more frames, then Enrol.");
}

function stopEnrolCamera() {
  if (!state.enrolStream) return;
  closeCamera(state.enrolStream, $("enrol-video"));
  state.enrolStream = null;
  $("enrol-capture").disabled = true;
  $("enrol-camera-stop").disabled = true;
}

// The queue of photos to enrol: each can be removed; a photo the server refused stays, marked
// with the reason, and is not sent again (remove it, or fix it and add it again).
let shotCount = 0;

function addShot(blob, name, key = null) {
  if (key && state.shots.some((s) => s.key === key)) return false;
  shotCount += 1;
  state.shots.push({ id: shotCount, blob, name, key, url: URL.createObjectURL(blob), refused: null });
  return true;
}

function removeShot(id) {
  const shot = state.shots.find((s) => s.id === id);
  if (shot) URL.revokeObjectURL(shot.url);
  state.shots = state.shots.filter((s) => s.id !== id);
  renderShots();
}

function renderShots() {
  const items = state.shots.map((shot) => {
    const fig = el("figure", undefined, shot.refused ? "shot refused" : "shot");
    fig.dataset.name = shot.name;
    const img = el("img");
    img.src = shot.url;
    img.alt = shot.name;
    const remove = el("button", "×", "remove");
    remove.type = "button";
    remove.title = `Remove ${shot.name}`;
    remove.setAttribute("aria-label", `Remove ${shot.name}`);
    remove.addEventListener("click", () => removeShot(shot.id));
    fig.append(img, remove, el("figcaption", shot.refused ? `Refused: ${shot.refused}` : shot.name));
    return fig;
  });
  $("enrol-shots").replaceChildren(...items);
}

function pendingShots() {
  return state.shots.filter((s) => !s.refused);
}

async function captureShot() {
  const blob = await frameBlob($("enrol-video"));
  addShot(blob, `webcam-${shotCount + 1}.jpg`);
  renderShots();
  say(`${pendingShots().length} photo(s) ready to enrol.`);
}

function addFiles() {
  let twice = 0;
  for (const file of $("enrol-files").files) {
    if (!addShot(file, file.name, `${file.name}:${file.size}:${file.lastModified}`)) twice += 1;
  }
  $("enrol-files").value = "";  // choosing the same file again still reaches us (and is refused)
  renderShots();
  const again = twice ? ` ${twice} already in the queue, not added again.` : "";
  say(`${pendingShots().length} photo(s) ready to enrol.${again}`, twice ? "error" : "ok");
}

async function enrol() {
  const subjectId = $("enrol-subject").value;
  const purpose = $("enrol-purpose").value.trim();
  const sent = pendingShots();
  if (!subjectId || !purpose || !sent.length) {
    say("Choose a subject and a purpose, and add at least one photo.", "error");
    return;
  }
  const form = new FormData();
  form.append("purpose", purpose);
  form.append("skip_failures", "true");  // store the good photos, mark the refused ones
  for (const shot of sent) form.append("image", shot.blob, shot.name);
  const result = await api(`/v1/subjects/${subjectId}/faces`, { method: "POST", form });
  // the server names photos "image N", in the order sent
  const refused = new Map(result.failures.map((f) => [f.image, f.error]));
  sent.forEach((shot, i) => {
    const label = `image ${i + 1}`;
    if (refused.has(label)) shot.refused = refused.get(label).replace(`${label}: `, "");
  });
  for (const shot of sent) if (!shot.refused) URL.revokeObjectURL(shot.url);
  state.shots = state.shots.filter((s) => s.refused);
  renderShots();
  const extra = result.already_enrolled.length ? `, ${result.already_enrolled.length} already enrolled` : "";
  const warn = result.warnings.length ? ` Warning: ${result.warnings.join("; ")}` : "";
  const bad = refused.size ? ` ${refused.size} photo(s) refused (marked in the queue).` : "";
  say(`Enrolled ${result.subject}: ${result.added.length} template(s) added${extra}.${bad}${warn}`,
    refused.size ? "error" : "ok");
  await loadSubjects();
  if (state.subjectId === subjectId) await selectSubject(subjectId);
}

// ---- identification ---------------------------------------------------------------------

function drawFaces(width, height, faces) {
  const canvas = $("identify-overlay");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const line = Math.max(2, Math.round(width / 240));
  ctx.lineWidth = line;
  ctx.font = `600 ${Math.max(14, Math.round(width / 40))}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  for (const f of faces) {
    const [x1, y1, x2, y2] = f.box;
    const known = Boolean(f.subject);
    const colour = known ? "#2ea043" : "#e5534b";
    ctx.strokeStyle = colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const label = known ? `${f.subject} ${f.similarity.toFixed(2)}` : "unknown";
    const w = ctx.measureText(label).width + 10;
    const h = parseInt(ctx.font.split(" ")[1], 10) + 8;
    const top = Math.max(h, y1);
    ctx.fillStyle = colour;
    ctx.fillRect(x1 - line / 2, top - h, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillText(label, x1 + 5, top - 4);
  }
}

function listFaces(result) {
  const items = result.faces.map((f) => {
    const li = el("li");
    li.append(f.subject ? el("span", f.subject, "name") : el("span", "unknown", "unknown"));
    const sim = f.similarity === null ? "no candidates" : `similarity ${f.similarity.toFixed(3)}`;
    li.append(el("span", `${sim} · ${f.operating_point} ≥ ${f.threshold.toFixed(3)}`, "muted"));
    return li;
  });
  if (!items.length) items.push(el("li", "No face in view.", "muted"));
  $("live-results").replaceChildren(...items);
}

async function identifyBlob(blob, name) {
  const form = new FormData();
  form.append("purpose", $("identify-purpose").value.trim());
  form.append("top_k", "3");
  form.append("image", blob, name);
  return api("/v1/identify", { method: "POST", form });
}

async function identifyFile() {
  const file = $("identify-file").files[0];
  if (!file) return;
  stopLive();
  const img = $("identify-image");
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  $("live-video").hidden = true;
  const result = await identifyBlob(file, file.name);
  drawFaces(result.width, result.height, result.faces);
  listFaces(result);
  say(`${result.faces.length} face(s) among ${result.gallery_size} subject(s) for ${result.purpose}.`);
}

async function startLive() {
  if (!$("identify-purpose").value.trim()) {
    say("Choose a purpose first.", "error");
    return;
  }
  const video = $("live-video");
  $("identify-image").hidden = true;
  video.hidden = false;
  const stream = await openCamera(video);
  const live = { stream, running: true };
  state.live = live;
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  say("Live identification running.");
  while (live.running) {
    const started = performance.now();
    try {
      const result = await identifyBlob(await frameBlob(video), "frame.jpg");
      if (!live.running) break;
      drawFaces(result.width, result.height, result.faces);
      listFaces(result);
    } catch (err) {
      fail(err);
      if (err instanceof ApiError && err.status < 500) break;
    }
    await new Promise((ok) => setTimeout(ok, Math.max(0, 250 - (performance.now() - started))));
  }
  if (state.live === live) stopLive();
}

function stopLive() {
  if (!state.live) return;
  state.live.running = false;
  closeCamera(state.live.stream, $("live-video"));
  state.live = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
  say("Live identification stopped.");
}

// ---- audit ------------------------------------------------------------------------------

async function loadAudit(reset) {
  const query = new URLSearchParams({ limit: "50" });
  if (!reset && state.auditBefore) query.set("before", state.auditBefore);
  const data = await api(`/v1/audit?${query}`);
  state.auditBefore = data.next_before;
  const rows = data.records.map((r) => {
    const tr = el("tr");
    const subjectRefs = r.subject_refs.map((ref) => ref.slice(0, 8)).join(" ");
    tr.append(el("td", r.seq, "mono"), el("td", new Date(r.at).toLocaleString()), el("td", r.operation),
      el("td", r.purpose || "—"), el("td", r.decision), el("td", r.score_band || "—"),
      el("td", r.key_id, "mono"), el("td", subjectRefs, "mono"));
    return tr;
  });
  if (reset) $("audit-rows").replaceChildren(...rows);
  else $("audit-rows").append(...rows);
  $("audit-more").hidden = !data.next_before;
}

// ---- wiring -----------------------------------------------------------------------------

function on(id, event, handler) {
  $(id).addEventListener(event, (e) => {
    Promise.resolve(handler(e)).catch(fail);
  });
}

on("signin-form", "submit", (e) => { e.preventDefault(); return signIn($("key-input").value); });
on("sign-out", "click", () => signOut());
for (const btn of document.querySelectorAll("#tabs button")) {
  btn.addEventListener("click", () => showTab(btn.dataset.tab));
}
on("subject-form", "submit", createSubject);
on("refresh-subjects", "click", loadSubjects);
on("consent-form", "submit", grantConsent);
on("consent-purpose", "input", () => {
  if (!state.consentEdited) $("consent-text").value = CONSENT_TEMPLATE($("consent-purpose").value.trim());
});
on("consent-text", "input", () => { state.consentEdited = true; });
on("goto-enrol", "click", () => showTab("enrol"));
on("erase-subject", "click", eraseSubject);
on("export-subject", "click", exportSubject);
on("enrol-camera-start", "click", startEnrolCamera);
on("enrol-camera-stop", "click", stopEnrolCamera);
on("enrol-capture", "click", captureShot);
on("enrol-files", "change", addFiles);
on("enrol-submit", "click", enrol);
on("identify-file", "change", identifyFile);
on("live-start", "click", startLive);
on("live-stop", "click", stopLive);
on("refresh-audit", "click", () => loadAudit(true));
on("audit-more", "click", () => loadAudit(false));

if (auth.key) signIn(auth.key);
