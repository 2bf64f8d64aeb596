"""Pure liveness signals from dlib's 68 facial landmarks.

Every function takes an ``(68, 2)`` array of ``(x, y)`` pixel coordinates in dlib's 68-point
order (jaw 0-16, brows 17-26, nose 27-35, the subject's right eye 36-41, left eye 42-47, outer
lips 48-59, inner lips 60-67) and returns plain numbers or frozen values. Nothing here does I/O.

- :func:`eye_aspect_ratio`: eye opening (Soukupova and Cech, 2016); about 0.25-0.35 open, under
  about 0.15 closed.
- :func:`mouth_aspect_ratio`: inner-lip opening over mouth width; about 0 closed.
- :func:`mouth_width`: mouth corner distance over the distance between the eyes (smiles widen it).
- :func:`head_pose`: yaw, pitch and roll in degrees from ``cv2.solvePnP`` on a generic 3-D face.
- :func:`face_size`: the landmarks' extent in pixels (moving closer makes it grow).
- :func:`planar_residual`: how far the rigid landmarks of one frame are from a homography of
  another's. A flat photo moved, tilted or bent slightly stays close to one homography; a real
  head that turns does not (the nose moves against the cheeks: parallax).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

PointArray = npt.NDArray[np.float64]

RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))
# Points that move with the skull: jaw line, brows, nose, eye corners (not lids or lips).
RIGID = (*range(0, 27), *range(27, 36), 36, 39, 42, 45)

# A generic 3-D face (model units, x right in the image, y down, z away from the camera),
# for the dlib points: nose tip, chin, right eye outer corner, left eye outer corner, right
# mouth corner, left mouth corner. Derived from the widely used "generic head" of
# learnopencv's head-pose tutorial, turned into a camera-aligned (y down) frame.
_MODEL_INDEX = (30, 8, 36, 45, 48, 54, 0, 16)
_MODEL_3D = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, 330.0, 65.0),
        (-225.0, -170.0, 135.0),
        (225.0, -170.0, 135.0),
        (-150.0, 150.0, 125.0),
        (150.0, 150.0, 125.0),
        (-330.0, -110.0, 330.0),
        (330.0, -110.0, 330.0),
    ],
    dtype=np.float64,
)


def _points(points68: npt.ArrayLike) -> PointArray:
    pts = np.asarray(points68, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got shape {pts.shape}")
    return pts


def _dist(a: PointArray, b: PointArray) -> float:
    return float(np.linalg.norm(a - b))


def _eye_ratio(eye: PointArray) -> float:
    width = _dist(eye[0], eye[3])
    if width <= 0:
        return 0.0
    return (_dist(eye[1], eye[5]) + _dist(eye[2], eye[4])) / (2.0 * width)


def eye_aspect_ratio(points68: npt.ArrayLike) -> float:
    """Mean eye aspect ratio of both eyes: lid distance over eye width (0 when shut)."""
    pts = _points(points68)
    return (_eye_ratio(pts[list(RIGHT_EYE)]) + _eye_ratio(pts[list(LEFT_EYE)])) / 2.0


def interocular(points68: npt.ArrayLike) -> float:
    """Distance in pixels between the centres of the two eyes."""
    pts = _points(points68)
    return _dist(pts[list(RIGHT_EYE)].mean(axis=0), pts[list(LEFT_EYE)].mean(axis=0))


def mouth_aspect_ratio(points68: npt.ArrayLike) -> float:
    """Inner-lip opening over inner mouth width (about 0 closed, 0.3+ wide open)."""
    pts = _points(points68)
    width = _dist(pts[60], pts[64])
    if width <= 0:
        return 0.0
    opening = _dist(pts[61], pts[67]) + _dist(pts[62], pts[66]) + _dist(pts[63], pts[65])
    return opening / (3.0 * width)


def mouth_width(points68: npt.ArrayLike) -> float:
    """Distance between the mouth corners over the distance between the eyes."""
    pts = _points(points68)
    eyes = interocular(pts)
    return _dist(pts[48], pts[54]) / eyes if eyes > 0 else 0.0


def face_size(points68: npt.ArrayLike) -> float:
    """Geometric mean of the landmarks' width and height, in pixels."""
    pts = _points(points68)
    span = pts.max(axis=0) - pts.min(axis=0)
    return float(np.sqrt(max(span[0], 0.0) * max(span[1], 0.0)))


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head rotation in degrees. ``yaw`` > 0: the face turns to the subject's left (the nose
    moves towards the image's right); ``pitch`` > 0: the face tilts down; ``roll`` > 0: the
    head leans clockwise in the image."""

    yaw: float
    pitch: float
    roll: float


def head_pose(points68: npt.ArrayLike, image_size: tuple[int, int]) -> HeadPose:
    """Yaw, pitch and roll of the head, from six landmarks and a generic 3-D face.

    ``image_size`` is ``(width, height)``: the camera is modelled with a focal length of the
    image width and its centre at the image centre (no distortion).
    """
    pts = _points(points68)
    width, height = image_size
    camera = np.array(
        [[width, 0.0, width / 2.0], [0.0, width, height / 2.0], [0.0, 0.0, 1.0]],
        dtype=np.float64,
    )
    image_points = np.ascontiguousarray(pts[list(_MODEL_INDEX)])
    # Start from a frontal head at the distance its eye-corner span implies: small faces are
    # nearly affine images, and without a guess the solver may return the mirrored pose.
    span = max(_dist(image_points[2], image_points[3]), 1.0)
    rvec = np.zeros((3, 1), dtype=np.float64)
    tvec = np.array([[0.0], [0.0], [width * 450.0 / span]], dtype=np.float64)
    ok, solved, _ = cv2.solvePnP(
        _MODEL_3D, image_points, camera, np.zeros(4), rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return HeadPose(0.0, 0.0, 0.0)
    rotation, _ = cv2.Rodrigues(solved)
    return _euler(np.asarray(rotation, dtype=np.float64))


def _euler(rotation: PointArray) -> HeadPose:
    # rotation = Rz(roll) @ Ry(yaw) @ Rx(pitch) in the camera frame (x right, y down, z ahead).
    yaw = float(np.degrees(np.arcsin(np.clip(-rotation[2, 0], -1.0, 1.0))))
    pitch = float(np.degrees(np.arctan2(rotation[2, 1], rotation[2, 2])))
    roll = float(np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0])))
    # A face turning to the subject's left rotates about +y by a negative angle here.
    return HeadPose(-yaw, -pitch, roll)


def planar_residual(reference: npt.ArrayLike, moved: npt.ArrayLike) -> float:
    """RMS distance of ``moved``'s rigid landmarks from the best homography of
    ``reference``'s, over the distance between the eyes (a scale-free number).

    Near 0 when one frame is a plane's image of the other (a photo moved or tilted); a real
    head turned 15-20 degrees leaves several hundredths.
    """
    ref = _points(reference)[list(RIGID)]
    mov = _points(moved)[list(RIGID)]
    scale = interocular(_points(reference))
    if scale <= 0:
        return 0.0
    homography, _ = cv2.findHomography(ref, mov, 0)
    if homography is None:
        return 0.0
    mapped = cv2.perspectiveTransform(ref.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return float(np.sqrt(np.mean(np.sum((mapped - mov) ** 2, axis=1)))) / scale
