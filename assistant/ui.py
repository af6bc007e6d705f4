"""The web chat: a Gradio app around the pure `respond(assistant, message, history, filters)`.

Layout: the conversation (quotes with numbered citation cards) on the left, the cited
article with the quote highlighted on the right, filters below the question box. A turn
shows the date window read from the question, which can be removed (the question is asked
again with `read_dates=False`). The markup comes from `ui_render`, which escapes every
untrusted string; `ask` is also a named API endpoint returning the JSON of `assistant ask
--json`.
"""

import html
from dataclasses import dataclass, replace
from functools import partial
from datetime import date
from pathlib import Path

from .errors import AssistantError, BadQuestion
from .followup import resolve
from .pipeline import MAX_QUESTION_CHARS, Assistant, check_question
from .retrieve import DateWindow
from .types import Answer, Snippet
from .ui_assets import CSS, SOURCE_JS, TRANSCRIPT_JS
from .ui_render import render_source, render_source_message, render_transcript, status_line

EXAMPLES = (  # answered by the bundled archive (archive/kazakhstan-category-page.txt)
    "Who is the Secretary-General of the CSTO?",
    "Which countries applied to join the SCO?",
    "Where did the Central Asian heads of state meet?",
    "Where did the first Eurasian Economic Forum take place?",
)
QUOTES = 3  # quotes per answer
SOURCE_HINT = "Click a citation to read the article with the quote highlighted."
# The browser's own fonts: the default theme would fetch web fonts from the network.
FONTS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif")
MONO_FONTS = ("ui-monospace", "Menlo", "Consolas", "monospace")


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
    `read_dates=False` does not read a date window from the question's words."""
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


def blocked_paths(assistant: Assistant) -> list[str]:
    """The archive and index folders: no Gradio file route may serve them."""
    paths = [assistant.index_dir, *map(Path, assistant.data.manifest.get("archive", []))]
    return [str(p.resolve()) for p in paths]


def chat(assistant: Assistant, message: str, since: str, until: str, as_of: str,
         sources: list[str], categories: list[str], history: list[Turn]):
    """The Ask callback: (transcript HTML, history, cleared question box, status line)."""
    history = list(history or [])
    if (message or "").strip():
        filters = Filters(since or "", until or "", as_of or "", tuple(sources or ()),
                          tuple(categories or ()))
        history.append(respond(assistant, message, history, filters))
    return render_transcript(history), history, "", index_status(assistant)


def remove_dates(assistant: Assistant, history: list[Turn], number: str):
    """The "Remove dates" callback: (transcript HTML, history, status line)."""
    history = without_dates(assistant, list(history or []), number)
    return render_transcript(history), history, index_status(assistant)


def index_status(assistant: Assistant) -> str:
    try:
        return status_line(assistant.data.manifest)
    except AssistantError as error:
        return render_source_message(f"Index unavailable: {error}")


def filter_choices(assistant: Assistant) -> tuple[list[str], list[str]]:
    """The sources and the categories of the index in service, sorted."""
    try:
        facets = assistant.data.facets
    except AssistantError:
        return [], []
    return facets.sources, facets.categories


def build_app(assistant: Assistant, examples: tuple[str, ...] = EXAMPLES):
    """The Gradio Blocks app: conversation, source view, filters, status and the API."""
    import gradio as gr

    def on_load():
        source_choices, category_choices = filter_choices(assistant)
        return (index_status(assistant), gr.Dropdown(choices=source_choices),
                gr.Dropdown(choices=category_choices))

    def open_source(history, event: gr.EventData):
        return source_view(assistant, history or [], str(getattr(event, "cite", "")))

    def undate(history, event: gr.EventData):
        return remove_dates(assistant, history, str(getattr(event, "turn", "")))

    def ask_endpoint(question: str, k: int = QUOTES, since: str = "", until: str = "",
                     as_of: str = "", read_dates: bool = True, sources: list[str] | None = None,
                     categories: list[str] | None = None) -> dict:
        """Answer a question: the same JSON object as `assistant ask --json`."""
        try:
            return api_answer(assistant, question, k, since, until, as_of, read_dates,
                              sources, categories)
        except AssistantError as error:
            raise gr.Error(html.escape(str(error), quote=False), print_exception=False) from None

    with gr.Blocks(title="News archive assistant", analytics_enabled=False) as app:
        gr.Markdown("## News archive assistant\nAnswers are verbatim quotes from the archive, "
                    "each with its source. Click a citation to read the article.")
        status = gr.HTML(index_status(assistant), elem_id="status", js_on_load=None)
        history = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                transcript = gr.HTML(render_transcript([]), elem_id="transcript",
                                     js_on_load=TRANSCRIPT_JS, max_height=640)
                with gr.Row():
                    box = gr.Textbox(show_label=False, scale=5, autofocus=True, elem_id="question",
                                     max_length=MAX_QUESTION_CHARS,
                                     placeholder="Ask about the archive, e.g. " + examples[0])
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row(elem_id="examples"):
                    example_buttons = [gr.Button(e, size="sm", variant="secondary")
                                       for e in examples]
                with gr.Accordion("Filters", open=False, elem_id="filters"):
                    with gr.Row():
                        since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD")
                        until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD")
                        as_of = gr.Textbox(label="As of (prefers the latest up to this date)",
                                           placeholder="YYYY-MM-DD")
                    with gr.Row():
                        sources = gr.Dropdown([], multiselect=True, label="Sources")
                        categories = gr.Dropdown([], multiselect=True, label="Categories")
                clear = gr.Button("New conversation", size="sm", variant="secondary")
            with gr.Column(scale=2):
                source = gr.HTML(render_source_message(SOURCE_HINT), elem_id="source-view",
                                 js_on_load=SOURCE_JS, max_height=720)
        filters = [since, until, as_of, sources, categories, history]
        outputs = [transcript, history, box, status]
        reply = partial(chat, assistant)
        gr.on([box.submit, send.click], reply, [box, *filters], outputs,
              api_visibility="private", show_progress="minimal")
        for button in example_buttons:
            button.click(reply, [button, *filters], outputs, api_visibility="private",
                         show_progress="minimal")
        transcript.cite(open_source, [history], [source], api_visibility="private")
        transcript.undate(undate, [history], [transcript, history, status],
                          api_visibility="private", show_progress="minimal")
        clear.click(lambda: (render_transcript([]), [], render_source_message(SOURCE_HINT)),
                    None, [transcript, history, source], api_visibility="private")
        app.load(on_load, None, [status, sources, categories], api_visibility="private")
        gr.api(ask_endpoint, api_name="ask")
    return app


def start(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860,
          block: bool = True, examples: tuple[str, ...] = EXAMPLES):
    """Build and launch the app; with block=False return it running (tests, scripts)."""
    import gradio as gr

    app = build_app(assistant, examples)
    app.queue(max_size=64, default_concurrency_limit=2)
    app.launch(server_name=host, server_port=port, show_error=False, quiet=not block,
               prevent_thread_lock=not block, ssr_mode=False, footer_links=["api"],
               run_history=False, blocked_paths=blocked_paths(assistant), css=CSS,
               theme=gr.themes.Default(font=FONTS, font_mono=MONO_FONTS),
               mcp_server=False, pwa=False)
    return app


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    start(assistant, host, port, block=True)
