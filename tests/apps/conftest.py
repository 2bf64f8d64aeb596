"""Application tests: the store tests' fake engine is importable (gallery_fakes)."""

from __future__ import annotations

import sys
from pathlib import Path

_STORE = str(Path(__file__).resolve().parents[1] / "store")
if _STORE not in sys.path:
    sys.path.insert(0, _STORE)
