"""facegate: privacy-first face recognition.

The public surface is ``__all__``; everything else is internal and may change.
"""

from facegate.errors import FacegateError
from facegate.types import BBox, DetectResult, Embedding, Face, Landmarks, OperatingPoint, VerifyResult

__version__ = "0.1.0"

__all__ = [
    "BBox",
    "DetectResult",
    "Embedding",
    "Face",
    "FacegateError",
    "Landmarks",
    "OperatingPoint",
    "VerifyResult",
    "__version__",
]
