"""Box adapters: one fixed affine map from one detector's box framing to another's.

Detectors frame faces differently (dlib's boxes run from the brows to the chin, MTCNN's and
libfacedetection's include the forehead, FDDB's ellipses the whole head). A
:class:`BoxAffine` moves a box's centre by fractions of its width and height and scales its
sides: ``cx' = cx + dx * w``, ``cy' = cy + dy * h``, ``w' = sx * w``, ``h' = sy * h``. It is fitted
once on paired boxes (:func:`fit_box_affine`: the median of each ratio, robust to the odd wrong
pair) and then applied unchanged, e.g. so dlib's landmark predictors, trained on dlib's framing,
see the box they expect whichever detector found the face.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from facegate.types import BBox

Boxes = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BoxAffine:
    """Centre shift ``(dx, dy)`` in box widths/heights and side scales ``(sx, sy)``."""

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0

    def apply_array(self, boxes: npt.ArrayLike) -> Boxes:
        """``(N, 4)`` boxes ``x1, y1, x2, y2`` mapped (not clipped)."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        cx = (b[:, 0] + b[:, 2]) / 2 + self.dx * w
        cy = (b[:, 1] + b[:, 3]) / 2 + self.dy * h
        hw, hh = self.sx * w / 2, self.sy * h / 2
        return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)

    def apply(self, box: BBox, width: int | None = None, height: int | None = None) -> BBox:
        """``box`` mapped, and clipped to ``width`` x ``height`` when given."""
        x1, y1, x2, y2 = self.apply_array([[box.x1, box.y1, box.x2, box.y2]])[0].tolist()
        out = BBox(x1, y1, x2, y2)
        return out.clip(width, height) if width is not None and height is not None else out

    def scaled(self, factor: float) -> BoxAffine:
        """The same map with both side scales multiplied by ``factor``."""
        return BoxAffine(self.dx, self.dy, self.sx * factor, self.sy * factor)

    def as_dict(self) -> dict[str, float]:
        return {"dx": self.dx, "dy": self.dy, "sx": self.sx, "sy": self.sy}


def fit_box_affine(source: npt.ArrayLike, target: npt.ArrayLike) -> BoxAffine:
    """The affine that maps each ``source`` box closest to its paired ``target`` box (medians)."""
    s = np.asarray(source, dtype=np.float64).reshape(-1, 4)
    t = np.asarray(target, dtype=np.float64).reshape(-1, 4)
    if len(s) == 0 or len(s) != len(t):
        raise ValueError("fit_box_affine needs the same number (> 0) of source and target boxes")
    sw, sh = s[:, 2] - s[:, 0], s[:, 3] - s[:, 1]
    tw, th = t[:, 2] - t[:, 0], t[:, 3] - t[:, 1]
    ok = (sw > 0) & (sh > 0) & (tw > 0) & (th > 0)
    if not ok.any():
        raise ValueError("fit_box_affine needs boxes with positive width and height")
    s, t, sw, sh, tw, th = s[ok], t[ok], sw[ok], sh[ok], tw[ok], th[ok]
    dx = ((t[:, 0] + t[:, 2]) - (s[:, 0] + s[:, 2])) / 2 / sw
    dy = ((t[:, 1] + t[:, 3]) - (s[:, 1] + s[:, 3])) / 2 / sh
    return BoxAffine(
        float(np.median(dx)),
        float(np.median(dy)),
        float(np.median(tw / sw)),
        float(np.median(th / sh)),
    )


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[Any]:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` boxes."""
    p = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    q = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    iw = np.clip(np.minimum(p[..., 2], q[..., 2]) - np.maximum(p[..., 0], q[..., 0]), 0, None)
    ih = np.clip(np.minimum(p[..., 3], q[..., 3]) - np.maximum(p[..., 1], q[..., 1]), 0, None)
    inter = iw * ih
    area_p = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1])
    area_q = (q[..., 2] - q[..., 0]) * (q[..., 3] - q[..., 1])
    return np.asarray(inter / np.maximum(area_p + area_q - inter, 1e-12))


def pair_boxes(a: npt.ArrayLike, b: npt.ArrayLike, min_iou: float = 0.3) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs ``(i, j)`` of boxes of ``a`` and ``b``, highest IoU first."""
    iou = iou_matrix(a, b)
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    used_a: set[int] = set()
    used_b: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < min_iou:
            break
        if i not in used_a and j not in used_b:
            pairs.append((i, j))
            used_a.add(i)
            used_b.add(j)
    return pairs


# Each detector's boxes mapped to dlib's HOG framing before dlib's 5/68-point predictors run
# (the detector's own box is still what a Face reports). Fitted by bench/box_adapters.py on
# LFW (every 40th of the view-2 images, the even half; HOG at upsample 1 as the target); see
# docs/BENCHMARKS.md for the landmark error each one removes. dlib's own detectors need none.
LANDMARK_BOX_ADAPTERS: dict[str, BoxAffine] = {
    "mtcnn": BoxAffine(dx=-0.0326, dy=0.0414, sx=1.1209, sy=0.8437),
    "libfacedetection": BoxAffine(dx=-0.0222, dy=0.0403, sx=1.1237, sy=0.8504),
    # libfacedetection's adapter composed with the inverse of the cascade's FDDB framing
    # (facegate.models.cascade.CascadeConfig.framing): its boxes are libfacedetection's, reframed
    "libfacedetection-onet": BoxAffine(dx=-0.0211, dy=0.0989, sx=1.0314, sy=0.6927),
    "blazeface-back": BoxAffine(dx=-0.0375, dy=-0.0505, sx=1.0002, sy=0.991),
    "blazeface-full": BoxAffine(dx=-0.0272, dy=-0.0102, sx=0.9508, sy=0.9421),
}
