"""Dates asked in words: expected windows, phrases that are not dates, the span invariant."""
from __future__ import annotations

import calendar
from dataclasses import FrozenInstanceError
from datetime import date

import random

import pytest

from assistant.when import When, parse_when

TODAY = date(2022, 9, 30)  # a Friday
MARCH = date(2022, 3, 15)

WINDOWS = [
    # (question, today, phrase, since, until)
    ("What happened in May 2022?", TODAY, "in May 2022", "2022-05-01", "2022-05-31"),
    ("What happened in may 2022?", TODAY, "in may 2022", "2022-05-01", "2022-05-31"),
    ("Who met in May of 2021?", TODAY, "in May of 2021", "2021-05-01", "2021-05-31"),
    ("Which countries joined the SCO in 2021?", TODAY, "in 2021", "2021-01-01", "2021-12-31"),
    ("What happened last September?", TODAY, "last September", "2021-09-01", "2021-09-30"),
    ("What happened last September?", date(2022, 10, 2), "last September", "2022-09-01",
     "2022-09-30"),
    ("What happened last month?", TODAY, "last month", "2022-08-01", "2022-08-31"),
    ("What happened last month?", date(2022, 1, 10), "last month", "2021-12-01", "2021-12-31"),
    ("What happened last week?", TODAY, "last week", "2022-09-19", "2022-09-25"),
    ("What happened last year?", TODAY, "last year", "2021-01-01", "2021-12-31"),
    ("What happened this year?", TODAY, "this year", "2022-01-01", "2022-12-31"),
    ("What happened this month?", TODAY, "this month", "2022-09-01", "2022-09-30"),
    ("What happened this week?", TODAY, "this week", "2022-09-24", "2022-09-30"),
    ("What did Xi say this May?", TODAY, "this May", "2022-05-01", "2022-05-31"),
    ("What has changed since June?", TODAY, "since June", "2022-06-01", None),
    ("What has changed since June?", MARCH, "since June", "2021-06-01", None),
    ("What has changed since 2021?", TODAY, "since 2021", "2021-01-01", None),
    ("Who led before March 2022?", TODAY, "before March 2022", None, "2022-02-28"),
    ("What happened after the 15th of June?", TODAY, "after the 15th of June", "2022-06-16", None),
    ("What happened after June 15th?", TODAY, "after June 15th", "2022-06-16", None),
    ("Who met between May and July 2022?", TODAY, "between May and July 2022", "2022-05-01",
     "2022-07-31"),
    ("Who met between November and February 2022?", TODAY,
     "between November and February 2022", "2021-11-01", "2022-02-28"),
    ("Who met between May 3 and May 9?", TODAY, "between May 3 and May 9", "2022-05-03",
     "2022-05-09"),
    ("Who won from 2019 to 2021?", TODAY, "from 2019 to 2021", "2019-01-01", "2021-12-31"),
    ("Who won from December 2021 to March?", TODAY, "from December 2021 to March", "2021-12-01",
     "2022-03-31"),
    ("Who won from 2019-2021?", TODAY, "from 2019-2021", "2019-01-01", "2021-12-31"),
    ("What happened yesterday?", TODAY, "yesterday", "2022-09-29", "2022-09-29"),
    ("What did the CSTO say on Sept. 16, 2021?", TODAY, "on Sept. 16, 2021", "2021-09-16",
     "2021-09-16"),
    ("What was said on 16 September 2021?", TODAY, "on 16 September 2021", "2021-09-16",
     "2021-09-16"),
    ("What was said on 2021-09-16?", TODAY, "on 2021-09-16", "2021-09-16", "2021-09-16"),
    ("What was said on September 16?", date(2022, 9, 10), "on September 16", "2021-09-16",
     "2021-09-16"),
    ("What happened in September?", TODAY, "in September", "2022-09-01", "2022-09-30"),
    ("What happened in September?", date(2022, 8, 31), "in September", "2021-09-01",
     "2021-09-30"),
    ("What happened in Sept.?", TODAY, "in Sept.", "2022-09-01", "2022-09-30"),
    ("What happened during February 2020?", TODAY, "during February 2020", "2020-02-01",
     "2020-02-29"),
    ("What happened in the past two weeks?", TODAY, "in the past two weeks", "2022-09-16",
     "2022-09-30"),
    ("What happened over the past year?", TODAY, "over the past year", "2021-09-30", "2022-09-30"),
    ("What happened in the last 3 days?", TODAY, "in the last 3 days", "2022-09-27",
     "2022-09-30"),
    ("What happened in the past month?", date(2022, 3, 31), "in the past month", "2022-02-28",
     "2022-03-31"),
    ("Who led until 2020?", TODAY, "until 2020", None, "2020-12-31"),
    ("Who led up to May 2021?", TODAY, "up to May 2021", None, "2021-05-31"),
    ("In 2021, who won the election?", TODAY, "In 2021", "2021-01-01", "2021-12-31"),
    ("What did last year's budget say?", TODAY, "last year's", "2021-01-01", "2021-12-31"),
    ("What happened in Jan 2022 in Kazakhstan?", TODAY, "in Jan 2022", "2022-01-01", "2022-01-31"),
    ("Who won since Sept. 11?", TODAY, "since Sept. 11", "2022-09-11", None),
    ("Who resigned in early March 2022?", TODAY, "in early March 2022", "2022-03-01",
     "2022-03-10"),
    ("Who met in mid-May?", TODAY, "in mid-May", "2022-05-11", "2022-05-20"),
    ("What closed in late February 2021?", TODAY, "in late February 2021", "2021-02-21",
     "2021-02-28"),
    ("What happened in late 2021?", TODAY, "in late 2021", "2021-09-01", "2021-12-31"),
    ("What changed since mid-2021?", TODAY, "since mid-2021", "2021-05-01", None),
    ("Who led before early 2022?", TODAY, "before early 2022", None, "2021-12-31"),
]


@pytest.mark.parametrize("question, today, phrase, since, until", WINDOWS)
def test_windows(question, today, phrase, since, until):
    when = parse_when(question, today)
    assert when is not None, question
    assert (when.phrase, when.since, when.until) == (phrase, since, until)
    assert question[when.start:when.end] == when.phrase


NOT_DATES = [
    "May I ask who leads the CSTO?",
    "Who founded the March of Dimes?",
    "What happened in the Sept. 11 attacks?",
    "Why did the Sept. 11 attacks happen?",
    "Who won in May?".replace("May", "may"),  # "in may" is not English for a month
    "Who led a march in Paris?",  # no trigger word before "march"
    "This may be a silly question: who won?",
    "Which city hosted the summit in March?".replace("March", "march"),
    "What was the 2021 budget?",
    "What happened in the 1990s?",
    "What happened in the 2021-22 season?",
    "A baseball card from 1952 sold for how much?",
    "Which retailer cut gas prices through July 4 weekend?",
    "Which two supermarkets plan to merge in 2024?",
    "Who spoke in the last week of May?",
    "Who flew into Jan Smuts airport?",
    "What happened in Jan Smuts airport?",
    "Who is the Secretary-General of the CSTO?",
    "What did he say before?",
    "What happened since then?",
    "Who spoke after being elected?",
    "What fell in early trading?",
    "",
]


IN_A_MONTH = [
    # (question, phrase): a month after "in", with a capital or a year, where a question puts it
    ("in {Month} {year}", "in {Month} {year}"),
    ("In {Month} {year}, who met?", "In {Month} {year}"),
    ("SCO in {Month} {year}", "in {Month} {year}"),
    ("What did the SCO decide in {Month} {year}?", "in {Month} {year}"),
    ("May I ask who met in {Month} {year}?", "in {Month} {year}"),
    ("who met in {month} {year}?", "in {month} {year}"),
    ("Who met in {Month}?", "in {Month}"),
]


@pytest.mark.parametrize("number", range(1, 13), ids=calendar.month_name[1:])
@pytest.mark.parametrize("question, phrase", IN_A_MONTH)
def test_every_month_after_in(question, phrase, number):
    """Each month after "in" is read wherever the question puts it, "May" and "March"
    too when written with a capital or a year."""
    name = calendar.month_name[number]
    year = TODAY.year - (number > TODAY.month)  # the latest one on or before TODAY
    question, phrase = (s.format(Month=name, month=name.lower(), year=year)
                        for s in (question, phrase))
    when = parse_when(question, TODAY)
    assert when is not None, question
    last = calendar.monthrange(year, number)[1]
    assert (when.phrase, when.since, when.until) == (
        phrase, f"{year}-{number:02}-01", f"{year}-{number:02}-{last}")


@pytest.mark.parametrize("question", NOT_DATES)
def test_not_dates(question):
    assert parse_when(question, TODAY) is None


def test_no_callback_means_no_event_window():
    assert parse_when("What did Putin say before the summit in Samarkand?", TODAY) is None


def test_event_anchored_before():
    asked = []

    def find_event_date(phrase, rest):
        asked.append((phrase, rest))
        return "2022-09-15" if "Samarkand" in phrase else None

    question = "What did Putin say before the summit in Samarkand?"
    when = parse_when(question, TODAY, find_event_date)
    assert asked == [("the summit in Samarkand", "What did Putin say?")]
    assert (when.since, when.until) == (None, "2022-09-14")
    assert (when.phrase, when.event, when.event_date) == (
        "before the summit in Samarkand", "the summit in Samarkand", "2022-09-15")
    assert when.query == "What did Putin say?"
    assert question[when.start:when.end] == when.phrase


@pytest.mark.parametrize("question, event, since, until", [
    ("What did Xi say after the summit in Samarkand about Taiwan?", "the summit in Samarkand",
     "2022-09-16", None),
    ("Since the invasion, which countries imposed sanctions?", "the invasion", "2022-09-15",
     None),
    ("Who spoke ahead of the SCO summit?", "the SCO summit", None, "2022-09-14"),
    ("What changed after the Sept. 11 attacks?", "the Sept. 11 attacks", "2022-09-16", None),
    ("What happened following Brexit.", "Brexit", "2022-09-16", None),
])
def test_event_phrases(question, event, since, until):
    when = parse_when(question, TODAY, lambda phrase, rest: "2022-09-15")
    assert (when.event, when.since, when.until) == (event, since, until)
    assert question[when.start:when.end] == when.phrase


def test_event_not_found_or_bad_date_gives_none():
    question = "What did Putin say before the summit in Samarkand?"
    assert parse_when(question, TODAY, lambda phrase, rest: None) is None
    assert parse_when(question, TODAY, lambda phrase, rest: "mid-September") is None


def test_dates_win_over_events_and_pronouns_are_not_events():
    asked = []
    when = parse_when("What happened after the summit in 2021?", TODAY,
                      lambda phrase, rest: asked.append(phrase) or "2022-09-15")
    assert (when.phrase, when.since, asked) == ("in 2021", "2021-01-01", [])
    for question in ("What happened since then?", "What did he do after he resigned?",
                     "Was it like this before?", "Who spoke after being elected?"):
        assert parse_when(question, TODAY, lambda phrase, rest: asked.append(phrase) or "2022-09-15") \
            is None
    assert asked == []


def test_the_following_is_not_an_event():
    """'Which of the following US airports...' names no event: dating 'US airports'
    would search only around the date of some article about airports."""
    asked = []
    for question in ("Which of the following US airports has been the worst for delays?",
                     "Which of these following cities saw rents rise?"):
        assert parse_when(question, TODAY, lambda phrase, rest: asked.append(phrase)
                          or "2022-09-15") is None
    assert asked == []
    when = parse_when("Who resigned following the vote in Parliament?", TODAY,
                      lambda phrase, rest: "2022-09-15")
    assert (when.event, when.since) == ("the vote in Parliament", "2022-09-16")


@pytest.mark.parametrize("question, query", [
    ("What happened in May 2022?", "What happened?"),
    ("Since June, what has Xi said?", "what has Xi said?"),
    ("Who met between May and July 2022 in Samarkand?", "Who met in Samarkand?"),
    ("What did last year's budget say?", "What did budget say?"),
])
def test_query_without_phrase(question, query):
    assert parse_when(question, TODAY).query == query


def test_first_phrase_from_the_left_wins():
    when = parse_when("What happened in 2021 and in 2020?", TODAY)
    assert when.phrase == "in 2021"
    assert parse_when("Who spoke this week and last week?", TODAY).phrase == "this week"


@pytest.mark.parametrize("question, phrase", [
    # A relative phrase dates the coverage; an absolute one often the event.
    ("The Super Bowl halftime headliner in February was announced this week. Who is it?",
     "this week"),
    ("Documents on Uber between 2013 and 2017 were published this week. How many?", "this week"),
    ("Which supermarkets announced this week they plan to merge in 2024?", "this week"),
    # A future window is not a publication window; the next phrase is used.
    ("Which supermarkets, merging in 2024, reported profits in 2021?", "in 2021"),
])
def test_relative_phrases_win_and_future_windows_are_skipped(question, phrase):
    assert parse_when(question, TODAY).phrase == phrase


def test_impossible_dates_are_not_windows():
    assert parse_when("What happened on February 30, 2022?", TODAY) is None
    assert parse_when("What happened on 2022-13-01?", TODAY) is None
    assert parse_when("Who met between July 2022 and May 2022?", TODAY) is None


def test_leap_years_and_month_ends():
    assert parse_when("What happened in February 2024?", date(2024, 3, 1)).until == "2024-02-29"
    assert parse_when("What happened in the past year?", date(2024, 2, 29)).since == "2023-02-28"


def test_describe_and_frozen():
    when = parse_when("What happened in May 2022?", TODAY)
    assert when.describe() == "2022-05-01 to 2022-05-31"
    assert parse_when("What happened yesterday?", TODAY).describe() == "2022-09-29"
    assert parse_when("What changed since June?", TODAY).describe() == "from 2022-06-01"
    assert parse_when("Who led before 2020?", TODAY).describe() == "up to 2019-12-31"
    with pytest.raises(FrozenInstanceError):
        when.since = "2020-01-01"
    assert isinstance(when, When)


def test_span_invariant_on_many_questions():
    """Every window found, in every question of the table, spans its phrase exactly."""
    questions = [q for q, *_ in WINDOWS] + NOT_DATES + [
        "  What   happened  in   May 2022 ?", "In May 2022; and then?", "what happened last week"]
    for question in questions:
        when = parse_when(question, TODAY, lambda phrase, rest: "2022-09-15")
        if when:
            assert question[when.start:when.end] == when.phrase != ""
            assert len(when.query) < len(question)


def test_span_invariant_on_random_word_salad():
    """Seeded random questions from date-ish words: never an error, always a true span."""
    words = ("in on since before after between and from to until last this past the of May may "
             "March June Sept. 16, 2021 2022 15th week month year yesterday two summit Samarkand "
             "what happened ? , Jan Smuts attacks").split()
    rng = random.Random(7)
    for _ in range(2000):
        question = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        when = parse_when(question, TODAY, lambda phrase, rest: "2022-09-15")
        if when:
            assert question[when.start:when.end] == when.phrase
            assert when.since is None or when.until is None or when.since <= when.until
