"""The web chat: a Gradio app around `conversation`, the chat without the page.

Layout: the conversation (quotes with numbered citation cards) on the left, the cited
article with the quote highlighted on the right, filters below the question box. A turn
shows the date window read from the question, which can be removed (the question is asked
again with `read_dates=False`). The markup comes from `ui_render`, which escapes every
untrusted string; `ask` is also a named API endpoint returning the JSON of `assistant ask
--json`.
"""

import errno
import html
import socket
from functools import partial
from pathlib import Path

from .conversation import (QUOTES, Filters, Turn, api_answer, respond, source_view,
                           without_dates)
from .errors import AssistantError
from .pipeline import MAX_QUESTION_CHARS, Assistant
from .ui_assets import CSS, SOURCE_JS, TRANSCRIPT_JS
from .ui_render import render_source_message, render_transcript, status_line

EXAMPLES = (  # answered by the bundled archive (archive/kazakhstan-category-page.txt)
    "Who is the Secretary-General of the CSTO?",
    "Which countries applied to join the SCO?",
    "Where did the Central Asian heads of state meet?",
    "Where did the first Eurasian Economic Forum take place?",
)
SOURCE_HINT = "Click a citation to read the article with the quote highlighted."
# The browser's own fonts: the default theme would fetch web fonts from the network.
FONTS = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif")
MONO_FONTS = ("ui-monospace", "Menlo", "Consolas", "monospace")


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

    check_address(host, port)
    app = build_app(assistant, examples)
    app.queue(max_size=64, default_concurrency_limit=2)
    app.launch(server_name=host, server_port=port, show_error=False, quiet=not block,
               prevent_thread_lock=not block, ssr_mode=False, footer_links=["api"],
               run_history=False, blocked_paths=blocked_paths(assistant), css=CSS,
               theme=gr.themes.Default(font=FONTS, font_mono=MONO_FONTS),
               mcp_server=False, pwa=False)
    return app


def check_address(host: str, port: int) -> None:
    """Refuse, saying what to do, an address the chat could not listen on: Gradio blames
    the port for a bad host too, and names settings this command does not have. Binds as
    uvicorn does (IPv6 when the host has a colon)."""
    host = host.removeprefix("[").removesuffix("]")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except (OSError, UnicodeError) as error:
            raise AssistantError(unbindable(host, port, error)) from None


def unbindable(host: str, port: int, error: Exception) -> str:
    """Why `host`:`port` cannot be listened on, and the flag that changes it."""
    code = getattr(error, "errno", None)
    if code == errno.EADDRINUSE:
        return f"port {port} is in use on {host}: pick another with --port"
    if code == errno.EACCES:
        return f"port {port} needs privileges on this machine: pick one above 1023 with --port"
    reason = getattr(error, "strerror", None) or str(error)
    return (f"cannot listen on host {host!r} ({reason}): give --host an address of this "
            f"machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every network)")


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    start(assistant, host, port, block=True)
