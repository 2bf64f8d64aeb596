"""Which vector index a gallery searches: FAISS in this process, or Milvus (``vector_backend``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from facegate.config import GalleryConfig
from facegate.errors import ConfigError
from facegate.store.index import IndexParams, SearchIndex, VectorIndex


def index_params(config: GalleryConfig) -> IndexParams:
    return IndexParams(
        config.hnsw_min_size,
        config.hnsw_m,
        config.hnsw_ef_search,
        config.hnsw_ef_construction,
        large_index=config.large_index,
    )


def open_search_index(
    config: GalleryConfig, pack_of: Callable[[], str], home: Path | None = None
) -> SearchIndex:
    """The index ``config`` names; ``pack_of`` gives the active pack (Milvus: its collection).

    Milvus without a URI means embedded Milvus Lite in ``home/milvus.db``.
    """
    if config.vector_backend == "faiss":
        return VectorIndex(index_params(config))
    from facegate.store.milvus import MilvusIndex, MilvusParams

    settings = config.milvus
    uri = settings.uri
    if not uri:
        if home is None:
            raise ConfigError("the milvus vector backend needs gallery.milvus.uri")
        uri = str(Path(home) / "milvus.db")
    params = MilvusParams(
        uri,
        token=settings.token.get_secret_value() if settings.token else "",
        db_name=settings.db_name,
        collection_prefix=settings.collection_prefix,
        index_type=settings.index_type,
        index_params=tuple(sorted(settings.index_params.items())),
        search_params=tuple(sorted(settings.search_params.items())),
    )
    return MilvusIndex(params, pack_of)
