"""Text out of an HTML page, with the standard library's parser (no network, no JS)."""
from __future__ import annotations

import html.parser
import re


SKIPPED = {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside",
           "form", "button"}
BLOCKS = {"p", "li", "blockquote", "pre", "h2", "h3", "h4", "h5", "h6"}


class _PageParser(html.parser.HTMLParser):
    """Collects <title>, the first <h1>, paragraph texts and date/source meta tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip_depth = 0
        self.current: str | None = None  # the tag whose text is being collected
        self.buffer: list[str] = []
        self.title = ""
        self.h1 = ""
        self.paragraphs: list[str] = []
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED:
            self.skip_depth += 1
        elif tag == "meta":
            values = dict(attrs)
            key = (values.get("property") or values.get("name") or "").lower()
            if key and values.get("content"):
                self.meta.setdefault(key, values["content"])
        elif tag in BLOCKS | {"title", "h1"} and self.current is None:
            self.current, self.buffer = tag, []
        elif tag == "br" and self.current:
            self.buffer.append("\n")

    def handle_endtag(self, tag):
        if tag in SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag == self.current:
            text = re.sub(r"[ \t\r\f\v]+", " ", "".join(self.buffer)).strip()
            if tag == "title":
                self.title = self.title or text
            elif tag == "h1":
                self.h1 = self.h1 or text
            elif text:
                self.paragraphs.append(text)
            self.current = None

    def handle_data(self, data):
        if self.current and not self.skip_depth:
            self.buffer.append(data)


def parse_page(content: str) -> _PageParser:
    """Parse an HTML page: `.h1`, `.title`, `.paragraphs` and `.meta` hold what it says."""
    parser = _PageParser()
    parser.feed(content)
    parser.close()
    return parser
