"""The parts of dlib's MMOD detector around the network, in numpy: pure functions.

dlib's ``cnn_face_detection_model_v1(img, upsample)`` does, in order (sources in dlib 20.0.1):

1. ``pyramid_up`` the RGB image ``upsample`` times with ``pyramid_down<2>``
   (tools/python/src/cnn_face_detector.cpp, image_transforms/interpolation.h): bilinear,
   corner-aligned, truncated to uint8, output ``(2*rows + 1, 2*cols + 2)``.
2. ``input_rgb_image_pyramid<pyramid_down<6>>::to_tensor`` (dnn/input.h): normalise
   ``(pixel - channel mean) / 256``, tile the image and its 5/6-scaled copies into one canvas
   (``compute_tiled_image_pyramid_details``, image_transforms/image_pyramid.h), each level
   resized bilinearly from the previous one in normalised space (``tt::resize_bilinear``).
3. The network (ONNX here) gives a score map; ``loss_mmod_::to_label`` keeps cells scoring above
   the threshold, maps them to boxes (``output_tensor_to_input_tensor``, ``centered_drect``,
   ``tiled_pyramid_to_image``), sorts by score and applies greedy NMS (``test_box_overlap``).
4. Boxes go back down the ``upsample`` levels (``pyramid_down<2>::rect_down``).

Rectangles here are dlib's: integer ``(left, top, right, bottom)``, right/bottom inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facegate.types import FloatArray, ImageArray

Rect = tuple[int, int, int, int]
IntArray = npt.NDArray[np.int64]

PYRAMID_RATE = 5.0 / 6.0  # pyramid_down<6>
MIN_LEVEL_HEIGHT = 5


@dataclass(frozen=True, slots=True)
class MmodConfig:
    """What the detector needs from the dlib file besides the weights."""

    means: tuple[float, float, float]
    pyramid_padding: int
    pyramid_outer_padding: int
    windows: tuple[tuple[int, int], ...]  # (width, height) per score channel
    nms_iou: float
    nms_covered: float
    cell_to_pixel: tuple[float, float, float, float]  # scale_x, offset_x, scale_y, offset_y
    min_canvas: int = 1  # smaller pyramids give the network an empty score map


def _round_half_away(values: npt.NDArray[np.float64]) -> IntArray:
    """C's ``std::lround``."""
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


def _bilinear_taps(n_in: int, n_out: int) -> tuple[IntArray, IntArray, FloatArray]:
    """Source indices and fractions of dlib's corner-aligned bilinear resize along one axis."""
    scale = (n_in - 1) / max(n_out - 1, 1)
    pos = np.arange(n_out, dtype=np.float64) * scale
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, (pos - lo).astype(np.float32)


def _resize_planes(src: FloatArray, height: int, width: int) -> FloatArray:
    """Corner-aligned bilinear resize of ``(C, h, w)`` float planes to ``(C, height, width)``,
    dlib's ``resize_image`` with ``interpolate_bilinear``, computed separably (columns, then
    rows) in float32: equal to dlib's formula up to float rounding."""
    top, bottom, fy = _bilinear_taps(src.shape[1], height)
    left, right, fx = _bilinear_taps(src.shape[2], width)
    cols = np.take(src, left, axis=2) * (1 - fx)  # np.take: far faster than fancy indexing
    cols += np.take(src, right, axis=2) * fx
    out = np.take(cols, top, axis=1) * (1 - fy)[:, None]
    out += np.take(cols, bottom, axis=1) * fy[:, None]
    return out


def _rgb_rows(n_in: int, n_out: int) -> tuple[IntArray, IntArray, npt.NDArray[np.float64]]:
    """Row taps of dlib's RGB ``resize_image``: ``y`` accumulated in double, row by row."""
    scale = (n_in - 1) / max(n_out - 1, 1)
    y = np.cumsum(np.concatenate([[-scale], np.full(n_out, scale)]))[1:]
    top = np.floor(y).astype(np.int64)
    return top, np.minimum(top + 1, n_in - 1), y - top


def _rgb_simd_columns(n_in: int, n_out: int) -> tuple[IntArray, FloatArray]:
    """Column taps of the 4-wide SSE loop: float32 positions advanced 4 columns at a time,
    truncated; the loop stops at the first group whose last right tap leaves the image."""
    scale = (n_in - 1) / max(n_out - 1, 1)
    start = -4 * scale
    steps = np.empty((n_out // 4 + 2, 4), np.float32)
    steps[0] = [start, start + scale, start + 2 * scale, start + 3 * scale]
    steps[1:] = np.float32(4 * scale)
    pos = np.cumsum(steps, axis=0, dtype=np.float32)[1:]
    left = pos.astype(np.int32)
    fits = left[:, 3] + 1 < n_in
    groups = int(np.argmin(fits)) if not fits.all() else len(fits)
    count = min(4 * groups, n_out)
    pos_flat, left_flat = pos.reshape(-1)[:count], left.reshape(-1)[:count]
    return left_flat.astype(np.int64), pos_flat - left_flat.astype(np.float32)


def pyramid_up(image: ImageArray) -> ImageArray:
    """dlib's ``pyramid_up(img, pyramid_down<2>)`` on an RGB uint8 image, bit for bit: output
    ``(2*rows + 1, 2*cols + 2)``, corner-aligned bilinear, the SSE part in float32 and the last
    columns in double, both truncated (``resize_image``, image_transforms/interpolation.h)."""
    rows, cols = image.shape[:2]
    out_rows, out_cols = 2 * rows + 1, 2 * cols + 2
    top, bottom, fy = _rgb_rows(rows, out_rows)
    left, fx = _rgb_simd_columns(cols, out_cols)
    n_simd = len(left)
    planes = np.moveaxis(image, 2, 0).astype(np.float32)  # planar: weights broadcast cheaply
    above, below = np.take(planes, top, axis=1), np.take(planes, bottom, axis=1)
    inv_fy, fy32 = (1 - fy).astype(np.float32)[:, None], fy.astype(np.float32)[:, None]
    inv_fx = np.float32(1) - fx
    acc = (inv_fy * inv_fx) * np.take(above, left, axis=2)
    acc += (inv_fy * fx) * np.take(above, left + 1, axis=2)
    acc += (fy32 * inv_fx) * np.take(below, left, axis=2)
    acc += (fy32 * fx) * np.take(below, left + 1, axis=2)
    out = np.empty((3, out_rows, out_cols), np.uint8)
    out[:, :, :n_simd] = acc.astype(np.int32).astype(np.uint8)
    if n_simd < out_cols:
        scale = (cols - 1) / max(out_cols - 1, 1)
        steps = np.full(out_cols - n_simd, scale)
        x = np.cumsum(np.concatenate([[-scale + n_simd * scale], steps]))[1:]
        lo = np.floor(x).astype(np.int64)
        hi, fr, fyd = np.minimum(lo + 1, cols - 1), x - lo, fy[:, None]
        a_lo, a_hi = (np.take(above, i, axis=2).astype(np.float64) for i in (lo, hi))
        b_lo, b_hi = (np.take(below, i, axis=2).astype(np.float64) for i in (lo, hi))
        tail = (1 - fyd) * ((1 - fr) * a_lo + fr * a_hi) + fyd * ((1 - fr) * b_lo + fr * b_hi)
        out[:, :, n_simd:] = tail.astype(np.int64).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(out, 0, 2))


def tiled_pyramid_rects(
    rows: int, cols: int, padding: int, outer: int
) -> tuple[list[Rect], int, int]:
    """Where each pyramid level goes in the canvas, and the canvas size ``(rects, nr, nc)``.

    A line-by-line port of ``impl::compute_tiled_image_pyramid_details``, including its
    quirk of leaving levels that would overlap the first image at the origin.
    """
    if rows * cols == 0:
        return [], 0, 0
    sizes = [(cols, rows)]
    nr, nc = rows, cols
    while True:
        nr, nc = int(np.floor(PYRAMID_RATE * nr)), int(np.floor(PYRAMID_RATE * nc))
        if nr * nc == 0 or nr < MIN_LEVEL_HEIGHT:
            break
        sizes.append((nc, nr))
    rects: list[Rect] = [(0, 0, w - 1, h - 1) for w, h in sizes]
    total_height = sum(h + padding for _, h in sizes) - 2 * padding
    height, prev_width = 0, 0
    for w, h in sizes:
        if w <= cols - prev_width - padding and (height - rows) * 2 >= total_height - rows:
            break
        height += h + padding
        prev_width = w
    height -= padding
    y, i = outer, 0
    while y < height + outer and i < len(rects):
        w, h = sizes[i]
        rects[i] = (outer, y, outer + w - 1, y + h - 1)
        y += h + padding
        i += 1
    y -= padding
    first = rects[0]
    while i < len(rects):
        w, h = sizes[i]
        right, bottom = outer + cols - 1, y - 1
        rect = (right - (w - 1), bottom - (h - 1), right, bottom)
        if (
            rect[0] <= first[2]
            and first[0] <= rect[2]
            and rect[1] <= first[3]
            and first[1] <= rect[3]
        ):
            break
        rects[i] = rect
        y -= h + padding
        i += 1
    return rects, height + 2 * outer, cols + 2 * outer


def build_pyramid(image: ImageArray, config: MmodConfig) -> tuple[FloatArray, list[Rect]]:
    """The normalised tiled pyramid ``(1, 3, NR, NC)`` dlib feeds its network, and its rects."""
    rows, cols = image.shape[:2]
    rects, nr, nc = tiled_pyramid_rects(
        rows, cols, config.pyramid_padding, config.pyramid_outer_padding
    )
    canvas = np.zeros((3, nr, nc), dtype=np.float32)
    if not rects:
        return canvas[None], rects
    means = np.asarray(config.means, dtype=np.float32)
    l0, t0, r0, b0 = rects[0]
    canvas[:, t0 : b0 + 1, l0 : r0 + 1] = np.moveaxis((image - means) / np.float32(256), 2, 0)
    for (sl, st, sr, sb), (dl, dt, dr, db) in zip(rects, rects[1:], strict=False):
        src = canvas[:, st : sb + 1, sl : sr + 1]
        canvas[:, dt : db + 1, dl : dr + 1] = _resize_planes(src, db - dt + 1, dr - dl + 1)
    return canvas[None], rects


def _nearest_rect(centres: IntArray, rects: list[Rect]) -> IntArray:
    """dlib's ``nearest_rect`` for many points: the first rect containing the point, else
    the first at the smallest distance."""
    r = np.asarray(rects, dtype=np.int64)  # (L, 4)
    px, py = centres[:, :1], centres[:, 1:]
    inside = (px >= r[:, 0]) & (px <= r[:, 2]) & (py >= r[:, 1]) & (py <= r[:, 3])
    dx = np.clip(px, r[:, 0], r[:, 2]) - px
    dy = np.clip(py, r[:, 1], r[:, 3]) - py
    dist = np.sqrt(dx**2 + dy**2).astype(np.float64)
    level: IntArray = np.where(inside.any(axis=1), inside.argmax(axis=1), dist.argmin(axis=1))
    return level


def _to_image_space(boxes: npt.NDArray[np.float64], rects: list[Rect]) -> IntArray:
    """``tiled_pyramid_to_image`` then the conversion to an integer ``rectangle``."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    level = _nearest_rect(np.floor(centre + 0.5).astype(np.int64), rects)
    origin = np.asarray(rects, dtype=np.float64)[level][:, :2]
    out = boxes - np.concatenate([origin, origin], axis=1)
    for step in range(int(level.max(initial=0))):
        up = level > step
        out[up] = out[up] * (1.0 / PYRAMID_RATE) + 0.3
    return _round_half_away(out)


def _overlaps(kept: IntArray, box: IntArray, iou: float, covered: float) -> bool:
    """``test_box_overlap(iou, covered)`` of ``box`` against each kept box (inclusive rects)."""
    if len(kept) == 0:
        return False
    iw = np.minimum(kept[:, 2], box[2]) - np.maximum(kept[:, 0], box[0]) + 1
    ih = np.minimum(kept[:, 3], box[3]) - np.maximum(kept[:, 1], box[1]) + 1
    inner = np.where((iw > 0) & (ih > 0), iw * ih, 0).astype(np.float64)
    area_k = (kept[:, 2] - kept[:, 0] + 1) * (kept[:, 3] - kept[:, 1] + 1)
    area_b = float((box[2] - box[0] + 1) * (box[3] - box[1] + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        hit = (inner / (area_k + area_b - inner) > iou) | (inner / area_k > covered)
        hit |= inner / area_b > covered
    return bool(np.any(hit & (inner > 0)))


def detections(
    scores: FloatArray, rects: list[Rect], config: MmodConfig, threshold: float
) -> tuple[IntArray, FloatArray]:
    """Boxes (``(n, 4)`` dlib rects in the image fed to the pyramid) and scores after NMS.

    ``scores`` is the network output for one image, ``(windows, h, w)``.
    """
    k_idx, r_idx, c_idx = np.nonzero(scores > threshold)
    if len(k_idx) == 0 or not rects:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.float32)
    conf = scores[k_idx, r_idx, c_idx]
    sx, ox, sy, oy = config.cell_to_pixel
    px, py = c_idx * sx + ox, r_idx * sy + oy
    win = np.asarray(config.windows, dtype=np.float64)[k_idx]
    half_w, half_h = (win[:, 0] - 1) / 2.0, (win[:, 1] - 1) / 2.0
    boxes = np.stack([px - half_w, py - half_h, px + half_w, py + half_h], axis=1)
    image_boxes = _to_image_space(boxes, rects)
    order = np.argsort(-conf, kind="stable")
    kept: list[int] = []
    for i in order:
        if not _overlaps(image_boxes[kept], image_boxes[i], config.nms_iou, config.nms_covered):
            kept.append(int(i))
    return image_boxes[kept], conf[kept].astype(np.float32)


def rect_down(boxes: IntArray, levels: int) -> IntArray:
    """``pyramid_down<2>::rect_down(rect, levels)`` converted back to integer rects."""
    out = boxes.astype(np.float64)
    for _ in range(levels):
        out = out / 2.0 - np.array([1.25, 0.75, 1.25, 0.75])
    return _round_half_away(out)
