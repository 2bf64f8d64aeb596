"""``facegate detect``, ``verify``, ``models`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facegate.cli.common import (
    DetectorOpt,
    JsonOpt,
    RuntimeOpt,
    UpsampleOpt,
    emit_json,
    engine,
    from_settings,
    record_local,
    settings,
)
from facegate.config import EngineConfig
from facegate.errors import FacegateError
from facegate.privacy.audit import AuditEvent
from facegate.types import DetectResult

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
        Path | None,
        typer.Option(
            "--draw", metavar="DIR", help="Write annotated copies here.", show_default="none"
        ),
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
                quality = f" quality={face.quality:.0f}" if face.quality is not None else ""
                typer.echo(f"  [{i}] box=[{box}] score={face.score:.3f}{quality}")
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
        typer.Option(
            "--operating-point",
            metavar="POINT",
            help="Named by false-match rate, e.g. fmr=1e-4.",
            show_default=from_settings(
                "FACEGATE_ENGINE__OPERATING_POINT", EngineConfig, "operating_point"
            ),
        ),
    ] = None,
    face_a: Annotated[
        int | None,
        typer.Option(metavar="INDEX", help="Face index in A.", show_default="the largest face"),
    ] = None,
    face_b: Annotated[
        int | None,
        typer.Option(metavar="INDEX", help="Face index in B.", show_default="the largest face"),
    ] = None,
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
