"""News-aware touches on an answer: dates asked in words, copies of one story ("also in"),
newer coverage of the quoted story, and timelines (one dated quote per story)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np

from .answer import FOUND_THRESHOLD, make_snippet
from .article_file import article_dates, article_days
from .chunking import sentence_spans
from .index import IndexData
from .lexical import tokenize
from .retrieve import DateWindow, articles_inside
from .timeline import timeline
from .types import Answer, Hit, Source
from .when import When, parse_when

TIMELINE_QUOTES = 8


def read_window(question: str, window: DateWindow, find_event_date) -> tuple[When | None, DateWindow]:
    """The date window the question's words ask for, narrowed by the one given.

    Relative phrases ("last month") resolve against the as-of date, else today.
    """
    today = date.fromisoformat(window.as_of) if window.as_of else date.today()
    when = parse_when(question, today, find_event_date)
    if when is None:
        return None, window
    since = max(filter(None, (window.since, when.since)), default=None)
    until = min(filter(None, (window.until, when.until)), default=None)
    return when, replace(window, since=since, until=until)


def window_json(when: When | None) -> dict | None:
    if when is None:
        return None
    return {"since": when.since, "until": when.until, "phrase": when.phrase,
            "start": when.start, "end": when.end, "event": when.event,
            "event_date": when.event_date, "describe": when.describe()}


def with_copies(result: Answer, data: IndexData) -> Answer:
    """Each quote names the other articles carrying its story (the answerer quoted one
    article of each story)."""
    stories = data.stories
    if not stories:
        return result
    snippets = []
    for snippet in result.snippets:
        row = data.rows_by_id.get(snippet.article_id)
        copies = tuple(Source.of(data.articles[r]) for r in stories.get(row, ()) if r != row)
        snippets.append(replace(snippet, also_in=copies))
    return replace(result, snippets=tuple(snippets))


def newer_coverage(result: Answer, data: IndexData, hits: list[Hit], window: DateWindow,
                   limit: int = 3) -> Answer:
    """Name articles on the top quote's story that are newer than it, within the window
    (and of its sources and categories, if it names any).

    "Same story" is an article of its cluster, or a retrieved article whose headline
    shares at least two words with the headlines of the top quote's story; an article
    that holds the quoted sentence word for word is a copy, not newer coverage.
    """
    if not result.snippets or not result.snippets[0].date:
        return result
    top = result.snippets[0]
    top_words = set().union(*(headline_words(s.title) for s in (top, *top.also_in)))
    copy_ids = {c.article_id for c in top.also_in}
    retrieved = [data.article_of(h.chunk_id) for h in hits[:10]]
    cluster = [data.articles[r] for r in data.stories.get(data.rows_by_id.get(top.article_id), [])
               if data.article_ids[r] in copy_ids]
    candidates = {a.id: a for a in retrieved + cluster
                  if a.id in copy_ids or len(top_words & headline_words(a.title)) >= 2}
    newer = [a for a in candidates.values() if window.admits(a) and a.date > top.date
             and top.quote not in a.text]
    newer.sort(key=lambda a: a.date, reverse=True)
    return replace(result, newer=tuple(Source.of(a) for a in newer[:limit]))


def headline_words(title: str) -> set[str]:
    return {w for w in tokenize(title or "") if len(w) > 3}


def as_timeline(result: Answer, k: int) -> Answer:
    """One quote per story (the answerer quotes one article of each), oldest first;
    only quotes as strong as an answer must be."""
    strong = [s for s in result.snippets if s.score >= FOUND_THRESHOLD]
    ordered = timeline(strong, limit=k)
    return replace(result, snippets=tuple(ordered), timeline=True)


GENERIC_WORDS = {"happened", "happen", "happening", "news", "going", "occurred", "event",
                 "events", "story", "stories", "headline", "headlines", "new", "latest"}


def asks_only_when(searched: str) -> bool:
    """True when nothing but the date is asked: "What happened in May 2022?"."""
    return not set(tokenize(searched)) - GENERIC_WORDS


def window_digest(data: IndexData, window: DateWindow, question: str, k: int) -> Answer:
    """The stories of a date window, oldest first, each quoted by its opening sentence;
    stories with more copies in the archive come first when there are more than `k`.
    Vectorised: a pass over the rows in Python took 96-240 ms at a million chunks."""
    days = article_days(data.articles)
    rows = np.flatnonzero(articles_inside(data, window) & ~np.isnat(days))  # dated, inside
    sizes = data.story_sizes[rows]
    first_of_story: dict[tuple, int] = {}  # a story with copies -> its first row inside
    for row in rows[sizes > 1].tolist():
        first_of_story.setdefault(tuple(data.stories[row]), row)
    leaders = np.concatenate([rows[sizes == 1], np.array(list(first_of_story.values()),
                                                         dtype=rows.dtype)])
    chosen = leaders[np.lexsort((leaders, days[leaders], -data.story_sizes[leaders]))[:k]]
    dates = article_dates(data.articles)
    snippets = []
    for row in sorted(chosen.tolist(), key=lambda r: (dates[r], r)):
        article = data.articles[row]
        start, end = (sentence_spans(article.text) or [(0, len(article.text))])[0]
        snippets.append(make_snippet(article, start, end, score=1.0))
    return Answer(question, found=bool(snippets), snippets=tuple(snippets), timeline=True)
