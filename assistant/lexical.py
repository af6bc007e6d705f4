"""BM25 keyword retrieval over chunks (bm25s), beside the dense FAISS search."""
from __future__ import annotations

import json
import re
from itertools import chain
from pathlib import Path

import numpy as np

STOPWORDS = frozenset("""
a an and are as at be been but by did do does for from had has have he her his how i if in
into is it its last of on or she that the their them they this to was were what when where
which who whom whose why will with would you week this year recently new said says
""".split())
TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
EMPTY = "\x00"  # the one token of a text without words
TOKENIZER_VERSION = 1  # bump whenever tokenize() splits or folds differently
VOCAB, TOKENS, OFFSETS = "vocab.index.json", "token_ids.npy", "token_offsets.npy"


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stopwords, with a light plural folding.

    >>> tokenize("Which countries joined the SCO?")
    ['country', 'joined', 'sco']
    """
    return [fold(token) for token in TOKEN.findall(text.lower()) if token not in STOPWORDS]


def fold(token: str) -> str:
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


class LexicalIndex:
    """A BM25 index whose document ids are chunk ids."""

    def __init__(self, retriever, token_ids: list[list[int]] | None = None):
        self.retriever = retriever
        self.token_ids = token_ids  # kept by build() for save(); a loaded index has none

    @classmethod
    def build(cls, tokenized: list[list[str]]) -> "LexicalIndex":
        """An index over texts already tokenised (tokenize(), or tokens kept from the
        previous index by reusable_tokens())."""
        import bm25s

        retriever = bm25s.BM25()
        # Token ids, not token strings, are kept for all texts at once: an id list costs a
        # pointer a token (the ints are shared with `vocab`), a string list ten times that.
        # bm25s cannot index an empty vocabulary; a placeholder token keeps it valid.
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(token, len(vocab)) for token in tokens or [EMPTY]]
               for tokens in tokenized]
        retriever.index((ids, vocab), show_progress=False)
        return cls(retriever, ids)

    def save(self, folder: Path) -> None:
        """bm25s's files, and each text's token ids (TOKENS, OFFSETS) for the next rebuild."""
        self.retriever.save(str(folder), allow_pickle=False)
        lengths = np.array([len(ids) for ids in self.token_ids], dtype=np.int64)
        np.save(folder / OFFSETS, np.concatenate([[0], np.cumsum(lengths)]), allow_pickle=False)
        np.save(folder / TOKENS, np.fromiter(chain.from_iterable(self.token_ids), dtype=np.int32,
                                            count=int(lengths.sum())), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        # Mapped, not read: a query touches only its words' postings (at a million
        # chunks the arrays are about a gigabyte).
        return cls(bm25s.BM25.load(str(folder), mmap=True, allow_pickle=False))

    @staticmethod
    def reusable_tokens(folder: Path) -> list[list[str]]:
        """Each text's tokens as saved in `folder` (checksums verified by the caller)."""
        vocab = json.loads((folder / VOCAB).read_text(encoding="utf-8"))
        words = [""] * len(vocab)
        for word, number in vocab.items():
            words[number] = word
        offsets = np.load(folder / OFFSETS, allow_pickle=False).tolist()
        ids = np.load(folder / TOKENS, allow_pickle=False).tolist()
        return [[words[i] for i in ids[start:end]] for start, end in zip(offsets, offsets[1:])]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros where no query word occurs)."""
        known = [t for t in tokenize(query) if t in self.retriever.vocab_dict]
        if not known:
            return np.zeros(self.retriever.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known), dtype=np.float32)
