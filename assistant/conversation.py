"""The chat's conversation, without the web page: each turn's question (a follow-up
resolved against the one before), its filters and answer, asking a turn again without
the dates read from its words, and the article a citation names. Pure functions of the
assistant and the history: the tests call them without a browser.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from .errors import AssistantError, BadQuestion
from .followup import resolve
from .pipeline import MAX_QUESTION_CHARS, Assistant, check_question
from .retrieve import DateWindow
from .types import Answer, Snippet
from .ui_render import render_source, render_source_message

QUOTES = 3  # quotes per answer


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the search to; empty strings and tuples mean "any"."""

    since: str = ""
    until: str = ""
    as_of: str = ""
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def window(self) -> DateWindow:
        """The filters as a DateWindow; BadQuestion names a date that is not one."""
        values = {}
        for name in ("since", "until", "as_of"):
            value = (getattr(self, name) or "").strip()
            if value:
                try:
                    value = date.fromisoformat(value).isoformat()
                except ValueError:
                    raise BadQuestion(f"{name.replace('_', ' ')} {value!r} is not a date "
                                      "like 2022-09-28") from None
            values[name] = value or None
        return DateWindow(**values, sources=tuple(self.sources),
                          categories=tuple(self.categories))

    def describe(self) -> str:
        parts = [f"{label} {getattr(self, name).strip()}" for name, label in
                 (("since", "since"), ("until", "until"), ("as_of", "as of"))
                 if getattr(self, name).strip()]
        parts += [f"source {', '.join(self.sources)}"] if self.sources else []
        parts += [f"category {', '.join(self.categories)}"] if self.categories else []
        return " · ".join(parts)


@dataclass(frozen=True)
class Turn:
    """One exchange: what was typed, what was sent to the assistant (the follow-up resolved),
    the filters and whether dates in the words were read, and the answer (or an error)."""

    asked: str
    searched: str = ""
    answer: Answer | None = None
    error: str | None = None
    filters: Filters = Filters()
    read_dates: bool = True  # False once the user removed the date window read from the words


def one_per_story(snippets: tuple[Snippet, ...]) -> tuple[Snippet, ...]:
    """The quotes without one repeated word for word from a copy of a story already quoted
    (the first quote's card lists the copy under "also in")."""
    kept: list[Snippet] = []
    for s in snippets:
        if not any(s.quote == k.quote and s.article_id in {c.article_id for c in k.also_in}
                   for k in kept):
            kept.append(s)
    return tuple(kept)


def respond(assistant: Assistant, message: str, history: list[Turn] | None = None,
            filters: Filters = Filters()) -> Turn:
    """The chat's reply to one message, with a follow-up resolved against the turn before.

    Never raises for something the user can fix: the error becomes the turn's message.
    """
    # Lone surrogates (undecodable bytes) become U+FFFD: Gradio could not send them back.
    message = (message or "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if len(message.strip()) > MAX_QUESTION_CHARS:  # refused; shown cut short, not echoed whole
        try:
            check_question(message)
        except BadQuestion as error:
            return Turn(asked=message.strip()[:MAX_QUESTION_CHARS] + "…", error=str(error))
    previous = next((t.searched for t in reversed(history or []) if t.answer), None)
    return answered(assistant, Turn(asked=" ".join(message.split()),
                                    searched=resolve(message, previous), filters=filters))


def answered(assistant: Assistant, turn: Turn) -> Turn:
    """The turn with the answer to `turn.searched` under its filters, or the error."""
    try:
        answer = assistant.ask(turn.searched, k=QUOTES, window=turn.filters.window(),
                               read_dates=turn.read_dates)
        answer = replace(answer, snippets=one_per_story(answer.snippets),
                         nearest=one_per_story(answer.nearest))
        return replace(turn, answer=answer, error=None)
    except AssistantError as error:
        return replace(turn, answer=None, error=str(error))


def without_dates(assistant: Assistant, history: list[Turn], number: str | int) -> list[Turn]:
    """The conversation with turn `number` asked again, dates in its words not read."""
    history = list(history)
    try:
        turn = history[int(number)]
    except (IndexError, TypeError, ValueError):
        return history
    if turn.answer is not None and turn.answer.window:
        history[int(number)] = answered(assistant, replace(turn, read_dates=False))
    return history


def source_view(assistant: Assistant, history: list[Turn], cite: str) -> str:
    """The article a citation names, from `cite` = "turn:kind:index[:copy]": quote `index`
    of the answer ("a") or of the closest passages ("n"), highlighted; copy `copy` of that
    quote's story, the quote highlighted where it stands in it; or newer coverage `index`
    of the story ("w"), without a highlight."""
    try:
        turn, kind, index, *copy = cite.split(":")
        answer = history[int(turn)].answer
        if kind == "w" and not copy:
            named, quote, label = answer.newer[int(index)], "", "Newer coverage of the story of [1]"
        else:
            named = {"a": answer.snippets, "n": answer.nearest}[kind][int(index)]
            quote, label = named.quote, f"Source [{int(index) + 1}]"
            if copy:
                (other,) = copy
                named = named.also_in[int(other)]
                label = f"The story of [{int(index) + 1}] in another article"
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return render_source_message("That citation is no longer in this conversation.")
    article = assistant.data.article_by_id(named.article_id)
    if article is None:
        return render_source_message("That article is no longer in the index (it was rebuilt "
                                     "since the answer); ask the question again.")
    span = find_quote(article.text, quote, getattr(named, "start", -1)) if quote else None
    if span is None and isinstance(named, Snippet):
        return render_source_message("The quote is no longer in that article (the index "
                                     "was rebuilt); ask the question again.")
    return render_source(article, span, label)


def find_quote(body: str, quote: str, start: int = -1) -> tuple[int, int] | None:
    """Where `quote` stands in `body`: at `start` if it still does, else where it first
    occurs (a rebuild may have moved it; a copy of a story has it elsewhere), else None."""
    if start < 0 or body[start:start + len(quote)] != quote:
        start = body.find(quote)
    return (start, start + len(quote)) if start >= 0 else None


def api_answer(assistant: Assistant, question: str, k: int = QUOTES, since: str = "",
               until: str = "", as_of: str = "", read_dates: bool = True,
               sources: list[str] | None = None, categories: list[str] | None = None) -> dict:
    """The `assistant ask --json` object for a question (the `ask` API endpoint);
    `read_dates=False` does not read a date window from the question's words, and named
    `sources` and `categories` narrow the search to their articles."""
    if not isinstance(k, int) or k < 1:
        raise BadQuestion(f"k must be a whole number of at least 1, not {k!r}")
    if not isinstance(read_dates, bool):
        raise BadQuestion(f"read_dates must be true or false, not {read_dates!r}")
    for name, names in (("sources", sources), ("categories", categories)):
        if not isinstance(names, (list, tuple, type(None))) or \
                not all(isinstance(n, str) for n in names or ()):
            raise BadQuestion(f"{name} must be a list of names, not {names!r}")
    window = Filters(since or "", until or "", as_of or "", tuple(sources or ()),
                     tuple(categories or ())).window()
    return assistant.ask(question, k=k, window=window, read_dates=read_dates).to_json()
