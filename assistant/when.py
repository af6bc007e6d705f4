"""Dates asked in words -> a publication-date window, without an LLM (pure).

A date counts behind a word that makes it one ("in", "on", "since", "before", "after", "until",
"between ... and", "from ... to") or as a relative phrase ("yesterday", "last week", "the past
two months", "last September"); a bare month name is not one ("May I ask", "the March of Dimes").
A day or month without a year is the latest on or before `today` (the as-of date). The first
relative phrase is used (it speaks of the asker's now, so of publication), else the first
absolute one (which may date the event rather than its coverage); windows after `today` are
skipped. Dates win over events ("before the summit in Samarkand"), which the caller dates.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, NamedTuple

from .formats import MONTHS

DAY = timedelta(days=1)
NEWS_WEEK_DAYS = 7
NUMBERS = {w: n for n, w in enumerate(
    "one two three four five six seven eight nine ten eleven twelve".split(), start=1)}
AMBIGUOUS_MONTHS = {"may", "mar", "march"}  # also English words: lower case needs a day or year
MONTH = rf"(?P<month>{'|'.join(sorted(MONTHS, key=len, reverse=True))})\b\.?"
DAY_OF_MONTH = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b"
YEAR = r"(?P<year>(?:19|20)\d\d)\b(?![-/]\d\d?\b)"  # not the 2021 of "2021-22"
ABSOLUTE = [re.compile(p, re.I) for p in (
    r"(?P<year>(?:19|20)\d\d)-(?P<mnum>[01]\d)-(?P<day>[0-3]\d)\b",  # 2021-09-16
    rf"{MONTH}\s+{DAY_OF_MONTH}(?:,?\s+{YEAR})?",                     # Sept. 16, 2021
    rf"(?:the\s+)?{DAY_OF_MONTH}\s+(?:of\s+)?{MONTH}(?:,?\s+{YEAR})?",  # the 15th of June
    rf"{MONTH}(?:,?\s+(?:of\s+)?{YEAR})?",                            # May 2022, May
    YEAR,                                                             # 2021
)]
PART = re.compile(r"(?P<part>early|mid|late)[\s-]+", re.I)  # early March, mid-2021, late May
# A day without a year that names something else: "the Sept. 11 attacks".
NAMED_DAY = re.compile(r"(?i)\s+(?:attacks?|terror\w*|anniversary|memorial|commission|weekend)\b")
CAPITALISED = re.compile(r"\s+[A-Z][a-z]")
ABBREVIATED = {name for name in MONTHS if len(name) == 3} - {"may"}
ROLLING = re.compile(  # the past two weeks, past year, the last 3 days: up to today
    r"(?:(?:over|for|within|during|in)\s+)?(?:(?:the\s+)?past|the\s+last|last(?=\s+\w+\s+\w+s\b))"
    rf"\s+(?:(?P<n>\d{{1,3}}|{'|'.join(NUMBERS)})\s+)?(?P<unit>day|week|month|year)s?\b", re.I)
CALENDAR = re.compile(  # last week, this year, last September
    rf"(?P<rel>last|previous|this)\s+(?:(?P<unit>week|month|year)\b|{MONTH})", re.I)
YESTERDAY = re.compile(r"yesterday\b", re.I)
OF_FOLLOWS = re.compile(r"\s+of\b", re.I)  # "the last week of May" is not last week
RELATIVE_WORD = re.compile(r"\b(?:yesterday|last|this|past|previous)\b", re.I)
TRIGGER = re.compile(r"(?P<word>in|on|during|from|since|after|before|until|till|through|"
                     r"up\s+to|prior\s+to|ahead\s+of|between)\s+", re.I)
RANGE_JOIN = {"between": re.compile(r"\s+and\s+", re.I),
              "from": re.compile(r"\s+(?:to|until|till|through)\s+|\s*[-–]\s*", re.I)}
EVENT_TRIGGER = re.compile(r"(?i)\b(?P<word>before|after|since|prior\s+to|ahead\s+of|following)\s+")
# "which of the following cities": an adjective there, not a trigger
FOLLOWING_AS_ADJECTIVE = re.compile(r"(?i)\b(?:the|these|those)\s+$")
EVENT_TOKEN = re.compile(r"\s*([^\s?!,;:()\[\]\"“”]+)")
MAX_EVENT_WORDS = 8
DETERMINERS = set("the a an his her its their our this these those".split())
NOT_EVENTS = set("i it he she they we you that this then there what which when who how being "
                 "having and or".split())
EVENT_STOP = set("and or but when while where who which why how what did does do was were is are "
                 "has have had will would could should can about regarding concerning according"
                 .split())  # words that end the event's noun phrase


@dataclass(frozen=True)
class When:
    """The publication window a question asks about: inclusive ISO dates, None is open.

    `question[start:end] == phrase`; `query` is the question without it, for searching.
    For a window hung on an event, `event` is the event as asked ("the summit in
    Samarkand") and `event_date` the date found for it."""

    since: str | None
    until: str | None
    phrase: str
    start: int
    end: int
    query: str
    event: str | None = None
    event_date: str | None = None

    def describe(self) -> str:
        """'2022-05-01 to 2022-05-31', '2021-09-16', 'from 2022-06-01' or 'up to 2022-02-28'."""
        if self.since and self.until:
            return self.since if self.since == self.until else f"{self.since} to {self.until}"
        return f"from {self.since}" if self.since else f"up to {self.until}"


class Spec(NamedTuple):  # a date as written; a missing year is settled by `resolve`
    year: int | None
    month: int | None
    day: int | None


Period = tuple[date, date]


def parse_when(question: str, today: date,
               find_event_date: Callable[[str, str], str | None] | None = None) -> When | None:
    """The date window asked for in `question`, relative phrases resolved against `today`;
    `find_event_date(phrase, rest) -> ISO date | None` dates an event after
    before/after/since. `rest` is the question without the date phrase: what the caller
    will search for if the event is dated, and may prepare meanwhile.

    >>> w = parse_when("What happened in May 2022?", date(2022, 9, 30))
    >>> (w.since, w.until, w.phrase, w.query)
    ('2022-05-01', '2022-05-31', 'in May 2022', 'What happened?')
    """
    absolute = None
    for start in (m.start() for m in re.finditer(r"\b\w", question)):
        found = date_phrase(question, start, today)
        if not found or (found[0] and found[0] > today):
            continue  # no date here, or a future event's: nothing is published then
        since, until, end = found
        end += 2 if question[end:end + 2] in ("'s", "’s") else 0  # last year's budget
        if RELATIVE_WORD.search(question, start, end):
            return make_when(question, start, end, since, until)
        absolute = absolute or (start, end, since, until)
    if absolute:
        return make_when(question, *absolute)
    return event_phrase(question, find_event_date) if find_event_date else None


def make_when(question: str, start: int, end: int, since: date | None, until: date | None,
              **event) -> When:
    return When(since.isoformat() if since else None, until.isoformat() if until else None,
                question[start:end], start, end, without(question, start, end), **event)


def without(question: str, start: int, end: int) -> str:
    """The question with question[start:end] cut out, spaces and punctuation tidied."""
    rest = re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s+", " ", question[:start] + question[end:]))
    return rest.strip(" ,;:")


def date_phrase(q: str, i: int, today: date) -> tuple[date | None, date | None, int] | None:
    """(since, until, end) of a date phrase starting at `q[i]`, or None."""
    trigger = TRIGGER.match(q, i)
    if not trigger:
        found = relative_at(q, i, today)
        return (*found[0], found[1]) if found else None
    word = " ".join(trigger["word"].lower().split())
    if word in RANGE_JOIN:  # "from" alone is no window: "a baseball card from 1952"
        return date_range(q, trigger.end(), today, RANGE_JOIN[word])
    found = period_at(q, trigger.end(), today)
    return (*bounds(word, *found[0]), found[1]) if found else None


def bounds(word: str, first: date, last: date) -> tuple[date | None, date | None]:
    """The window a preposition makes of the period [first, last]."""
    if word == "since":
        return first, None
    if word in ("after", "following"):
        return last + DAY, None
    if word in ("before", "prior to", "ahead of"):
        return None, first - DAY
    if word in ("until", "till", "through", "up to"):
        return None, last
    return first, last  # in, on, during


def period_at(q: str, j: int, today: date) -> tuple[Period, int] | None:
    """The period written at `q[j]` (relative or absolute, maybe the early, mid or late
    part of a month or year) and where it ends."""
    if found := relative_at(q, j, today):
        return found
    part = PART.match(q, j)
    spec = spec_at(q, part.end() if part else j)
    period = spec and resolve(spec[0], today)
    if part and period and not spec[0].day:
        period = third(period, part["part"].lower())
    return (period, spec[1]) if period else None


def third(period: Period, part: str) -> Period:
    """The early, mid or late third of a month (days 1-10, 11-20, 21 on) or of a year
    (January-April, May-August, September-December)."""
    first, last = period
    n = ("early", "mid", "late").index(part)
    if first.month == last.month:
        return first.replace(day=1 + 10 * n), last if n == 2 else first.replace(day=10 + 10 * n)
    return month_period(first.year, 1 + 4 * n)[0], month_period(first.year, 4 + 4 * n)[1]


def date_range(q: str, j: int, today: date, join: re.Pattern) -> tuple[date, date, int] | None:
    """'between May and July 2022', 'from 2019 to 2021': (since, until, end)."""
    first = spec_at(q, j)
    joined = first and join.match(q, first[1])
    second = joined and spec_at(q, joined.end())
    if not second:
        return None
    (a, _), (b, end) = first, second
    if b.year is None and a.year is not None:  # "from December 2021 to March": the March after
        b = b._replace(year=a.year + ((b.month, b.day or 1) < (a.month or 1, a.day or 1)))
    last = resolve(b, today)
    first_period = last and resolve(a, last[1])  # "between May and July 2022": May 2022
    ok = first_period and first_period[0] <= last[1]
    return (first_period[0], last[1], end) if ok else None


def spec_at(q: str, j: int) -> tuple[Spec, int] | None:
    """An absolute date written at `q[j]` ('Sept. 16, 2021', 'May 2022', '2021', 'June')."""
    for pattern in ABSOLUTE:
        m = pattern.match(q, j)
        if m:
            g = {k: v for k, v in m.groupdict().items() if v}
            year, day = (int(g[k]) if k in g else None for k in ("year", "day"))
            month = int(g["mnum"]) if "mnum" in g else MONTHS.get(g.get("month", "").lower())
            bad = not_a_date(q, m.end(), g.get("month", ""), day, year)
            return None if bad else (Spec(year, month, day), m.end())
    return None


def not_a_date(q: str, end: int, month: str, day: int | None, year: int | None) -> bool:
    """A date-shaped phrase that is not one: "may" or "march" in lower case alone, a day
    naming something ("Sept. 11 attacks"), or a name ("Jan Smuts")."""
    if year:
        return False
    if day:
        return bool(NAMED_DAY.match(q, end))
    if month.lower() in AMBIGUOUS_MONTHS and month[:1].islower():
        return True
    return month.lower() in ABBREVIATED and q[end - 1] != "." and bool(CAPITALISED.match(q, end))


def resolve(spec: Spec, ref: date) -> Period | None:
    """The days a Spec covers; without a year, the most recent one on or before `ref`."""
    year = spec.year
    if year is None:
        year = ref.year - ((spec.month, spec.day or 1) > (ref.month, ref.day))
    try:
        if spec.day:
            day = date(year, spec.month, spec.day)
            return day, day
        if spec.month:
            return month_period(year, spec.month)
        return date(year, 1, 1), date(year, 12, 31)
    except ValueError:  # "February 30"
        return None


def month_period(year: int, month: int) -> Period:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def relative_at(q: str, i: int, today: date) -> tuple[Period, int] | None:
    """A phrase relative to today at `q[i]`: yesterday, the past N units, last/this X."""
    if m := YESTERDAY.match(q, i):
        return (today - DAY, today - DAY), m.end()
    m = ROLLING.match(q, i) or CALENDAR.match(q, i)
    if not m or OF_FOLLOWS.match(q, m.end()):
        return None
    g = m.groupdict()
    if "rel" not in g:
        n = NUMBERS.get((g["n"] or "").lower()) or int(g["n"] or 1)
        return (go_back(today, n, g["unit"].lower()), today), m.end()
    if g["month"] and not_a_date(q, m.end(), g["month"], None, None):
        return None  # "this may be ..."
    return calendar_period(today, g["rel"].lower() != "this", g), m.end()


def calendar_period(today: date, last: bool, g: dict) -> Period:
    """last/this week, month or year; last/this <month>."""
    unit = (g["unit"] or "").lower()
    if unit == "week" and not last:
        # A news week: what was reported "this week" may have run late the week before
        # (measured on the dev quizzes: a calendar week lost a fifth of the gold articles).
        return today - (NEWS_WEEK_DAYS - 1) * DAY, today
    if unit == "week":
        monday = today - today.weekday() * DAY - 7 * DAY
        return monday, monday + 6 * DAY
    if unit == "month":
        first = (today.replace(day=1) - DAY) if last else today
        return month_period(first.year, first.month)
    if unit == "year":
        return date(today.year - last, 1, 1), date(today.year - last, 12, 31)
    month = MONTHS[g["month"].lower()]
    # "last September" is the most recent one before this month; "this September" this year's.
    return month_period(today.year - (last and month >= today.month), month)


def go_back(today: date, n: int, unit: str) -> date:
    """`today` minus n days, weeks, months or years (the day clamped to the month's end)."""
    if unit in ("day", "week"):
        return today - n * (7 if unit == "week" else 1) * DAY
    months = today.year * 12 + today.month - 1 - n * (12 if unit == "year" else 1)
    year, month = divmod(months, 12)
    return date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))


def event_phrase(question: str, find_event_date: Callable[[str, str], str | None]) -> When | None:
    """'before the summit in Samarkand': the window around the date the caller finds."""
    for trigger in EVENT_TRIGGER.finditer(question):
        if trigger["word"].lower() == "following" and \
                FOLLOWING_AS_ADJECTIVE.search(question, 0, trigger.start()):
            continue
        end = event_end(question, trigger.end())
        if end is None:
            continue
        event = question[trigger.end():end]
        try:
            day = date.fromisoformat(
                find_event_date(event, without(question, trigger.start(), end)) or "")
        except ValueError:
            continue
        word = " ".join(trigger["word"].lower().split())
        return make_when(question, trigger.start(), end, *bounds(word, day, day),
                         event=event, event_date=day.isoformat())
    return None


def event_end(q: str, j: int) -> int | None:
    """End of the noun phrase naming an event at `q[j]`, or None if it does not look like
    one: it must open with a determiner and a word, or a capitalised word or number."""
    words, end, pos = [], j, j
    while len(words) < MAX_EVENT_WORDS and (m := EVENT_TOKEN.match(q, pos)):
        token = m.group(1)
        bare = token.rstrip(".")
        if not bare or (words and bare.lower() in EVENT_STOP):
            break
        words.append(bare)
        pos = end = m.end()
        if bare != token and bare.lower() not in MONTHS and len(bare) > 1:
            end = m.start(1) + len(bare)  # a full stop ends the sentence
            break
    first = words[0] if words else "it"
    if first.lower() in DETERMINERS:
        return end if len(words) > 1 and words[1].lower() not in NOT_EVENTS else None
    named = first[0].isupper() or first[0].isdigit()
    return end if named and first.lower() not in NOT_EVENTS else None
