"""The facegate exception tree.

Every error facegate raises on purpose derives from :class:`FacegateError`, so a caller can catch
one class. Each message is a single line that says what went wrong and, where it can, how to fix
it. The tree::

    FacegateError
     ├── ConfigError                  bad setting or unknown operating point
     ├── ImageError                   input that is not a usable image
     │    ├── ImageReadError          an image file is missing or cannot be read
     │    ├── EmptyImageError         zero bytes / zero-size array
     │    ├── UnsupportedImageError   not an image, or a format facegate does not read
     │    ├── CorruptImageError       truncated or damaged image data
     │    ├── ImageTooLargeError      over the byte or pixel limit (decompression bombs)
     │    └── ImageTooSmallError      too few pixels to hold a face
     ├── ModelError                   model files and inference runtimes
     │    ├── ModelFileMissingError   a pinned model file is not installed
     │    ├── ModelChecksumError      a model file's SHA-256 does not match its pin
     │    ├── ModelConversionError    a network could not be converted or loaded
     │    └── ModelInstallError       an opt-in model could not be fetched (npm, offline)
     ├── FaceError                    a face-level request that cannot be served
     │    ├── NoFaceError             an operation that needs a face found none
     │    ├── FaceIndexError          a face chosen by index does not exist
     │    ├── MultipleFacesError      an operation that needs exactly one face found several
     │    └── LowQualityFaceError     a face below the enrolment quality gate (size, score)
     ├── StoreError                   gallery and storage errors
     │    ├── SubjectNotFoundError    no subject with that id (or name)
     │    ├── AmbiguousSubjectError   a name matches more than one subject
     │    ├── PurposeNotFoundError    no purpose with that name
     │    ├── ConsentRequiredError    no active consent of the subject for the purpose
     │    ├── EnrollmentError         enrolment refused; ``failures`` gives a reason per image
     │    ├── MasterKeyError          master key missing, malformed or not the store's key
     │    └── StoreCorruptError       the store's data cannot be read back (tampering, damage)
     ├── LivenessError                liveness checks and presentation-attack detection
     │    ├── LivenessSessionNotFoundError  no liveness session with that id (HTTP 404)
     │    ├── LivenessSessionClosedError    the session already has its verdict (HTTP 409)
     │    └── LivenessRequiredError         the purpose needs a passed liveness session (409)
     ├── VideoError                   video sources and streams
     │    ├── StreamNotFoundError     no stream with that id (HTTP 404)
     │    ├── StreamLimitError        as many streams run as the server allows (HTTP 429)
     │    └── WatchlistError          a real-time search the purpose does not allow (HTTP 403)
     ├── ApplicationError             an application (payment, registration, access...) refusal
     │    ├── AttemptNotFoundError    no application attempt with that id (HTTP 404)
     │    ├── AttemptClosedError      the attempt is decided, or its person chose the
     │    │                           alternative path (HTTP 409)
     │    ├── AccountNotFoundError    no payment account with that id or second factor (404)
     │    ├── AppRecordNotFoundError  no access site, class, session or review case (HTTP 404)
     │    └── ProhibitedPracticeError emotion, attention or behaviour monitoring (HTTP 403)
     ├── AccessError                  an API key may not do what was asked
     │    ├── AuthenticationError     no API key, or an unknown or revoked one (HTTP 401)
     │    ├── PermissionDeniedError   the key lacks the scope or purpose (HTTP 403)
     │    └── ApiKeyNotFoundError     no API key with that id (key management)
     └── RequestError                 an HTTP request the server cannot take
          ├── PayloadTooLargeError    the request body is over the size limit (HTTP 413)
          ├── UnsupportedMediaError   a content type the endpoint does not take (HTTP 415)
          ├── InvalidRequestError     missing or malformed fields (HTTP 422)
          └── ServiceBusyError        the inference queue is full (HTTP 503)

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


class ImageReadError(ImageError):
    """An image file is missing, is a directory, or cannot be read."""


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


class ModelInstallError(ModelError):
    """An opt-in model could not be fetched: npm missing, offline, or the registry refused."""


class FaceError(FacegateError):
    """A face-level request that cannot be served."""


class NoFaceError(FaceError):
    """An operation that needs a face found none."""


class FaceIndexError(FaceError):
    """A face chosen by index does not exist in the image."""


class StoreError(FacegateError):
    """A gallery or storage problem; facegate.store defines the specific ones."""


class MultipleFacesError(FaceError):
    """An operation that needs exactly one face found several."""


class LowQualityFaceError(FaceError):
    """A face is too small or too uncertain to enrol."""


class SubjectNotFoundError(StoreError):
    """No subject has that id (or external id, or name)."""


class AmbiguousSubjectError(StoreError):
    """A name matches more than one subject; use the subject id."""


class PurposeNotFoundError(StoreError):
    """No purpose has that name."""


class ConsentRequiredError(StoreError):
    """The subject has no active consent for the purpose of the request."""


class EnrollmentError(StoreError):
    """Enrolment was refused; nothing was stored. ``failures`` holds ``(image, error)`` pairs."""

    def __init__(self, message: str, failures: list[tuple[str, FacegateError]]) -> None:
        super().__init__(message)
        self.failures = failures


class MasterKeyError(StoreError):
    """The master key is missing, malformed, or does not open this store."""


class StoreCorruptError(StoreError):
    """Stored data failed its integrity check or could not be read back."""


class LivenessError(FacegateError):
    """A liveness check or presentation-attack detector could not be used as asked."""


class LivenessSessionNotFoundError(LivenessError):
    """No liveness session has that id (or it has expired and was forgotten)."""


class LivenessSessionClosedError(LivenessError):
    """The liveness session already has its verdict and takes no more frames."""


class LivenessRequiredError(LivenessError):
    """The purpose requires a passed liveness session, and none was given or it did not pass."""


class VideoError(FacegateError):
    """A video source or stream could not be used as asked."""


class StreamNotFoundError(VideoError):
    """No stream has that id."""


class StreamLimitError(VideoError):
    """As many streams run as the server allows; stop one first."""


class WatchlistError(VideoError):
    """Real-time search of a stream, or a watchlist action, that the purpose does not allow."""


class AccessError(FacegateError):
    """An API key may not do what was asked."""


class AuthenticationError(AccessError):
    """No API key was given, or it is unknown or revoked."""


class PermissionDeniedError(AccessError):
    """The API key lacks the scope or the purpose the request needs."""


class ApiKeyNotFoundError(AccessError):
    """No API key has that id."""


class RequestError(FacegateError):
    """An HTTP request the server cannot take as it is."""


class PayloadTooLargeError(RequestError):
    """The request body is over the server's size limit."""


class UnsupportedMediaError(RequestError):
    """The request's content type is not one the endpoint takes."""


class InvalidRequestError(RequestError):
    """A field is missing or malformed; ``errors`` lists each problem."""

    def __init__(self, message: str, errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ServiceBusyError(RequestError):
    """The inference queue is full; retry later."""


class ApplicationError(FacegateError):
    """An application (payment, registration, access) cannot serve the request."""


class AttemptNotFoundError(ApplicationError):
    """No application attempt with that id (or it expired)."""


class AttemptClosedError(ApplicationError):
    """The attempt is already decided, or its person chose the alternative path."""


class AccountNotFoundError(ApplicationError):
    """No payment account with that id."""


class AppRecordNotFoundError(ApplicationError):
    """No access site, attendance class, session or review case with that name or id."""


class ProhibitedPracticeError(ApplicationError):
    """A feature facegate refuses to provide: inferring emotions, attention or behaviour of
    people (prohibited in workplaces and education by the EU AI Act, art. 5(1)(f))."""
