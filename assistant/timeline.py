"""Timeline answers (pure): one snippet per story, in date order, undated last.

A story is an article, or a cluster of copies of one (see `dedup.find_clusters`): copies
of a wire story would otherwise fill the timeline with the same event.

    >>> from assistant.types import Snippet
    >>> def s(article_id, day, score):
    ...     return Snippet("...", article_id, "", day, None, None, 0, 3, score)
    >>> [x.article_id for x in timeline([s("b", "2022-09-15", 0.9), s("a", "2021-09-17", 0.5),
    ...                                  s("c", None, 0.7), s("b2", "2022-09-16", 0.8)],
    ...                                 clusters={"b": 0, "b2": 0})]
    ['a', 'b', 'c']
"""
from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping

from .types import Snippet

# What people write when they want the course of events rather than one fact.
TIMELINE_QUESTION = re.compile(r"""
    \b(?:timelines?|chronolog\w*)\b
  | \b(?:history|evolution|chronicle|sequence\s+of\s+events)\s+(?:of|for|behind)\b
  | \bhow\s+(?:did|has|have|had|do|does)\s+(?:\S+\s+){1,8}?
        (?:develop|evolve|unfold|progress|change|escalate|grow|come\s+about)(?:e?d|s)?\b
  | \bwhat\s+(?:has\s+|had\s+)?happened\s+(?:with|to)\b
  | \bwhat\s+(?:has\s+been|was)\s+happening\s+(?:with|to|in)\b
  | \b(?:key|main|major|latest)\s+(?:events|developments|milestones|moments)\b
  | \bdevelopments?\s+(?:in|on|of|with|around|regarding|concerning)\b
  | \bover\s+(?:the\s+)?(?:years|months|weeks|time)\b
  | \bstep\s+by\s+step\b
""", re.I | re.X)


def is_timeline_question(question: str) -> bool:
    """True for questions asking how something unfolded over time.

    >>> [is_timeline_question(q) for q in ("What happened with the SCO?", "Who leads it?")]
    [True, False]
    """
    return bool(TIMELINE_QUESTION.search(question or ""))


def timeline(snippets: Iterable[Snippet], clusters: Mapping[str, Hashable] | None = None,
             limit: int | None = None) -> list[Snippet]:
    """The best-scored snippet of each story, ordered by date (undated last).

    `clusters` maps an article id to its cluster id; articles not in it are stories of
    their own. With `limit`, only the `limit` best-scored stories are kept (then ordered
    by date), so a long timeline keeps its strongest evidence.
    """
    best = best_per_story(snippets, clusters or {})
    if limit is not None:
        best = sorted(best, key=rank_key)[:max(limit, 0)]
    return sorted(best, key=date_key)


def story_of(snippet: Snippet, clusters: Mapping[str, Hashable]) -> tuple:
    # Tagged so that a cluster id can never equal an article id.
    if snippet.article_id in clusters:
        return ("cluster", clusters[snippet.article_id])
    return ("article", snippet.article_id)


def best_per_story(snippets: Iterable[Snippet], clusters: Mapping[str, Hashable]
                   ) -> list[Snippet]:
    """One snippet per story: the best score; on a tie, the earliest dated, then by id."""
    best: dict[tuple, Snippet] = {}
    for snippet in snippets:
        story = story_of(snippet, clusters)
        if story not in best or rank_key(snippet) < rank_key(best[story]):
            best[story] = snippet
    return list(best.values())


def rank_key(snippet: Snippet) -> tuple:
    return (-snippet.score, *date_key(snippet)[:2], snippet.article_id, snippet.start)


def date_key(snippet: Snippet) -> tuple:
    """Dated first, oldest first; then the better score; then a stable tie-break."""
    return (snippet.date is None, snippet.date or "", -snippet.score, snippet.article_id,
            snippet.start)
