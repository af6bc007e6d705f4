"""Question -> ranked chunks: dense (FAISS) and keyword (BM25) lists fused, within a date window."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date as Date

import numpy as np

from .article_file import article_days
from .index import IndexData
from .types import Hit

RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
POOL = 100  # candidates taken from each list before fusing


@dataclass(frozen=True)
class DateWindow:
    """Publication dates to search within; `as_of` also prefers recent evidence."""

    since: str | None = None
    until: str | None = None
    as_of: str | None = None

    @property
    def last(self) -> str | None:
        return min(d for d in (self.until, self.as_of) if d) if (self.until or self.as_of) else None

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.as_of)

    def holds(self, day: str) -> bool:
        """True when the ISO date `day` lies inside the window."""
        last = self.last
        return (not self.since or day >= self.since) and (not last or day <= last)


def allowed_chunks(data: IndexData, window: DateWindow) -> np.ndarray | None:
    """Chunk ids inside the window; undated articles are kept. None means all."""
    if not window:
        return None
    days = article_days(data.articles)
    inside = np.ones(len(days), dtype=bool)
    if window.since:
        inside &= days >= np.datetime64(window.since, "D")
    if window.last:
        inside &= days <= np.datetime64(window.last, "D")
    keep = inside | np.isnat(days)  # NaT compares False: undated ones are kept here
    return np.flatnonzero(keep[data.chunks[:, 0]])


def rank_fuse(*rankings: list[Hit]) -> list[Hit]:
    """Reciprocal-rank fusion: score = sum over lists of 1 / (RRF_K + rank)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return [Hit(c, s) for c, s in sorted(fused.items(), key=lambda item: (-item[1], item[0]))]


def lexical_search(data: IndexData, question: str, k: int, allowed: np.ndarray | None) -> list[Hit]:
    ids, scores = data.lexical.top(question, k, allowed)
    return [Hit(int(i), float(s)) for i, s in zip(ids, scores)]


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


def retrieve(data: IndexData, query_vector: np.ndarray, question: str, k: int = 30,
             window: DateWindow = DateWindow(), method: str = "hybrid",
             recency: float | None = None) -> list[Hit]:
    """The k best chunks for the question by `method` ('dense', 'bm25' or 'hybrid').

    With `window.as_of`, fused scores are scaled by (1 - recency) + recency * recency_weight
    so that, between similar evidence, the most recent wins.
    """
    allowed = allowed_chunks(data, window)
    dense = data.dense_search(query_vector, POOL, allowed) if method != "bm25" else []
    lexical = lexical_search(data, question, POOL, allowed) if method != "dense" else []
    hits = {"dense": dense, "bm25": lexical}.get(method) or rank_fuse(dense, lexical)
    recency = RECENCY if recency is None else recency
    if window.as_of and recency:
        hits = sorted((Hit(h.chunk_id, h.score * ((1 - recency) + recency * recency_weight(
            data.article_of(h.chunk_id).date, window.as_of))) for h in hits),
            key=lambda h: (-h.score, h.chunk_id))
    return hits[:k]
