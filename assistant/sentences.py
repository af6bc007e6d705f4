"""The sentences an answer may quote from each chunk, embedded when the index is built.

An answer scores the sentences of its top chunks by their cosine to the question.
Embedding them at question time cost about twenty question embeddings an answer; with
their vectors in the index it is a dot product. Saved per chunk, in chunk order:

    sentence_offsets.npy  (chunks + 1,) int64  chunk i's sentences: rows offsets[i]:offsets[i+1]
    sentences.npy         (rows, 2) int64      start, end in the article's text
    sentence_keys.npy     (rows,) S20          text keys: the next rebuild reuses the vectors
    sentence_vectors_int8.npy  (rows, dim) int8  unit vectors times SCALE, rounded: a quarter
                                                 of float32's bytes

Formats 3 and 4 named the vectors' file sentence_vectors.npy (float16 in 3, int8 in 4).

These vectors are most of an index's bytes (about six sentences a chunk), and a rebuild
writes them all again: in int8 rather than float16, 1.2 GB rather than 2.4 at 550,000
chunks. A cosine to a question moves by 0.0012 on average and 0.008 at most (dev set;
README, "The index on disk").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import numpy as np

from .chunking import sentence_spans
from .disk_array import DiskArray, save_array
from .types import Article

# A shorter sentence takes its neighbour along. Changing this changes the spans an index
# keeps: bump chunking.SPLITTER_VERSION, so that rebuilds cut sentences anew.
MIN_QUOTE_CHARS = 60
OFFSETS, SPANS, KEYS, VECTORS = ("sentence_offsets.npy", "sentences.npy", "sentence_keys.npy",
                                 "sentence_vectors_int8.npy")
FILES = (OFFSETS, SPANS, KEYS, VECTORS)
# int8 units per 1.0: steps of 0.005, and room for components up to 0.635 (the dev set's
# largest is 0.55; most are under 0.2). A larger one is clipped.
SCALE = 200
# Formats 3 and 4's name. int8 has its own since format 5: the software of format 3 read
# this file as float16, and its rebuild copied format 4's int8 values into float16 as they
# were (norms of 200). A file it does not find, it embeds anew.
FORMER_VECTORS = "sentence_vectors.npy"


def vectors_file(listed) -> str:
    """The sentence vectors' file of an index whose manifest lists the files `listed`."""
    return FORMER_VECTORS if FORMER_VECTORS in listed else VECTORS


def files_listed(listed) -> tuple[str, ...]:
    """The sentence files of an index whose manifest lists the files `listed`."""
    return (OFFSETS, SPANS, KEYS, vectors_file(listed))


def stored_as(vectors: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Vector rows converted for an array of `dtype`: floats into int8 are quantised."""
    if np.dtype(dtype) == np.int8 and vectors.dtype != np.int8:
        return np.clip(np.rint(vectors * np.float32(SCALE)), -127, 127).astype(np.int8)
    return vectors.astype(dtype, copy=False)


def as_floats(vectors: np.ndarray) -> np.ndarray:
    """Stored vector rows (int8, or float16 in format 3) as float32."""
    floats = vectors.astype(np.float32)
    return floats / np.float32(SCALE) if vectors.dtype == np.int8 else floats


def quote_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentences of the chunk `text[start:end]` as quotable spans: a very short one
    ('He agreed.') is joined with the one after it."""
    spans = sentence_spans(text, start, end)
    widened = []
    for i, (s, e) in enumerate(spans):
        if e - s < MIN_QUOTE_CHARS and i + 1 < len(spans):
            e = spans[i + 1][1]
        widened.append((s, e))
    return widened


def cut(articles: Sequence[Article], rows: list[tuple[int, int, int]], key_of,
        article_keys: list[bytes], known: dict[bytes, tuple] | None = None
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets, spans and text keys (as saved) of every chunk's sentences; a chunk row is
    (article row, start, end). An article whose text key is in `known` (from the index in
    service, cut with the same settings) keeps its sentences without cutting and hashing
    them again."""
    known = known or {}
    counts, spans, keys = [], [], []  # arrays, an article's at a time
    for row, group in groupby(rows, key=itemgetter(0)):
        group, text = list(group), articles[row].text
        old_counts, old_spans, old_keys = known.get(article_keys[row], ((), None, None))
        if len(old_counts) == len(group):
            counts.append(old_counts)
            spans.append(old_spans)
            keys.append(old_keys)
            continue
        cut_spans = [quote_spans(text, start, end) for _, start, end in group]
        new_spans = [span for chunk in cut_spans for span in chunk]
        counts.append(np.array([len(chunk) for chunk in cut_spans], dtype=np.int64))
        spans.append(np.array(new_spans, dtype=np.int64).reshape(-1, 2))
        keys.append(np.array([key_of(text[s:e]) for s, e in new_spans], dtype="S20"))
    # Joined once: extending lists a sentence at a time took 1.5 s at 770,000 sentences.
    counts = np.concatenate(counts or [np.zeros(0, np.int64)], dtype=np.int64)
    offsets = np.concatenate([np.zeros(1, np.int64), np.cumsum(counts)])
    return (offsets, np.concatenate(spans or [np.zeros((0, 2), np.int64)], dtype=np.int64),
            np.concatenate(keys or [np.zeros(0, "S20")], dtype="S20"))


def by_article(ranges: dict[bytes, tuple[int, int]], offsets: np.ndarray, spans: np.ndarray,
               keys: np.ndarray) -> dict[bytes, tuple]:
    """Article text key -> (sentences per chunk, spans, text keys) of its chunks, as `cut`
    takes them back; `ranges` gives each article's chunk ids (reuse.chunks_by_article)."""
    found: dict[bytes, tuple] = {}
    for key, (first, last) in ranges.items():
        begin, end = int(offsets[first]), int(offsets[last])
        found[key] = (np.diff(offsets[first:last + 1]), spans[begin:end], keys[begin:end])
    return found


@dataclass
class Sentences:
    """Every chunk's quotable sentences and their vectors; in memory after a build, read
    from disk a chunk at a time once loaded."""

    offsets: "np.ndarray | DiskArray"
    spans: "np.ndarray | DiskArray"
    vectors: "np.ndarray | DiskArray"  # int8 (SCALE), or float16 in format 3
    keys: np.ndarray | None = None  # only a build holds them (for save)

    def of_chunk(self, chunk_id: int) -> tuple[int, np.ndarray]:
        """The first row of the chunk's sentences, and their (start, end) spans."""
        first, last = (int(x) for x in self.offsets[chunk_id:chunk_id + 2])
        return first, self.spans[first:last]

    def vectors_of(self, rows: list[int]) -> np.ndarray:
        """The sentences' unit vectors, float32, one row per sentence row given."""
        if not rows:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        return as_floats(np.concatenate([self.vectors[r:r + 1] for r in rows]))

    def save(self, folder: Path) -> None:
        for name, array in zip(FILES, (self.offsets, self.spans, self.keys, self.vectors)):
            save_array(folder / name, array)

    @classmethod
    def load(cls, folder: Path, chunks: int, dim: int, listed) -> "Sentences":
        """The saved sentences (of an index whose manifest lists `listed`), left on disk;
        ValueError if their shapes disagree."""
        offsets, spans, vectors = (DiskArray(folder / name)
                                   for name in (OFFSETS, SPANS, vectors_file(listed)))
        if len(offsets) != chunks + 1 or spans.shape != (int(offsets[-1:][0]), 2) \
                or vectors.shape != (len(spans), dim) or vectors.dtype not in (np.int8, np.float16):
            raise ValueError(f"the sentence files in {folder} disagree with the chunks")
        return cls(offsets, spans, vectors)
