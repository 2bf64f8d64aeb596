"""Templates for every enabled pack at once, so a gallery can switch packs without new photos.

A gallery searches with one pack, its *active* pack (the engine's). Enrolment can also write
templates of other *enabled* packs (``GalleryConfig.enabled_packs``) for the same face: each
other pack's engine embeds the face at the box the active engine found, with its own landmarks
and alignment. Photos are never stored, so this is the only moment those templates can be made;
later, switching the active pack (``FACEGATE_ENGINE__PACK``) finds them already there.
Identification and verification only ever compare templates of the active pack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from facegate.config import ImageLimits
from facegate.errors import NoFaceError
from facegate.gallery.analyzer import PackEmbedder
from facegate.gallery.enrollment import SourceImage, embedding_of
from facegate.store.protocol import NewTemplate
from facegate.types import Face


class OtherPacks:
    """The engines of the enabled packs other than the active one, built on first use."""

    def __init__(
        self,
        names: Sequence[str],
        home: Path | None = None,
        limits: ImageLimits | None = None,
        build: Callable[[str], PackEmbedder] | None = None,
    ) -> None:
        self.names = list(dict.fromkeys(names))
        self.home = home
        self.limits = limits
        self._build = build or self._engine
        self._engines: list[PackEmbedder] | None = None
        self._lock = threading.Lock()

    def _engine(self, name: str) -> PackEmbedder:
        from facegate.config import EngineConfig
        from facegate.pipeline.engine import FaceEngine

        return FaceEngine(EngineConfig(pack=name), self.limits, home=self.home)

    def engines(self, active_pack_id: str) -> list[PackEmbedder]:
        """Engines of the enabled packs, leaving out the active one."""
        with self._lock:
            if self._engines is None:
                self._engines = [self._build(name) for name in self.names]
        return [e for e in self._engines if e.pack_id != active_pack_id]

    def templates(self, source: SourceImage, face: Face, active_pack_id: str) -> list[NewTemplate]:
        """One template per other enabled pack for ``face``; a pack that cannot embed the face
        raises (the image then fails, so every stored image has every enabled pack's template)."""
        out = []
        for engine in self.engines(active_pack_id):
            other = engine.embed_at(source.data, face.box, face.score)
            if other.embedding is None:
                raise NoFaceError(f"{source.label}: pack {engine.pack_id} could not align the face")
            vector, pack = embedding_of(other)
            out.append(NewTemplate(vector, pack, source.sha256, other.quality))
        return out
