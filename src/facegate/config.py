"""Settings.

One :class:`Settings` object is built by the entry points (CLI, server) from the environment
(prefix ``FACEGATE_``, nested fields with ``__``, e.g. ``FACEGATE_IMAGE__MAX_PIXELS``). Library
code never reads it globally: each component receives its own sub-config.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path("./facegate-data")


DetectorName = Literal[
    "hog",
    "cnn",
    "mtcnn",
    "libfacedetection",
    "libfacedetection-onet",
    "blazeface-back",
    "blazeface-full",
]
"""Every detector the engine can run (``facegate.models.detectors`` lists them from this)."""


class ImageLimits(BaseModel):
    """Limits applied when decoding untrusted images."""

    max_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1,
        title="Maximum encoded size",
        description="Encoded images larger than this many bytes are refused before decoding.",
    )
    max_pixels: int = Field(
        40_000_000,
        ge=1,
        title="Maximum pixel count",
        description="Images whose width x height exceeds this are refused before decoding "
        "(stops decompression bombs).",
    )
    min_side: int = Field(
        16,
        ge=1,
        title="Minimum side",
        description="Images with a side shorter than this many pixels cannot hold a usable face.",
    )


class EngineConfig(BaseModel):
    """How the face engine detects, aligns and embeds."""

    pack: str = Field("dlib", title="Model pack", description="Which model pack to use.")
    runtime: Literal["onnx", "dlib"] = Field(
        "onnx",
        title="Inference runtime",
        description="'onnx' runs dlib's networks converted to ONNX on ONNX Runtime (the "
        "default: same results, about 10x faster); 'dlib' runs dlib's own C++ runtime, the "
        "reference.",
    )
    detector: DetectorName = Field(
        "hog",
        title="Face detector",
        description="dlib's HOG or CNN (MMOD) detector; 'mtcnn' (after 'facegate models install "
        "mtcnn'), 'libfacedetection' (the 'libfacedetection' extra), 'libfacedetection-onet' "
        "(both), 'blazeface-back' or "
        "'blazeface-full' (after 'facegate models install blazeface'). See docs/BENCHMARKS.md.",
    )
    upsample: int = Field(
        1,
        ge=0,
        le=4,
        title="Upsampling",
        description="How many times to double the image before detection; finds smaller faces, "
        "costs about 4x the time per step.",
    )
    detect_max_side: int = Field(
        1600,
        ge=64,
        le=20_000,
        title="Detection copy: maximum side",
        description="Detection runs on a copy of the image scaled so that its longer side is at "
        "most this many pixels (boxes are mapped back; landmarks, alignment and embeddings use "
        "the full-resolution image). Bounds the work and memory per image; faces smaller than "
        "about (80 / 2**upsample) / scale pixels of the original are not found.",
    )
    detect_min_face: int | None = Field(
        None,
        ge=1,
        title="Smallest face that matters (pixels)",
        description="Upsampling steps are chosen per image, at most `upsample`: the fewest that "
        "let the detector (dlib: about 80 pixels at upsample 0) find faces of this size in the "
        "original image. None: the size the configured upsampling finds at full resolution.",
    )
    detector_threshold: float | None = Field(
        None,
        title="Detector score threshold",
        description="Faces scored below this are dropped; unset: the detector's own default "
        "(mtcnn: O-Net probability 0.7; libfacedetection: confidence 0.5; dlib's: 0).",
    )
    landmarks68: bool = Field(
        False,
        title="68-point landmarks",
        description="Also return dlib's 68 landmarks (model trained on data not licensed for "
        "commercial use).",
    )
    operating_point: str = Field(
        "fmr=1e-4",
        title="Default 1:1 operating point",
        description="The calibrated threshold, named by its false-match rate, used by verify.",
    )
    chip: Literal["exact", "fast"] = Field(
        "fast",
        title="dlib chip sampling",
        description="How the dlib pack's 150x150 chip is cut: 'fast' (OpenCV, about 3x "
        "faster; embeddings within cosine 0.9999998 of the exact chip's on LFW) or 'exact' "
        "(dlib's own sampling, bit for bit). See docs/BENCHMARKS.md.",
    )
    jitters: int = Field(
        0,
        ge=0,
        le=100,
        title="Test-time jitters",
        description="Extra randomly jittered copies of each chip averaged into the embedding.",
    )


class MilvusConfig(BaseModel):
    """Where the Milvus vector backend is (``gallery.vector_backend = "milvus"``)."""

    uri: str = Field(
        "",
        title="Milvus URI",
        description="Empty: milvus.db in the data dir (embedded Milvus Lite, one machine); a "
        "path ending in .db: Milvus Lite there; http://host:19530: a Milvus standalone or "
        "cluster shared by every worker (docs/DEPLOY.md).",
    )
    token: SecretStr | None = Field(
        None, title="Milvus token", description="'user:password' or an API key, if required."
    )
    db_name: str = Field("", title="Milvus database", description="Empty: the default one.")
    collection_prefix: str = Field(
        "facegate",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        title="Collection name prefix",
        description="Collections are named <prefix>_<pack>_<hash>, one per model pack.",
    )
    index_type: Literal["AUTOINDEX", "FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8"] = Field(
        "AUTOINDEX",
        title="Milvus index type",
        description="Set when a collection is created; FLAT is exact.",
    )
    index_params: dict[str, int | float | str] = Field(
        default_factory=dict,
        title="Index build parameters",
        description="e.g. {'M': 32, 'efConstruction': 200} for HNSW, {'nlist': 4096} for IVF.",
    )
    search_params: dict[str, int | float | str] = Field(
        default_factory=dict,
        title="Search parameters",
        description="e.g. {'ef': 256} for HNSW, {'nprobe': 64} for IVF.",
    )


class GalleryConfig(BaseModel):
    """How the gallery searches, decides and gates enrolment."""

    enabled_packs: list[str] = Field(
        default_factory=list,
        title="Enabled packs",
        description="Model packs whose templates enrolment also writes, beside the active pack "
        "(engine.pack), so the active pack can be switched later without new photos; identify "
        "and verify only ever compare templates of the active pack.",
    )

    hnsw_min_size: int = Field(
        1_000_000,
        ge=1,
        title="HNSW threshold",
        description="A purpose's index switches from exact inner-product search (IndexFlatIP) "
        "to `large_index` once it holds more than this many templates (the name predates "
        "`large_index`).",
    )
    hnsw_m: int = Field(32, ge=4, le=128, title="HNSW links per node (M)")
    hnsw_ef_search: int = Field(
        256,
        ge=1,
        title="HNSW efSearch",
        description="Search breadth; higher is slower, surer (see docs/BENCHMARKS.md).",
    )
    hnsw_ef_construction: int = Field(80, ge=1, title="HNSW efConstruction")
    large_index: Literal["projected", "hnsw"] = Field(
        "projected",
        title="Index above hnsw_min_size",
        description="'projected': exact results from a scan of float16 codes of a 64-d "
        "projection, re-ranked on the full vectors with a proof that nothing was missed (about "
        "650 bytes per 128-d template, builds in seconds); 'hnsw': approximate, faster per "
        "search, minutes to build at 1M (docs/BENCHMARKS.md).",
    )
    vector_backend: Literal["faiss", "milvus"] = Field(
        "faiss",
        title="Vector backend",
        description="'faiss': in-process indexes rebuilt from the store at start (the default, "
        "fastest on one machine); 'milvus': the vectors in Milvus (the 'milvus' extra), one "
        "collection per model pack with the purpose as partition key (see `milvus`).",
    )
    milvus: MilvusConfig = Field(default_factory=MilvusConfig)
    operating_point: str = Field(
        "fpir=1e-2",
        title="Default 1:N operating point",
        description="Open-set threshold named by the false positive identification rate it "
        "targets; the threshold rises with the number of subjects searched.",
    )
    verify_operating_point: str = Field(
        "fmr=1e-4",
        title="Default 1:1 operating point for verify against a subject",
    )
    min_face_size: int = Field(
        60,
        ge=1,
        title="Minimum enrolment face size",
        description="Faces whose box is narrower or shorter than this many pixels are refused.",
    )
    min_detector_score: float = Field(
        0.0,
        title="Minimum enrolment detector score",
        description="Faces the detector is less sure of than this are refused at enrolment.",
    )
    duplicate_operating_point: str = Field(
        "fmr=1e-4",
        title="Duplicate warning threshold",
        description="Enrolling a face that matches another subject above this operating "
        "point's threshold adds a warning to the result.",
    )


class ServerConfig(BaseModel):
    """The HTTP service: where it listens, what it accepts, how much inference runs at once."""

    host: str = Field("127.0.0.1", title="Listen address")
    port: int = Field(8000, ge=0, le=65535, title="Listen port")
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        title="Maximum request body",
        description="Requests with a larger body are refused with 413 before they are parsed.",
    )
    workers: int = Field(
        2,
        ge=1,
        le=64,
        title="Inference workers",
        description="Threads that run face inference, each with its own engine (models loaded "
        "once per worker, never per request).",
    )
    queue_size: int = Field(
        32,
        ge=0,
        title="Inference queue",
        description="Requests that may wait for a worker; beyond workers + queue_size a request "
        "waits up to queue_timeout_s for a place, then gets 503.",
    )
    queue_timeout_s: float = Field(30.0, gt=0, title="Queue wait before 503 (seconds)")
    max_streams: int = Field(
        2,
        ge=0,
        le=64,
        title="Video streams at once",
        description="POST /v1/streams beyond this many running streams is answered 429; each "
        "stream runs its own engine on its own thread.",
    )
    max_connections: int = Field(
        1000,
        ge=1,
        title="Open connection guard",
        description="Open connections beyond this are answered 503 and closed (a file "
        "descriptor guard; idle ones are closed after header_timeout_s, and load is limited "
        "by the inference queue, not by connections).",
    )
    header_timeout_s: float = Field(
        5.0,
        gt=0,
        le=300,
        title="Request head deadline (seconds)",
        description="A connection that has not sent a complete request head this long after "
        "opening (or after its last response) is closed: slow or idle clients cannot hold it.",
    )
    audit_page_size: int = Field(100, ge=1, le=1000, title="Audit records per page (maximum)")


class PrivacyConfig(BaseModel):
    """Retention sweeps and purpose policies (see docs/COMPLIANCE.md)."""

    sweep_interval_s: float = Field(
        3600.0,
        ge=0,
        title="Retention sweep interval (seconds)",
        description="How often the server deletes templates past their purpose's retention or "
        "consent; 0 turns the in-server sweeper off (run 'facegate privacy sweep' instead).",
    )
    pending_subject_days: float = Field(
        1.0,
        ge=0,
        title="Grace for subjects without consent (days)",
        description="A subject created without any consent is erased by the sweeper after this.",
    )
    purposes_file: Path | None = Field(
        None,
        title="Purposes file",
        description="A TOML or JSON file of purpose policies applied when the server starts.",
    )


class StoreConfig(BaseModel):
    """Where subjects, consents, keys, templates and the audit chain are kept."""

    url: str | None = Field(
        None,
        title="Store database URL",
        description="Unset: the embedded default, one SQLite file (gallery.db) in the data "
        "dir. 'postgresql+psycopg://user:password@host:5432/facegate': a PostgreSQL database "
        "shared by any number of 'facegate serve' workers (the 'postgres' extra; README).",
    )


class PaymentBand(BaseModel):
    """One amount band of the till: amounts up to ``up_to`` use these operating points."""

    name: str = Field(title="Band name", pattern=r"^[a-z0-9-]{1,16}$")
    up_to: Decimal | None = Field(
        None, gt=0, title="Largest amount in the band (none: no upper limit)"
    )
    approve: str = Field(title="Operating point at or above which the face alone approves")
    step_up: str | None = Field(
        None,
        title="Looser operating point for a PIN step-up",
        description="A face between this and `approve` asks the PIN; below it, decline. "
        "None: no step-up band, below `approve` declines.",
    )
    always_step_up: bool = Field(False, title="The PIN is asked even when the face approves")


def _default_bands() -> list[PaymentBand]:
    return [
        PaymentBand(name="small", up_to=Decimal("50"), approve="fmr=1e-4", step_up="fmr=1e-3"),
        PaymentBand(name="medium", up_to=Decimal("500"), approve="fmr=1e-5", step_up="fmr=1e-3"),
        PaymentBand(name="large", approve="fmr=1e-5", step_up="fmr=1e-4", always_step_up=True),
    ]


class PaymentConfig(BaseModel):
    """The till (facegate.apps.payment): operating point by amount band, stricter for more."""

    purpose: str = Field("payment", title="Purpose payers consent to")
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", title="Currency (ISO 4217)")
    bands: list[PaymentBand] = Field(
        default_factory=_default_bands,
        min_length=1,
        title="Amount bands, smallest first (the last has no upper limit)",
    )
    max_candidates: int = Field(
        50, ge=1, le=10_000, title="Most accounts one second factor may narrow to"
    )
    pin_attempts: int = Field(3, ge=1, le=10, title="Wrong PINs before an attempt declines")


class RegistrationConfig(BaseModel):
    """ID-photo registration (facegate.apps.registration)."""

    purpose: str = Field("registration", title="Purpose of the registration")
    operating_point: str | None = Field(
        None,
        title="Cross-capture operating point",
        description="'fmr=...' on the pack's 1:1 calibration; unset: the print-vs-live point "
        "calibrated for the pack (apps/registration_points.json), else fmr=1e-3.",
    )


LivenessChallenge = Literal["blink", "turn_left", "turn_right", "smile", "move_closer"]
ALL_CHALLENGES: list[LivenessChallenge] = [
    "blink",
    "turn_left",
    "turn_right",
    "smile",
    "move_closer",
]


class LivenessConfig(BaseModel):
    """Active liveness sessions (challenges, timing) and the optional passive PAD check."""

    challenges: list[LivenessChallenge] = Field(
        default_factory=lambda: list(ALL_CHALLENGES),
        min_length=2,
        title="Challenges",
        description="What sessions may ask for. With shuffle on, each session draws 2-3 of them "
        "at random (at least one head turn); leave out what your users or camera cannot do.",
    )
    shuffle: bool = Field(
        True,
        title="Random challenges",
        description="Off: every session asks for `challenges` in their order (a fixed script, "
        "e.g. a supervised desk or a test rig). Weaker: a replay knows what comes next.",
    )
    hold_min_s: float = Field(0.5, ge=0, le=10, title="Shortest 'hold still' before a prompt")
    hold_max_s: float = Field(3.0, ge=0, le=10, title="Longest 'hold still' before a prompt")
    response_s: float = Field(
        3.0, gt=0, le=30, title="Time to do a challenge after its prompt (seconds)"
    )
    ttl_s: float = Field(30.0, gt=0, le=600, title="Session deadline (seconds)")
    pad: Literal["off", "texture", "pack"] = Field(
        "off",
        title="Passive PAD",
        description="'texture': the baseline trained with 'facegate liveness train' (pad_model); "
        "'pack': the active pack's ONNX PAD model. Its decision on the session's frames joins "
        "the verdict and the audit record.",
    )
    pad_model: Path | None = Field(
        None,
        title="Texture PAD model file",
        description="Default: <data dir>/pad/texture.npz.",
    )
    pad_threshold: float | None = Field(
        None,
        title="PAD threshold",
        description="Bona fide at or above it; unset: the model's own (texture: the training "
        "threshold, which does not carry over to new people: calibrate it, docs/LIVENESS.md; "
        "pack: 0.5).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> LivenessConfig:
        if len(set(self.challenges)) != len(self.challenges):
            raise ValueError("liveness challenges must be different")
        if not {"turn_left", "turn_right"} & set(self.challenges):
            raise ValueError("liveness challenges need a head turn (the planarity check)")
        if self.hold_min_s > self.hold_max_s:
            raise ValueError("hold_min_s is above hold_max_s")
        return self


class Settings(BaseSettings):
    """Everything an entry point needs; sub-configs go to the components."""

    model_config = SettingsConfigDict(env_prefix="FACEGATE_", env_nested_delimiter="__")

    home: Path = Field(
        DEFAULT_HOME,
        title="Data directory",
        description="Where the gallery, keys, audit chain and converted models live.",
    )
    image: ImageLimits = Field(default_factory=ImageLimits)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    gallery: GalleryConfig = Field(default_factory=GalleryConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    payment: PaymentConfig = Field(default_factory=PaymentConfig)
    registration: RegistrationConfig = Field(default_factory=RegistrationConfig)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    master_key: SecretStr | None = Field(
        None,
        title="Master key",
        description="Base64 (or hex) of 32 bytes that wraps the per-subject data keys "
        "(FACEGATE_MASTER_KEY); without it a key file is created under the data dir.",
    )
    log_level: str = Field("WARNING", title="Log level")
