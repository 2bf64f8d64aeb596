"""The facegate exception tree.

Every error facegate raises on purpose derives from :class:`FacegateError`, so a caller can catch
one class. Each message is a single line that says what went wrong and, where it can, how to fix
it. The tree::

    FacegateError
     ├── ConfigError                  bad setting or unknown operating point
     ├── ImageError                   input that is not a usable image
     │    ├── EmptyImageError         zero bytes / zero-size array
     │    ├── UnsupportedImageError   not an image, or a format facegate does not read
     │    ├── CorruptImageError       truncated or damaged image data
     │    ├── ImageTooLargeError      over the byte or pixel limit (decompression bombs)
     │    └── ImageTooSmallError      too few pixels to hold a face
     ├── ModelError                   model files and inference runtimes
     │    ├── ModelFileMissingError   a pinned model file is not installed
     │    ├── ModelChecksumError      a model file's SHA-256 does not match its pin
     │    └── ModelConversionError    a network could not be converted or loaded
     ├── FaceError                    a face-level request that cannot be served
     │    ├── NoFaceError             an operation that needs a face found none
     │    └── FaceIndexError          a face chosen by index does not exist
     └── StoreError                   gallery and storage errors (see facegate.store)

"No face found" in ``detect`` or ``analyze`` is an empty result, not an error; only operations
that cannot produce an answer without a face (``verify``, enrolment) raise :class:`NoFaceError`.
"""

from __future__ import annotations


class FacegateError(Exception):
    """Root of every error facegate raises on purpose."""


class ConfigError(FacegateError):
    """A setting, option or operating point is invalid."""


class ImageError(FacegateError):
    """The input could not be used as an image."""


class EmptyImageError(ImageError):
    """The input holds no data."""


class UnsupportedImageError(ImageError):
    """The input is not an image, or is in a format facegate does not read."""


class CorruptImageError(ImageError):
    """The image data is truncated or damaged."""


class ImageTooLargeError(ImageError):
    """The image is over the configured byte or pixel limit."""


class ImageTooSmallError(ImageError):
    """The image is too small to hold a face."""


class ModelError(FacegateError):
    """A model file or inference runtime problem."""


class ModelFileMissingError(ModelError):
    """A pinned model file is not installed."""


class ModelChecksumError(ModelError):
    """A model file does not match its pinned SHA-256."""


class ModelConversionError(ModelError):
    """A network could not be converted to, or loaded from, ONNX."""


class FaceError(FacegateError):
    """A face-level request that cannot be served."""


class NoFaceError(FaceError):
    """An operation that needs a face found none."""


class FaceIndexError(FaceError):
    """A face chosen by index does not exist in the image."""


class StoreError(FacegateError):
    """A gallery or storage problem; facegate.store defines the specific ones."""
