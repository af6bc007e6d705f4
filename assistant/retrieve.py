"""Question -> ranked chunks: dense (FAISS) and keyword (BM25) lists fused, within a date window."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date as Date

import numpy as np

from .article_file import article_dates, article_days
from .embed import available_cores
from .index import IndexData
from .types import Article, Hit

RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
POOL = 100  # candidates taken from each list before fusing
# BM25 scoring is compiled and lets go of the GIL: on its own threads it runs while the
# asking thread embeds the question (one inference request takes one core) and searches
# FAISS. More threads than cores would only queue.
KEYWORD_SEARCH = ThreadPoolExecutor(available_cores(), thread_name_prefix="bm25")


@dataclass(frozen=True)
class DateWindow:
    """Publication dates to search within; `as_of` also prefers recent evidence. Named
    `sources` and `categories` narrow the search further (none named: all)."""

    since: str | None = None
    until: str | None = None
    as_of: str | None = None
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def last(self) -> str | None:
        return min(d for d in (self.until, self.as_of) if d) if (self.until or self.as_of) else None

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.as_of or self.sources or self.categories)

    def holds(self, day: str) -> bool:
        """True when the ISO date `day` lies inside the window."""
        last = self.last
        return (not self.since or day >= self.since) and (not last or day <= last)

    def admits(self, article: Article) -> bool:
        """True when the article is dated inside the window, from a named source and in a
        named category (where any are named)."""
        return bool(article.date) and self.holds(article.date) \
            and (not self.sources or article.source in self.sources) \
            and (not self.categories or article.category in self.categories)


def allowed_chunks(data: IndexData, window: DateWindow) -> np.ndarray | None:
    """A mask over chunk ids: True inside the window (undated articles are kept). None
    means all, also when the window holds every article: searches without a filter are
    faster."""
    inside = articles_inside(data, window) if window else None
    if inside is None or inside.all():
        return None
    return np.repeat(inside, data.chunks_per_article)  # 0.35 ms at 1M chunks; take: 0.8


def holds_nothing(data: IndexData, window: DateWindow) -> bool:
    """True when no article is dated inside the window (its sources and categories aside):
    two bisections of the sorted days (most quiz questions say "this week", a window that
    is empty without an as-of date)."""
    days = data.days_in_order
    if not window or (len(days) and np.isnat(days[-1])):
        return False  # undated articles lie in every window
    first = np.searchsorted(days, np.datetime64(window.since, "D")) if window.since else 0
    end = np.searchsorted(days, np.datetime64(window.last, "D"), "right") if window.last \
        else len(days)
    return bool(first >= end)


def articles_inside(data: IndexData, window: DateWindow) -> np.ndarray:
    """Per article row: inside the window or undated, and of its sources and categories."""
    days = article_days(data.articles)
    inside = np.ones(len(days), dtype=bool)
    if window.since:
        inside &= days >= np.datetime64(window.since, "D")
    if window.last:
        inside &= days <= np.datetime64(window.last, "D")
    inside |= np.isnat(days)  # NaT compares False: undated ones are kept here
    if window.sources or window.categories:
        inside &= data.facets.articles_in(window.sources, window.categories)
    return inside


def rank_fuse(*rankings: list[Hit]) -> list[Hit]:
    """Reciprocal-rank fusion: score = sum over lists of 1 / (RRF_K + rank)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return [Hit(c, s) for c, s in sorted(fused.items(), key=lambda item: (-item[1], item[0]))]


def vector_of(query_vector: np.ndarray | Callable[[], np.ndarray]) -> np.ndarray:
    return query_vector() if callable(query_vector) else query_vector


def lexical_search(data: IndexData, question: str, k: int, allowed: np.ndarray | None,
                   scoring: Future | None = None) -> list[Hit]:
    """BM25's k best; `scoring` is start_scoring()'s for the question, if it was called."""
    ids, scores = data.lexical.top(question, k, allowed, scoring.result() if scoring else None)
    return [Hit(int(i), float(s)) for i, s in zip(ids, scores)]


def start_scoring(data: IndexData, question: str) -> Future:
    """BM25 scores every chunk for a question whose search must wait (an event question's
    rest, while the event is dated). A search waiting on it cannot deadlock the pool: it
    was queued after the scoring, which runs by then or has run."""
    return KEYWORD_SEARCH.submit(data.lexical.scores, question)


HALF_LIFE_DAYS = 60.0


def recency_weight(article_date: str | None, as_of: str | None,
                   half_life_days: float | None = None) -> float:
    """In (0, 1]: 1 for an article published on the as-of day, halving every half-life;
    undated articles rank as if a year old."""
    half_life_days = half_life_days or HALF_LIFE_DAYS
    if not as_of:
        return 1.0
    if article_date is None:
        return 0.5 ** (365 / half_life_days)
    age = (Date.fromisoformat(as_of) - Date.fromisoformat(article_date)).days
    return 0.5 ** (max(age, 0) / half_life_days)


RECENCY = 0.6  # share of the score that recency can take away under as-of


def retrieve(data: IndexData, query_vector: np.ndarray | Callable[[], np.ndarray],
             question: str, k: int = 30, window: DateWindow = DateWindow(),
             method: str = "hybrid", recency: float | None = None,
             scoring: Future | None = None) -> list[Hit]:
    """The k best chunks for the question by `method` ('dense', 'bm25' or 'hybrid').

    The keyword search runs on another thread, beside the dense search and, when
    `query_vector` is a function that embeds the question, beside the embedding too;
    `scoring` is its scores if start_scoring() began them.

    With `window.as_of`, fused scores are scaled by (1 - recency) + recency * recency_weight
    so that, between similar evidence, the most recent wins.
    """
    allowed = allowed_chunks(data, window)
    lexical = KEYWORD_SEARCH.submit(lexical_search, data, question, POOL, allowed, scoring) \
        if method != "dense" else None
    dense = data.dense_search(vector_of(query_vector), POOL, allowed) \
        if method != "bm25" else []
    lexical = lexical.result() if lexical else []
    hits = {"dense": dense, "bm25": lexical}.get(method) or rank_fuse(dense, lexical)
    recency = RECENCY if recency is None else recency
    if window.as_of and recency:
        dates = article_dates(data.articles)  # not read from each hit's article: 200 of them
        hits = sorted((Hit(h.chunk_id, h.score * ((1 - recency) + recency * recency_weight(
            dates[int(data.chunks[h.chunk_id, 0])], window.as_of))) for h in hits),
            key=lambda h: (-h.score, h.chunk_id))
    return hits[:k]
