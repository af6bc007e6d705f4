"""Timeline answers: one snippet per story, date order, undated last; timeline questions."""
from __future__ import annotations

import random

import pytest

from assistant.timeline import is_timeline_question, timeline
from assistant.types import Snippet


def snip(article_id: str, date: str | None, score: float, start: int = 0) -> Snippet:
    quote = f"quote from {article_id}"
    return Snippet(quote=quote, article_id=article_id, title=f"Title {article_id}", date=date,
                   source="Test", url=None, start=start, end=start + len(quote), score=score)


def ids(snippets):
    return [s.article_id for s in snippets]


def test_orders_by_date_with_undated_last():
    result = timeline([snip("c", "2022-09-16", 0.9), snip("u", None, 1.0),
                       snip("a", "2019-06-14", 0.2), snip("b", "2021-09-17", 0.5)])
    assert ids(result) == ["a", "b", "c", "u"]


def test_one_snippet_per_article_the_best_scored():
    result = timeline([snip("a", "2022-01-01", 0.4, start=0),
                       snip("a", "2022-01-01", 0.8, start=50), snip("b", "2021-01-01", 0.1)])
    assert ids(result) == ["b", "a"]
    assert result[1].start == 50


def test_one_snippet_per_cluster():
    clusters = {"wire-1": 7, "wire-2": 7, "wire-3": 7}
    result = timeline([snip("wire-2", "2022-05-02", 0.6), snip("wire-1", "2022-05-01", 0.9),
                       snip("wire-3", "2022-05-03", 0.3), snip("other", "2022-04-01", 0.2)],
                      clusters=clusters)
    assert ids(result) == ["other", "wire-1"]


def test_cluster_ids_never_collide_with_article_ids():
    # The cluster of "x" and "y" is called "z", which is also an unclustered article's id.
    result = timeline([snip("x", "2022-01-01", 0.5), snip("y", "2022-01-02", 0.4),
                       snip("z", "2022-01-03", 0.3)], clusters={"x": "z", "y": "z"})
    assert ids(result) == ["x", "z"]


def test_limit_keeps_the_strongest_stories_then_orders_by_date():
    snippets = [snip("old-weak", "2020-01-01", 0.1), snip("mid-strong", "2021-01-01", 0.9),
                snip("new-strong", "2022-01-01", 0.8), snip("undated-strong", None, 0.95)]
    assert ids(timeline(snippets, limit=2)) == ["mid-strong", "undated-strong"]
    assert ids(timeline(snippets, limit=3)) == ["mid-strong", "new-strong", "undated-strong"]
    assert timeline(snippets, limit=0) == []


def test_same_day_breaks_ties_by_score_then_id():
    result = timeline([snip("b", "2022-01-01", 0.5), snip("a", "2022-01-01", 0.5),
                       snip("c", "2022-01-01", 0.9)])
    assert ids(result) == ["c", "a", "b"]


def test_empty_and_deterministic_under_shuffling():
    assert timeline([]) == []
    snippets = [snip(f"a{n}", f"2022-0{1 + n % 9}-1{n % 10}" if n % 4 else None, (n * 37 % 11) / 11,
                     start=n) for n in range(40)]
    clusters = {f"a{n}": n % 7 for n in range(0, 40, 3)}
    expected = timeline(snippets, clusters)
    rng = random.Random(3)
    for _ in range(20):
        shuffled = snippets[:]
        rng.shuffle(shuffled)
        assert timeline(shuffled, clusters) == expected
    dates = [s.date for s in expected]
    dated = [d for d in dates if d]
    assert dated == sorted(dated) and dates[len(dated):] == [None] * (len(dates) - len(dated))
    stories = [clusters.get(s.article_id, s.article_id) for s in expected]
    assert len(stories) == len(set(stories))


@pytest.mark.parametrize("question", [
    "What happened with the SCO?",
    "What has happened with the CSTO since 2021?",
    "What happened to Evergrande?",
    "Give me a timeline of the SCO summits",
    "Timeline: Kazakhstan unrest",
    "Chronology of the protests in Almaty",
    "How did the war in Ukraine develop?",
    "How has the relationship between Russia and China evolved?",
    "how did the crisis unfold",
    "How did the SCO come about?",
    "What is the history of the CSTO?",
    "What are the key events in the Kazakhstan crisis?",
    "Latest developments in the Iran talks",
    "How did gas prices change over the months?",
])
def test_timeline_questions(question):
    assert is_timeline_question(question)


@pytest.mark.parametrize("question", [
    "Who is the Secretary-General of the CSTO?",
    "Which countries applied to join the SCO?",
    "What happened at the summit in Samarkand?",
    "When did the history museum open?",
    "What did Xi say about the history books?",
    "How did he die?",
    "How many people died in the floods?",
    "Where is the SCO headquartered?",
    "",
])
def test_not_timeline_questions(question):
    assert not is_timeline_question(question)
