"""Settings.

One :class:`Settings` object is built by the entry points (CLI, server) from the environment
(prefix ``FACEGATE_``, nested fields with ``__``, e.g. ``FACEGATE_IMAGE__MAX_PIXELS``). Library
code never reads it globally: each component receives its own sub-config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path("./facegate-data")


class ImageLimits(BaseModel):
    """Limits applied when decoding untrusted images."""

    max_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1,
        title="Maximum encoded size",
        description="Encoded images larger than this many bytes are refused before decoding.",
    )
    max_pixels: int = Field(
        40_000_000,
        ge=1,
        title="Maximum pixel count",
        description="Images whose width x height exceeds this are refused before decoding "
        "(stops decompression bombs).",
    )
    min_side: int = Field(
        16,
        ge=1,
        title="Minimum side",
        description="Images with a side shorter than this many pixels cannot hold a usable face.",
    )


class EngineConfig(BaseModel):
    """How the face engine detects, aligns and embeds."""

    pack: str = Field("dlib", title="Model pack", description="Which model pack to use.")
    runtime: Literal["onnx", "dlib"] = Field(
        "dlib",
        title="Inference runtime",
        description="'dlib' runs dlib's own C++ networks (the reference); 'onnx' runs the "
        "converted networks on ONNX Runtime.",
    )
    detector: Literal["hog", "cnn"] = Field(
        "hog", title="Face detector", description="dlib's HOG detector or its CNN (MMOD) detector."
    )
    upsample: int = Field(
        1,
        ge=0,
        le=4,
        title="Upsampling",
        description="How many times to double the image before detection; finds smaller faces, "
        "costs about 4x the time per step.",
    )
    landmarks68: bool = Field(
        False,
        title="68-point landmarks",
        description="Also return dlib's 68 landmarks (model trained on data not licensed for "
        "commercial use).",
    )
    operating_point: str = Field(
        "fmr=1e-4",
        title="Default 1:1 operating point",
        description="The calibrated threshold, named by its false-match rate, used by verify.",
    )
    jitters: int = Field(
        0,
        ge=0,
        le=100,
        title="Test-time jitters",
        description="Extra randomly jittered copies of each chip averaged into the embedding.",
    )


class Settings(BaseSettings):
    """Everything an entry point needs; sub-configs go to the components."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", env_nested_delimiter="__")

    home: Path = Field(
        DEFAULT_HOME,
        title="Data directory",
        description="Where the gallery, keys, audit chain and converted models live.",
    )
    image: ImageLimits = Field(default_factory=ImageLimits)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    log_level: str = Field("WARNING", title="Log level")
