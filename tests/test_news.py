"""News-aware answers on hand-made archives: copies collapsed, newer coverage, timelines,
dates asked in words."""
from __future__ import annotations

import json

import pytest

from assistant import article_file, news
from assistant.build import rebuild
from assistant.lexical import LexicalIndex
from assistant.pipeline import Assistant
from assistant.retrieve import DateWindow

from conftest import write

WIRE = ("Engineers at the northern dam opened all twelve spillway gates on Tuesday after "
        "heavy rain raised the reservoir to a record level. Officials said towns downstream "
        "were told to expect higher water for several days. The dam operator said the "
        "structure was sound and inspections would continue through the week. Farmers near "
        "the river moved livestock to higher ground as a precaution.")
STORIES = [
    {"id": "wire-1", "title": "Dam opens spillway gates after record rain", "date": "2022-03-02",
     "source": "Wire", "text": WIRE},
    {"id": "paper-1", "title": "Record rain: dam opens all gates", "date": "2022-03-03",
     "source": "Valley Post", "text": WIRE + " Subscribe to our newsletter."},
    {"id": "update-1", "title": "Dam spillway gates closed as reservoir falls", "date": "2022-03-09",
     "source": "Wire", "text": "The northern dam closed its spillway gates on Wednesday as the "
     "reservoir fell back below its record level. Engineers said inspections found no damage."},
    {"id": "council-1", "title": "Council approves budget for river parks", "date": "2022-01-10",
     "source": "Valley Post", "text": "The town council approved a budget for new river parks "
     "on Monday. The plan adds paths along the river and a playground."},
    {"id": "council-2", "title": "River parks open to the public", "date": "2022-06-20",
     "source": "Valley Post", "text": "The new river parks opened to the public on Saturday with "
     "paths along the river. The council budget for river parks paid for the playground."},
]


@pytest.fixture
def assistant(tmp_path, fake_embedder):
    archive = write(tmp_path / "archive" / "news.jsonl", "\n".join(map(json.dumps, STORIES)))
    rebuild([archive], tmp_path / "index", fake_embedder)
    return Assistant(tmp_path / "index", fake_embedder)


def test_syndicated_copies_form_one_cluster_and_are_listed_as_also_in(assistant):
    clusters = [{assistant.data.articles[r].id for r in c} for c in assistant.data.clusters]
    assert clusters == [{"wire-1", "paper-1"}]
    result = assistant.ask("How many spillway gates did the dam open after record rain?", k=5)
    quoted = {s.article_id: s for s in result.snippets}
    first = next(s for s in result.snippets if s.article_id in {"wire-1", "paper-1"})
    other = ({"wire-1", "paper-1"} - {first.article_id}).pop()
    assert [c.article_id for c in first.also_in] == [other]
    assert other not in quoted  # one citation for the story, not one per copy
    assert quoted.get("update-1") is None or quoted["update-1"].also_in == ()
    assert result.to_json()["snippets"][0]["also_in"] is not None


def test_newer_coverage_of_the_quoted_story_is_named(assistant):
    question = "Which towns downstream were told to expect higher water from the dam?"
    result = assistant.ask(question, k=1, window=DateWindow(as_of="2022-03-31"))
    assert result.snippets[0].article_id in {"wire-1", "paper-1"}
    assert [n.article_id for n in result.newer] == ["update-1"]  # the later copy is no news
    before = assistant.ask(question, k=1, window=DateWindow(as_of="2022-03-05"))
    assert "update-1" not in [n.article_id for n in before.newer]
    post_only = assistant.ask(question, k=1, window=DateWindow(as_of="2022-03-31",
                                                               sources=("Valley Post",)))
    assert [s.article_id for s in post_only.snippets] == ["paper-1"]
    assert post_only.newer == ()  # the update is the Wire's


def test_an_ask_reads_the_articles_it_looks_at_not_every_copy_in_the_archive(
        tmp_path, fake_embedder, monkeypatch):
    words = "harbour ferry council budget river school museum festival bridge market".split()
    filler = []
    for n in range(30):  # 30 stories carried twice: 60 articles in clusters
        text = " ".join(f"{words[(n + i) % 10]}{n}x{i}" for i in range(60)) + "."
        filler += [{"id": f"s{n}", "title": f"Story {n}", "date": "2022-02-01", "text": text},
                   {"id": f"s{n}c", "title": f"Story {n} again", "date": "2022-02-02",
                    "text": text + " Subscribe to our newsletter."}]
    archive = write(tmp_path / "archive" / "news.jsonl",
                    "\n".join(map(json.dumps, STORIES + filler)))
    rebuild([archive], tmp_path / "index", fake_embedder)
    assistant = Assistant(tmp_path / "index", fake_embedder)
    assert sum(map(len, assistant.data.clusters)) == 62
    parse, parsed = article_file.parse, []
    monkeypatch.setattr(article_file, "parse", lambda line: parsed.append(line) or parse(line))
    result = assistant.ask("Which towns downstream were told to expect higher water from the dam?",
                           k=1, window=DateWindow(as_of="2022-03-31"))
    assert [n.article_id for n in result.newer] == ["update-1"]
    assert len(parsed) <= 12  # the 10 best chunks' articles and the quoted story's copy


def test_timeline_is_one_quote_per_story_in_date_order(assistant):
    result = assistant.ask("What happened with the river parks and the dam?", k=5)
    assert result.timeline
    ids = [s.article_id for s in result.snippets]
    assert not {"wire-1", "paper-1"} <= set(ids)  # copies count once
    dates = [s.date for s in result.snippets]
    assert dates == sorted(dates) and len(ids) == len(set(ids))


def test_dates_in_words_limit_the_answer_and_are_reported(assistant):
    result = assistant.ask("What did the council approve in January 2022?",
                           window=DateWindow(as_of="2022-12-31"))
    assert result.window["since"] == "2022-01-01" and result.window["until"] == "2022-01-31"
    assert [s.article_id for s in result.snippets + result.nearest] == ["council-1"]
    relative = assistant.ask("What opened last month?", window=DateWindow(as_of="2022-07-15"))
    assert (relative.window["since"], relative.window["until"]) == ("2022-06-01", "2022-06-30")
    assert all(s.date.startswith("2022-06") for s in relative.snippets + relative.nearest)


def counting(embedder, calls):
    def embed(texts):
        calls.append(list(texts))
        return embedder.embed(texts)
    return embed


def test_a_date_window_with_no_articles_falls_back_to_the_whole_question(assistant):
    calls = []
    result = assistant.ask("Which towns downstream expect higher water since 2030?",
                           window=DateWindow(as_of="2031-01-01"),
                           embed=counting(assistant.embedder, calls))
    assert result.window is None and result.searched == result.question
    assert (result.empty_window["phrase"], result.empty_window["describe"]) == \
        ("since 2030", "from 2030-01-01")  # said, so that no one takes it as applied
    assert result.snippets or result.nearest
    assert calls == [[result.question]]  # the empty window is not searched first


def test_an_event_question_embeds_event_and_rest_in_one_call_and_scores_the_rest_once(
        assistant, monkeypatch):
    calls, scored = [], []
    real_scores = LexicalIndex.scores
    monkeypatch.setattr(LexicalIndex, "scores",
                        lambda self, query: scored.append(query) or real_scores(self, query))
    result = assistant.ask("What did the council approve before the dam opened all twelve "
                           "spillway gates?", window=DateWindow(as_of="2022-12-31"),
                           embed=counting(assistant.embedder, calls))
    assert result.window["event_date"] == "2022-03-02" and result.window["until"] == "2022-03-01"
    assert result.searched == "What did the council approve?"
    assert calls == [["the dam opened all twelve spillway gates", result.searched]]
    assert scored == [result.searched]  # begun while the event was dated, and used
    assert [s.article_id for s in result.snippets + result.nearest] == ["council-1"]


def test_a_window_digest_keeps_the_story_with_copies_when_it_must_choose(assistant):
    window = DateWindow("2022-01-01", "2022-03-31")
    chosen = news.window_digest(assistant.data, window, "What happened?", 1).snippets
    assert [s.article_id for s in chosen] == ["wire-1"]  # not the older council-1
    digest = news.window_digest(assistant.data, window, "What happened?", 5).snippets
    assert [s.article_id for s in digest] == ["council-1", "wire-1", "update-1"]
    post_only = assistant.ask("What happened in March 2022?",
                              window=DateWindow(as_of="2022-12-31", sources=("Valley Post",)))
    assert [s.article_id for s in post_only.snippets] == ["paper-1"]  # the date read, too


def test_a_window_digest_quotes_the_copy_inside_the_window(tmp_path, fake_embedder):
    undated = dict(STORIES[0], id="a-undated", date=None)  # first in the archive, no date
    archive = write(tmp_path / "news.jsonl", "\n".join(map(json.dumps, [undated, *STORIES])))
    rebuild([archive], tmp_path / "index", fake_embedder)
    result = Assistant(tmp_path / "index", fake_embedder).ask(
        "What happened in March 2022?", window=DateWindow(as_of="2022-12-31"))
    assert result.timeline and {s.date[:7] for s in result.snippets} == {"2022-03"}
    assert {s.article_id for s in result.snippets} & {"wire-1", "paper-1"}


def test_k_counts_stories_so_a_dropped_copy_leaves_room_for_the_next_story(assistant):
    result = assistant.ask("How many spillway gates did the dam open after record rain?", k=4)
    assert result.found
    story = {"paper-1": "wire-1"}  # the two copies are one story
    quoted = [story.get(s.article_id, s.article_id) for s in result.snippets]
    assert len(quoted) == 4 and len(set(quoted)) == 4
