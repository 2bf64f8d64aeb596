"""Evaluation reports: a JSON file and a self-contained HTML page with embedded PNG plots.

Plots use matplotlib's non-interactive Agg backend; each figure is rendered to PNG and embedded
as base64, so the HTML page is one file that can be mailed to an auditor.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


def jsonable(value: Any) -> Any:
    """``value`` with numpy types turned into Python ones and non-finite floats into None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(slots=True)
class Report:
    """A titled summary, a few tables and notes, and named figures (PNG bytes)."""

    name: str
    title: str
    summary: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``<name>.json`` and ``<name>.html`` under ``out_dir``; returns both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path, html_path = out_dir / f"{self.name}.json", out_dir / f"{self.name}.html"
        payload = {
            "title": self.title,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "summary": self.summary,
            "details": self.details,
            "notes": self.notes,
        }
        json_path.write_text(json.dumps(jsonable(payload), indent=2) + "\n", encoding="utf-8")
        html_path.write_text(self.to_html(), encoding="utf-8")
        return json_path, html_path

    def to_html(self) -> str:
        esc = html.escape
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{esc(self.title)}</title><style>{_CSS}</style></head><body>",
            f"<h1>{esc(self.title)}</h1><p class='when'>generated {when}</p>",
            _table("Summary", ["metric", "value"], _flatten(jsonable(self.summary))),
        ]
        parts += [f"<p class='note'>{esc(note)}</p>" for note in self.notes]
        parts += [_table(title, head, rows) for title, head, rows in self.tables]
        for caption, png in self.figures.items():
            data = base64.b64encode(png).decode("ascii")
            parts.append(
                f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{esc(caption)}</figcaption></figure>"
            )
        parts.append("</body></html>\n")
        return "\n".join(parts)


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}"
    "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;"
    "text-align:left}th{background:#f3f3f3}.note{color:#555}.when{color:#888}"
    "figure{display:inline-block;margin:1rem}img{max-width:28rem}"
)


def _flatten(value: Any, prefix: str = "") -> list[list[Any]]:
    if isinstance(value, dict):
        rows: list[list[Any]] = []
        for k, v in value.items():
            rows += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    return [[prefix, value]]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape("" if value is None else str(value))


def _table(title: str, head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<h2>{html.escape(title)}</h2><table><tr>{th}</tr>{body}</table>"


# ---------------------------------------------------------------- plots

Curve = tuple[str, npt.ArrayLike, npt.ArrayLike]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def line_plot(
    curves: Sequence[Curve],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    step: bool = False,
) -> bytes:
    """One PNG with a line per ``(label, x, y)``; zeros are dropped from log axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    plotted = 0
    for label, xs, ys in curves:
        x, y = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
        keep = np.isfinite(x) & np.isfinite(y)
        if logx:
            keep &= x > 0
        if logy:
            keep &= y > 0
        plotted += int(keep.sum())
        (ax.step if step else ax.plot)(x[keep], y[keep], label=label)
    if plotted == 0:
        ax.text(0.5, 0.5, "no points to plot", ha="center", va="center", transform=ax.transAxes)
    else:
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    return _png(fig)


def bar_plot(groups: Mapping[str, float], *, title: str, ylabel: str) -> bytes:
    """One PNG with a bar per group (NaN bars are left empty)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    names = list(groups)
    values = [0.0 if not math.isfinite(v) else v for v in groups.values()]
    ax.bar(names, values, color="#4477aa")
    ax.set(title=title, ylabel=ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    return _png(fig)


def histogram_plot(
    samples: Mapping[str, npt.ArrayLike], *, title: str, xlabel: str, marker: float | None = None
) -> bytes:
    """Overlaid density histograms, one per label, with an optional vertical threshold line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    arrays = {k: np.asarray(v, np.float64).reshape(-1) for k, v in samples.items()}
    pooled = np.concatenate([np.zeros(0), *[a[np.isfinite(a)] for a in arrays.values()]])
    edges: list[float] | int = (
        np.histogram_bin_edges(pooled, bins=60).tolist() if pooled.size else 60
    )
    for label, arr in arrays.items():
        if arr.size:
            ax.hist(arr[np.isfinite(arr)], bins=edges, density=True, histtype="step", label=label)
    if marker is not None:
        ax.axvline(marker, color="k", linestyle="--", linewidth=1, label="threshold")
    ax.set(title=title, xlabel=xlabel, ylabel="density")
    ax.legend(fontsize="small")
    return _png(fig)
