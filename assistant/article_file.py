"""articles.jsonl read on demand: an index holds each line's byte offset, not its text.

At a million chunks the article texts are about a gigabyte; a server needs only the few
articles its answers quote. Per article it keeps the line's offset, the id, the text's
length and the date. The build writes these beside the file (ROWS), so that loading does
not parse every line: at a million chunks that took 3.6 of 7.8 s, holding Python's lock
against the asks a server answers meanwhile. A file without them is parsed, line by line.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .types import Article

CACHED_ARTICLES = 512  # recently quoted articles kept parsed (an answer reads ~8)
# Beside articles.jsonl: {"offsets", "ids", "lengths", "dates"} a row each; the distinct
# "sources" and "categories", sorted, and each row's ("source_codes", "category_codes").
ROWS = "article_rows.json"


def write_articles(path: Path, articles: Sequence[Article]) -> None:
    """One article a JSON line at `path`, and their rows (offsets, ids...) in ROWS beside it."""
    with path.open("wb") as handle:  # write() returns the line's length in bytes
        rows = article_rows((handle.write(json_line(article)), article) for article in articles)
    (path.parent / ROWS).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def article_rows(lines: Iterable[tuple[int, Article]]) -> dict[str, list]:
    """ROWS' content for articles given with their lines' lengths in bytes."""
    rows = {"offsets": [0], "ids": [], "lengths": [], "dates": []}
    sources, categories = [], []
    for size, article in lines:
        rows["offsets"].append(rows["offsets"][-1] + size)
        rows["ids"].append(article.id)
        rows["lengths"].append(len(article.text))
        rows["dates"].append(article.date)
        sources.append(article.source)
        categories.append(article.category)
    rows["sources"], rows["source_codes"] = encode(sources)
    rows["categories"], rows["category_codes"] = encode(categories)
    return rows


def encode(values: list[str | None]) -> tuple[list[str], list[int]]:
    """The distinct non-empty values, sorted, and each value's position in them (-1: none)."""
    distinct = sorted({value for value in values if value})
    position = {value: i for i, value in enumerate(distinct)}
    return distinct, [position.get(value, -1) for value in values]


@dataclass(frozen=True)
class Facets:
    """Every article's source and category, as positions in the sorted distinct values."""

    sources: list[str]
    categories: list[str]
    source_codes: np.ndarray  # per article row; -1 when it names none
    category_codes: np.ndarray

    @classmethod
    def of_rows(cls, rows: dict) -> "Facets":
        return cls(rows["sources"], rows["categories"],
                   np.array(rows["source_codes"], dtype=np.int32),
                   np.array(rows["category_codes"], dtype=np.int32))

    def articles_in(self, sources: Iterable[str], categories: Iterable[str]) -> np.ndarray:
        """A mask over article rows: from one of `sources` (if any are named) and in one of
        `categories` (likewise)."""
        inside = np.ones(len(self.source_codes), dtype=bool)
        for names, known, codes in ((sources, self.sources, self.source_codes),
                                    (categories, self.categories, self.category_codes)):
            names = set(names)
            if names:
                inside &= np.isin(codes, [i for i, name in enumerate(known) if name in names])
        return inside


class ArticleFile(Sequence):
    """The articles of a JSON-lines file, each parsed from disk when asked for.

    >>> articles = ArticleFile(Path("index/v-.../articles.jsonl"),
    ...                        Path("index/v-.../article_rows.json"))  # doctest: +SKIP
    >>> articles[3].title, articles.ids[3], articles.dates[3]  # doctest: +SKIP
    """

    def __init__(self, path: Path, rows: Path | None = None):
        """`rows`: the file write_articles() wrote beside `path` (None: parse every line)."""
        self._file = open(path, "rb")  # kept open: readable even after a cleanup unlinks it
        fields = self._saved_rows(rows) if rows else \
            article_rows((len(line), parse(line)) for line in self._file)
        self.offsets = np.array(fields["offsets"], dtype=np.int64)
        self.ids = fields["ids"]  # a ranking names its articles without reading them
        self.lengths = np.array(fields["lengths"], dtype=np.int64)
        self.dates = fields["dates"]
        self.days = as_days(self.dates)
        # Rows saved before facets were: None, and the articles are read for them once.
        self.facets = Facets.of_rows(fields) if "source_codes" in fields else None
        self._read = lru_cache(maxsize=CACHED_ARTICLES)(self._read_line)

    def _saved_rows(self, path: Path) -> dict[str, list]:
        """ROWS, once it is seen to describe this file (ValueError if not)."""
        rows = json.loads(path.read_text(encoding="utf-8"))
        offsets, ids, lengths, dates = (rows.get(name) for name in
                                        ("offsets", "ids", "lengths", "dates"))
        codes = [rows[name] for name in ("source_codes", "category_codes") if name in rows]
        if not (isinstance(offsets, list) and offsets and
                len(offsets) - 1 == len(ids) == len(lengths) == len(dates)
                and all(len(c) == len(ids) for c in codes)
                and offsets[-1] == os.fstat(self._file.fileno()).st_size):
            raise ValueError(f"{path} does not describe {self._file.name}")
        return rows

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


def json_line(article: Article) -> bytes:
    return (json.dumps(vars(article), ensure_ascii=False) + "\n").encode("utf-8")


def file_digest(articles: Iterable[Article]) -> str:
    """The SHA-256 of the file write_articles would write: a manifest's checksum of
    articles.jsonl tells whether an index holds exactly these articles."""
    digest = hashlib.sha256()
    for article in articles:
        digest.update(json_line(article))
    return digest.hexdigest()


def parse(line: bytes) -> Article:
    return Article(**json.loads(line))


def text_lengths(articles: Sequence[Article]) -> np.ndarray:
    """len(article.text) for every article, without reading texts an ArticleFile skipped."""
    if isinstance(articles, ArticleFile):
        return articles.lengths
    return np.array([len(a.text) for a in articles], dtype=np.int64)


def article_ids(articles: Sequence[Article]) -> list[str]:
    """Every article's id, without reading texts an ArticleFile skipped."""
    if isinstance(articles, ArticleFile):
        return articles.ids
    return [a.id for a in articles]


def article_facets(articles: Sequence[Article]) -> Facets:
    """Every article's source and category. An ArticleFile has them in its rows: reading
    every article for them took 2.7-5.2 s at a million chunks."""
    if isinstance(articles, ArticleFile) and articles.facets is not None:
        return articles.facets
    facets = Facets.of_rows(article_rows((0, a) for a in articles))
    if isinstance(articles, ArticleFile):  # rows saved before facets were: read once
        articles.facets = facets
    return facets


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
