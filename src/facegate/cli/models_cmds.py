"""``facegate models``: the model packs, their files and licences; conversion and checks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import DataOpt, JsonOpt, emit_json, settings
from facegate.models.registry import PackRegistry

models_app = typer.Typer(help="Model packs and their files.", no_args_is_help=True)
EXAMPLES = Path("../shared/data/face_recognition/examples")


def _print_pack(info: dict[str, Any], active: str) -> None:
    mark = " (active)" if info["name"] == active else ""
    typer.echo(f"pack {info['name']}{mark}: {info['title']} [{info['status']}]")
    typer.echo(f"  embedding space: {info['pack_id']}")
    lic = info["licence"]
    typer.echo(f"  licence of code: {lic['code']}")
    typer.echo(f"  licence of weights: {lic['weights']}")
    if info["provenance"]:
        typer.echo(f"  provenance: {info['provenance']}")
    roles = info["roles"]
    for role in ("detector", "landmarker", "pad"):
        for spec in roles[role]:
            extra = spec.get("name") or (f"{spec['points']} points" if "points" in spec else "")
            typer.echo(f"  {role}: {spec['kind']} {extra}".rstrip())
    if info["uses"] or not roles["detector"]:
        typer.echo(f"  detector and landmarks from pack {info['uses'] or 'dlib'}")
    emb = roles["embedder"]
    if emb is not None and emb.get("members"):
        typer.echo(
            f"  embedder: {emb['kind']} {emb['output_dim']}-d, alignment {emb['alignment']}, "
            "the members' unit vectors weighted and concatenated:"
        )
        for member in emb["members"]:
            typer.echo(f"    weight {member['weight']:g}: {_embedder_line(member['spec'])}")
    elif emb is not None:
        typer.echo(f"  embedder: {_embedder_line(emb)}")
    for fig in info["published_accuracy"]:
        typer.echo(f"  published: {fig['benchmark']}: {fig['value']}")
    cal = info["calibration"]
    typer.echo(f"  calibration: {cal['source'] if cal else 'none shipped'}")
    for f in info["files"]:
        typer.echo(f"  {f['status']:<9} {f['file']:<44} sha256:{f['sha256']}")
        src = f["source"]
        where = (
            f"{src['kind']} {src.get('package')}@{src.get('version')} {src['path']}"
            if src["kind"] != "user"
            else f"user {src['path']}"
        )
        typer.echo(f"            {f['size']:,} bytes, {where}; licence: {f['licence']}")


@models_app.command("list")
def models_list(data: DataOpt = None, as_json: JsonOpt = False) -> None:
    """Model packs: roles, files, pinned SHA-256, licences, provenance and status."""
    base = settings(data)
    registry = PackRegistry(base.home)
    infos = [registry.describe(pack) for pack in registry.packs()]
    if as_json:
        emit_json({"active": base.engine.pack, "packs": infos, "errors": registry.errors})
        return
    for info in infos:
        _print_pack(info, base.engine.pack)
    for name, message in registry.errors.items():
        typer.echo(f"pack {name}: not usable: {message}")


@models_app.command("add")
def models_add(
    folder: Annotated[Path, typer.Argument(help="Folder with manifest.json and the ONNX file(s).")],
    accept_licence: Annotated[
        bool, typer.Option("--accept-licence", help="Accept a licence the pack says needs it.")
    ] = False,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add your own ArcFace-format ONNX pack; its files' SHA-256 are pinned now."""
    from facegate.models.user_packs import add_pack

    base = settings(data)
    pack = add_pack(folder, base.home, accept_licence=accept_licence)
    registry = PackRegistry(base.home)
    if as_json:
        emit_json(registry.describe(pack))
        return
    typer.echo(f"added pack {pack.name} (embedding space {pack.pack_id}) to {pack.folder}")
    typer.echo(f"licence of weights: {pack.licence.weights}")
    if pack.licence.notice:
        typer.echo(pack.licence.notice)
    typer.echo(f"use it with: FACEGATE_ENGINE__PACK={pack.name}")


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

    from facegate.cli.progress import progress_bar
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
    with progress_bar() as progress:  # dlib's CNN takes seconds to minutes per photo
        report = progress or (lambda label, done, total: None)
        pixels, chips = [], []
        for done, path in enumerate(paths, 1):
            pixels.append(hog.decode(path))
            found = hog.detect(pixels[-1], quality=False).faces
            chips += [face_chip(pixels[-1], f.landmarks) for f in found if f.landmarks is not None]
            report("finding faces (HOG)", done, len(paths))
        stacked = np.stack(chips) if chips else np.zeros((0, 150, 150, 3), np.uint8)
        agreement = verify_against_dlib(
            base.home, stacked, pixels, upsample=upsample, progress=progress
        )
    if as_json:
        emit_json(agreement.as_dict())
        return
    a = agreement
    typer.echo(f"embedder: {a.chips} faces, worst cosine {a.min_cosine:.7f} (needs >= 0.9999)")
    typer.echo(
        f"CNN detector: {a.images} images, dlib {a.dlib_faces} faces, ONNX {a.onnx_faces}, "
        f"matched {a.matched_faces}, worst IoU {a.min_iou:.4f}"
    )


def register(app: typer.Typer) -> None:
    from facegate.cli.calibrate_cmd import calibrate

    models_app.command("calibrate")(calibrate)
    from facegate.cli import detector_cmds

    detector_cmds.register(models_app)
    app.add_typer(models_app, name="models")


def _embedder_line(emb: dict[str, Any]) -> str:
    norm = emb["normalisation"]
    scale = f", (x - {norm['mean']}) / {norm['std']}" if emb["kind"] != "dlib-resnet" else ""
    return (
        f"{emb['kind']} {emb['output_dim']}-d, {emb['input_size']}px "
        f"{emb['colour_order']} {emb['layout']}{scale}, alignment {emb['alignment']}, "
        f"conversion {emb['conversion']}"
        + (", test-time flip (each chip averaged with its mirror)" if emb.get("flip") else "")
    )
