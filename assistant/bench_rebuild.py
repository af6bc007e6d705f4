"""`assistant bench --rebuild-copies N`: what a rebuild costs besides embedding, at scale.

The corpus is repeated N times, each copy's words suffixed (so that no copy is a near
duplicate of another, and the vocabulary grows as a larger archive's would), and indexed
with a hash embedder of the model's dimension, whose vectors cost next to nothing; then
its newest 1% of articles are added and the index is rebuilt (bench.incremental_cost).
What the two builds take is then the work a build does besides embedding, most of it over
the whole archive however little changed.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from .archive import read_archive
from .bench import incremental_cost
from .embed import normalise
from .types import Article

WORD = re.compile(r"\w+")


class TextHashEmbedder:
    """A text's vector is seeded by its SHA-256: no similarity, and no model to run."""

    name, fingerprint, precision = "text-hash", "text-hash-1", "fp32"

    def __init__(self, dim: int = 384):
        self.dim = dim

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row[:] = np.random.default_rng(seed).standard_normal(self.dim)
        return normalise(rows)


def copies_of(articles: list[Article], copies: int) -> list[Article]:
    """The articles, then copies 1..copies-1 of them with every word suffixed ("q1")."""
    many = list(articles)
    for copy in range(1, copies):
        suffix = f"q{copy}"

        def suffixed(text: str | None) -> str | None:
            return WORD.sub(lambda m: m.group() + suffix, text) if text else text

        many += [replace(a, id=f"{a.id}-{suffix}", title=suffixed(a.title),
                         text=suffixed(a.text)) for a in articles]
    return many


def rebuild_at_scale(corpus: Path, copies: int, work: Path) -> dict:
    """The full build (without the newest 1%) and the rebuild adding them, timed on the
    corpus repeated `copies` times."""
    articles, _ = read_archive([corpus])
    report = incremental_cost(copies_of(articles, copies), work, TextHashEmbedder())
    report.update(copies=copies, articles=len(articles) * copies)
    return {"rebuild_scale": report}
