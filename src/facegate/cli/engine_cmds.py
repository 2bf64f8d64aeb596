"""``facegate detect``, ``verify``, ``models`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.common import (
    DataOpt,
    DetectorOpt,
    JsonOpt,
    RuntimeOpt,
    UpsampleOpt,
    emit_json,
    engine,
    record_local,
    settings,
)
from facegate.errors import FacegateError
from facegate.models.files import DLIB_FILES, file_status, package_dir
from facegate.privacy.audit import AuditEvent
from facegate.types import DetectResult

models_app = typer.Typer(help="Model packs and their files.", no_args_is_help=True)
EXAMPLES = Path("../shared/data/face_recognition/examples")


def _draw_target(out: Path, image: Path, many: bool) -> Path:
    if many or out.is_dir() or not out.suffix:
        out.mkdir(parents=True, exist_ok=True)
        return out / f"{image.stem}.faces.jpg"
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _draw(pixels_source: Path, result: DetectResult, target: Path) -> None:
    import cv2
    import numpy as np

    from facegate.imageio import decode, write_image

    canvas = np.ascontiguousarray(decode(pixels_source))
    thick = max(2, round(max(result.width, result.height) / 400))
    for face in result.faces:
        b = face.box
        cv2.rectangle(canvas, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), (0, 200, 0), thick)
        if face.landmarks is not None:
            for x, y in face.landmarks.points:
                cv2.circle(canvas, (int(x), int(y)), thick + 1, (255, 60, 60), -1)
    write_image(target, canvas)


def detect(
    images: Annotated[list[Path], typer.Argument(help="Image files (JPEG, PNG, WebP, BMP).")],
    detector: DetectorOpt = None,
    upsample: UpsampleOpt = None,
    runtime: RuntimeOpt = None,
    landmarks68: Annotated[bool, typer.Option("--landmarks68", help="Add 68 landmarks.")] = False,
    draw: Annotated[
        Path | None, typer.Option("--draw", help="Write annotated copies here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find faces: box [x1, y1, x2, y2] in pixels, score and landmarks for each."""
    base = settings()
    eng = engine(
        base,
        detector.value if detector else None,
        upsample,
        runtime.value if runtime else None,
        landmarks68,
    )
    failed = found = 0
    for path in images:
        try:
            result = eng.detect(path)
        except FacegateError as exc:
            typer.echo(f"error: {path}: {exc}", err=True)
            failed += 1
            continue
        found += len(result.faces)
        if as_json:
            emit_json({"image": str(path), **result.to_dict()})
        else:
            typer.echo(f"{path}: {len(result.faces)} face(s)")
            for i, face in enumerate(result.faces):
                box = ", ".join(f"{v:.0f}" for v in face.box.as_list())
                typer.echo(f"  [{i}] box=[{box}] score={face.score:.3f}")
        if draw is not None:
            _draw(path, result, _draw_target(draw, path, len(images) > 1))
    done = f"{len(images) - failed} images, {found} faces, {failed} failed"
    record_local(base, AuditEvent("detect", None, (), done))
    if failed:
        raise typer.Exit(2)


def verify(
    image_a: Annotated[Path, typer.Argument(help="First image.")],
    image_b: Annotated[Path, typer.Argument(help="Second image.")],
    operating_point: Annotated[
        str | None,
        typer.Option("--operating-point", help="Named by false-match rate, e.g. fmr=1e-4."),
    ] = None,
    face_a: Annotated[int | None, typer.Option(help="Face index in A (default: largest).")] = None,
    face_b: Annotated[int | None, typer.Option(help="Face index in B (default: largest).")] = None,
    detector: DetectorOpt = None,
    runtime: RuntimeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Are the two faces the same person? Decided at a calibrated operating point."""
    base = settings()
    eng = engine(
        base, detector.value if detector else None, None, runtime.value if runtime else None
    )
    result = eng.verify(
        image_a, image_b, operating_point=operating_point, face_a=face_a, face_b=face_b
    )
    verdict = f"{'match' if result.match else 'no match'} at {result.operating_point.name} (pair)"
    record_local(base, AuditEvent("verify", None, (), verdict, result.similarity))
    if as_json:
        emit_json(result.to_dict())
        return
    verdict = "match" if result.match else "no match"
    op = result.operating_point
    typer.echo(
        f"{verdict}: similarity {result.similarity:.4f} "
        f"{'>=' if result.match else '<'} threshold {op.threshold:.4f} at {op.name}"
    )


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Model packs, their files, pinned checksums and status."""
    try:
        folder = str(package_dir())
    except FacegateError:
        folder = "(face_recognition_models not installed)"
    rows = [
        {
            "pack": "dlib",
            "file": f.name,
            "role": f.role,
            "sha256": f.sha256,
            "license": f.license,
            "status": file_status(f.name),
        }
        for f in DLIB_FILES.values()
    ]
    if as_json:
        emit_json({"packs": [{"name": "dlib", "folder": folder, "files": rows}]})
        return
    typer.echo(f"pack dlib ({folder})")
    for r in rows:
        typer.echo(f"  {r['status']:<8} {r['file']:<44} sha256:{r['sha256'][:16]}  {r['role']}")


@models_app.command("convert")
def models_convert(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """Convert dlib's networks to ONNX now (otherwise done on first use), cached in the data dir."""
    from facegate.models.convert import convert_all

    home = settings(data).home
    done = {name: str(path) for name, path in convert_all(home).items()}
    if as_json:
        emit_json({"converted": done})
        return
    for name, path in done.items():
        typer.echo(f"{name} -> {path}")


@models_app.command("verify")
def models_verify(
    images: Annotated[
        list[Path] | None, typer.Argument(help="Photos with faces (default: the example photos).")
    ] = None,
    upsample: Annotated[int, typer.Option(min=0, max=2, help="CNN detector upsampling.")] = 1,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare the converted ONNX models with dlib's runtime on real photos."""
    import numpy as np

    from facegate.config import EngineConfig
    from facegate.models.convert import convert_all, verify_against_dlib
    from facegate.pipeline.align import face_chip
    from facegate.pipeline.engine import FaceEngine

    base = settings(data)
    paths = images or sorted(p for p in EXAMPLES.glob("*.jpg") if p.is_file())
    if not paths:
        raise typer.BadParameter(f"no photos given and none found in {EXAMPLES}")
    convert_all(base.home)
    hog = FaceEngine(EngineConfig(runtime="dlib", detector="hog"), base.image, home=base.home)
    pixels = [hog.decode(p) for p in paths]
    chips = [
        face_chip(img, face.landmarks)
        for img in pixels
        for face in hog.detect(img).faces
        if face.landmarks is not None
    ]
    stacked = np.stack(chips) if chips else np.zeros((0, 150, 150, 3), np.uint8)
    agreement = verify_against_dlib(base.home, stacked, pixels, upsample=upsample)
    if as_json:
        emit_json(agreement.as_dict())
        return
    a = agreement
    typer.echo(f"embedder: {a.chips} faces, worst cosine {a.min_cosine:.7f} (needs >= 0.9999)")
    typer.echo(
        f"CNN detector: {a.images} images, dlib {a.dlib_faces} faces, ONNX {a.onnx_faces}, "
        f"matched {a.matched_faces}, worst IoU {a.min_iou:.4f}"
    )


def demo(
    examples: Annotated[
        Path, typer.Option(help="Folder with obama.jpg, obama2.jpg, biden.jpg, two_people.jpg.")
    ] = EXAMPLES,
) -> None:
    """A short tour: detect two faces, verify a match and a non-match."""
    if not examples.is_dir():
        typer.echo(f"demo photos not found in {examples}; try: facegate detect YOUR_PHOTO.jpg")
        raise typer.Exit(1)
    eng = engine(settings())
    typer.echo("$ facegate detect two_people.jpg")
    found = eng.detect(examples / "two_people.jpg")
    typer.echo(f"  {len(found.faces)} faces: {[f.box.as_list() for f in found.faces]}")
    for a, b in (("obama.jpg", "obama2.jpg"), ("obama.jpg", "biden.jpg")):
        r = eng.verify(examples / a, examples / b)
        verdict = "match" if r.match else "no match"
        typer.echo(f"$ facegate verify {a} {b}")
        typer.echo(f"  {verdict} (similarity {r.similarity:.3f}, {r.operating_point.name})")


def register(app: typer.Typer) -> None:
    app.command()(detect)
    app.command()(verify)
    app.command()(demo)
    app.add_typer(models_app, name="models")
