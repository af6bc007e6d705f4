"""What a rebuild takes from the index version in service instead of computing it again:
vectors, chunks, sentences, BM25 tokens and the inverted file's training, each only if the
same settings made them and its files' checksums hold."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from .errors import IndexDamaged
from .checksums import hashed_unchanged, stat_of, verified
from .dense import read_faiss_index
from .index import read_manifest
from .lexical import OFFSETS, TOKENIZER_VERSION, TOKENS, VOCAB, TokenIds
from .sentences import KEYS as SENTENCE_KEYS, OFFSETS as SENTENCE_OFFSETS
from .sentences import SPANS as SENTENCE_SPANS, stored_as, vectors_file
from .sentences import by_article as quotes_by_article


@dataclass
class Reusable:
    """What a rebuild takes from the index in service instead of computing it again."""

    # (text keys, their vectors) of the chunks, then of any other source (fill_known)
    vectors: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    # int8, float16 from an index of format 3 (copies are converted: fill_known)
    sentence_vectors: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    tokens: tuple[np.ndarray, TokenIds] | None = None  # chunk keys and their BM25 tokens
    spans: dict[bytes, list[tuple[int, int]]] = field(default_factory=dict)  # article key -> chunks
    quotes: dict[bytes, tuple] = field(default_factory=dict)  # article key -> sentences.cut's
    article_keys: set[bytes] | None = None  # the texts of the version's articles, if read
    # its inverted file (for the training), the keys of its chunks, and how many chunks
    # changed since that training (dense.keeps_training)
    inverted_file: tuple[object, np.ndarray, int] | None = None


def reusable(folder: Path, model_name: str, fingerprint: str, chunking: dict) -> Reusable:
    """Reusable work of an index version of any format: vectors if the same model made
    them, chunks if the same chunking settings and splitter cut them, and BM25 tokens if
    the same tokenizer made them; and its articles' text keys, to count what is gone.
    Only files whose checksums hold are read; what is missing or damaged is simply not
    reused. As a load does, a file unchanged since it last matched is not hashed again
    (checksums.py), and arrays are mapped, not read: a rebuild copies what it keeps of
    them once, into the new version's files."""
    reuse = Reusable()
    try:
        manifest = read_manifest(folder)
        stats = {name: stat_of(folder / name) for name in manifest["files"]
                 if (folder / name).is_file()}
        unchanged = hashed_unchanged(folder, stats)

        def checked(name: str) -> Path:
            return folder / name if name in unchanged else verified(folder, manifest, name)

        @cache  # article and sentence keys serve two purposes each: checked and mapped once
        def array(name: str) -> np.ndarray:
            return np.load(checked(name), mmap_mode="r", allow_pickle=False).view(np.ndarray)

        keys = array("keys.npy")
        model = manifest.get("model", {})
        if (model.get("name"), model.get("fingerprint")) == (model_name, fingerprint):
            vectors = array("vectors.npy")
            if len(vectors) == len(keys):
                reuse.vectors = [(keys, vectors)]
                if "inverted_file" in manifest:  # an inverted file, of a build that counts changes
                    reuse.inverted_file = inverted_file(checked, keys, manifest)
            if SENTENCE_KEYS in manifest["files"]:  # from format 3 on
                known = array(SENTENCE_KEYS)
                vectors = array(vectors_file(manifest["files"]))
                if len(vectors) == len(known):
                    reuse.sentence_vectors = [(known, vectors)]
        if manifest.get("chunking") == chunking:
            chunks = array("chunks.npy")
            ranges = chunks_by_article(chunks, array("article_keys.npy"))
            reuse.spans = {key: [tuple(span) for span in chunks[first:last, 1:].tolist()]
                           for key, (first, last) in ranges.items()}
            if SENTENCE_KEYS in manifest["files"]:
                offsets = array(SENTENCE_OFFSETS)
                if len(offsets) == len(chunks) + 1:
                    reuse.quotes = quotes_by_article(ranges, offsets, array(SENTENCE_SPANS),
                                                     array(SENTENCE_KEYS))
        if manifest.get("tokenizer") == TOKENIZER_VERSION:
            for name in (TOKENS, OFFSETS, VOCAB):
                checked(f"bm25/{name}")
            tokens = TokenIds.load(folder / "bm25")
            if len(tokens.offsets) == len(keys) + 1:
                reuse.tokens = keys, tokens
        reuse.article_keys = set(whole_keys(array("article_keys.npy")))
    except (IndexDamaged, OSError, ValueError, KeyError, TypeError, IndexError):
        pass  # reuse what was read before the problem
    return reuse


def inverted_file(checked, keys: np.ndarray, manifest: dict
                  ) -> tuple[object, np.ndarray, int] | None:
    """The version's inverted file (for its training; `checked` gives its path once its
    checksum holds), its chunks' keys and how many chunks changed since it was trained;
    None if the file is damaged (k-means runs anew, and the rest is still reused)."""
    try:
        index = read_faiss_index(checked("faiss.index"))
        return index, keys, int(manifest["inverted_file"]["changed"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


def chunks_by_article(chunks: np.ndarray, article_keys: np.ndarray
                      ) -> dict[bytes, tuple[int, int]]:
    """Article text key -> the range of its chunk ids (of the first article with that
    text, when copies share it); empty unless the chunks are in article order, as a build
    writes them."""
    rows = chunks[:, 0]
    if np.any(np.diff(rows) < 0):
        return {}
    firsts = np.searchsorted(rows, np.arange(len(article_keys)), "left").tolist()
    lasts = np.searchsorted(rows, np.arange(len(article_keys)), "right").tolist()
    ranges: dict[bytes, tuple[int, int]] = {}
    for key, first, last in zip(whole_keys(article_keys), firsts, lasts):
        if first < last:
            ranges.setdefault(key, (first, last))
    return ranges


def whole_keys(keys: np.ndarray) -> list[bytes]:
    """A bytes array's keys as Python bytes, whole: its own elements drop trailing zero
    bytes (a text key in 256 ends in one), and would not equal `index.text_key`'s."""
    return keys.view(f"V{keys.dtype.itemsize}").tolist()


def rows_of(keys: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per key, the row of an equal key in `known` (any one, if several), or -1.

    Sorted lookups (a dict of a million keys costs seconds to build) of the keys' first 8
    bytes as integers, the keys sorted too: 2-2.5 times faster than of the whole 20-byte
    keys in their order. A key whose prefix another key shares is looked up whole."""
    if not len(known):
        return np.full(len(keys), -1, dtype=np.int64)
    known_prefixes, prefixes = first_8_bytes(known), first_8_bytes(keys)
    order, asked = np.argsort(known_prefixes), np.argsort(prefixes)
    at = np.empty(len(keys), dtype=np.int64)
    at[asked] = np.searchsorted(known_prefixes[order], prefixes[asked])
    rows = order[np.minimum(at, len(known) - 1)]
    found = known[rows] == keys
    shared = ~found & (known_prefixes[rows] == prefixes)
    if shared.any():  # next to never: it sorts every known key
        rows[shared] = whole_key_rows(keys[shared], known)
    return np.where(found | shared, rows, -1)


def first_8_bytes(keys: np.ndarray) -> np.ndarray:
    """Each fixed-width bytes key's first 8 bytes, as one unsigned integer."""
    return np.ascontiguousarray(keys).view(np.uint8).reshape(len(keys), keys.itemsize)[:, :8] \
        .copy().view(np.uint64).ravel()


def whole_key_rows(keys: np.ndarray, known: np.ndarray) -> np.ndarray:
    """rows_of by sorted lookups of the whole keys."""
    order = np.argsort(known)
    at = np.minimum(np.searchsorted(known[order], keys), len(known) - 1)
    return np.where(known[order[at]] == keys, order[at], -1)


COPY_BLOCK = 1 << 16  # rows copied at a time by fill_known


def fill_known(keys: np.ndarray, known: list[tuple[np.ndarray, np.ndarray]],
               vectors: np.ndarray, copied=lambda rows: None) -> np.ndarray:
    """Copy into vectors[i] the vector of keys[i] from the first of the `known` (keys,
    vectors) sources that holds it, in vectors' dtype (sentences.stored_as); returns the
    positions that none holds. `copied(n)` is told of each block of n rows copied."""
    missing = np.arange(len(keys))
    for known_keys, known_vectors in known:
        rows = rows_of(keys[missing], known_keys)
        found = rows >= 0
        into, rows = missing[found], rows[found]
        for start in range(0, len(rows), COPY_BLOCK):  # no copy of them all held meanwhile
            block = rows[start:start + COPY_BLOCK]
            vectors[into[start:start + COPY_BLOCK]] = stored_as(known_vectors[block],
                                                                vectors.dtype)
            copied(len(block))
        missing = missing[~found]
    return missing
