"""What `assistant ask` says in words: the --source and --category names as the index
spells them, date flags that could match nothing refused, and the plain-text answer,
made safe for a terminal (article text is untrusted)."""
from __future__ import annotations

import re

from .errors import AssistantError
from .ui_render import INVISIBLE

LISTED = 10  # known sources or categories named in an error
# What a terminal would obey (escape sequences, NUL, C1 controls) and the characters that
# hide or reorder words, which the web chat marks too. Newlines and tabs are layout.
TERMINAL_UNSAFE = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f]|{INVISIBLE.pattern}")


def check_dates(since: str | None, ends: dict[str, str | None]) -> None:
    """Refuse a window that ends before it starts: it could only answer nothing."""
    for flag, end in ends.items():
        if since and end and end < since:
            raise AssistantError(f"--since {since} is after {flag} {end}: "
                                 f"give a --since on or before {flag}")


def named_facets(assistant, sources: list[str], categories: list[str]
                 ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """--source and --category names as the index spells them (any case matches), refused
    if no article has them: they could only answer nothing."""
    if not sources and not categories:
        return (), ()  # an index built before facets were saved reads every article
    facets = assistant.data.facets
    return (known_names(sources, facets.sources, "--source", "sources"),
            known_names(categories, facets.categories, "--category", "categories"))


def known_names(names: list[str], known: list[str], flag: str, plural: str
                ) -> tuple[str, ...]:
    """Each of `names` as spelled in `known`: an exact match, else one ignoring case."""
    by_case = {name.casefold(): name for name in reversed(known)}  # the first of equals
    spelled = []
    for name in names:
        match = name if name in known else by_case.get(name.casefold())
        if match is None:
            raise AssistantError(f"no article has {flag} {name!r}: "
                                 + choices(known, flag, plural))
        spelled.append(match)
    return tuple(spelled)


def choices(known: list[str], flag: str, plural: str) -> str:
    """'give one of the index's 12 sources: A, B, ... (and 2 more)'."""
    if not known:
        return f"the index names no {plural}, so leave {flag} out"
    more = f" (and {len(known) - LISTED} more)" if len(known) > LISTED else ""
    return f"give one of the index's {len(known)} {plural}: {', '.join(known[:LISTED])}{more}"


def terminal_safe(text: str) -> str:
    """`text` with each character a terminal would act on, or that hides or reorders
    words, shown as ⟨U+…⟩ (as the web chat shows them): article text is untrusted.

    >>> terminal_safe("\\x1b]0;owned\\x07\\u202etxt")
    '⟨U+001B⟩]0;owned⟨U+0007⟩⟨U+202E⟩txt'
    """
    return TERMINAL_UNSAFE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


def format_answer(result) -> str:
    """Plain-text answer: how the question was read, numbered quotes, then their sources."""
    lines = []
    if result.searched and result.searched != result.question:
        lines.append(f"Searched: {result.searched}")
    if result.window:
        lines.append(f"Dates: {result.window['describe']} (read from \u201c{result.window['phrase']}\u201d)")
    if result.empty_window:
        lines.append(f"Dates: nothing dated {result.empty_window['describe']} matched (read from "
                     f"\u201c{result.empty_window['phrase']}\u201d): every date searched")
    if not result.found:
        lines.append("The archive does not answer this question well enough.")
        if result.nearest:
            lines.append("Closest passages (not an answer):")
            lines += [f"  - \u201c{s.quote}\u201d ({s.title}, {s.date or 'undated'})"
                      for s in result.nearest]
        return "\n".join(lines)
    if result.timeline:
        lines.append("Timeline, one quote per story, oldest first:")
    lines += [f"[{n}] {s.date + ': ' if result.timeline else ''}\u201c{s.quote}\u201d"
              for n, s in enumerate(result.snippets, start=1)]
    lines.append("")
    for n, s in enumerate(result.snippets, start=1):
        lines.append(f"[{n}] {describe_source(s)} [chars {s.start}-{s.end}]"
                     f"{' (year inferred)' if s.date_inferred else ''}")
        if s.also_in:
            lines.append(f"    also in {len(s.also_in)}: "
                         + "; ".join(describe_source(c) for c in s.also_in))
    if result.newer:
        lines.append("Newer coverage of this story: "
                     + "; ".join(describe_source(c) for c in result.newer))
    return "\n".join(lines)


def describe_source(s) -> str:
    """'Headline — 2021-09-16, EIRNS, https://…' for a Snippet or a Source."""
    return (f"{s.title or 'Untitled'} \u2014 {s.date or 'undated'}"
            f"{', ' + s.source if s.source else ''}{', ' + s.url if s.url else ''}")
