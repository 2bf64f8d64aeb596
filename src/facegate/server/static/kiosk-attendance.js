// The check-in kiosk: the notice first; the face and the teacher's check side by side from
// the first screen; once the teacher's check is chosen the face path is not offered again for
// that person. Exams: the candidate picks their name, a liveness check runs on the camera,
// then a 1:1 check against the registered photo (no match: an invigilator reviews it).
import { $, api, cameraOn, el, fail, frame, keyGate, runLiveness, say, showNotice, stopCamera } from "./kiosk-gate.js";

const page = { session: null, klass: null };
const base = () => `/v1/apps/attendance/sessions/${encodeURIComponent(page.session.id)}`;
const STATUS = {
  present: "checked in",
  late: "checked in (late)",
  already: "already checked in",
  review: "an invigilator will check your identity",
  unknown: "not recognised: check in with the teacher",
  "not-on-roster": "not on this class's roster",
};

function reset() {
  stopCamera($("video"));
  for (const id of ["face-panel", "staff-panel"]) $(id).hidden = true;
  $("choices").hidden = false;
  $("results").replaceChildren();
  $("prompt").textContent = "";
  say("");
}

function result(name, status) {
  const li = el("li");
  li.append(el("span", name, "name"), el("span", STATUS[status] || status, status));
  $("results").append(li);
}

const nameOf = (id) => page.klass.roster.find((r) => r.subject_id === id)?.display_name || "someone";

async function openSession(id) {
  try {
    page.session = await api(`/v1/apps/attendance/sessions/${encodeURIComponent(id)}`);
    page.klass = await api(`/v1/apps/attendance/classes/${encodeURIComponent(page.session.class)}`);
  } catch (err) {
    return fail(err);
  }
  $("setup").hidden = true;
  $("kiosk").hidden = false;
  $("session-title").textContent = `${page.session.title || page.session.class} (${page.session.kind})`;
  const select = $("candidate");
  select.replaceChildren(...page.klass.roster.map((r) => {
    const opt = el("option", r.display_name);
    opt.value = r.subject_id;
    return opt;
  }));
  $("candidate-box").hidden = page.session.kind !== "exam";
  $("use-face").hidden = !(await showNotice(page.klass.purpose));
  history.replaceState(null, "", `?session=${encodeURIComponent(id)}`);
  loadReport();
}

function useFace() {
  $("choices").hidden = true;
  $("face-panel").hidden = false;
  return cameraOn();
}

function useStaff() {
  stopCamera($("video"));
  $("choices").hidden = true;
  $("face-panel").hidden = true;
  $("staff-panel").hidden = false;
  const rows = page.klass.roster.map((r) => {
    const tr = el("tr");
    const tick = el("button", "Tick in");
    tick.type = "button";
    tick.addEventListener("click", async () => {
      try {
        const done = await api(`${base()}/staff-checkins`, { method: "POST", json: { subject_id: r.subject_id } });
        result(r.display_name, done.status);
        loadReport();
      } catch (err) {
        fail(err);
      }
    });
    const cell = el("td");
    cell.append(tick);
    tr.append(el("td", r.display_name), cell);
    return tr;
  });
  $("staff-rows").replaceChildren(...rows);
}

const liveness = () => runLiveness($("video"), "check in with the invigilator");

async function capture() {
  try {
    if (page.session.kind === "exam") {
      const subject = $("candidate").value;
      say("Liveness check: follow the prompts.");
      const lid = await liveness();
      const form = new FormData();
      form.append("image", await frame($("video")), "probe.jpg");
      form.append("subject_id", subject);
      form.append("liveness_session_id", lid);
      const done = await api(`${base()}/exam-checkins`, { method: "POST", form });
      result(nameOf(subject), done.status);
    } else {
      const form = new FormData();
      form.append("image", await frame($("video")), "checkin.jpg");
      const done = await api(`${base()}/checkins`, { method: "POST", form });
      if (!done.checkins.length) say("No face seen: step closer, or check in with the teacher.", "error");
      for (const c of done.checkins) result(c.subject_id ? nameOf(c.subject_id) : "Face", c.status);
    }
    stopCamera($("video"));
    $("face-panel").hidden = true;
    say("");
    loadReport();
  } catch (err) {
    fail(err);
  }
}

async function loadReport() {
  try {
    const report = await api(`${base()}/report`);
    const c = report.counts;
    $("report-counts").textContent = `${c.present} present, ${c.late} late, ${c.absent} absent, ${c.review} under review`;
    $("report-rows").replaceChildren(...report.rows.map((r) => {
      const tr = el("tr");
      tr.append(el("td", r.display_name), el("td", r.status, r.status), el("td", r.method || ""));
      return tr;
    }));
  } catch (err) {
    fail(err);
  }
}

async function downloadCsv() {
  try {
    const res = await api(`${base()}/report?format=csv`, { raw: true });
    const link = el("a");
    link.href = URL.createObjectURL(await res.blob());
    link.download = `attendance-${page.session.id}.csv`;
    link.click();
  } catch (err) {
    fail(err);
  }
}

keyGate(() => {
  $("use-face").addEventListener("click", useFace);
  $("use-staff").addEventListener("click", useStaff);
  $("face-to-staff").addEventListener("click", useStaff);
  $("capture").addEventListener("click", capture);
  $("next-person").addEventListener("click", reset);
  $("load-report").addEventListener("click", loadReport);
  $("csv-report").addEventListener("click", downloadCsv);
  $("session-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    openSession($("session-input").value.trim());
  });
  const id = new URLSearchParams(location.search).get("session");
  if (id) openSession(id);
  else $("setup").hidden = false;
});
