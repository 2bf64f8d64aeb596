"""A data-protection impact summary of one deployment, as JSON and Markdown.

Input to a DPIA (GDPR art. 35), a record of processing (art. 30) or a PIPL art. 55-56 impact
assessment; not a substitute for one: it lists what facegate can see (purposes, legal bases,
subjects and templates per purpose, retention, API keys and scopes, the audit chain's state,
the last measured accuracy) and the open risks it can detect. The organisation's own answers
(necessity, proportionality, who the controller is, recipients, transfers) are not in it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate.privacy.purposes import purpose_dict
from facegate.store.schema import ApiKeyRow

if TYPE_CHECKING:
    from facegate.gallery.service import Gallery

FILING_THRESHOLD = 100_000
"""People whose face information a processor holds, from which China's 2025 face recognition
measures ask for a filing with the provincial cyberspace authority (within 30 working days)."""


def _keys(gallery: Gallery) -> list[dict[str, Any]]:
    engine = getattr(gallery.store, "engine", None)
    if engine is None:
        return []
    with Session(engine) as s:
        rows = s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
        return [
            {
                "id": r.id,
                "name": r.name,
                "scopes": [v for v in r.scopes.split(",") if v],
                "purposes": [v for v in r.purposes.split(",") if v],
                "active": r.revoked_at is None,
            }
            for r in rows
        ]


def _flat_figures(value: Any, prefix: str = "") -> dict[str, int | float | str]:
    """Scalar figures of a (nested) summary, keyed by their dotted path."""
    if isinstance(value, dict):
        out: dict[str, int | float | str] = {}
        for k, v in value.items():
            out.update(_flat_figures(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return {prefix: value}
    return {}


def _evaluation(path: Path) -> dict[str, Any] | None:
    """One evaluation report (``facegate eval`` writes ``summary`` and ``generated_at``; other
    result files give their top-level figures). The time is the one the file records, never
    the file's modification time (a copy or a clone changes that)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    summary = data.get("summary")
    source = summary if isinstance(summary, dict) else data
    figures = {k: v for k, v in _flat_figures(source).items() if k not in {"generated_at", "title"}}
    run = data.get("details", {}).get("run", {}) if isinstance(data.get("details"), dict) else {}
    when = data.get("generated_at")
    return {
        "file": path.name,
        "title": str(data.get("title") or path.stem),
        "evaluated_at": when if isinstance(when, str) else None,
        "pack": run.get("pack") if isinstance(run, dict) else None,
        "figures": dict(list(figures.items())[:16]),
    }


def _evaluations(reports_dir: Path | None) -> list[dict[str, Any]]:
    """The evaluation reports in ``reports_dir`` (the data dir's ``reports/``), newest first."""
    if reports_dir is None or not reports_dir.is_dir():
        return []
    found = [e for p in sorted(reports_dir.glob("*.json")) if (e := _evaluation(p)) is not None]
    found.sort(key=lambda e: e["evaluated_at"] or "", reverse=True)
    return found[:10]


def _risks(
    purposes: list[dict[str, Any]],
    keys: list[dict[str, Any]],
    chain: dict[str, Any],
    evals: list[Any],
) -> list[str]:
    risks = []
    for p in purposes:
        name = p["name"]
        if p["retention_days"] is None:
            risks.append(
                f"purpose {name}: no retention period; templates are kept until "
                "consent ends or erasure (BIPA 15(a) needs a schedule, at most 3 years)"
            )
        elif p["retention_days"] > 3 * 365:
            risks.append(
                f"purpose {name}: retention {p['retention_days']} days exceeds BIPA's "
                "3-year outer limit"
            )
        if not p["consent_required"]:
            risks.append(
                f"purpose {name}: processed without consent on the basis "
                f"'{p['legal_basis']}' ({p['legal_basis_reference']}); check that the "
                "law relied on really covers biometric identification"
            )
        if p["keep_images"]:
            risks.append(
                f"purpose {name}: images may be kept; facegate stores none, so wherever "
                "they are kept is outside its erasure and audit"
            )
        if not p["non_face_alternative"]:
            risks.append(
                f"purpose {name}: no non-face alternative declared (the 2025 Chinese "
                "face recognition measures forbid face recognition as the only option "
                "where another way exists)"
            )
        if not p["scopes"]:
            risks.append(f"purpose {name}: any API-key scope may use it; restrict scopes")
        if p["subjects_active"] >= FILING_THRESHOLD:
            risks.append(
                f"purpose {name}: holds {p['subjects_active']:,} people (>= {FILING_THRESHOLD:,}): "
                "China's 2025 face recognition measures ask for a filing with the provincial "
                "cyberspace authority within 30 working days of reaching that number"
            )
    for k in keys:
        if k["active"] and "admin" in k["scopes"] and "*" in k["purposes"]:
            risks.append(
                f"API key {k['id']} ({k['name'] or 'unnamed'}) is an admin key for "
                "every purpose; keep such keys few and offline"
            )
    if not chain["ok"]:
        risks.append(f"audit chain does not verify: {chain['problem']}")
    risks.append(
        "audit chain truncation at the end is detected only against a head kept "
        "outside the database (facegate audit head); keep one"
    )
    risks.append(
        "a backup of gallery.db made before an erasure still holds the erased subject's wrapped "
        "data key: with the master key it can be decrypted; expire backups within the retention "
        "period or keep data keys out of long-lived backups"
    )
    if not evals:
        risks.append(
            "no evaluation reports found (facegate eval writes them to the data dir's "
            "reports/): accuracy and demographic differentials are unmeasured for this "
            "deployment"
        )
    return risks


def build_report(gallery: Gallery, results_dir: Path | None = None) -> dict[str, Any]:
    """The summary as one JSON-ready dict; ``results_dir`` holds the evaluation reports
    (``facegate eval`` writes them to ``<data dir>/reports``)."""
    counts = gallery.store.purpose_counts()
    purposes = []
    for p in gallery.purposes():
        entry = purpose_dict(p)
        subjects, templates = counts.get(p.name, (0, 0))
        entry.update({"subjects_active": subjects, "templates": templates})
        entry["filing_threshold_reached"] = subjects >= FILING_THRESHOLD
        purposes.append(entry)
    keys = _keys(gallery)
    chain = gallery.audit.verify().to_dict()
    evals = _evaluations(results_dir)
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "subjects_total": len(gallery.subjects()),
        "purposes": purposes,
        "api_keys": keys,
        "audit_chain": chain,
        "protection": {
            "templates": "AES-256-GCM per subject, data keys wrapped by the master key",
            "images": "never stored (only their SHA-256)",
            "erasure": "row deletion with SQLite secure_delete, WAL truncated, key destroyed",
            "audit": "HMAC-SHA256 chain; subject ids pseudonymised with a keyed hash",
        },
        "evaluations": evals,
        "open_risks": _risks(purposes, keys, chain, evals),
    }


def _figure(value: int | float | str) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """The summary as Markdown, for people."""
    lines = [
        "# Data-protection impact summary",
        "",
        f"Generated {report['generated_at']} by facegate. Input to a DPIA; the controller's own "
        "assessment of necessity, proportionality and risks to people is not in it.",
        "",
        "## Purposes",
        "",
        "| purpose | legal basis | consent | retention (days) | images kept | non-face "
        "alternative | scopes | subjects (active) | templates |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report["purposes"]:
        basis = p["legal_basis"] + (
            f" ({p['legal_basis_reference']})" if p["legal_basis_reference"] else ""
        )
        lines.append(
            f"| {p['name']} | {basis} | {'required' if p['consent_required'] else 'NOT required'}"
            f" | {p['retention_days'] or 'none set'} | {'yes' if p['keep_images'] else 'no'} | "
            f"{'yes' if p['non_face_alternative'] else 'no'} | {', '.join(p['scopes']) or 'any'}"
            f" | {p['subjects_active']} | {p['templates']} |"
        )
    lines += ["", f"Subjects held in total: {report['subjects_total']}.", "", "## API keys", ""]
    lines += ["| key | name | scopes | purposes | active |", "|---|---|---|---|---|"]
    for k in report["api_keys"]:
        lines.append(
            f"| {k['id']} | {k['name']} | {', '.join(k['scopes'])} | {', '.join(k['purposes'])}"
            f" | {'yes' if k['active'] else 'revoked'} |"
        )
    chain = report["audit_chain"]
    state = "verifies" if chain["ok"] else f"DOES NOT VERIFY: {chain['problem']}"
    lines += [
        "",
        "## Audit chain",
        "",
        f"{chain['records']} records, head {chain['head']}: {state}.",
    ]
    lines += ["", "## Protection", ""]
    lines += [f"- {k}: {v}" for k, v in report["protection"].items()]
    lines += ["", "## Last evaluation figures", ""]
    if not report["evaluations"]:
        lines.append("- none found (run facegate eval; its reports go to the data dir)")
    for e in report["evaluations"]:
        figures = ", ".join(f"{k}={_figure(v)}" for k, v in e["figures"].items())
        when = f"evaluated {e['evaluated_at']}" if e["evaluated_at"] else "time not recorded"
        pack = f", pack {e['pack']}" if e.get("pack") else ""
        lines.append(f"- {e['title']} ({e['file']}; {when}{pack}): {figures or 'no figures'}")
    lines += ["", "## Open risks", ""]
    lines += [f"- {r}" for r in report["open_risks"]]
    return "\n".join(lines) + "\n"
