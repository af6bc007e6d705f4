"""A persistent embedding cache: text key -> vector, one folder per model fingerprint.

Used by `eval` and `bench`, which index slices of one corpus again and again. Shards are
plain .npy pairs (no pickle) written under a temporary name and renamed, so a killed run
leaves no half shard behind.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "news-archive-assistant" / "embeddings"


class EmbeddingCache:
    def __init__(self, root: Path, fingerprint: str):
        self.folder = Path(root) / fingerprint[:16]

    def load(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Every shard's keys and vectors, one after another (None: no shard)."""
        shards = []
        for keys_path in sorted(self.folder.glob("*.keys.npy")):
            vectors_path = keys_path.with_name(keys_path.name.replace(".keys.", ".vectors."))
            try:
                keys = np.load(keys_path, allow_pickle=False)
                # Mapped: joined below, the shards are not held twice meanwhile.
                vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError):
                continue  # a damaged shard only costs re-embedding
            if len(keys) == len(vectors):
                shards.append((keys, vectors))
        if not shards:
            return None
        return tuple(np.concatenate(arrays) for arrays in zip(*shards))

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        if not len(keys):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex[:12]
        # Vectors first: a shard counts only once its keys file exists.
        for kind, array in (("vectors", vectors), ("keys", keys)):
            tmp = self.folder / f"{name}.{kind}.tmp.npy"
            np.save(tmp, array, allow_pickle=False)
            os.replace(tmp, self.folder / f"{name}.{kind}.npy")
