"""Follow-up questions: the previous topic is carried into a question that leans on it."""
from __future__ import annotations

import pytest

from assistant.followup import names, resolve, topic

SCO = "Which countries applied to join the SCO?"
CSTO_HEAD = "Who is the Secretary-General of the CSTO?"


@pytest.mark.parametrize("question, previous, searched", [
    ("And who leads it?", SCO, "Who leads the SCO?"),
    ("who leads it", SCO, "Who leads the SCO"),
    ("When was he appointed?", CSTO_HEAD, "When was the Secretary-General of the CSTO appointed?"),
    ("What are its members?", "Who leads the SCO?", "What are the SCO's members?"),
    ("And when?", "Where did the first Eurasian Economic Forum take place?",
     "When? (about Eurasian Economic Forum)"),
    ("Are there any observers?", "Who leads the SCO?", "Are there any observers? (about the SCO)"),
    ("What did they discuss?", "Did Wang Yi meet Lavrov in Tashkent?",
     "What did Wang Yi, Lavrov and Tashkent discuss?"),
    ("Where was it held?", "who won the national prize?", "Where was the national prize held?"),
    ("What about the CSTO?", "Who is the Secretary-General of the SCO?",
     "Who is the Secretary-General of the CSTO?"),
    ("how about Iran?", "Who leads the SCO?", "Who leads Iran?"),
])
def test_a_follow_up_carries_the_previous_topic(question, previous, searched):
    assert resolve(question, previous) == searched


@pytest.mark.parametrize("question, previous", [
    ("Who is Stanislav Zas?", "Who leads the SCO?"),  # names its own topic
    ("Which countries attended the summit in Samarkand?", SCO),
    ("Where did the Central Asian heads of state meet?", SCO),
    ("Who won the national prize for choirs this year?", SCO),  # long, no pronoun
    ("And who leads it?", None),  # nothing before it
    ("And who leads it?", ""),
])
def test_a_question_that_stands_alone_is_searched_as_typed(question, previous):
    assert resolve(question, previous) == question


def test_whitespace_is_tidied_and_an_empty_question_stays_empty():
    assert resolve("  And   who leads   it? ", SCO) == "Who leads the SCO?"
    assert resolve("   ", SCO) == ""


def test_a_topic_carries_along_a_chain_of_follow_ups():
    first = resolve("And who leads it?", SCO)
    assert resolve("When was it founded?", first) == "When was the SCO founded?"


def test_names_join_titles_and_organisations_but_not_question_words():
    assert names(CSTO_HEAD) == ["the Secretary-General of the CSTO"]
    assert names("Who leads the Shanghai Cooperation Organization?") == [
        "the Shanghai Cooperation Organization"]
    assert names("What did they say and when?") == []


def test_a_question_naming_nothing_has_its_content_words_as_topic():
    assert topic("why did prices fall?") == "prices fall"


def test_this_and_that_point_back_only_when_they_stand_for_something():
    assert resolve("What did the ministers say about that?", SCO).endswith("(about the SCO)")
    assert resolve("Which summit was held this year in the capital?", SCO) == (
        "Which summit was held this year in the capital?")
