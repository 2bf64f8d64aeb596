from __future__ import annotations

import numpy as np
import pytest

import facegate
from facegate.types import BBox, Embedding


def test_all_names_exist() -> None:
    for name in facegate.__all__:
        assert hasattr(facegate, name), name


def test_importing_facegate_loads_no_models() -> None:
    import subprocess
    import sys

    code = "import sys, facegate, facegate.pipeline.engine; print('dlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bbox_geometry() -> None:
    a, b = BBox(0, 0, 10, 10), BBox(5, 0, 15, 10)
    assert a.area == 100 and a.center == (5.0, 5.0)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(BBox(20, 20, 30, 30)) == 0.0
    assert BBox(-5, -5, 500, 50).clip(100, 100) == BBox(0, 0, 100, 50)


def test_embedding_is_normalised_float32() -> None:
    e = Embedding.from_raw([3.0, 4.0], "p")
    assert e.vector.dtype == np.float32
    assert np.allclose(e.vector, [0.6, 0.8])
    assert e.similarity(Embedding.from_raw([3.0, 4.0], "p")) == pytest.approx(1.0)
