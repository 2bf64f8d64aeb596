"""``facegate video``: tracks, identities and events from a file, a camera or a stream."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from facegate.cli.common import (
    DataOpt,
    DetectorOpt,
    JsonOpt,
    UpsampleOpt,
    cli_actor,
    emit_json,
    settings,
)
from facegate.errors import ConfigError
from facegate.video.detect import VIDEO_MAX_SIDE
from facegate.video.events import Event, EventSink, FanOut, JsonLinesSink, WebhookSink

SECRET_ENV = "FACEGATE_WEBHOOK_SECRET"


class _TextSink:
    """One readable line per event on stdout; names only here, never in library logs."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def emit(self, event: Event) -> None:
        what = event.type.replace("_", " ")
        if event.subject_id is not None or event.candidate_id is not None:
            subject = event.subject_id or event.candidate_id or ""
            what += f" {self.names.get(subject, subject)}"
        if event.score is not None:
            what += f" (score {event.score:.3f} at {event.operating_point})"
        typer.echo(f"{event.timestamp:8.2f}s frame {event.frame:6d} track {event.track_id}: {what}")

    def close(self) -> None:
        return None


@contextmanager
def _progress(total: int | None, enabled: bool) -> Iterator[Any]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("frames", total=total)

        def update(label: str, done: int, count: int) -> None:
            bar.update(task, description=label, completed=done, total=count or None)

        yield update


def _webhook(url: str | None) -> WebhookSink | None:
    if url is None:
        return None
    secret = os.environ.get(SECRET_ENV)
    if not secret:
        raise ConfigError(f"--webhook needs the signing secret in ${SECRET_ENV}")
    try:
        return WebhookSink(url, secret.encode())
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def video(
    source: Annotated[
        str,
        typer.Argument(
            help="A video file, a folder of frames, a camera (0, /dev/video0) "
            "or an rtsp:// or http(s):// stream."
        ),  # fmt: skip
    ],
    purpose: Annotated[str, typer.Option("--purpose", help="Search subjects consented for this.")],
    draw: Annotated[
        Path | None,
        typer.Option(
            "--draw",
            metavar="OUT.mp4",
            help="Write the frames with boxes, names and track ids.",
            show_default="no drawing",
        ),  # fmt: skip
    ] = None,
    max_fps: Annotated[
        float | None,
        typer.Option(
            "--max-fps",
            metavar="N",
            min=0.1,
            help="Process at most N frames per second of stream time.",
            show_default="every frame",
        ),  # fmt: skip
    ] = None,
    detect_every: Annotated[
        int,
        typer.Option(
            "--detect-every",
            metavar="N",
            min=1,
            help="Detect on every Nth processed frame; tracks carry the boxes between.",
        ),  # fmt: skip
    ] = 1,
    detect_side: Annotated[
        int,
        typer.Option(
            "--detect-side",
            metavar="PX",
            min=64,
            help="Detect on a copy of each frame at most PX pixels on its longer side.",
        ),  # fmt: skip
    ] = VIDEO_MAX_SIDE,
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook",
            metavar="URL",
            help=f"POST each event, signed with HMAC-SHA256 (secret in ${SECRET_ENV}).",
            show_default="none",
        ),  # fmt: skip
    ] = None,
    detector: DetectorOpt = None,
    upsample: UpsampleOpt = None,
    data: DataOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Track faces in a video and say who each track is: one event per line.

    Without --detector, video uses libfacedetection where it is installed (unless the settings
    name a detector), at upsample 0 on a copy at most --detect-side pixels wide."""
    from facegate.cli.gallery_cmds import open_gallery
    from facegate.pipeline.engine import FaceEngine
    from facegate.store.schema import utcnow
    from facegate.video.detect import video_engine_config, video_finder
    from facegate.video.draw import DrawWriter, draw_tracks
    from facegate.video.identity import TrackIdentities
    from facegate.video.search import AuditingSink, GallerySearcher
    from facegate.video.sources import FrameBudget, open_source
    from facegate.video.stream import StreamAnalyzer
    from facegate.video.watchlist import WatchlistHits, require_realtime_allowed, use_record

    hook = _webhook(webhook)  # a missing secret fails before anything runs
    base = settings(data)
    config = video_engine_config(base.engine, detector.value if detector else None, upsample)
    face_engine = FaceEngine(config, base.image, home=base.home)
    with open_gallery(data) as gallery:
        searcher = GallerySearcher(gallery, purpose)
        names = {s.id: s.display_name for s in gallery.subjects(purpose)}
        policy = gallery.store.get_purpose(purpose)
        frames = open_source(source)
        require_realtime_allowed(policy, frames.live)
        sinks: list[EventSink] = [JsonLinesSink(sys.stdout) if as_json else _TextSink(names)]
        sinks.append(AuditingSink(gallery, purpose, frames.name))
        hits = WatchlistHits()
        sinks.append(hits)
        started = utcnow()
        if hook is not None:
            sinks.append(hook)
        analyzer = StreamAnalyzer(
            video_finder(face_engine, detect_side),
            identities=TrackIdentities(face_engine, searcher, landmarks=face_engine.add_landmarks),
            sink=FanOut(sinks),
            stream_id=frames.name,
            detect_every=detect_every,
            watchlist=policy.watchlist,
        )
        writer = DrawWriter(draw, frames.fps) if draw is not None else None
        total = getattr(frames, "frame_count", None) or len(getattr(frames, "paths", []))
        with _progress(total, not frames.live) as progress:

            def on_frame(frame: Any, result: Any) -> None:
                if writer is not None:
                    writer.write(draw_tracks(frame.pixels, result, names))
                if progress is not None:
                    progress("frames", frame.index + 1, total)

            try:
                summary = analyzer.run(frames, FrameBudget(max_fps), on_frame=on_frame)
            finally:
                if writer is not None:
                    writer.close()
                if hook is not None:
                    hook.close()
                if policy.watchlist:
                    use = use_record(purpose, len(names), face_engine.pack_id, frames.name,
                                     started, utcnow(), hits)  # fmt: skip
                    gallery.record(use, cli_actor())
    _print_summary(summary.to_dict(), as_json)


def _print_summary(s: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json({"type": "summary", **s})
        return
    typer.echo(
        f"{s['frames']} frames ({s['dropped']} dropped) in {s['seconds']} s ({s['fps']} fps): "
        f"{s['tracks']} tracks, {s['tracks_identified']} identified, {s['tracks_unknown']} "
        f"unknown, {s['searches']} searches"
    )


def register(app: typer.Typer) -> None:
    app.command()(video)
