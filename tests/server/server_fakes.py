"""A fake face engine for server tests: PNG images whose first pixels say what it "sees".

Pixel (0, 0) holds (faces, person, variant); pixel (0, 1) the face size. Each person has a
fixed random 128-d direction and each variant adds a little noise, so photos of one person
score about 0.95 with each other and about 0 with anyone else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from facegate.config import ImageLimits
from facegate.imageio import ImageSource, decode
from facegate.pipeline.calibration import Calibration
from facegate.types import (
    BBox,
    DetectResult,
    Embedding,
    Face,
    FloatArray,
    OperatingPoint,
    VerifyResult,
)

PACK = "fake-v1"
CALIBRATION = Calibration(
    pack="fake",
    fmr_table=((1e-1, 0.30), (1e-2, 0.40), (1e-3, 0.50), (1e-4, 0.60), (1e-5, 0.70), (1e-6, 0.75)),
    impostor_scores=1_000_000,
    source="synthetic, for tests",
)


def person_vector(person: int, variant: int = 0) -> FloatArray:
    base = np.random.default_rng(person).standard_normal(128)
    base /= np.linalg.norm(base)
    noise = np.random.default_rng(10_000 + 7919 * person + variant).standard_normal(128)
    vec = base + 0.3 * noise / np.linalg.norm(noise)
    return (vec / np.linalg.norm(vec)).astype(np.float32)


def face_png(person: int, variant: int = 0, faces: int = 1, size: int = 120) -> bytes:
    """PNG bytes the fake engine reads as ``faces`` faces of ``person`` (then person+1...)."""
    rng = np.random.default_rng(person * 1000 + variant)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    img[0, 0] = (faces, person, variant)
    img[0, 1] = (size, 0, 0)
    ok, buf = cv2.imencode(".png", img[:, :, ::-1])
    if not ok:
        raise RuntimeError("could not encode a PNG")
    return bytes(buf)


class FakeEngine:
    """The server's engine protocol without any model; counts loads and calls per instance."""

    instances: list[FakeEngine] = []
    lock = threading.Lock()

    def __init__(self, limits: ImageLimits | None = None) -> None:
        self.limits = limits
        self.loads = 0
        self.calls = 0
        with FakeEngine.lock:
            FakeEngine.instances.append(self)

    @property
    def pack_id(self) -> str:
        return PACK

    @property
    def calibration(self) -> Calibration:
        return CALIBRATION

    def load(self) -> FakeEngine:
        self.loads += 1
        return self

    def analyze(self, image: ImageSource) -> DetectResult:
        self.calls += 1
        px = decode(image, self.limits)
        faces, person, variant = (int(x) for x in px[0, 0])
        size = int(px[0, 1, 0])
        out = []
        for i in range(faces):
            emb = Embedding(person_vector(person + i, variant), PACK)
            box = BBox(10.0 + 200 * i, 10.0, 10.0 + 200 * i + size, 10.0 + size)
            out.append(Face(box=box, score=1.0, embedding=emb))
        return DetectResult(px.shape[1], px.shape[0], out)

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
