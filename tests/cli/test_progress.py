"""Long commands show a progress bar on a terminal's stderr, ``--json`` included, while stdout
carries only the result."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from facegate.privacy.redact import redact_video

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(*args: str, timeout: float = 300) -> tuple[int, str, str]:
    """Run ``facegate ARGS`` with stderr on a pseudo-terminal: (status, stdout, terminal)."""
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "facegate", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=child_fd,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(child_fd)
    seen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        reader.join(timeout=10)
        os.close(main_fd)
    terminal = ANSI.sub("", b"".join(seen).decode(errors="replace"))
    return proc.returncode, out.decode(), terminal


@pytest.mark.slow
def test_eval_json_shows_progress_on_stderr(examples: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.txt"
    lines = ["obama.jpg obama2.jpg 1", "obama.jpg biden.jpg 0", "obama2.jpg biden.jpg 0"] * 4
    pairs.write_text("\n".join(lines[:10]) + "\n")  # ten folds need ten pairs
    code, out, terminal = on_terminal(
        "eval", "verify", "--pairs", str(pairs), "--root", str(examples), "--json",
        "--workers", "1", "--no-cache", "--data", str(tmp_path / "data"),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, terminal
    assert json.loads(out)["pairs"] == 10  # stdout is the JSON and nothing else
    assert "detect + embed" in terminal and "3/3" in terminal


@pytest.mark.slow
def test_models_verify_shows_progress(examples: Path, tmp_path: Path) -> None:
    photo = str(examples / "obama-240p.jpg")
    code, out, terminal = on_terminal(
        "models", "verify", photo, "--upsample", "0", "--json", "--data", str(tmp_path)
    )
    assert code == 0, terminal
    assert json.loads(out)["images"] == 1
    for label in ("finding faces (HOG)", "embedder: dlib vs ONNX", "CNN detector: dlib vs ONNX"):
        assert label in terminal


def test_redact_video_reports_each_frame(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    heard: list[tuple[str, int, int]] = []
    stats = redact_video(
        clip, tmp_path / "out.mp4", lambda px: [], max_frames=6,
        progress=lambda label, done, total: heard.append((label, done, total)),
    )  # fmt: skip
    assert stats.frames == 6
    assert heard == [("redacting", n, 6) for n in range(1, 7)]


@pytest.mark.slow
def test_redact_command_shows_progress(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "short_hamilton_clip.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    target = tmp_path / "out.mp4"
    code, out, terminal = on_terminal(
        "redact", str(clip), str(target), "--max-frames", "4", "--json", "--data", str(tmp_path)
    )
    assert code == 0, terminal
    assert json.loads(out)["frames"] == 4 and target.is_file()
    assert "find" in terminal and "write" in terminal and "4/4" in terminal
