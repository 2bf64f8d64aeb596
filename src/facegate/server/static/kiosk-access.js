// The door kiosk: the notice first, the face and the card/PIN side by side from the first
// screen; once the card is chosen the face path is not offered again for that person.
import { $, api, cameraOn, fail, frame, keyGate, say, showNotice, stopCamera } from "./kiosk-gate.js";

const page = { site: null };
const REASONS = {
  allowed: "Welcome.",
  "no-face": "No face seen: step closer, or use your card or PIN.",
  tailgating: "One person at a time, please.",
  stranger: "Not recognised: use your card or PIN, or call the concierge.",
  "outside-schedule": "Not at this hour.",
  "unknown-credential": "Card or PIN not known here.",
};

function reset() {
  stopCamera($("video"));
  $("choices").hidden = false;
  $("face-panel").hidden = true;
  $("card-panel").hidden = true;
  $("verdict").hidden = true;
  $("cred-value").value = "";
  say("");
}

function show(decision) {
  stopCamera($("video"));
  $("face-panel").hidden = true;
  $("card-panel").hidden = true;
  const open = decision.decision === "open";
  $("door-state").textContent = open ? "OPEN" : "CLOSED";
  $("door-state").className = `door ${open ? "open" : "closed"}`;
  $("door-reason").textContent = REASONS[decision.reason] || decision.reason;
  $("door-alerts").textContent = decision.alerts.length ? `Alert: ${decision.alerts.join(", ")}` : "";
  $("verdict").hidden = false;
}

async function openSite(name) {
  try {
    page.site = await api(`/v1/apps/access/sites/${encodeURIComponent(name)}`);
  } catch (err) {
    return fail(err);
  }
  $("setup").hidden = true;
  $("kiosk").hidden = false;
  $("site-title").textContent = page.site.description || page.site.name;
  const noticed = await showNotice(page.site.purpose);
  $("use-face").hidden = !noticed; // no notice, no face: the card still works
  history.replaceState(null, "", `?site=${encodeURIComponent(name)}`);
}

function useFace() {
  $("choices").hidden = true;
  $("face-panel").hidden = false;
  return cameraOn();
}

function useCard() {
  stopCamera($("video"));
  $("choices").hidden = true;
  $("face-panel").hidden = true;
  $("card-panel").hidden = false;
  $("cred-value").focus();
}

async function capture() {
  const form = new FormData();
  form.append("image", await frame($("video")), "door.jpg");
  say("Checking…");
  try {
    show(await api(`/v1/apps/access/sites/${encodeURIComponent(page.site.name)}/passages`, { method: "POST", form }));
    say("");
  } catch (err) {
    fail(err);
  }
}

async function credential(ev) {
  ev.preventDefault();
  const json = { kind: $("cred-kind").value, value: $("cred-value").value };
  try {
    show(await api(`/v1/apps/access/sites/${encodeURIComponent(page.site.name)}/passages/credential`, { method: "POST", json }));
    say("");
  } catch (err) {
    fail(err);
  }
}

keyGate(() => {
  $("use-face").addEventListener("click", useFace);
  $("use-card").addEventListener("click", useCard);
  $("face-to-card").addEventListener("click", useCard);
  $("capture").addEventListener("click", capture);
  $("card-panel").addEventListener("submit", credential);
  $("next-person").addEventListener("click", reset);
  $("site-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    openSite($("site-input").value.trim());
  });
  const site = new URLSearchParams(location.search).get("site");
  if (site) openSite(site);
  else $("setup").hidden = false;
});
