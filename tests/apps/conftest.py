"""Application tests: the store tests' fake engine (gallery_fakes) and the server tests'
photographed ID card (id_card) are importable."""

from __future__ import annotations

import sys
from pathlib import Path

for _dir in (
    Path(__file__).resolve().parents[1] / "store",
    Path(__file__).resolve().parents[1] / "server",
):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))
