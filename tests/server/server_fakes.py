"""A fake face engine for server tests: PNG images whose first pixels say what it "sees".

Pixel (0, 0) holds (faces, person, variant); pixel (0, 1) the face size. Each person has a
fixed random 128-d direction and each variant adds a little noise, so photos of one person
score about 0.95 with each other and about 0 with anyone else.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2

_STORE_TESTS = str(Path(__file__).resolve().parents[1] / "store")
if _STORE_TESTS not in sys.path:
    sys.path.insert(0, _STORE_TESTS)

import gallery_fakes  # noqa: E402
from gallery_fakes import CALIBRATION, PACK, face_image, person_vector  # noqa: E402

from facegate.config import ImageLimits  # noqa: E402
from facegate.imageio import ImageSource  # noqa: E402
from facegate.types import DetectResult, Face, OperatingPoint, VerifyResult  # noqa: E402

__all__ = ["CALIBRATION", "PACK", "FakeEngine", "Keys", "bearer", "face_png", "person_vector"]


def face_png(person: int, variant: int = 0, faces: int = 1, size: int = 120) -> bytes:
    """PNG bytes the fake engine reads as ``faces`` faces of ``person`` (then person+1...)."""
    ok, buf = cv2.imencode(".png", face_image(person, variant, faces, size)[:, :, ::-1])
    if not ok:
        raise RuntimeError("could not encode a PNG")
    return bytes(buf)


class FakeEngine(gallery_fakes.FakeEngine):
    """The server's engine protocol without any model; counts loads and calls per instance."""

    instances: list[FakeEngine] = []
    lock = threading.Lock()

    def __init__(self, limits: ImageLimits | None = None) -> None:
        super().__init__(limits)
        self.loads = 0
        with FakeEngine.lock:
            FakeEngine.instances.append(self)

    def load(self) -> FakeEngine:
        self.loads += 1
        return self

    def detect(self, image: ImageSource) -> DetectResult:
        found = self.analyze(image)
        faces = [Face(box=f.box, score=f.score) for f in found.faces]
        return DetectResult(found.width, found.height, faces)

    def verify(
        self, a: ImageSource, b: ImageSource, *, operating_point: str | None = None
    ) -> VerifyResult:
        point: OperatingPoint = self.calibration.operating_point(operating_point or "fmr=1e-4")
        fa, fb = self.analyze(a).faces[0], self.analyze(b).faces[0]
        assert fa.embedding is not None and fb.embedding is not None
        sim = fa.embedding.similarity(fb.embedding)
        return VerifyResult(sim >= point.threshold, sim, point, fa, fb)


@dataclass
class Keys:
    """API key tokens made for a test's data dir."""

    admin: str
    door: str  # identify + enroll + verify, purpose "door" only
    detect: str  # detect only
    revoked: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
