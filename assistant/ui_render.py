"""HTML for the web chat: the transcript with citation cards, the source view, the status line.

A turn shows what was searched, the date window read from the question (with a button to
remove it), the quotes (a dated list for a timeline), cards naming the other articles that
carry each quote's story, and newer coverage of the top quote's story.

Everything taken from the archive or typed by a user is untrusted. It goes through `text`
(HTML-escaped, invisible characters made visible) and links through `safe_url`; no other
untrusted string reaches the markup, so a hostile article is shown as text and nothing in it
runs or loads. Pure functions of their arguments: the tests call them without a browser.
"""
from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .types import Answer, Article, Snippet, Source

if TYPE_CHECKING:
    from .conversation import Turn

# Zero-width, bidi and other format controls: they could hide or reorder a quote's words.
INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
URL_CHARS = re.compile(r"[^\x21-\x7e]")  # a safe link is printable ASCII, no spaces


def text(untrusted: str | None) -> str:
    """Untrusted text -> HTML that shows exactly that text, invisible characters as ⟨U+…⟩.

    >>> text('<img src=x onerror=alert(1)>\u202e')
    '&lt;img src=x onerror=alert(1)&gt;<span class="invisible-char" title="invisible character U+202E">⟨U+202E⟩</span>'
    """
    escaped = html.escape(untrusted or "", quote=True)
    return INVISIBLE.sub(lambda m: (
        f'<span class="invisible-char" title="invisible character U+{ord(m.group()):04X}">'
        f'⟨U+{ord(m.group()):04X}⟩</span>'), escaped)


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) link to a host, else None (never javascript: etc.).

    >>> safe_url("https://example.org/a?b=1"), safe_url("javascript:alert(1)")
    ('https://example.org/a?b=1', None)
    """
    if not url or URL_CHARS.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def meta_line(item: Article | Snippet | Source) -> str:
    """Date ("year inferred" when it was), source, category and link of a citation."""
    date = text(item.date) if item.date else "undated"
    if getattr(item, "date_inferred", False):
        date += ' <span class="inferred">(year inferred)</span>'
    parts = [f'<span class="date">{date}</span>']
    parts += [f'<span class="{kind}">{text(value)}</span>' for kind, value in
              (("source", item.source), ("category", getattr(item, "category", None))) if value]
    link = safe_url(item.url)
    if link:
        parts.append(f'<a class="link" href="{html.escape(link, quote=True)}" target="_blank" '
                     f'rel="noopener noreferrer nofollow">{text(link)}</a>')
    elif item.url:
        parts.append(f'<span class="link unlinked">{text(item.url)}</span>')
    return " · ".join(parts)


def card(number: int, snippet: Snippet, cite: str) -> str:
    """A numbered citation card; its button opens the source (`cite` names the snippet)."""
    return (f'<div class="card"><button class="cite" data-cite="{cite}" '
            f'title="Open the article with the quote highlighted">'
            f'<span class="num">[{number}]</span> '
            f'<span class="headline">{text(snippet.title or "Untitled")}</span></button>'
            f'<div class="meta">{meta_line(snippet)}</div>{also_in(snippet.also_in, cite)}</div>')


def also_in(copies: tuple[Source, ...], cite: str) -> str:
    """ "Also in N articles": the other articles carrying the story, each one to open."""
    if not copies:
        return ""
    items = "".join(f'<li><button class="cite copy" data-cite="{cite}:{j}" title="Open this '
                    f'article"><span class="headline">{text(c.title or "Untitled")}</span>'
                    f'</button> <span class="meta">{meta_line(c)}</span></li>'
                    for j, c in enumerate(copies))
    return (f'<details class="also-in"><summary>Also in {plural(len(copies), "article")}'
            f'</summary><ul>{items}</ul></details>')


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def quotes_and_cards(snippets: tuple[Snippet, ...], turn: int, kind: str,
                     dated: bool = False) -> str:
    """The numbered quotes, each led by its date when `dated` (a timeline), then the cards."""
    quotes = "".join(
        f'<li>{dated_label(s) if dated else ""}<blockquote class="quote">{text(s.quote)}'
        f'</blockquote> <button class="cite-ref" data-cite="{turn}:{kind}:{i}">[{i + 1}]'
        f'</button></li>' for i, s in enumerate(snippets))
    cards = "".join(card(i + 1, s, f"{turn}:{kind}:{i}") for i, s in enumerate(snippets))
    return (f'<ol class="quotes{" timeline" if dated else ""}">{quotes}</ol>'
            f'<div class="cards">{cards}</div>')


def dated_label(snippet: Snippet) -> str:
    return f'<span class="when">{text(snippet.date) if snippet.date else "undated"}</span> '


def newer_note(answer: Answer, turn: int) -> str:
    """Newer coverage of the top quote's story, each article to open in the source view."""
    if not answer.newer:
        return ""
    copies = {c.article_id for c in answer.snippets[0].also_in} if answer.snippets else set()
    items = "; ".join(
        f'<button class="cite newer-link" data-cite="{turn}:w:{j}" title="Open this article">'
        f'{text(n.title or "Untitled")}</button> ({text(n.date or "undated")}'
        f'{", " + text(n.source) if n.source else ""}'
        f'{" — a copy of [1]" if n.article_id in copies else ""})'
        for j, n in enumerate(answer.newer))
    lead = ("A newer article on this story exists:" if len(answer.newer) == 1
            else "Newer articles on this story exist:")
    return f'<p class="newer">{lead} {items}</p>'


def render_answer(answer: Answer, turn: int) -> str:
    if answer.found:
        lead = ('<p class="timeline-label">Timeline — one quote per story, oldest first:</p>'
                if answer.timeline else "")
        return (lead + quotes_and_cards(answer.snippets, turn, "a", dated=answer.timeline)
                + newer_note(answer, turn))
    reply = ('<p class="no-answer">The archive does not answer this question well enough.</p>')
    if answer.nearest:
        reply += ('<div class="nearest"><p class="nearest-label">Closest passages — '
                  '<strong>not an answer</strong>, shown so you can judge for yourself:</p>'
                  f'{quotes_and_cards(answer.nearest, turn, "n")}</div>')
    return reply


def render_turn(turn: Turn, number: int) -> str:
    parts = [f'<div class="turn" data-turn="{number}">',
             f'<div class="msg user"><span class="who">You</span> {text(turn.asked)}</div>',
             searched_note(turn), window_note(turn, number)]
    if turn.filters.describe():
        parts.append(f'<div class="filters-note">Filters: {text(turn.filters.describe())}</div>')
    reply = (f'<p class="error">⚠ {text(turn.error)}</p>' if turn.error
             else render_answer(turn.answer, number) if turn.answer else "")
    parts.append(f'<div class="msg assistant">{reply}</div></div>')
    return "".join(parts)


def searched_note(turn: Turn) -> str:
    """What was searched when it is not what was typed: the follow-up resolved, the date
    phrase read as a window taken out (`Answer.searched`), or both."""
    searched = (turn.answer.searched if turn.answer else "") or turn.searched
    if not searched or searched == turn.asked:
        return ""
    why = [reason for reason, applies in (
        ("the follow-up, with the topic before it", turn.searched != turn.asked),
        ("the dates taken out, read as a window", searched != turn.searched
         and bool(turn.answer and turn.answer.window))) if applies]
    return (f'<div class="searched">Searched: <q class="searched-q">{text(searched)}</q>'
            f'{" (" + "; ".join(why) + ")" if why else ""}</div>')


def window_note(turn: Turn, number: int) -> str:
    """The date window read from the question, with a button to ask again without it."""
    if not turn.read_dates:
        return ('<div class="window-note removed">Dates in the question not read as a window '
                '(removed): searched as written.</div>')
    window = turn.answer.window if turn.answer else None
    empty = turn.answer.empty_window if turn.answer else None
    if empty:
        return (f'<div class="window-note">Dates: nothing dated <span class="window">'
                f'{text(empty.get("describe"))}</span> matched (read from '
                f'“{text(empty.get("phrase"))}”): every date searched.</div>')
    if not window:
        return ""
    read_from = f'read from “{text(window.get("phrase"))}”'
    if window.get("event"):
        read_from += (f' ({text(window["event"])}: '
                      f'{text(window.get("event_date") or "date not found")})')
    return (f'<div class="window-note">Dates: <span class="window">'
            f'{text(window.get("describe"))}</span> — {read_from} <button class="undate" '
            f'data-undate="{number}" title="Ask again without a date window">Remove dates'
            f'</button></div>')


def render_transcript(turns: list[Turn]) -> str:
    """The whole conversation, oldest first; a short how-to when it is empty."""
    if not turns:
        return ('<div class="empty">Ask a question about the archive. Every answer is a '
                'verbatim quote with its source; click a citation to read it in place.</div>')
    return "".join(render_turn(turn, n) for n, turn in enumerate(turns))


def render_source(article: Article, span: tuple[int, int] | None = None,
                  label: str = "Source") -> str:
    """The full article, with `article.text[start:end]` highlighted when `span` is given."""
    body = article.text
    start, end = span or (len(body), len(body))
    mark = f'<mark class="quote-highlight">{text(body[start:end])}</mark>' if span else ""
    return (f'<article class="source-article"><div class="source-label">{text(label)}</div>'
            f'<h3 class="source-title">{text(article.title or "Untitled")}</h3>'
            f'<div class="meta">{meta_line(article)}</div>'
            f'<div class="article-text">{text(body[:start])}{mark}{text(body[end:])}</div>'
            f'</article>')


def render_source_message(message: str) -> str:
    return f'<div class="empty">{text(message)}</div>'


def status_line(manifest: dict) -> str:
    """Articles, chunks, model and build time of the index in service."""
    counts = manifest.get("counts", {})
    built = str(manifest.get("built_at", "?")).replace("T", " ").replace("+00:00", " UTC")
    return (f'<div class="status">Index: {int(counts.get("articles", 0)):,} articles · '
            f'{int(counts.get("chunks", 0)):,} chunks · model '
            f'{text(manifest.get("model", {}).get("name", "?"))} · built {text(built)}</div>')
