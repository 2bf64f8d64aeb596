"""Simulated presentation attacks made from real photos, for testing the active liveness check.

- :func:`print_frames`: a printed photo held in front of the camera and moved as an attacker
  would to answer the prompts: tilted about its vertical axis for a head turn (perspective
  foreshortening makes a flat face look turned), brought closer, with hand shake. Each frame is
  the photo warped by the homography of a rotated, translated plane seen by a pinhole camera.
- :func:`blink_photo`: the photo with its eye regions replaced by those of a second photo
  (e.g. the same person with the eyes shut), to fake a blink.

These are geometric simulations: they test the checks (planarity, order, timing, nonce,
one face track) against flat, rigid pictures. They do not model paper texture, screen moire,
bending, or cut-out eyes; see docs/LIVENESS.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from facegate.types import ImageArray


@dataclass(frozen=True, slots=True)
class PlanePose:
    """Where the photo is: rotation about its vertical (``yaw``) and horizontal (``pitch``)
    axes and in its plane (``roll``), in degrees; ``scale`` > 1 is closer; ``dx, dy`` shift
    the photo's centre in output pixels."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0


def plane_homography(
    photo_size: tuple[int, int], frame_size: tuple[int, int], pose: PlanePose
) -> npt.NDArray[np.float64]:
    """The 3x3 homography that maps photo pixels into the camera frame for ``pose``."""
    pw, ph = photo_size
    fw, fh = frame_size
    focal = float(fw)
    fit = 0.6 * min(fw / pw, fh / ph)  # the photo fills 60% of the frame at scale 1
    depth = focal / (fit * pose.scale)
    corners = np.array(
        [[-pw / 2, -ph / 2, 0], [pw / 2, -ph / 2, 0], [pw / 2, ph / 2, 0], [-pw / 2, ph / 2, 0]],
        dtype=np.float64,
    )
    rotation = _rotation(pose)
    placed = corners @ rotation.T + np.array([0.0, 0.0, depth])
    projected = focal * placed[:, :2] / placed[:, 2:3]
    projected += np.array([fw / 2 + pose.dx, fh / 2 + pose.dy])
    source = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    return np.asarray(
        cv2.getPerspectiveTransform(source, projected.astype(np.float32)), dtype=np.float64
    )


def _rotation(pose: PlanePose) -> npt.NDArray[np.float64]:
    y, p, r = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    out: npt.NDArray[np.float64] = rz @ ry @ rx
    return out


def present(
    photo: ImageArray, pose: PlanePose, frame_size: tuple[int, int], background: ImageArray
) -> ImageArray:
    """One camera frame of ``photo`` held at ``pose`` in front of ``background``."""
    fw, fh = frame_size
    h = plane_homography((photo.shape[1], photo.shape[0]), frame_size, pose)
    warped = cv2.warpPerspective(photo, h, (fw, fh), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full(photo.shape[:2], 255, np.uint8), h, (fw, fh))
    base = cv2.resize(background, (fw, fh))
    out = np.where(mask[..., None] > 127, warped, base)
    return np.ascontiguousarray(out, dtype=np.uint8)


def blink_photo(
    photo: ImageArray,
    points: npt.ArrayLike,
    closed: ImageArray,
    closed_points: npt.ArrayLike,
) -> ImageArray:
    """``photo`` with each eye region taken from ``closed`` (68-point landmarks of each
    given), aligned by the eye corners and feathered at the edges."""
    out = photo.astype(np.float32)
    src_pts = np.asarray(closed_points, dtype=np.float32)
    dst_pts = np.asarray(points, dtype=np.float32)
    for eye in (range(36, 42), range(42, 48)):
        idx = list(eye)
        m, _ = cv2.estimateAffinePartial2D(src_pts[idx], dst_pts[idx])
        if m is None:
            continue
        moved = cv2.warpAffine(closed, m, (photo.shape[1], photo.shape[0])).astype(np.float32)
        centre = dst_pts[idx].mean(axis=0)
        width = float(np.linalg.norm(dst_pts[idx[0]] - dst_pts[idx[3]]))
        ellipse = np.zeros(photo.shape[:2], np.float32)
        axes = (max(int(width * 0.9), 2), max(int(width * 0.55), 2))
        cv2.ellipse(ellipse, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(ellipse, (0, 0), max(width * 0.15, 1.0))[..., None]
        out = out * (1 - mask) + moved * mask
    return np.clip(out, 0, 255).astype(np.uint8)
