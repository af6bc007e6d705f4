"""articles.jsonl read on demand: an index holds each line's byte offset, not its text.

At a million chunks the article texts are about a gigabyte; a server needs only the few
articles its answers quote. Loading parses every line once (so a bad line is refused at
load, as before) and keeps, per article, its offset, id, text length and date.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .types import Article

CACHED_ARTICLES = 512  # recently quoted articles kept parsed (an answer reads ~8)


class ArticleFile(Sequence):
    """The articles of a JSON-lines file, each parsed from disk when asked for.

    >>> articles = ArticleFile(Path("index/v-.../articles.jsonl"))  # doctest: +SKIP
    >>> articles[3].title, articles.ids[3], articles.dates[3]  # doctest: +SKIP
    """

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # kept open: readable even after a cleanup unlinks it
        offsets, ids, lengths, dates = [0], [], [], []
        for line in self._file:
            article = parse(line)
            offsets.append(offsets[-1] + len(line))
            ids.append(article.id)
            lengths.append(len(article.text))
            dates.append(article.date)
        self.offsets = np.array(offsets, dtype=np.int64)
        self.ids = ids  # a ranking names its articles without reading them
        self.lengths = np.array(lengths, dtype=np.int64)
        self.dates = dates
        self.days = as_days(dates)
        self._read = lru_cache(maxsize=CACHED_ARTICLES)(self._read_line)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"article row {row} out of range")
        return self._read(row)

    def _read_line(self, row: int) -> Article:
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        return parse(os.pread(self._file.fileno(), end - start, start))


def parse(line: bytes) -> Article:
    return Article(**json.loads(line))


def text_lengths(articles: Sequence[Article]) -> np.ndarray:
    """len(article.text) for every article, without reading texts an ArticleFile skipped."""
    if isinstance(articles, ArticleFile):
        return articles.lengths
    return np.array([len(a.text) for a in articles], dtype=np.int64)


def article_dates(articles: Sequence[Article]) -> list[str | None]:
    """Every article's date, without reading texts an ArticleFile skipped."""
    if isinstance(articles, ArticleFile):
        return articles.dates
    return [a.date for a in articles]


def article_days(articles: Sequence[Article]) -> np.ndarray:
    """Every article's date as datetime64[D] (NaT when undated), for date filters."""
    if isinstance(articles, ArticleFile):
        return articles.days
    return as_days(article_dates(articles))


def as_days(dates: list[str | None]) -> np.ndarray:
    return np.array(dates, dtype="datetime64[D]")
