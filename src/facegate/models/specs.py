"""The values a pack manifest becomes: frozen dataclasses, no validation logic.

:mod:`facegate.models.manifest` parses and validates the JSON into these; the registry, the
backends and the engine read them. See that module for what each field means in the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Conversion = Literal["dlib", "tflite", "onnx", "none"]
ColourOrder = Literal["RGB", "BGR"]
Layout = Literal["NCHW", "NHWC"]
Alignment = Literal["dlib-150", "arcface-112"]
RoleName = Literal["detector", "landmarker", "embedder", "pad"]


@dataclass(frozen=True, slots=True)
class FileSource:
    """Where a file comes from: ``pypi`` or ``npm`` package@version and path, or ``user``."""

    kind: Literal["pypi", "npm", "user"]
    package: str | None
    version: str | None
    path: str
    tarball_sha256: str | None = None

    def describe(self) -> str:
        if self.kind == "user":
            return f"user file {self.path}"
        return f"{self.kind} {self.package}@{self.version}: {self.path}"


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One pinned file of a pack."""

    name: str
    sha256: str
    size: int
    role: str
    license: str
    source: FileSource

    @property
    def package(self) -> str | None:
        return self.source.package


@dataclass(frozen=True, slots=True)
class Normalisation:
    """Network input = ``(pixel - mean) / std`` per channel, in the network's colour order."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    kind: str
    name: str  # what EngineConfig.detector selects, e.g. "hog", "cnn"
    file: str | None
    conversion: Conversion


@dataclass(frozen=True, slots=True)
class LandmarkerSpec:
    kind: str
    file: str | None
    conversion: Conversion
    points: int


@dataclass(frozen=True, slots=True)
class EmbedderSpec:
    """An embedder: ``alignment`` names the chip template, ``batch`` a fixed batch (or None);
    ``flip``: each chip is embedded with its mirror image and the two averaged (test-time flip),
    which makes another embedding space (its own ``pack_id`` and calibration)."""

    kind: str
    file: str
    conversion: Conversion
    input_size: int
    layout: Layout
    colour_order: ColourOrder
    normalisation: Normalisation
    alignment: Alignment
    output_dim: int
    batch: int | None
    flip: bool = False
    members: tuple[FusionMember, ...] = ()

    @property
    def networks(self) -> tuple[EmbedderSpec, ...]:
        """The networks the embedder runs: itself, or each fused member."""
        return tuple(m.spec for m in self.members) or (self,)

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the embedder runs: its own, or each fused member's."""
        return tuple(n.file for n in self.networks)


@dataclass(frozen=True, slots=True)
class FusionMember:
    """One embedder of a fused embedding (``kind`` ``arcface-fusion``) and its weight: the
    fused template is the concatenation of ``sqrt(weight) * member`` over the members, so the
    cosine of two templates is the weighted sum of the members' cosines."""

    spec: EmbedderSpec
    weight: float


@dataclass(frozen=True, slots=True)
class PadSpec:
    kind: str
    file: str
    conversion: Conversion
    input_size: int
    layout: Layout
    colour_order: ColourOrder
    normalisation: Normalisation
    live_index: int


@dataclass(frozen=True, slots=True)
class Roles:
    detector: tuple[DetectorSpec, ...]
    landmarker: tuple[LandmarkerSpec, ...]
    embedder: EmbedderSpec | None
    pad: tuple[PadSpec, ...]


@dataclass(frozen=True, slots=True)
class Licence:
    code: str
    weights: str
    notice: str
    requires_acceptance: bool


@dataclass(frozen=True, slots=True)
class PublishedFigure:
    benchmark: str
    value: str
    source: str


@dataclass(frozen=True, slots=True, eq=False)
class Pack:
    """A model pack: its files, roles, licences, provenance and shipped calibration.

    ``pack_id`` names the embedding space: every template is tagged with it, and templates
    with different ids are never compared. ``uses`` names the pack whose detector and
    landmarkers fill roles this pack leaves empty. ``folder`` holds a user pack's files.
    """

    name: str
    pack_id: str
    title: str
    description: str
    licence: Licence
    provenance: str
    published: tuple[PublishedFigure, ...]
    files: tuple[ModelFile, ...]
    roles: Roles
    uses: str | None
    calibration: Mapping[str, Any] | None
    folder: Path | None
    origin: str

    def file(self, name: str) -> ModelFile:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(name)

    def role_of(self, name: str) -> RoleName | None:
        """Which role uses the file ``name`` (None when no role names it)."""
        r = self.roles
        if r.embedder is not None and name in r.embedder.files:
            return "embedder"
        if any(d.file == name for d in r.detector):
            return "detector"
        if any(lm.file == name for lm in r.landmarker):
            return "landmarker"
        if any(p.file == name for p in r.pad):
            return "pad"
        return None
