"""Identity per track on the Hamilton and YouTube Faces clips, per track, pack and alignment.

    nice -n 10 .venv/bin/python bench/video_identity.py --home DATA_DIR [--out FILE]

DATA_DIR holds the installed packs (dlib; mobilefacenet and mtcnn for their rows; a copy of it
is made under ``bench/.cache/`` because converted models are cached in it). The tracks are made
as ``facegate video`` makes them (libfacedetection on a 480 px copy, score 0.7, the IoU tracker,
scene cuts), then every detection of every confirmed track is measured:

- pose: yaw in degrees from the 68 landmarks (:func:`facegate.liveness.signals.head_pose`);
- quality: the unified 0-100 score a track ranks its shots by
  (:func:`facegate.video.identity.shot_quality`);
- embeddings: ``dlib`` (dlib's 5 points, dlib's chip), ``mobilefacenet`` aligned from the five
  points derived from the 68 landmarks (``mfn-68``), from MTCNN's five points (``mfn-mtcnn``:
  MTCNN run on a crop around the track's box) and from libfacedetection's own five keypoints
  (``mfn-lfd5``: its native entry point on the frame's 480 px copy, the detection matching the
  track's box).

The two people are enrolled from their photos (``lin-manuel-miranda.png``,
``alex-lacamoire.png``) with each detector a gallery may have used (HOG, the photo default;
libfacedetection, the video default; MTCNN), taking the face enrolment takes (a photo it would
refuse, e.g. with two usable faces, is left out). The YouTube Faces people are enrolled from
their LFW photo, and ``--strangers`` LFW people (fixed draw) are added to a second, larger
gallery that every clip is also searched in: nobody in the clips is among them.

Per track and person: the best and mean similarity over its shots, the similarity of the
best-quality shot, of the track template and the quality-weighted mean of the top-3 shots'
similarities; each track replayed through ``TrackIdentities`` (the rule of the code at hand) in
its own gallery (the clip's people) and in the larger one, at ``fpir=1e-2`` for that many
subjects (the pack's shipped calibration); and every track's scores against the strangers
(``impostors``). The Hamilton clip's tracks are also run on the YouTube Faces clips
(``ytf_dev``). Who each track is comes from :func:`who` (looked up frame by frame) and, on
YouTube Faces, from the annotated box.
Detections, embeddings and poses are cached under ``bench/.cache/video_identity/``; writes
``bench/results/video_identity.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from facegate.config import EngineConfig, GalleryConfig
from facegate.errors import FacegateError
from facegate.eval.video import load_ytf
from facegate.gallery.enrollment import enrollment_face
from facegate.liveness.signals import head_pose
from facegate.models.libfacedetection import LibfacedetectionDetector
from facegate.pipeline.engine import FaceEngine
from facegate.types import BBox, Face, ImageArray, Landmarks
from facegate.video.detect import video_engine_config, video_finder
from facegate.video.identity import shot_quality
from facegate.video.sources import FileSource, Frame, FrameFolderSource, FrameSource
from facegate.video.stream import FrameTracks, StreamAnalyzer

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / ".." / "shared" / "data"
CLIP = DATA / "video" / "short_hamilton_clip.mp4"
EXAMPLES = DATA / "face_recognition" / "examples"
CACHE = HERE / ".cache" / "video_identity"
OUT = HERE / "results" / "video_identity.json"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "video"))
from hamilton_truth import who  # noqa: E402  (the labels the identity test uses)

PEOPLE = ("lin-manuel-miranda", "alex-lacamoire")
YTF = DATA / "ytf_dev"
LFW = DATA / "lfw"
YTF_PEOPLE = ("Aaron_Guiel", "Albert_Brooks", "Alberto_Ruiz_Gallardon")
ENROL_DETECTORS = ("hog", "libfacedetection", "mtcnn")
Who = Callable[[int, Sequence[float]], str | None]


def ytf_who(root: Path, clip: str) -> Who:
    """The clip's person for a track that starts on YTF's annotated box (IoU >= 0.3)."""
    frames = load_ytf(root)[clip]

    def who_in_clip(frame: int, box: Sequence[float]) -> str | None:
        truth = frames[frame]
        return truth.person if BBox(*box).iou(truth.box) >= 0.3 else None

    return who_in_clip


def collect_tracks(
    engine: FaceEngine, source: FrameSource
) -> tuple[dict[int, list[tuple[int, Face]]], dict[int, ImageArray]]:
    """The detections of every confirmed track, as ``facegate video`` makes the tracks, and
    the frames they are in."""
    tracks: dict[int, list[tuple[int, Face]]] = {}
    frames: dict[int, ImageArray] = {}

    def on_frame(frame: Frame, result: FrameTracks) -> None:
        for tracked in result.tracks:
            if tracked.confirmed and tracked.face is not None:
                tracks.setdefault(tracked.track_id, []).append((frame.index, tracked.face))
                frames[frame.index] = frame.pixels

    StreamAnalyzer(video_finder(engine)).run(source, on_frame=on_frame)
    return tracks, frames


def mtcnn_points(mtcnn: FaceEngine, pixels: ImageArray, box: BBox) -> Landmarks | None:
    """MTCNN's five points for the face in ``box``: MTCNN on a crop around it (enlarged to at
    least 160 px), the detection overlapping the box most (IoU >= 0.3)."""
    height, width = pixels.shape[:2]
    pad_x, pad_y = box.width, box.height
    x1, y1 = int(max(0, box.x1 - pad_x)), int(max(0, box.y1 - pad_y))
    x2, y2 = int(min(width, box.x2 + pad_x)), int(min(height, box.y2 + pad_y))
    crop = pixels[y1:y2, x1:x2]
    scale = max(1.0, 160.0 / max(1, min(crop.shape[:2])))
    if scale > 1.0:
        import cv2

        crop = np.asarray(cv2.resize(crop, None, fx=scale, fy=scale), np.uint8)
    best, best_iou = None, 0.3
    for face in mtcnn.locate(np.ascontiguousarray(crop)):
        b = face.box
        mapped = BBox(b.x1 / scale + x1, b.y1 / scale + y1, b.x2 / scale + x1, b.y2 / scale + y1)
        overlap = mapped.iou(box)
        if face.keypoints is not None and overlap >= best_iou:
            best, best_iou = face.keypoints.points / scale + np.array([x1, y1], np.float32), overlap
    return None if best is None else Landmarks(best.astype(np.float32))


def lfd_points(
    detector: LibfacedetectionDetector, pixels: ImageArray, box: BBox
) -> Landmarks | None:
    """libfacedetection's own five keypoints (ArcFace order) for the face in ``box``: the
    detection on the frame (480 px copy, as video detects) overlapping the box most (IoU >= 0.5)."""
    rows, points = detector.detect_rows(pixels)
    if points is None:
        return None
    best, best_iou = None, 0.5
    for row, pts in zip(rows, points, strict=True):
        overlap = BBox(*map(float, row[:4])).iou(box)
        if overlap >= best_iou:
            best, best_iou = pts, overlap
    return None if best is None else Landmarks(np.asarray(best, np.float32))


def add_lfd5(name: str, shots: dict[str, list[dict[str, object]]], source: FrameSource,
             engines: Callable[[], dict[str, FaceEngine]]) -> None:  # fmt: skip
    """``mfn-lfd5``: mobilefacenet aligned on libfacedetection's own keypoints (a second pass,
    cached in the same file)."""
    if all("mfn-lfd5" in shot for track in shots.values() for shot in track):
        return
    built = engines()
    detector = LibfacedetectionDetector(0.5, max_side=480, threads=1)
    wanted = {shot["frame"] for track in shots.values() for shot in track}
    frames = {f.index: f.pixels for f in source.frames() if f.index in wanted}
    source.close()
    for track in shots.values():
        for shot in track:
            pixels = frames[int(shot["frame"])]  # type: ignore[call-overload]
            box = BBox(*shot["box"])  # type: ignore[misc]
            points = lfd_points(detector, pixels, box)
            shot["lfd_points"], shot["mfn-lfd5"] = points is not None, None
            if points is not None:
                face = built["dlib"].add_landmarks(pixels, [Face(box, 1.0)])[0]
                aligned = Face(box, 1.0, landmarks=face.landmarks, keypoints=points)
                shot["mfn-lfd5"] = vector(built["mtcnn"].embed_faces(pixels, [aligned])[0])
    (CACHE / f"shots_{name}.json").write_text(json.dumps(shots))


def vector(face: Face) -> list[float] | None:
    return None if face.embedding is None else [float(v) for v in face.embedding.vector]


def measure_shot(
    engines: dict[str, FaceEngine], pixels: ImageArray, face: Face
) -> dict[str, object]:
    """Pose, quality and the three probe embeddings of one detection."""
    dlib_face = engines["dlib"].add_landmarks(pixels, [face])[0]
    mfn_face = engines["mfn"].add_landmarks(pixels, [face])[0]
    lm68 = mfn_face.landmarks68
    yaw = head_pose(lm68.points, (pixels.shape[1], pixels.shape[0])).yaw if lm68 else None
    points = mtcnn_points(engines["mtcnn"], pixels, face.box)
    out: dict[str, object] = {
        "box": [round(v, 1) for v in (face.box.x1, face.box.y1, face.box.x2, face.box.y2)],
        "score": round(face.score, 3),
        "quality": round(shot_quality(pixels, dlib_face), 2),
        "yaw": None if yaw is None else round(yaw, 1),
        "mtcnn_points": points is not None,
        "dlib": vector(engines["dlib"].embed_faces(pixels, [dlib_face])[0]),
        "mfn-68": vector(engines["mfn"].embed_faces(pixels, [mfn_face])[0]),
        "mfn-mtcnn": None,
    }
    if points is not None:
        with_points = Face(face.box, face.score, landmarks=dlib_face.landmarks, keypoints=points)
        out["mfn-mtcnn"] = vector(engines["mtcnn"].embed_faces(pixels, [with_points])[0])
    return out


def build_engines(home: Path) -> dict[str, FaceEngine]:
    video = video_engine_config(EngineConfig())
    mfn = video.model_copy(update={"pack": "mobilefacenet"})
    mtcnn = EngineConfig(pack="mobilefacenet", detector="mtcnn", upsample=0)
    return {
        "dlib": FaceEngine(video, home=home),
        "mfn": FaceEngine(mfn, home=home),
        "mtcnn": FaceEngine(mtcnn, home=home),
    }


def measure_clip(
    name: str, source: Callable[[], FrameSource], engines: Callable[[], dict[str, FaceEngine]]
) -> dict[str, list[dict[str, object]]]:
    """Every confirmed track's shots in one clip, measured (cached per clip)."""
    cached = CACHE / f"shots_{name}.json"
    if cached.is_file():
        loaded: dict[str, list[dict[str, object]]] = json.loads(cached.read_text())
        return loaded
    built = engines()
    tracks, frames = collect_tracks(built["dlib"], source())
    out = {
        str(track_id): [
            {"frame": index, **measure_shot(built, frames[index], face)} for index, face in shots
        ]
        for track_id, shots in sorted(tracks.items())
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(out))
    return out


def stranger_photos(count: int) -> list[Path]:
    """The first photo of ``count`` LFW people (fixed draw), none of the clips' people."""
    taken = set(YTF_PEOPLE)
    dirs = sorted(d for d in LFW.iterdir() if d.is_dir() and d.name not in taken)
    picks = np.random.default_rng(14).permutation(len(dirs))[:count]
    return [min(dirs[i].glob("*.jpg")) for i in sorted(picks)]


def enrol_photos(strangers: int) -> dict[str, Path]:
    photos = {person: EXAMPLES / f"{person}.png" for person in PEOPLE}
    photos.update({person: LFW / person / f"{person}_0001.jpg" for person in YTF_PEOPLE})
    photos.update({f"lfw:{p.parent.name}": p for p in stranger_photos(strangers)})
    return photos


def enrol_templates(
    home: Path, photos: dict[str, Path]
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """``{pack: {detector: {person: vector}}}``: each photo's face as enrolment takes it (the
    one usable face; a photo enrolment would refuse is left out), cached."""
    cached = CACHE / f"enrolled_{len(photos)}_checked.json"
    if cached.is_file():
        loaded: dict[str, dict[str, dict[str, list[float]]]] = json.loads(cached.read_text())
        return loaded
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for pack in ("dlib", "mobilefacenet"):
        for detector in ENROL_DETECTORS:
            engine = FaceEngine(EngineConfig(pack=pack, detector=detector), home=home)
            for person, path in photos.items():
                try:  # the face `facegate enroll` would take, or none (it would refuse)
                    face = enrollment_face(engine.analyze(path).faces, path.name, GalleryConfig())
                except FacegateError:
                    continue
                emb = vector(face)
                if emb is not None:
                    out.setdefault(pack, {}).setdefault(detector, {})[person] = emb
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(out))
    return out


def thresholds(home: Path, sizes: Sequence[int]) -> dict[str, dict[int, float]]:
    """``fpir=1e-2`` for galleries of ``sizes`` subjects, per pack (the shipped calibration)."""
    out: dict[str, dict[int, float]] = {}
    for pack in ("dlib", "mobilefacenet"):
        calibration = FaceEngine(EngineConfig(pack=pack), home=home).calibration
        out[pack] = {n: calibration.operating_point("fpir=1e-2", n).threshold for n in sizes}
    return out


def fmr_thresholds(home: Path) -> dict[str, dict[str, float]]:
    """The pack's 1:1 thresholds at ``fmr=1e-2`` and ``fmr=1e-3``."""
    out: dict[str, dict[str, float]] = {}
    for pack in ("dlib", "mobilefacenet"):
        calibration = FaceEngine(EngineConfig(pack=pack), home=home).calibration
        out[pack] = {f"fmr={r:g}": calibration.threshold_for_fmr(r) for r in (1e-2, 1e-3)}
    return out


def working_home(home: Path) -> Path:
    """A writable copy of ``home`` (converted models are cached in the data dir)."""
    copy = CACHE / "home"
    if not copy.is_dir():
        shutil.copytree(home, copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="data dir with the packs")
    parser.add_argument("--strangers", type=int, default=95, help="LFW people added")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    home = working_home(args.home)
    from video_identity_report import Clip, report

    def engines() -> dict[str, FaceEngine]:
        return build_engines(home)

    shots = measure_clip("hamilton", lambda: FileSource(CLIP), engines)
    add_lfd5("hamilton", shots, FileSource(CLIP), engines)
    clips = [Clip("hamilton", shots, who, PEOPLE)]
    for clip in sorted(load_ytf(YTF)):
        person, number = clip.rstrip("0123456789"), clip[len(clip.rstrip("0123456789")) :]
        folder = YTF / person / number
        shots = measure_clip(clip, lambda f=folder: FrameFolderSource(f, fps=30.0), engines)
        add_lfd5(clip, shots, FrameFolderSource(folder, fps=30.0), engines)
        clips.append(Clip(clip, shots, ytf_who(YTF, clip), YTF_PEOPLE))
    photos = enrol_photos(args.strangers)
    enrolled = enrol_templates(home, photos)
    found = {len(people) for by_detector in enrolled.values() for people in by_detector.values()}
    sizes = range(1, max(found) + 1)
    result = report(clips, enrolled, thresholds(home, sizes), fmr_thresholds(home))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("summary", "impostors")}, indent=1))


if __name__ == "__main__":
    main()
