"""Face alignment as pure functions: landmarks in, a canonical chip out.

:func:`face_chip` reproduces ``dlib.get_face_chip(img, shape, size, padding)`` (dlib's
``get_face_chip_details`` followed by ``extract_image_chip``): a least-squares similarity
transform from dlib's mean 5-point face shape to the detected landmarks, an anti-aliasing
image pyramid when the face is much larger than the chip, and bilinear sampling with dlib's
conventions (pixel centres on integers, samples outside the image are black, values truncated).
The embedders were trained on chips made exactly this way, so matching them matters.

:func:`arcface_chip` is the other alignment in use: ArcFace-format embedders (InsightFace's
layout, MobileFaceNet) take a 112x112 chip made by a similarity transform of five points (eye
centres, nose tip, mouth corners) to the ArcFace template; :func:`arcface_points_from_68` gives
those points from the 68-point landmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from facegate.types import FloatArray, ImageArray, Landmarks

# dlib's mean face shape for the 5-point predictor, in [0, 1] chip coordinates.
MEAN_FACE_5 = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ],
    dtype=np.float64,
)

DLIB_CHIP_SIZE = 150
DLIB_CHIP_PADDING = 0.25

F64 = npt.NDArray[np.float64]
FloatImage = npt.NDArray[np.float32]
ChipMethod = Literal["exact", "fast"]


@dataclass(frozen=True, slots=True)
class ChipDetails:
    """Where a chip lies in the image: dlib's ``chip_details`` (rect corners, angle, size)."""

    left: float
    top: float
    right: float
    bottom: float
    angle: float
    size: int

    @property
    def area(self) -> float:
        return (self.right - self.left + 1.0) * (self.bottom - self.top + 1.0)


def similarity_transform(src: F64, dst: F64) -> tuple[F64, F64]:
    """Least-squares similarity ``dst ~ M @ src + t`` (Umeyama), as dlib computes it."""
    mean_src, mean_dst = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - mean_src, dst - mean_dst
    sigma_src = float((src_c**2).sum()) / len(src)
    cov = dst_c.T @ src_c / len(src)
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(2)
    if np.linalg.det(cov) < 0:
        s[1, 1] = -1.0
    rot = u @ s @ vt
    scale = float(np.trace(np.diag(d) @ s)) / sigma_src if sigma_src > 0 else 1.0
    m = scale * rot
    return m, mean_dst - m @ mean_src


def chip_details(
    landmarks: Landmarks, size: int = DLIB_CHIP_SIZE, padding: float = DLIB_CHIP_PADDING
) -> ChipDetails:
    """dlib's ``get_face_chip_details`` for 5-point landmarks."""
    if len(landmarks) != 5:
        raise ValueError(f"face_chip needs the 5 dlib landmarks, got {len(landmarks)} points")
    chip_pts = (padding + MEAN_FACE_5) / (2 * padding + 1) * size
    m, t = similarity_transform(chip_pts, landmarks.points.astype(np.float64))
    p = m @ np.array([1.0, 0.0])
    angle = math.atan2(p[1], p[0])
    scale = math.hypot(p[0], p[1])
    cx, cy = m @ np.array([size / 2.0, size / 2.0]) + t
    half = (size * scale - 1.0) / 2.0
    return ChipDetails(cx - half, cy - half, cx + half, cy + half, angle, size)


def _rect_down(left: float, top: float, right: float, bottom: float) -> tuple[float, ...]:
    # dlib pyramid_down<2>::point_down: p / 2 - (1.25, 0.75)
    return (left / 2 - 1.25, top / 2 - 0.75, right / 2 - 1.25, bottom / 2 - 0.75)


def pyramid_down(image: ImageArray) -> ImageArray:
    """dlib's ``pyramid_down<2>`` on an RGB image: 5x5 binomial filter, keep every other pixel."""
    rows, cols = image.shape[:2]
    if rows <= 8 or cols <= 8:
        return np.zeros((0, 0, 3), dtype=np.uint8)
    out_c, out_r = (cols - 3) // 2, (rows - 3) // 2
    img = image.astype(np.uint32)
    weights = (1, 4, 6, 4, 1)
    tmp = np.zeros((rows, out_c, 3), dtype=np.uint32)
    for k, w in enumerate(weights):
        tmp += w * img[:, k : k + 2 * out_c : 2]
    down = np.zeros((out_r, out_c, 3), dtype=np.uint32)
    for k, w in enumerate(weights):
        down += w * tmp[k : k + 2 * out_r : 2]
    out: ImageArray = (down // 256).astype(np.uint8)
    return out


def _lround(value: float) -> int:
    """C's ``lround``: halves away from zero (Python's ``round`` rounds halves to even)."""
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def _rotated_corners(rect: tuple[float, ...], angle: float) -> F64:
    left, top, right, bottom = rect
    cx, cy = (left + right) / 2.0, (top + bottom) / 2.0
    pts = np.array([[left, top], [right, top], [left, bottom], [right, bottom]], dtype=np.float64)
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    out: F64 = (pts - (cx, cy)) @ rot.T + (cx, cy)
    return out


def _sample_bilinear(image: ImageArray, xs: F64, ys: F64) -> ImageArray:
    """Bilinear samples with dlib's rules: outside -> 0, result truncated to uint8.

    Only the four neighbours of each sample are gathered and widened to float64, and the
    arithmetic keeps dlib's order of operations (in place, to save passes over memory), so
    results are bit-exact with dlib's.
    """
    rows, cols, channels = image.shape
    left = np.floor(xs).astype(np.intp)
    top = np.floor(ys).astype(np.intp)
    ok = (left >= 0) & (top >= 0) & (left + 1 < cols) & (top + 1 < rows)
    fx = (xs - left)[..., None]
    fy = (ys - top)[..., None]
    flat = np.ascontiguousarray(image).reshape(-1)
    base = (np.where(ok, top * cols + left, 0) * channels)[..., None] + np.arange(channels)
    below = channels * cols
    val = flat.take(base).astype(np.float64)
    val *= 1 - fx
    right = flat.take(base + channels).astype(np.float64)
    right *= fx
    val += right  # (1 - lr) * tl + lr * tr
    low = flat.take(base + below).astype(np.float64)
    low *= 1 - fx
    right = flat.take(base + below + channels).astype(np.float64)
    right *= fx
    low += right  # (1 - lr) * bl + lr * br
    val *= 1 - fy
    low *= fy
    val += low
    val[~ok] = 0.0
    np.clip(val, 0, 255, out=val)
    out: ImageArray = val.astype(np.uint8)
    return out


def _chip_source(
    image: ImageArray, details: ChipDetails
) -> tuple[ImageArray, tuple[float, ...], int]:
    """dlib's sub-image around the (rotated) chip, grown by its margin, the chip's rect in it,
    and how many times the sub-image must be halved (dlib's pyramid) before sampling."""
    size = details.size
    rect: tuple[float, ...] = (details.left, details.top, details.right, details.bottom)
    depth, grow = 0, 2.0
    down = _rect_down(*rect)
    while (down[2] - down[0] + 1) * (down[3] - down[1] + 1) > size * size:
        down = _rect_down(*down)
        depth += 1
        grow = grow * 2 + 2
    corners = _rotated_corners(rect, details.angle)
    rows, cols = image.shape[:2]
    x1 = max(_lround(float(corners[:, 0].min()) - grow), 0)
    y1 = max(_lround(float(corners[:, 1].min()) - grow), 0)
    x2 = min(_lround(float(corners[:, 0].max()) + grow), cols - 1)
    y2 = min(_lround(float(corners[:, 1].max()) + grow), rows - 1)
    source = image[y1 : y2 + 1, x1 : x2 + 1]
    return source, (rect[0] - x1, rect[1] - y1, rect[2] - x1, rect[3] - y1), depth


def _sample_grid(rect: tuple[float, ...], angle: float, size: int) -> tuple[F64, F64, F64]:
    """The chip's top-left corner and its steps along a row and down a column."""
    corners = _rotated_corners(rect, angle)
    tl, tr, bl = corners[0], corners[1], corners[2]
    return tl, (tr - tl) / (size - 1), (bl - tl) / (size - 1)


def extract_chip(image: ImageArray, details: ChipDetails) -> ImageArray:
    """dlib's ``extract_image_chip`` with bilinear interpolation, as a pure function."""
    size = details.size
    source, rect, depth = _chip_source(image, details)
    for _ in range(depth):
        source = pyramid_down(source)
        rect = _rect_down(*rect)
    tl, ax, ay = _sample_grid(rect, details.angle, size)
    grid = np.arange(size, dtype=np.float64)
    xs = tl[0] + grid[None, :] * ax[0] + grid[:, None] * ay[0]
    ys = tl[1] + grid[None, :] * ax[1] + grid[:, None] * ay[1]
    return _sample_bilinear(source, xs, ys)


def _pyramid_down_cv(source: FloatImage) -> FloatImage:
    """:func:`pyramid_down` by OpenCV on a float image (the same 5x5 binomial filter; dlib's
    output pixel ``c`` is OpenCV's ``c + 1``, its size ``(n - 3) // 2``), truncated as dlib's."""
    rows, cols = source.shape[:2]
    if rows <= 8 or cols <= 8:
        return np.zeros((0, 0, 3), dtype=np.float32)
    down = np.asarray(cv2.pyrDown(source), np.float32)
    out: FloatImage = np.floor(down[1 : 1 + (rows - 3) // 2, 1 : 1 + (cols - 3) // 2])
    return out


def fast_extract_chip(image: ImageArray, details: ChipDetails) -> ImageArray:
    """:func:`extract_chip` by OpenCV: the same sub-image, pyramid, sample positions and rules
    (samples whose 2x2 neighbourhood leaves the image are black, values truncated); OpenCV
    quantises each sample's position to 1/32 pixel, so values differ from dlib's by a fraction
    of a grey level (docs/BENCHMARKS.md, "Where the time goes"). About 4x faster."""
    size = details.size
    source, rect, depth = _chip_source(image, details)
    work = np.asarray(source, np.float32)
    for _ in range(depth):
        work = _pyramid_down_cv(work)
        rect = _rect_down(*rect)
    if work.size == 0:
        return np.zeros((size, size, 3), dtype=np.uint8)
    tl, ax, ay = _sample_grid(rect, details.angle, size)
    to_source = np.array([[ax[0], ay[0], tl[0]], [ax[1], ay[1], tl[1]]], dtype=np.float64)
    chip = np.asarray(
        cv2.warpAffine(
            work,
            to_source,
            (size, size),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        ),
        np.float32,
    )
    rows, cols = work.shape[:2]
    ends = tl + np.array([[0, 0], ax, ay, ax + ay]) * (size - 1)
    if ends.min() < 0 or (ends[:, 0] >= cols - 1).any() or (ends[:, 1] >= rows - 1).any():
        grid = np.arange(size, dtype=np.float64)
        xs = tl[0] + grid[None, :] * ax[0] + grid[:, None] * ay[0]
        ys = tl[1] + grid[None, :] * ax[1] + grid[:, None] * ay[1]
        chip[~((xs >= 0) & (ys >= 0) & (xs < cols - 1) & (ys < rows - 1))] = 0.0
    out: ImageArray = np.clip(np.floor(chip), 0, 255).astype(np.uint8)
    return out


def face_chip(
    image: ImageArray,
    landmarks: Landmarks,
    size: int = DLIB_CHIP_SIZE,
    padding: float = DLIB_CHIP_PADDING,
    *,
    method: ChipMethod = "exact",
) -> ImageArray:
    """The aligned ``size`` x ``size`` RGB chip for a face, the same as ``dlib.get_face_chip``
    (``method="exact"``: bit-exact, numpy) or within a fraction of a grey level of it
    (``"fast"``: :func:`fast_extract_chip`, OpenCV)."""
    details = chip_details(landmarks, size, padding)
    if method == "fast":
        return fast_extract_chip(image, details)
    return extract_chip(image, details)


# The standard ArcFace (InsightFace) 112x112 five-point template, in chip pixels: eye on the
# left of the image, eye on the right, nose tip, left and right mouth corners (image left/right).
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
ARCFACE_CHIP_SIZE = 112


def arcface_points_from_68(points68: Landmarks | npt.ArrayLike) -> FloatArray:
    """The five ArcFace points, ``(5, 2)`` float32, from the 68-point (iBUG 300-W) landmarks.

    Eye centres are the means of each eye's six points (36-41 is the eye on the left of the
    image, 42-47 the one on the right), then the nose tip (30) and the mouth corners (48 on the
    left of the image, 54 on the right): the order of :data:`ARCFACE_TEMPLATE_112`.
    """
    raw = points68.points if isinstance(points68, Landmarks) else points68
    pts = np.asarray(raw, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"arcface_points_from_68 needs (68, 2) points, got shape {pts.shape}")
    five = np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0), pts[30], pts[48], pts[54]])
    return five.astype(np.float32)


def arcface_transform(points5: npt.ArrayLike, size: int = ARCFACE_CHIP_SIZE) -> F64:
    """The ``(2, 3)`` similarity transform (image -> chip) taking ``points5`` to the template.

    Least squares (Umeyama) over the five points, with the template scaled to ``size``.
    """
    src = np.asarray(points5, dtype=np.float64)
    if src.shape != (5, 2):
        raise ValueError(f"ArcFace alignment needs (5, 2) points, got shape {src.shape}")
    if not np.isfinite(src).all():
        raise ValueError("ArcFace alignment points must be finite")
    if size <= 0:
        raise ValueError(f"chip size must be positive, got {size}")
    m, t = similarity_transform(src, ARCFACE_TEMPLATE_112 * (size / ARCFACE_CHIP_SIZE))
    return np.hstack([m, t[:, None]])


def arcface_chip(
    image: ImageArray, points5: npt.ArrayLike, size: int = ARCFACE_CHIP_SIZE
) -> ImageArray:
    """The ``size`` x ``size`` uint8 chip (same channels as ``image``) aligned the ArcFace way.

    Bilinear sampling, pixel centres on integers; samples outside the image are black.
    """
    matrix = arcface_transform(points5, size)
    chip = cv2.warpAffine(
        np.ascontiguousarray(image),
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    out: ImageArray = np.asarray(chip, dtype=np.uint8).reshape(size, size, *image.shape[2:])
    return out


def quick_face_chip(
    image: ImageArray,
    landmarks: Landmarks,
    size: int = DLIB_CHIP_SIZE,
    padding: float = DLIB_CHIP_PADDING,
) -> ImageArray:
    """:func:`face_chip` made by OpenCV (``method="fast"``)."""
    return face_chip(image, landmarks, size, padding, method="fast")
