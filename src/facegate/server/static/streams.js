// The stream view: start or attach to a /v1/streams stream, follow its Server-Sent Events
// (read with fetch, which can send the API key; EventSource cannot), and show the latest
// processed frame with a box per confirmed track, labelled with its track id and, once the
// events identify it, the subject's name.

import { $, api, auth, el, fail, say, signInFlow } from "/static/pagekit.js";

const view = { id: null, abort: null, polling: false, tracks: new Map(), names: new Map(),
  events: 0, frameUrl: null, ended: false };

// ---- names -----------------------------------------------------------------------------

function nameOf(subjectId) {
  if (!view.names.has(subjectId)) {
    view.names.set(subjectId, subjectId);
    api(`/v1/subjects/${encodeURIComponent(subjectId)}`)
      .then((s) => { view.names.set(subjectId, s.subject || subjectId); renderTracks(); })
      .catch(() => {}); // a key without the enrol scope sees subject ids only
  }
  return view.names.get(subjectId);
}

function label(trackId) {
  const track = view.tracks.get(trackId);
  if (!track || track.state === "tracking") return { text: `#${trackId}`, cls: "" };
  if (track.subjectId) return { text: `#${trackId} ${nameOf(track.subjectId)}`, cls: "named" };
  return { text: `#${trackId} unknown`, cls: "unknown" };
}

// ---- events ----------------------------------------------------------------------------

function onEvent(type, data) {
  if (type === "end") {
    view.ended = true;
    $("st-state").textContent = data.state || "ended";
    return;
  }
  view.events += 1;
  $("st-events-count").textContent = String(view.events);
  const track = view.tracks.get(data.track_id) || { state: "tracking", subjectId: null,
    score: null, point: null, left: false };
  if (type === "identified" || type === "watchlist_hit") {
    track.state = "identified";
    track.subjectId = data.subject_id || data.candidate_id;
  } else if (type === "unknown") {
    track.state = "unknown";
    track.subjectId = null;
  } else if (type === "track_left") {
    track.left = true;
  }
  if (data.score !== undefined) track.score = data.score;
  if (data.operating_point) track.point = data.operating_point;
  view.tracks.set(data.track_id, track);
  renderTracks();
}

async function follow(id, signal) {
  const res = await fetch(`/v1/streams/${id}/events`, {
    headers: { Authorization: `Bearer ${auth.key}` }, signal });
  if (!res.ok) throw new Error(`events: HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (data.length) onEvent(type, JSON.parse(data.join("\n")));
    }
  }
}

// ---- frames ----------------------------------------------------------------------------

function drawBoxes(meta) {
  const layer = $("st-boxes");
  layer.replaceChildren();
  for (const t of meta.tracks) {
    const [x1, y1, x2, y2] = t.box;
    const { text, cls } = label(t.track_id);
    const box = el("div", null, `box ${cls}${t.predicted ? " predicted" : ""}`);
    box.dataset.track = String(t.track_id);
    box.style.left = `${(100 * x1) / meta.width}%`;
    box.style.top = `${(100 * y1) / meta.height}%`;
    box.style.width = `${(100 * (x2 - x1)) / meta.width}%`;
    box.style.height = `${(100 * (y2 - y1)) / meta.height}%`;
    box.append(el("span", text));
    layer.append(box);
  }
}

async function pollFrames(id) {
  view.polling = true;
  let last = -1;
  while (view.polling && view.id === id) {
    try {
      const res = await fetch(`/v1/streams/${id}/frame`, {
        headers: { Authorization: `Bearer ${auth.key}` }, cache: "no-store" });
      if (res.status === 200) {
        const meta = JSON.parse(res.headers.get("X-Facegate-Frame") || "{}");
        const blob = await res.blob();
        if (meta.index !== last) {
          last = meta.index;
          if (view.frameUrl) URL.revokeObjectURL(view.frameUrl);
          view.frameUrl = URL.createObjectURL(blob);
          $("st-frame").src = view.frameUrl;
          $("st-frame-index").textContent = String(meta.index);
          drawBoxes(meta);
        }
        $("st-state").textContent = meta.state;
        if (meta.state !== "running" && view.ended) break;
      } else if (res.status !== 204) {
        break;
      }
    } catch (err) {
      fail(err);
      break;
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  view.polling = false;
}

// ---- tracks table ----------------------------------------------------------------------

function renderTracks() {
  const rows = $("st-tracks");
  rows.replaceChildren();
  for (const [trackId, t] of [...view.tracks.entries()].sort((a, b) => a[0] - b[0])) {
    const who = t.subjectId ? nameOf(t.subjectId) : t.state === "unknown" ? "unknown" : "…";
    const tr = el("tr");
    tr.dataset.track = String(trackId);
    tr.append(el("td", `#${trackId}`), el("td", who, t.subjectId ? "name" : t.state === "unknown" ? "unknown" : ""),
      el("td", t.score === null ? "" : t.score.toFixed(3)), el("td", t.point || ""),
      el("td", t.left ? "left" : t.state));
    rows.append(tr);
  }
}

// ---- streams ---------------------------------------------------------------------------

function detach() {
  view.polling = false;
  view.abort?.abort();
  view.id = null;
}

async function attach(stream) {
  detach();
  Object.assign(view, { id: stream.id, tracks: new Map(), events: 0, ended: false,
    abort: new AbortController() });
  $("st-view").hidden = false;
  $("st-title").textContent = `${stream.id} · ${stream.source} · ${stream.purpose}`;
  $("st-state").textContent = stream.state;
  $("st-events-count").textContent = "0";
  $("st-boxes").replaceChildren();
  renderTracks();
  follow(stream.id, view.abort.signal).catch((err) => { if (err.name !== "AbortError") fail(err); });
  pollFrames(stream.id);
  say(`Watching ${stream.id}.`);
}

async function listStreams() {
  const { streams } = await api("/v1/streams");
  const rows = $("st-list");
  rows.replaceChildren();
  for (const s of streams) {
    const tr = el("tr");
    const watch = el("button", "Watch", "link");
    watch.type = "button";
    watch.addEventListener("click", () => attach(s));
    const cell = el("td");
    cell.append(watch);
    tr.append(el("td", s.id, "mono"), el("td", s.source), el("td", s.purpose), el("td", s.state), cell);
    rows.append(tr);
  }
}

async function start(e) {
  e.preventDefault();
  try {
    const stream = await api("/v1/streams", { method: "POST",
      json: { source: $("st-source").value.trim(), purpose: $("st-purpose").value.trim() } });
    await attach(stream);
    await listStreams();
  } catch (err) {
    fail(err);
  }
}

async function stopStream() {
  if (!view.id) return;
  try {
    const stopped = await api(`/v1/streams/${view.id}`, { method: "DELETE" });
    $("st-state").textContent = stopped.state;
    say(`Stopped ${stopped.id}.`);
    await listStreams();
  } catch (err) {
    fail(err);
  }
}

$("st-form").addEventListener("submit", start);
$("st-refresh").addEventListener("click", () => listStreams().catch(fail));
$("st-stop").addEventListener("click", stopStream);
signInFlow(() => listStreams());
