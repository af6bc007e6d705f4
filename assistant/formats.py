"""Archive formats -> Articles: the only module that knows them (archive.py walks the
folders and picks the format by file name).

- `*.jsonl`: one article a line, `{"id", "title", "date", "url", "text"}`;
- `*.html` / `*.htm`: one article page (headline from <h1> or <title>, text from paragraphs);
- `*.txt` / `*.md`: a category/archive page (articles that open with a dateline such as
  `Sept. 28, 2022 (EIRNS)—`), or else one plain article (first line is the headline).
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date

from .html_text import parse_page
from .types import Article, Problem

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7,
    "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
FULL_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december"]
MONTHS.update({name: number for number, name in enumerate(FULL_MONTHS, start=1)})

# "Sept. 28, 2022 (EIRNS)—", "May 26, 2022 (EIRNS)–", "Aug. 6 (EIRNS)–"
DATELINE = re.compile(
    r"^(?P<month>[A-Z][a-z]{2,8})\.?\s+(?P<day>\d{1,2})(?:,?\s+(?P<year>\d{4}))?\s*"
    r"\((?P<source>[^()\n]{1,40})\)\s*[\u2014\u2013-]{1,2}\s*"
)
HEADLINE_MAX_CHARS = 250


def stable_id(*parts: str) -> str:
    """A short id that stays the same as long as its parts do."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


Read = tuple[list[Article], list[Problem]]  # a file's articles, and what was wrong in it

# --- dates -------------------------------------------------------------------------------

# 2022-03-05, which a time may follow: 2022-03-05T10:00Z
ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?=$|[T ])")
# "March 5, 2022", "Sat, 5 Mar. 2022": the month by name, so that 05/03 is never guessed at
WRITTEN_DATE = re.compile(
    r"(?i)(?:[a-z]+day,?\s+|(?:mon|tue|wed|thu|fri|sat|sun),\s+)?"
    r"(?:(?P<name>[a-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?"
    r"|(?P<day_first>\d{1,2})(?:st|nd|rd|th)?\s+(?P<name_after>[a-z]{3,9})\.?,?)"
    r"\s+(?P<year>\d{4})\b")


def calendar_date(written: object) -> str | None:
    """The date `written` opens with, ISO (`2022-03-05`, a time may follow) or with the
    month by name (`March 5, 2022`, `5 Mar 2022`), if it is a day of the calendar.

    >>> calendar_date("2022-03-05T10:00:00Z"), calendar_date("Sat, 5 March 2022 10:00")
    ('2022-03-05', '2022-03-05')
    >>> calendar_date("2022-02-30"), calendar_date("05/03/2022")
    (None, None)
    """
    if not isinstance(written, str):
        return None
    written = written.strip()
    if iso := ISO_DATE.match(written):
        parts = int(iso["year"]), int(iso["month"]), int(iso["day"])
    elif named := WRITTEN_DATE.match(written):
        month = MONTHS.get((named["name"] or named["name_after"]).lower())
        parts = int(named["year"]), month or 0, int(named["day"] or named["day_first"])
    else:
        return None
    try:
        return date(*parts).isoformat()
    except ValueError:  # 2022-02-30, year 0, a word that is no month
        return None


def read_date(written: object, origin: str, line: int | None = None
              ) -> tuple[str | None, list[Problem]]:
    """An article's date as its file gives it, and a notice if one was written but cannot
    be read (the article is kept, undated)."""
    day = calendar_date(written)
    if day or written in (None, ""):
        return day, []
    return None, [undated(origin, written, line, " written YYYY-MM-DD or March 5, 2022")]


def undated(origin: str, written: object, line: int | None = None, form: str = "") -> Problem:
    """The notice for an article kept without its date, which could not be read."""
    return Problem(origin, f"date {written!r} is not a day of the calendar{form}: "
                   "indexed undated", line, skipped=False)


# --- JSON lines --------------------------------------------------------------------------

def read_jsonl(content: str, origin: str, key: str) -> Read:
    articles, problems = [], []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            article, notices = article_from_record(record, origin, key, number)
        except (json.JSONDecodeError, ValueError, TypeError) as error:
            problems.append(Problem(origin, f"bad JSON line: {error}", line=number))
            continue
        articles.append(article)
        problems.extend(notices)
    if not articles and not problems:
        problems.append(Problem(origin, "no article text found"))
    return articles, problems


def article_from_record(record: object, origin: str, key: str, line: int
                        ) -> tuple[Article, list[Problem]]:
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    record, notices = without_lone_surrogates(record, origin, line)
    text = record.get("text")
    if text is None:
        raise ValueError("no 'text'")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"'text' must be a string that is not blank, not {text!r:.40}")
    title = str(record.get("title") or "").strip()
    day, date_notices = read_date(record.get("date"), origin, line)
    article_id = str(record.get("id") or stable_id(key, str(line), title))
    return Article(
        id=article_id, title=title, text=text, date=day,
        source=optional_str(record.get("source")), url=optional_str(record.get("url")),
        category=optional_str(record.get("category")), origin=f"{origin}:{line}",
    ), notices + date_notices


LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON may escape one ("\\ud800"); UTF-8 cannot


def without_lone_surrogates(record: dict, origin: str, line: int) -> tuple[dict, list[Problem]]:
    """The record with each unpaired surrogate in its strings replaced by U+FFFD, and a
    notice if there was one: such a text could not be stored or hashed as UTF-8."""
    cleaned = {name: LONE_SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value
               for name, value in record.items()}
    if cleaned == record:
        return record, []
    return cleaned, [Problem(origin, "unpaired surrogate escapes replaced by U+FFFD", line,
                             skipped=False)]


def optional_str(value: object) -> str | None:
    """A field as text: a list (`"category": ["Asia", "Trade"]`) joined with commas."""
    if isinstance(value, list):
        value = ", ".join(str(item).strip() for item in value if item is not None)
    return str(value).strip() or None if value is not None else None


# --- category / archive pages --------------------------------------------------------------

def paragraphs_of(content: str) -> list[str]:
    """Blank-line separated paragraphs, each stripped."""
    blocks = re.split(r"\n\s*\n", content.replace("\r\n", "\n"))
    return [block.strip() for block in blocks if block.strip()]


def read_page(content: str, origin: str, key: str) -> Read:
    """Split a category page into articles; none if the page holds no datelines.

    An article is: headline (maybe printed twice), a paragraph opening with a dateline,
    then body paragraphs up to the next article's headline.
    """
    paragraphs = paragraphs_of(content)
    starts = [i for i, p in enumerate(paragraphs) if DATELINE.match(p) and i > 0
              and looks_like_headline(paragraphs[i - 1])]
    if not starts:
        return [], []
    category = page_category(paragraphs[: headline_span(paragraphs, starts[0])[0]])
    drafts = []
    for n, start in enumerate(starts):
        end = headline_span(paragraphs, starts[n + 1])[0] if n + 1 < len(starts) else len(paragraphs)
        title = paragraphs[start - 1]
        dateline = DATELINE.match(paragraphs[start])
        body = [paragraphs[start][dateline.end():]] + paragraphs[start + 1:end]
        drafts.append((title, dateline, "\n\n".join(p for p in body if p)))
    written = infer_years([parse_month_day_year(d) for _, d, _ in drafts])
    dates = [calendar_date(day) for day in written]
    articles = [
        Article(
            id=stable_id(key, title, date or ""), title=title, text=text, date=date,
            source=dateline["source"].strip(), category=category,
            date_inferred=dateline["year"] is None and date is not None, origin=origin,
        )
        for (title, dateline, text), date in zip(drafts, dates)
        if text
    ]
    return articles, [undated(origin, dateline[0].partition("(")[0].strip())
                      for (_, dateline, text), day, date in zip(drafts, written, dates)
                      if text and day and not date]


def looks_like_headline(paragraph: str) -> bool:
    return len(paragraph) <= HEADLINE_MAX_CHARS and "\n" not in paragraph \
        and not DATELINE.match(paragraph)


def headline_span(paragraphs: list[str], dateline_index: int) -> tuple[int, int]:
    """Indices [first, dateline) of the headline, which may be printed twice."""
    first = dateline_index - 1
    if first > 0 and paragraphs[first - 1] == paragraphs[first]:
        first -= 1
    return first, dateline_index


def page_category(preamble: list[str]) -> str | None:
    """The page's category: the line beside 'Category Archives' in the site header."""
    for i, paragraph in enumerate(preamble):
        if paragraph.lower().startswith("category archives"):
            rest = paragraph[len("category archives"):].strip(" :—–-")
            if rest:
                return rest
            return preamble[i - 1] if i > 0 else None
    return None


def parse_month_day_year(dateline: re.Match) -> tuple[int, int, int | None] | None:
    month = MONTHS.get(dateline["month"].lower())
    day = int(dateline["day"])
    if month is None or not 1 <= day <= 31:
        return None
    return month, day, int(dateline["year"]) if dateline["year"] else None


def infer_years(parts: list[tuple[int, int, int | None] | None]) -> list[str | None]:
    """ISO dates; a missing year comes from the neighbours (the page is newest first).

    The newer neighbour above gives its year, or the year before if the month/day is later
    in the year than its own; failing that, the older neighbour below gives its year, or
    the year after.
    """
    dates: list[str | None] = []
    for i, part in enumerate(parts):
        if part is None:
            dates.append(None)
            continue
        month, day, year = part
        if year is None:
            year = year_from_neighbours(parts, i)
        dates.append(f"{year:04d}-{month:02d}-{day:02d}" if year else None)
    return dates


def year_from_neighbours(parts, i: int) -> int | None:
    month, day, _ = parts[i]
    for newer in reversed(parts[:i]):
        if newer and newer[2]:
            return newer[2] if (month, day) <= newer[:2] else newer[2] - 1
    for older in parts[i + 1:]:
        if older and older[2]:
            return older[2] if (month, day) >= older[:2] else older[2] + 1
    return None


# --- one HTML article page ----------------------------------------------------------------

def read_html(content: str, origin: str, key: str) -> Read:
    """Headline from <h1> (else <title>), text from paragraphs; scripts and styles dropped."""
    page = parse_page(content)
    text = "\n\n".join(page.paragraphs)
    if not text:
        return [], []
    title = page.h1 or page.title
    day, notices = read_date(page.meta.get("article:published_time", page.meta.get("date")),
                             origin)
    return [Article(
        id=stable_id(key, title), title=title, text=text, date=day,
        source=page.meta.get("og:site_name"), url=page.meta.get("og:url"), origin=origin,
    )], notices


# --- one plain-text article ----------------------------------------------------------------

HEADER_KEYS = {"date", "source", "url", "category"}


def read_plain(content: str, origin: str, key: str) -> Read:
    """First non-empty line is the headline ('# ' allowed); optional `Key: value` lines
    (Date, Source, URL, Category) may follow it; the rest is the text."""
    lines = content.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return [], []
    title = lines.pop(0).strip().lstrip("#").strip()
    fields: dict[str, str] = {}
    while lines and (header := re.match(r"^(\w+):\s*(.+)$", lines[0].strip())) \
            and header[1].lower() in HEADER_KEYS:
        fields[header[1].lower()] = header[2].strip()
        lines.pop(0)
    text = "\n".join(lines).strip()
    if not text:
        return [], []
    day, notices = read_date(fields.get("date"), origin)
    return [Article(
        id=stable_id(key, title), title=title, text=text, date=day,
        source=fields.get("source"), url=fields.get("url"), category=fields.get("category"),
        origin=origin,
    )], notices
