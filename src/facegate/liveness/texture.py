"""The texture baseline: LBP and frequency features with a logistic regression, trained by the
operator on their own labelled images (``facegate liveness train DIR``). Never shipped trained.

Printed and replayed faces lose fine skin texture and gain print dots, moire and blur: local
binary pattern histograms (uniform LBP, radius 1, on a 2x2 grid plus the whole face) and the
radial energy spectrum of the face crop capture some of that. A model trained on one camera,
printer and lighting does not carry over to others: train and measure on your own data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facegate.errors import ConfigError
from facegate.liveness.pad import square_crop
from facegate.types import BBox, ImageArray

FEATURE_VERSION = "lbp-u2-r1-grid2+fft16-v1"
CROP_SIZE = 64
CROP_SCALE = 1.3
Vector = npt.NDArray[np.float64]


def _uniform_table() -> npt.NDArray[np.int64]:
    """Map the 256 LBP codes to 59 bins: 58 uniform patterns, one bin for the rest."""
    table = np.full(256, 58, dtype=np.int64)
    nxt = 0
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        if sum(bits[i] != bits[(i + 1) % 8] for i in range(8)) <= 2:
            table[code] = nxt
            nxt += 1
    return table


_UNIFORM = _uniform_table()


def lbp_codes(gray: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Uniform LBP bin (0-58) of every inner pixel of ``gray`` (radius 1, 8 neighbours)."""
    g = gray.astype(np.int16)
    centre = g[1:-1, 1:-1]
    offsets = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
    code = np.zeros(centre.shape, dtype=np.int64)
    h, w = g.shape
    for bit, (dy, dx) in enumerate(offsets):
        neighbour = g[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]
        code |= (neighbour >= centre).astype(np.int64) << bit
    return _UNIFORM[code]


def _histogram(codes: npt.NDArray[np.int64]) -> Vector:
    hist = np.bincount(codes.ravel(), minlength=59).astype(np.float64)
    out: Vector = hist / max(float(hist.sum()), 1.0)
    return out


def spectrum_bands(gray: npt.NDArray[np.uint8], bands: int = 16) -> Vector:
    """Share of the (log) spectral energy in ``bands`` rings from low to high frequency."""
    f = np.fft.fftshift(np.fft.fft2(gray.astype(np.float64) - gray.mean()))
    power = np.log1p(np.abs(f))
    h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w]
    radius = np.hypot(yy - h / 2, xx - w / 2) / (min(h, w) / 2)
    ring = np.minimum((radius * bands).astype(np.int64), bands)
    energy = np.bincount(ring.ravel(), weights=power.ravel(), minlength=bands + 1)[:bands]
    out: Vector = energy / max(float(energy.sum()), 1e-12)
    return out


def texture_features(image: ImageArray, box: BBox) -> Vector:
    """The feature vector of the face at ``box``: 5 LBP histograms and 16 spectrum bands."""
    crop = square_crop(image, box, CROP_SCALE, CROP_SIZE)
    gray = np.asarray(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop, np.uint8)
    codes = lbp_codes(gray)
    half = codes.shape[0] // 2
    cells = [
        codes,
        codes[:half, :half],
        codes[:half, half:],
        codes[half:, :half],
        codes[half:, half:],
    ]
    return np.concatenate([*(_histogram(c) for c in cells), spectrum_bands(gray)])


@dataclass(frozen=True, slots=True, eq=False)
class TextureModel:
    """A trained logistic regression on standardised texture features."""

    mean: Vector
    std: Vector
    weights: Vector
    bias: float
    threshold: float
    operating_point: str
    trained_on: dict[str, Any]

    @property
    def method(self) -> str:
        return f"texture-baseline:{FEATURE_VERSION}@{self.operating_point}"

    def probability(self, features: npt.ArrayLike) -> Vector:
        x = (np.atleast_2d(np.asarray(features, np.float64)) - self.mean) / self.std
        return 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))

    def save(self, path: Path) -> None:
        """Write the model as one ``.npz`` file (arrays, and its metadata as JSON)."""
        meta = {
            "feature_version": FEATURE_VERSION,
            "bias": self.bias,
            "threshold": self.threshold,
            "operating_point": self.operating_point,
            "trained_on": self.trained_on,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, mean=self.mean, std=self.std, weights=self.weights, meta=json.dumps(meta))
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> TextureModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = (data["mean"], data["std"], data["weights"])
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{path}: not a facegate texture PAD model ({exc})") from exc
        if meta.get("feature_version") != FEATURE_VERSION:
            raise ConfigError(
                f"{path}: features {meta.get('feature_version')!r}, need {FEATURE_VERSION}"
            )
        return TextureModel(
            *arrays,
            float(meta["bias"]),
            float(meta["threshold"]),
            str(meta["operating_point"]),
            dict(meta["trained_on"]),
        )


def fit_logistic(
    features: npt.ArrayLike, live: Sequence[bool], l2: float = 1.0, steps: int = 60
) -> tuple[Vector, Vector, Vector, float]:
    """Standardise, then fit an L2-regularised logistic regression by Newton's method, with
    classes weighted to equal total weight. Returns ``(mean, std, weights, bias)``."""
    x = np.asarray(features, np.float64)
    y = np.asarray(live, np.float64)
    if x.ndim != 2 or len(x) != len(y) or len(set(y.tolist())) != 2:
        raise ConfigError("training needs both live and attack examples")
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    sample_w = np.where(y > 0, 0.5 / y.sum(), 0.5 / (1 - y).sum()) * len(y)
    theta = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ theta)))
        grad = z.T @ (sample_w * (p - y)) + reg * theta
        hess = (z * (sample_w * p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return mean, std, theta[:-1], float(theta[-1])


class TexturePad:
    """:class:`~facegate.liveness.pad.PresentationAttackDetector` over a :class:`TextureModel`."""

    def __init__(self, model: TextureModel, threshold: float | None = None) -> None:
        self.model = model
        self.method = model.method
        self.threshold = model.threshold
        if threshold is not None:  # an operating point calibrated by the operator
            self.threshold = float(threshold)
            self.method = f"texture-baseline:{FEATURE_VERSION}@threshold={threshold:g}"

    def score(self, image: ImageArray, box: BBox) -> float:
        return float(self.model.probability(texture_features(image, box))[0])


def train_texture(
    features: npt.ArrayLike,
    live: Sequence[bool],
    *,
    bpcer: float = 0.05,
    trained_on: dict[str, Any] | None = None,
) -> TextureModel:
    """Fit the baseline and set its threshold where ``bpcer`` of the *training* live images
    fall below it (the operating point is named ``bpcer=<bpcer>``; measure it on held-out
    data before relying on it)."""
    if not 0.0 < bpcer < 1.0:
        raise ConfigError("bpcer must be between 0 and 1")
    mean, std, weights, bias = fit_logistic(features, live)
    model = TextureModel(mean, std, weights, bias, 0.5, f"bpcer={bpcer:g}", trained_on or {})
    scores = model.probability(features)
    live_scores = scores[np.asarray(live, bool)]
    threshold = float(np.quantile(live_scores, bpcer))
    return TextureModel(
        mean, std, weights, bias, threshold, f"bpcer={bpcer:g}", dict(trained_on or {})
    )
