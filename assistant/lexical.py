"""BM25 keyword retrieval over chunks (bm25s's scores and files), beside the dense FAISS search."""
from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np

from .disk_array import MappedArray

STOPWORDS = frozenset("""
a an and are as at be been but by did do does for from had has have he her his how i if in
into is it its last of on or she that the their them they this to was were what when where
which who whom whose why will with would you week this year recently new said says
""".split())
TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
EMPTY = "\x00"  # the one token of a text without words
TOKENIZER_VERSION = 1  # bump whenever tokenize() splits or folds differently
VOCAB, TOKENS, OFFSETS = "vocab.index.json", "token_ids.npy", "token_offsets.npy"
PARAMS = "params.index.json"  # bm25s's file names
DATA, INDICES, INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
BOUND_BLOCK = 2048  # scores a block; the blocks' maxima bound the top k from below
# BM25 adds a question's columns with numba's compiled loop in a process that has loaded it,
# with numpy before: 2-4 times slower (at a million chunks 5.5 ms a question at the median,
# 14.6 at p95), while numba's import and first call take 0.7 s, more than a one-shot
# `assistant ask` takes in all. A build loads it; so does a process that will ask many
# questions (Assistant.warm_up) of an index of this many chunks or more (README,
# "Performance").
COMPILED_FROM = 50_000


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stopwords, with a light plural folding.

    >>> tokenize("Which countries joined the SCO?")
    ['country', 'joined', 'sco']
    """
    return [fold(token) for token in TOKEN.findall(text.lower()) if token not in STOPWORDS]


@lru_cache(maxsize=1 << 16)  # an answer folds ~900 tokens of its candidate sentences
def fold(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


K1, B = 1.5, 0.75  # bm25s's defaults, as its "lucene" variant scores them
PARAMS_SAVED = {"k1": K1, "b": B, "delta": 0.5, "method": "lucene", "idf_method": "lucene",
                "dtype": "float32", "int_dtype": "int32", "backend": "numpy"}


@dataclass(frozen=True)
class TokenIds:
    """Every chunk's tokens as numbers: chunk c's are words[i] for each i in
    ids[offsets[c]:offsets[c + 1]]. A rebuild takes an unchanged chunk's from here."""

    ids: np.ndarray  # int32
    offsets: np.ndarray  # int64, one more than there are chunks
    words: list[str]

    @classmethod
    def of(cls, tokenized: list[list[str]]) -> "TokenIds":
        return merge_tokens(np.full(len(tokenized), -1), None, tokenized)

    @classmethod
    def load(cls, folder: Path) -> "TokenIds":
        """The tokens saved in `folder` (checksums verified by the caller); ValueError if
        they do not fit together."""
        vocab = json.loads((folder / VOCAB).read_text(encoding="utf-8"))
        words = [""] * len(vocab)  # bm25s also saved "" after the last word
        for word, number in vocab.items():
            words[number] = word
        ids = np.load(folder / TOKENS, allow_pickle=False)
        offsets = np.load(folder / OFFSETS, allow_pickle=False)
        if not (len(offsets) and offsets[0] == 0 and offsets[-1] == len(ids)
                and np.all(np.diff(offsets) >= 0)
                and (not len(ids) or (ids.min() >= 0 and ids.max() < len(words)))):
            raise ValueError(f"{folder}: the saved token ids do not fit together")
        return cls(ids.astype(np.int32, copy=False), offsets.astype(np.int64, copy=False), words)


def merge_tokens(known_rows: np.ndarray, known: TokenIds | None,
                 fresh_tokens: list[list[str]]) -> TokenIds:
    """Every chunk's token ids: chunk i takes those of `known`'s chunk known_rows[i] where
    that is not -1; the others, in order, have `fresh_tokens` (tokenize()'s)."""
    from .kernels import take_ranges

    words = list(known.words) if known else []
    vocab = {word: number for number, word in enumerate(words)}
    fresh = np.flatnonzero(known_rows < 0)
    fresh_ids = [[vocab.setdefault(token, len(vocab)) for token in tokens or [EMPTY]]
                 for tokens in fresh_tokens]
    words += list(vocab)[len(words):]  # the words met first here, in order
    fresh_lengths = np.array([len(ids) for ids in fresh_ids], dtype=np.int64)
    known_ids = known.ids if known else np.zeros(0, dtype=np.int32)
    reused = np.flatnonzero(known_rows >= 0)
    lengths = np.zeros(len(known_rows), dtype=np.int64)
    starts = np.zeros(len(known_rows), dtype=np.int64)
    if known:
        lengths[reused] = np.diff(known.offsets)[known_rows[reused]]
        starts[reused] = known.offsets[known_rows[reused]]
    lengths[fresh] = fresh_lengths
    starts[fresh] = len(known_ids) + np.cumsum(fresh_lengths) - fresh_lengths
    fresh_flat = np.fromiter(chain.from_iterable(fresh_ids), dtype=np.int32,
                             count=int(fresh_lengths.sum()))
    source = np.concatenate([known_ids, fresh_flat])
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return TokenIds(take_ranges(source, starts, offsets), offsets, words)


def lucene_idf(chunks_holding: np.ndarray, chunks: int) -> np.ndarray:
    """log(1 + (N - df + 0.5) / (df + 0.5)) per word, in float64 as bm25s computes it (once
    per distinct df), then float32."""
    values, inverse = np.unique(chunks_holding, return_inverse=True)
    idf = [math.log(1 + (chunks - df + 0.5) / (df + 0.5)) for df in values.tolist()]
    return np.array(idf, dtype=np.float64)[inverse].astype(np.float32)


class LexicalIndex:
    """A BM25 index whose document ids are chunk ids.

    One column of precomputed scores per word (CSC arrays), in bm25s's "lucene" variant
    and its file format, built by compiled loops (kernels.py). Scoring sums the columns of
    the query's words, read from disk a column at a time.
    """

    def __init__(self, vocab: dict[str, int], columns: "Columns", num_docs: int,
                 tokens: TokenIds | None = None):
        self.vocab = vocab
        self.columns = columns
        self.num_docs = num_docs
        self.tokens = tokens  # kept by a build for save(); a loaded index has none

    @classmethod
    def build(cls, tokenized: list[list[str]]) -> "LexicalIndex":
        """An index over texts already tokenised by tokenize()."""
        return cls.from_tokens(TokenIds.of(tokenized))

    @classmethod
    def from_tokens(cls, tokens: TokenIds) -> "LexicalIndex":
        """An index over every chunk's token ids. Words are renumbered in the order they
        first appear, and words no chunk holds dropped, so that a rebuild's index equals
        a fresh build's."""
        from .kernels import bm25_scores, first_appearance, postings

        ids, old_ids = first_appearance(tokens.ids, len(tokens.words))
        tokens = TokenIds(ids, tokens.offsets, [tokens.words[i] for i in old_ids.tolist()])
        chunks, lengths = len(tokens.offsets) - 1, np.diff(tokens.offsets)
        indptr, holders, counts = postings(ids, tokens.offsets, len(tokens.words))
        idf = lucene_idf(np.diff(indptr), chunks)
        length_norm = K1 * ((1 - B) + B * lengths / (lengths.mean() if chunks else 1.0))
        scores = bm25_scores(idf, length_norm, indptr, holders, counts)
        return cls(dict(zip(tokens.words, range(len(tokens.words)))),
                   Columns(scores, holders, indptr), chunks, tokens)

    def save(self, folder: Path) -> None:
        """The score columns and vocabulary as bm25s saves them, and each chunk's token
        ids (TOKENS, OFFSETS) for the next rebuild."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in ((DATA, self.columns.data), (INDICES, self.columns.indices),
                            (INDPTR, self.columns.indptr), (TOKENS, self.tokens.ids),
                            (OFFSETS, self.tokens.offsets)):
            np.save(folder / name, array, allow_pickle=False)
        (folder / VOCAB).write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        (folder / PARAMS).write_text(json.dumps(dict(PARAMS_SAVED, num_docs=self.num_docs),
                                                indent=4), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        """The saved index, its score columns left on disk: at a million chunks they are
        about a gigabyte, and a query reads only its words' columns."""
        params = json.loads((folder / PARAMS).read_text(encoding="utf-8"))
        if params.get("method") != "lucene":
            raise ValueError(f"{folder}/{PARAMS}: BM25 variant {params.get('method')!r} "
                             "is not the 'lucene' one this index is scored with")
        vocab = json.loads((folder / VOCAB).read_text(encoding="utf-8"))
        columns = Columns(MappedArray(folder / DATA), MappedArray(folder / INDICES),
                          np.load(folder / INDPTR, allow_pickle=False))
        return cls(vocab, columns, int(params["num_docs"]))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros where no query word occurs); a
        word asked twice counts twice, as in bm25s."""
        total = np.zeros(self.num_docs, dtype=np.float32)
        words = [self.vocab[t] for t in tokenize(query) if t in self.vocab]
        self.columns.prefetch(words)
        add = column_adder()
        for word in words:
            add(total, *self.columns.column(word))
            self.columns.release(word)
        return total

    def top(self, query: str, k: int, allowed: np.ndarray | None = None,
            scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k best chunks for `query` among the `allowed` ones (a mask over chunk ids;
        None: all), with a positive score: (ids, scores), best first, ties by lower id.
        `scores` are the query's, when already computed by scores()."""
        scores = self.scores(query) if scores is None else scores
        ids = best_ids(scores, allowed, k)
        order = np.lexsort((ids, -scores[ids]))[:k]  # the k best, of them and ties
        return ids[order], scores[ids[order]]

    def load_compiled_loop(self) -> None:
        """Loads numba's loop for adding columns when this index holds COMPILED_FROM chunks
        or more, for a process about to ask many questions of it."""
        if self.num_docs >= COMPILED_FROM:
            load_compiled_loop(self.columns)


def load_compiled_loop(columns: "Columns") -> None:
    """Imports numba's loop and makes its first call on these columns' types (numba
    specialises on them, read-only maps included): 0.7 s of a process. scores() uses it
    from then on."""
    from .kernels import add_column

    add_column(np.zeros(1, np.float32), columns.indices[0:0], columns.data[0:0])


def column_adder():
    """The compiled loop if this process has loaded it (kernels.py), else numpy's addition:
    the same float32 sums."""
    kernels = sys.modules.get(f"{__package__}.kernels")
    return kernels.add_column if kernels else add_column_with_numpy


def add_column_with_numpy(total: np.ndarray, docs: np.ndarray, scores: np.ndarray) -> None:
    total[docs] += scores  # a column holds each chunk once


def best_ids(scores: np.ndarray, allowed: np.ndarray | None, k: int,
             block: int = BOUND_BLOCK) -> np.ndarray:
    """Ids of the k highest positive scores and of any tied with the k-th, ascending;
    only where `allowed` (a mask; None: everywhere). Fewer when fewer are positive.

    The k-th highest of the blocks' maxima is a floor for the k-th best score (k blocks
    reach it), so one vectorised comparison leaves hundreds of candidates of a million:
    0.3 ms at a million chunks, against 0.8 for one pass with a heap."""
    if allowed is not None:
        # Scores are finite: times a mask, they are kept or 0, exactly. np.where took 1.7
        # ms at a million chunks (4.5 for a scattered mask), the product 0.7.
        scores = scores * allowed
    maxima = scores[:len(scores) // block * block].reshape(-1, block).max(axis=1)
    floor = np.partition(maxima, len(maxima) - k)[len(maxima) - k] if len(maxima) >= k else 0
    candidates = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    if len(candidates) > k:
        values = scores[candidates]
        candidates = candidates[values >= np.partition(values, len(values) - k)[len(values) - k]]
    return candidates


@dataclass(frozen=True)
class Columns:
    """A CSC matrix of BM25 scores: column w lists the documents holding word w
    (indices[indptr[w]:indptr[w + 1]]) and their scores (data[...])."""

    data: "np.ndarray | MappedArray"
    indices: "np.ndarray | MappedArray"
    indptr: np.ndarray

    def bounds(self, word: int) -> tuple[int, int]:
        """Where word's column lies in indices and data."""
        return int(self.indptr[word]), int(self.indptr[word + 1])

    def column(self, word: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.bounds(word)
        return self.indices[start:end], self.data[start:end]

    def mapped(self) -> list[MappedArray]:
        """The arrays read from disk (a loaded index's; a build's are in memory)."""
        return [array for array in (self.indices, self.data) if isinstance(array, MappedArray)]

    def prefetch(self, words: list[int]) -> None:
        """The columns about to be read, asked of the disk at once where not cached: the
        reads then overlap (an ask at 1M chunks whose files were not cached took 57 ms at
        the median instead of 226, README "Performance")."""
        for word in dict.fromkeys(words):
            for array in self.mapped():
                array.prefetch(*self.bounds(word))

    def release(self, word: int) -> None:
        """Done reading the column: its pages need not stay resident (MappedArray)."""
        for array in self.mapped():
            array.release(*self.bounds(word))
