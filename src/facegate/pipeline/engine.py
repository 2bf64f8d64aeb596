"""The face engine: detect -> landmarks -> align -> embed, and 1:1 verification.

>>> engine = FaceEngine()                      # dlib pack, HOG detector, nothing loaded yet
>>> result = engine.analyze("obama.jpg")       # faces with boxes, landmarks and embeddings
>>> engine.verify("obama.jpg", "obama2.jpg").match
True

Boxes are pixels ``(x1, y1, x2, y2)`` of the decoded, EXIF-rotated image. Models load on first
use (or :meth:`FaceEngine.load`), never at import time.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from facegate.config import DEFAULT_HOME, EngineConfig, ImageLimits
from facegate.errors import FaceIndexError, NoFaceError
from facegate.imageio import ImageSource, decode
from facegate.models import factory
from facegate.models.base import Detection, Detector, Embedder, KeypointDetector, Landmarker
from facegate.models.factory import BackendOptions
from facegate.models.registry import PackRegistry
from facegate.models.specs import Pack
from facegate.pipeline import detect_scale
from facegate.pipeline.align import ChipMethod, arcface_chip, arcface_points_from_68, face_chip
from facegate.pipeline.box_adapt import LANDMARK_BOX_ADAPTERS, BoxAffine
from facegate.pipeline.calibration import Calibration, load_pack_calibration
from facegate.pipeline.quality import face_quality
from facegate.types import (
    BBox,
    DetectResult,
    Embedding,
    Face,
    FloatArray,
    ImageArray,
    VerifyResult,
)


def _build_backends(
    config: EngineConfig, pack: Pack, registry: PackRegistry
) -> tuple[Detector, Landmarker, Embedder]:
    options = BackendOptions(
        config.detector, config.upsample, config.runtime, config.detector_threshold
    )
    return (
        factory.build_detector(pack, registry, options),
        factory.build_landmarker(pack, registry, 5),
        factory.build_embedder(pack, registry, options),
    )


def _detections(detector: Detector, pixels: ImageArray) -> list[Detection]:
    if isinstance(detector, KeypointDetector):
        return detector.detect_keypoints(pixels)
    return [Detection(box, score) for box, score in detector.detect(pixels)]


def largest_face_index(faces: Sequence[Face]) -> int:
    """Index of the face with the largest box (ties: the first)."""
    return max(range(len(faces)), key=lambda i: faces[i].box.area)


class FaceEngine:
    """Detection, alignment, embedding and 1:1 verification for one model pack."""

    def __init__(
        self,
        config: EngineConfig | None = None,
        limits: ImageLimits | None = None,
        *,
        home: Path | None = None,
        detector: Detector | None = None,
        landmarker: Landmarker | None = None,
        embedder: Embedder | None = None,
        calibration: Calibration | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.limits = limits or ImageLimits()
        self.home = home or DEFAULT_HOME
        self._detector = detector
        self._landmarker = landmarker
        self._embedder = embedder
        self._landmarker68: Landmarker | None = None
        self._calibration = calibration
        self._lock = threading.Lock()
        self._upsampled = detect_scale.UpsampleVariants()
        self.registry = PackRegistry(self.home)
        self.pack = self.registry.get(self.config.pack)  # unknown pack: ConfigError
        self.alignment = factory.embedder_spec(self.pack).alignment

    @property
    def pack_id(self) -> str:
        """Identifies the embedding space: templates from different packs never mix."""
        return self.pack.pack_id

    @property
    def calibration(self) -> Calibration:
        if self._calibration is None:
            self._calibration = load_pack_calibration(self.pack, self.home)
        return self._calibration

    def _backends(self) -> tuple[Detector, Landmarker, Embedder]:
        with self._lock:
            if self._detector is None or self._landmarker is None or self._embedder is None:
                det, lm, emb = _build_backends(self.config, self.pack, self.registry)
                self._detector = self._detector or det
                self._landmarker = self._landmarker or lm
                self._embedder = self._embedder or emb
            return self._detector, self._landmarker, self._embedder

    def load(self) -> FaceEngine:
        """Load every model now (otherwise each loads on first use)."""
        for model in self._backends():
            model.load()
        return self

    def decode(self, image: ImageSource) -> ImageArray:
        """Decode a path, bytes or array under this engine's image limits."""
        return decode(image, self.limits)

    def _landmarks68(self) -> Landmarker:
        if self._landmarker68 is None:
            self._landmarker68 = factory.build_landmarker(self.pack, self.registry, 68)
        return self._landmarker68

    def _arcface_points(self, face: Face) -> FloatArray | None:
        """The five ArcFace points of a face: the detector's own (``arcface5`` keypoints), or
        five derived from the 68 landmarks; None when neither is there."""
        detector, _, _ = self._backends()
        if face.keypoints is not None and getattr(detector, "keypoint_layout", "") == "arcface5":
            return face.keypoints.points
        return arcface_points_from_68(face.landmarks68) if face.landmarks68 is not None else None

    def _alignable(self, face: Face) -> bool:
        if face.landmarks is None:
            return False
        return self.alignment != "arcface-112" or self._arcface_points(face) is not None

    def _chip(self, pixels: ImageArray, face: Face, size: int) -> ImageArray:
        """The chip the pack's embedder was trained on (its manifest's alignment template)."""
        if self.alignment == "arcface-112":
            points = self._arcface_points(face)
            if points is None:  # pragma: no cover - callers filter with _alignable
                raise ValueError("no ArcFace points for this face")
            return arcface_chip(pixels, points, size)
        return face_chip(pixels, face.landmarks, size, method=self.config.chip)  # type: ignore[arg-type]

    def _face_at(
        self,
        pixels: ImageArray,
        found: Detection,
        arcface5: bool = False,
        adapter: BoxAffine | None = None,
    ) -> Face:
        """Landmarks for a detection; 68 of them where asked for or where alignment needs them
        (an ArcFace pack, unless the detector gave the five ArcFace points itself). dlib's
        predictors see the box in dlib's framing (``adapter``, fitted per detector)."""
        _, landmarker, _ = self._backends()
        box = found.box
        if adapter is not None:
            box = adapter.apply(box, pixels.shape[1], pixels.shape[0])
        lm = landmarker.landmarks(pixels, box)
        points5 = found.keypoints if arcface5 and found.keypoints is not None else None
        need68 = self.config.landmarks68 or (self.alignment == "arcface-112" and points5 is None)
        lm68 = self._landmarks68().landmarks(pixels, box) if need68 else None
        return Face(
            found.box, found.score, landmarks=lm, landmarks68=lm68, keypoints=found.keypoints
        )

    def _faces(self, pixels: ImageArray) -> list[Face]:
        detector, _, _ = self._backends()
        arcface5 = getattr(detector, "keypoint_layout", None) == "arcface5"
        adapter = LANDMARK_BOX_ADAPTERS.get(getattr(detector, "name", ""))
        return [
            self._face_at(pixels, found, arcface5, adapter)
            for found in self._detect(detector, pixels)
        ]

    def _detect(
        self, detector: Detector, pixels: ImageArray, max_side: int | None = None
    ) -> list[Detection]:
        """Detections on a copy scaled to ``detect_max_side`` (or ``max_side``), in full-image
        pixels."""
        height, width = pixels.shape[:2]
        plan = detect_scale.plan_for(self.config, width, height, detector, max_side)
        small = detect_scale.scaled_copy(pixels, plan.scale)
        found = _detections(self._upsampled.get(detector, plan.upsample), small)
        return detect_scale.map_back(found, plan.scale, width, height)

    def detect(self, image: ImageSource, *, quality: bool = True) -> DetectResult:
        """Faces in the image with boxes, scores, 5-point landmarks and (unless ``quality`` is
        False) the quality score that :meth:`analyze` reports too; no embeddings."""
        pixels = self.decode(image)
        faces = self._faces(pixels)
        if quality:
            faces = [_with_quality(pixels, f, self.config.chip) for f in faces]
        return DetectResult(pixels.shape[1], pixels.shape[0], faces)

    def locate(self, pixels: ImageArray, *, max_side: int | None = None) -> list[Face]:
        """Boxes, scores and the detector's keypoints only: no landmarks, no quality (the cheap
        first step for video, where landmarks are needed only for some tracks). Detection runs
        on a copy whose longer side is at most ``max_side`` (default ``detect_max_side``)."""
        detector, _, _ = self._backends()
        return [Face(d.box, d.score, keypoints=d.keypoints) for d in
                self._detect(detector, pixels, max_side)]  # fmt: skip

    def add_landmarks(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]:
        """The faces with landmarks (as :meth:`detect` gives them), for faces from
        :meth:`locate`; faces that already have landmarks are returned unchanged."""
        detector, _, _ = self._backends()
        arcface5 = getattr(detector, "keypoint_layout", None) == "arcface5"
        adapter = LANDMARK_BOX_ADAPTERS.get(getattr(detector, "name", ""))
        return [
            f if f.landmarks is not None else
            self._face_at(pixels, Detection(f.box, f.score, f.keypoints), arcface5, adapter)
            for f in faces
        ]  # fmt: skip

    def embed_faces(self, pixels: ImageArray, faces: Sequence[Face]) -> list[Face]:
        """The same faces with embeddings, computed in one batch."""
        _, _, embedder = self._backends()
        with_lm = [f for f in faces if self._alignable(f)]
        if not with_lm:
            return list(faces)
        chips = np.stack([self._chip(pixels, f, embedder.chip_size) for f in with_lm])
        vectors = embedder.embed(chips)
        by_id = {
            id(f): _with_embedding(f, Embedding(v, self.pack_id), chip)
            for f, v, chip in zip(with_lm, vectors, chips, strict=True)
        }
        return [by_id.get(id(f), f) for f in faces]

    def analyze(self, image: ImageSource) -> DetectResult:
        """Detect, align and embed every face in the image."""
        pixels = self.decode(image)
        faces = self.embed_faces(pixels, self._faces(pixels))
        return DetectResult(pixels.shape[1], pixels.shape[0], faces)

    def analyze_many(
        self, images: Sequence[ImageSource], workers: int | None = None
    ) -> list[DetectResult]:
        """``analyze`` for many images: detection on a thread pool, one batched embedding run.

        Decoding, detection and landmarks release the GIL, so ``workers`` threads (default: one
        per CPU) keep every core busy; all faces are then embedded in batches, which is how the
        ONNX runtime is fastest. A bad image raises its error, as ``analyze`` would.
        """
        if not images:
            return []
        count = workers or os.cpu_count() or 1

        def detect_one(image: ImageSource) -> tuple[ImageArray, list[Face]]:
            pixels = self.decode(image)
            return pixels, self._faces(pixels)

        self._backends()
        with ThreadPoolExecutor(max_workers=count) as pool:
            found = list(pool.map(detect_one, images))
        _, _, embedder = self._backends()
        flat = [(i, f) for i, (_, faces) in enumerate(found) for f in faces if self._alignable(f)]
        if flat:
            size = embedder.chip_size
            chips = np.stack([self._chip(found[i][0], f, size) for i, f in flat])
            vectors = embedder.embed(chips)
            embedded = {
                id(f): _with_embedding(f, Embedding(v, self.pack_id), chip)
                for (_, f), v, chip in zip(flat, vectors, chips, strict=True)
            }
        else:
            embedded = {}
        return [
            DetectResult(px.shape[1], px.shape[0], [embedded.get(id(f), f) for f in faces])
            for px, faces in found
        ]

    def embed_at(self, image: ImageSource, box: BBox, score: float = 0.0) -> Face:
        """Landmarks and embedding for a face whose box is already known."""
        pixels = self.decode(image)
        return self.embed_faces(pixels, [self._face_at(pixels, Detection(box, score))])[0]

    def face_for(self, image: ImageSource, index: int | None = None, label: str = "image") -> Face:
        """One embedded face: the largest, or the one at ``index`` in detector order."""
        faces = self.analyze(image).faces
        if not faces:
            raise NoFaceError(f"no face found in {label}")
        if index is None:
            return faces[largest_face_index(faces)]
        if not 0 <= index < len(faces):
            raise FaceIndexError(
                f"{label} has {len(faces)} face(s); face index {index} is out of range"
            )
        return faces[index]

    def verify(
        self,
        a: ImageSource,
        b: ImageSource,
        *,
        operating_point: str | None = None,
        face_a: int | None = None,
        face_b: int | None = None,
    ) -> VerifyResult:
        """Are the faces in ``a`` and ``b`` the same person, at a named operating point?"""
        point = self.calibration.operating_point(operating_point or self.config.operating_point)
        fa = self.face_for(a, face_a, "image A")
        fb = self.face_for(b, face_b, "image B")
        if fa.embedding is None or fb.embedding is None:
            raise NoFaceError("a face was found but could not be aligned for embedding")
        similarity = fa.embedding.similarity(fb.embedding)
        return VerifyResult(similarity >= point.threshold, similarity, point, fa, fb)


def _with_quality(pixels: ImageArray, face: Face, method: ChipMethod = "exact") -> Face:
    """The face with the unified quality score of its aligned chip (as analyze computes it)."""
    if face.landmarks is None:
        return face
    chip = face_chip(pixels, face.landmarks, method=method)
    return dataclasses.replace(face, quality=face_quality(chip, face.landmarks).score)


def _with_embedding(face: Face, embedding: Embedding, chip: ImageArray) -> Face:
    """The face with its embedding and the unified quality score of its chip."""
    quality = face_quality(chip, face.landmarks).score if face.landmarks is not None else None
    return Face(
        box=face.box,
        score=face.score,
        landmarks=face.landmarks,
        landmarks68=face.landmarks68,
        embedding=embedding,
        quality=quality,
        keypoints=face.keypoints,
    )
