"""The web chat: a Gradio app around the pure `respond(assistant, message, history)`.

Article text is untrusted: everything taken from the archive goes through `escape`,
so it is shown as text and never parsed as HTML or Markdown.
"""
from __future__ import annotations

import html
import re

from .errors import AssistantError
from .pipeline import Assistant
from .types import Answer, Snippet

MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>:])")
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def escape(text: str) -> str:
    """Untrusted text -> Markdown that renders as exactly that text.

    >>> escape('<img src=x onerror=alert(1)> ![a](http://x)')
    '&lt;img src=x onerror=alert\\\\(1\\\\)&gt; \\\\!\\\\[a\\\\]\\\\(http\\\\://x\\\\)'
    """
    text = INVISIBLE.sub("", text)  # zero-width and bidi controls could disguise a quote
    return MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=True))


def citation(number: int, snippet: Snippet) -> str:
    date = snippet.date or "undated"
    if snippet.date_inferred:
        date += " (year inferred)"
    parts = [f"**[{number}]** {escape(snippet.title or 'Untitled')}", escape(date)]
    parts += [escape(value) for value in (snippet.source, snippet.category) if value]
    return " · ".join(parts)


def format_answer(result: Answer) -> str:
    """Markdown for one answer: numbered quotes, then the numbered source list."""
    if not result.found:
        text = "The archive does not answer this question well enough."
        if result.nearest:
            text += "\n\nClosest passages (*not an answer*):\n\n" + "\n\n".join(
                f"> {escape(s.quote)}\n>\n> — {citation(n, s)}"
                for n, s in enumerate(result.nearest, start=1))
        return text
    quotes = "\n\n".join(f"> {escape(s.quote)} **[{n}]**"
                         for n, s in enumerate(result.snippets, start=1))
    sources = "\n".join(f"- {citation(n, s)}" for n, s in enumerate(result.snippets, start=1))
    return f"{quotes}\n\n**Sources**\n\n{sources}"


def respond(assistant: Assistant, message: str, history: list | None = None) -> str:
    """The chat's reply to one message: an answer, or a one-line message; never a traceback."""
    try:
        return format_answer(assistant.ask(message))
    except AssistantError as error:
        return f"⚠ {escape(str(error))}"


def build_app(assistant: Assistant):
    import gradio as gr

    def reply(message, history):
        return respond(assistant, message, history)

    return gr.ChatInterface(
        reply,
        title="News archive assistant",
        description="Answers are verbatim quotes from the archive, each with its source.",
        examples=["Who is the Secretary-General of the CSTO?",
                  "Where did the Central Asian heads of state meet?"],
    )


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860) -> None:
    app = build_app(assistant)
    app.queue(max_size=64, default_concurrency_limit=4)
    app.launch(server_name=host, server_port=port, show_error=False)
