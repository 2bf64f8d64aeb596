"""Backends built from a pack's role specs: one place maps each ``kind`` to its class.

The engine asks for the detector, landmarkers and embedder of a pack; a pack that fills no
detector or landmarker role borrows them from the pack it ``uses`` (dlib by default). Every
backend keeps a cheap constructor: nothing is read or loaded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from facegate.errors import ConfigError
from facegate.models.base import Detector, Embedder, Landmarker
from facegate.models.detectors import STANDALONE_DETECTORS, build_standalone_detector
from facegate.models.registry import DEFAULT_PACK, PackRegistry
from facegate.models.specs import EmbedderSpec, Pack

Runtime = Literal["onnx", "dlib"]


@dataclass(frozen=True, slots=True)
class BackendOptions:
    """What the engine's settings say about how to run a pack."""

    detector: str = "hog"
    upsample: int = 1
    runtime: Runtime = "onnx"
    threshold: float | None = None  # detectors beside dlib's: None is the detector's default


def support_pack(pack: Pack, registry: PackRegistry) -> Pack:
    """The pack whose detector and landmarkers serve ``pack`` (itself when it has them)."""
    if pack.roles.detector and pack.roles.landmarker:
        return pack
    other = registry.get(pack.uses or DEFAULT_PACK)
    if not (other.roles.detector and other.roles.landmarker):
        raise ConfigError(f"pack {pack.name!r} uses {other.name!r}, which has no detector")
    return other


def build_detector(pack: Pack, registry: PackRegistry, options: BackendOptions) -> Detector:
    """The detector called ``options.detector`` among the roles of ``pack`` (or its support)."""
    source = support_pack(pack, registry)
    spec = next((d for d in source.roles.detector if d.name == options.detector), None)
    if spec is None and options.detector in STANDALONE_DETECTORS:
        return build_standalone_detector(
            options.detector, _home(registry), options.threshold, options.upsample
        )
    if spec is None:
        names = ", ".join(d.name for d in source.roles.detector)
        raise ConfigError(
            f"pack {source.name!r} has no detector {options.detector!r}; it has: {names}"
        )
    from facegate.models import dlib_runtime as dr

    if spec.kind == "dlib-hog":
        return dr.DlibHogDetector(options.upsample)
    if spec.kind == "dlib-mmod":
        if options.runtime == "dlib":
            return dr.DlibCnnDetector(options.upsample)
        from facegate.models.onnx_runtime import OnnxMmodDetector

        return OnnxMmodDetector(cache_dir=_home(registry), upsample=options.upsample)
    raise ConfigError(f"detector kind {spec.kind!r} of pack {source.name!r} is not supported")


def build_landmarker(pack: Pack, registry: PackRegistry, points: int) -> Landmarker:
    """The ``points``-point landmarker of ``pack`` (or of its support pack)."""
    source = support_pack(pack, registry)
    spec = next((lm for lm in source.roles.landmarker if lm.points == points), None)
    if spec is None:
        raise ConfigError(f"pack {source.name!r} has no {points}-point landmarker")
    if spec.kind == "dlib-shape":
        from facegate.models.dlib_runtime import DlibShapePredictor

        return DlibShapePredictor(points)
    raise ConfigError(f"landmarker kind {spec.kind!r} of pack {source.name!r} is not supported")


def embedder_spec(pack: Pack) -> EmbedderSpec:
    """The pack's embedder role; a pack without one cannot embed (ConfigError)."""
    if pack.roles.embedder is None:
        raise ConfigError(f"pack {pack.name!r} has no embedder")
    return pack.roles.embedder


def build_embedder(pack: Pack, registry: PackRegistry, options: BackendOptions) -> Embedder:
    """The embedder of ``pack``, chosen by its ``kind``."""
    spec = embedder_spec(pack)
    if spec.kind == "dlib-resnet":
        if options.runtime == "dlib":
            from facegate.models.dlib_runtime import DlibEmbedder

            return DlibEmbedder()
        from facegate.models.onnx_runtime import OnnxEmbedder

        return OnnxEmbedder(cache_dir=_home(registry))
    if spec.kind == "arcface-onnx":
        return _arcface(pack, spec, registry)
    if spec.kind == "arcface-fusion":
        from facegate.models.fusion import FusedEmbedder

        return FusedEmbedder([(_arcface(pack, m.spec, registry), m.weight) for m in spec.members])
    raise ConfigError(f"embedder kind {spec.kind!r} of pack {pack.name!r} is not supported")


def _arcface(pack: Pack, spec: EmbedderSpec, registry: PackRegistry) -> Embedder:
    from facegate.models.arcface_onnx import ArcfaceOnnxEmbedder

    embedder: Embedder = ArcfaceOnnxEmbedder(spec, lambda: onnx_file(pack, spec, registry))
    if spec.flip:
        from facegate.models.flip import FlipAveragingEmbedder

        embedder = FlipAveragingEmbedder(embedder)
    return embedder


def onnx_file(pack: Pack, spec: EmbedderSpec, registry: PackRegistry) -> Path:
    """The ONNX file a network role runs: its own file, or that file converted and cached."""
    source = registry.path(pack, spec.file)  # checked against its pinned SHA-256
    if spec.conversion in ("onnx", "none"):
        return source
    if spec.conversion == "tflite":
        from facegate.models.tflite_convert import convert_tflite

        sha = pack.file(spec.file).sha256
        layout: Literal["nhwc", "nchw"] = "nchw" if spec.layout == "NCHW" else "nhwc"
        return convert_tflite(source, sha, _home(registry), input_layout=layout)
    raise ConfigError(
        f"pack {pack.name!r}: conversion {spec.conversion!r} of {spec.file} is not available"
    )


def _home(registry: PackRegistry) -> Path:
    from facegate.config import DEFAULT_HOME

    return registry.home if registry.home is not None else DEFAULT_HOME
