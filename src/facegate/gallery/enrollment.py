"""Enrolment input handling: reading sources, hashing them, choosing the one usable face, and
turning each image into a template (or a labelled failure)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facegate.config import GalleryConfig, ImageLimits
from facegate.errors import (
    EnrollmentError,
    FaceError,
    FacegateError,
    LowQualityFaceError,
    MultipleFacesError,
    NoFaceError,
)
from facegate.imageio import ImageSource, read_bytes
from facegate.store.protocol import NewTemplate
from facegate.types import DetectResult, Face, FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class SourceImage:
    """An image to analyse, a label for messages, and the SHA-256 of its bytes or pixels."""

    label: str
    data: ImageSource
    sha256: str


def read_source(source: ImageSource, position: int, limits: ImageLimits) -> SourceImage:
    """Read a path (within the byte limit) or take bytes or an array, and hash it."""
    if isinstance(source, str | os.PathLike):
        data = read_bytes(source, limits)
        return SourceImage(Path(os.fsdecode(source)).name, data, hashlib.sha256(data).hexdigest())
    label = f"image {position + 1}"
    if isinstance(source, np.ndarray):
        array = np.ascontiguousarray(source)
        digest = hashlib.sha256(repr((array.shape, array.dtype.str)).encode())
        digest.update(array.tobytes())
        return SourceImage(label, source, digest.hexdigest())
    return SourceImage(label, source, hashlib.sha256(bytes(source)).hexdigest())


def usable(face: Face, config: GalleryConfig) -> bool:
    """Does the face pass the enrolment quality gate (size, detector score, embedding)?"""
    return (
        face.embedding is not None
        and min(face.box.width, face.box.height) >= config.min_face_size
        and face.score >= config.min_detector_score
    )


def enrollment_face(faces: list[Face], label: str, config: GalleryConfig) -> Face:
    """The single usable face, or the specific error for none, several, or too poor."""
    if not faces:
        raise NoFaceError(f"{label}: no face found")
    good = [f for f in faces if usable(f, config)]
    if len(good) > 1:
        raise MultipleFacesError(
            f"{label}: {len(good)} faces found, enrolment needs exactly one per image"
        )
    if not good:
        best = max(faces, key=lambda f: f.box.area)
        size = min(best.box.width, best.box.height)
        raise LowQualityFaceError(
            f"{label}: face too small or unsure ({size:.0f} px, score {best.score:.2f}; "
            f"need >= {config.min_face_size} px and score >= {config.min_detector_score:g})"
        )
    return good[0]


def analyze_images(
    images: Sequence[ImageSource],
    analyze: Callable[[ImageSource], DetectResult],
    limits: ImageLimits,
    config: GalleryConfig,
    also: Callable[[SourceImage, Face], None] | None = None,
) -> tuple[list[tuple[SourceImage, NewTemplate]], list[tuple[str, FacegateError]]]:
    """A template for each image holding exactly one usable face; the others as failures
    ``(label, error)``. ``analyze`` is the engine's detect-and-embed call; ``also`` is called
    with each accepted face (to embed it with other packs) and may fail the image by raising."""
    if not images:
        raise EnrollmentError("enrolment needs at least one image", [])
    new: list[tuple[SourceImage, NewTemplate]] = []
    failures: list[tuple[str, FacegateError]] = []
    for position, image in enumerate(images):
        label = f"image {position + 1}"
        try:
            source = read_source(image, position, limits)
            label = source.label
            faces = analyze(source.data).faces
            face = enrollment_face(faces, source.label, config)
            if also is not None:
                also(source, face)
        except FacegateError as exc:
            failures.append((label, exc))
            continue
        vector, pack = embedding_of(face)
        new.append((source, NewTemplate(vector, pack, source.sha256, face.quality)))
    return new, failures


def embedding_of(face: Face) -> tuple[FloatArray, str]:
    """The face's embedding vector and model pack; raises if it is missing or not finite."""
    if face.embedding is None:
        raise NoFaceError("a face was found but could not be aligned for embedding")
    if not np.isfinite(face.embedding.vector).all():
        raise FaceError("the engine returned a non-finite embedding for a face")
    return face.embedding.vector, face.embedding.pack
