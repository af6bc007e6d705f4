"""The nouns of the assistant: small frozen records passed between modules."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One news article. `text` is the body that quotes are cut from."""

    id: str
    title: str
    text: str
    date: str | None = None  # ISO YYYY-MM-DD
    source: str | None = None
    url: str | None = None
    category: str | None = None
    date_inferred: bool = False  # the year was taken from neighbouring articles
    origin: str = ""  # the file (and line) the article was read from


@dataclass(frozen=True)
class Problem:
    """Something in the archive that could not be read; the rest still is. `skipped` is
    False for a notice about an article that was indexed anyway (a duplicate id renamed)."""

    path: str
    reason: str
    line: int | None = None
    skipped: bool = True

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: `article.text[start:end]`."""

    article_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its retrieval score (higher is better)."""

    chunk_id: int
    score: float


@dataclass(frozen=True)
class Source:
    """An article named beside a quote: a copy of it elsewhere, or newer coverage."""

    article_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None

    @classmethod
    def of(cls, article: Article) -> "Source":
        return cls(article.id, article.title, article.date, article.source, article.url)

    def to_json(self) -> dict:
        return {"article_id": self.article_id, "title": self.title, "date": self.date,
                "source": self.source, "url": self.url}


@dataclass(frozen=True)
class Snippet:
    """A verbatim quote with its citation: `quote == article.text[start:end]`."""

    quote: str
    article_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    start: int
    end: int
    score: float
    category: str | None = None
    date_inferred: bool = False
    also_in: tuple[Source, ...] = ()  # the same story in other articles (syndicated copies)

    def to_json(self) -> dict:
        """The public JSON shape of `assistant ask --json` (extend, never break)."""
        return {
            "quote": self.quote, "article_id": self.article_id, "title": self.title,
            "date": self.date, "source": self.source, "url": self.url,
            "start": self.start, "end": self.end, "score": round(self.score, 4),
            "also_in": [s.to_json() for s in self.also_in],
        }


@dataclass(frozen=True)
class Answer:
    """What the assistant says to a question: quotes, or that it has none."""

    question: str
    found: bool
    snippets: tuple[Snippet, ...] = ()
    # Passages shown when `found` is false: the closest the archive has, not an answer.
    nearest: tuple[Snippet, ...] = ()
    searched: str = ""  # the text actually searched (a date phrase taken out, say)
    window: dict | None = None  # the date window read from the question's words
    # A window read from the words inside which nothing matched (no article dated there,
    # or none of the filters'): the date named the event, not its coverage, so every
    # date was searched.
    empty_window: dict | None = None
    timeline: bool = False  # snippets are one per story, in date order
    newer: tuple[Source, ...] = ()  # newer coverage of the top quote's story
    ranked: tuple[str, ...] = ()  # ids of the articles retrieved, best first (not in JSON)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "found": self.found,
            "snippets": [s.to_json() for s in self.snippets],
            "searched": self.searched or self.question,
            "window": self.window,
            "empty_window": self.empty_window,
            "timeline": self.timeline,
            "newer": [s.to_json() for s in self.newer],
        }
