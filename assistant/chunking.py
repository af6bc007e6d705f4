"""Article -> sentence-aware Chunks with character offsets into `article.text` (pure)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Article, Chunk

# A sentence ends at . ! ? (maybe followed by a closing quote or bracket) before whitespace
# and a capital, digit or opening quote; or at a paragraph break.
SENTENCE_END = re.compile(r"""(?<=[.!?])["'”’)\]]*(?=\s+["“‘(\[]?[A-Z0-9])|\n\s*\n""")
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "gen", "col", "lt", "sgt", "gov", "sen",
    "rep", "rev", "no", "vs", "etc", "inc", "corp", "co", "ltd", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e",
}


# Bump whenever sentence_spans(), chunk_article() or sentences.quote_spans() cut differently.
SPLITTER_VERSION = 1


@dataclass(frozen=True)
class ChunkSettings:
    """How articles are cut into passages; recorded in the index manifest."""

    max_chars: int = 900
    overlap_sentences: int = 1

    def to_json(self) -> dict:
        return {"max_chars": self.max_chars, "overlap_sentences": self.overlap_sentences,
                "splitter": SPLITTER_VERSION}


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in `text[start:end]`, whitespace trimmed.

    >>> sentence_spans("Hi there. Dr. Zas spoke.")
    [(0, 9), (10, 24)]
    """
    end = len(text) if end is None else end
    spans, begin = [], start
    for match in SENTENCE_END.finditer(text, start, end):
        if match.group().strip() == "" and is_abbreviation(text, begin, match.start()):
            continue
        spans.append((begin, match.end() if match.group().strip() else match.start()))
        begin = match.end()
    spans.append((begin, end))
    return [trimmed for span in spans if (trimmed := trim(text, *span))]


def is_abbreviation(text: str, begin: int, stop: int) -> bool:
    """True when the '.' before `stop` ends an abbreviation or an initial, not a sentence."""
    if text[stop - 1] != ".":
        return False
    word = re.search(r"(\S+)\.$", text[begin:stop])
    if not word:
        return False
    token = word.group(1).lower().lstrip("(\"“")
    return token in ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at whitespace into pieces of at most `max_chars`."""
    pieces = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        cut = cut if cut > start else start + max_chars
        pieces.append(trim(text, start, cut))
        start = cut
    pieces.append(trim(text, start, end))
    return [piece for piece in pieces if piece]


def chunk_article(article: Article, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    """Group consecutive sentences into passages of up to `max_chars`, with the last
    `overlap_sentences` of each passage repeated at the start of the next."""
    sentences = [piece for s, e in sentence_spans(article.text)
                 for piece in split_long(article.text, s, e, settings.max_chars)]
    chunks, first = [], 0
    while first < len(sentences):
        last = first
        while last + 1 < len(sentences) and \
                sentences[last + 1][1] - sentences[first][0] <= settings.max_chars:
            last += 1
        chunks.append(Chunk(article.id, sentences[first][0], sentences[last][1]))
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, last + 1 - settings.overlap_sentences)
    return chunks


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What is embedded for a chunk: headline and date give context; quotes never come
    from here, only from `article.text[chunk.start:chunk.end]`."""
    heading = " — ".join(part for part in (article.title, article.date) if part)
    body = article.text[chunk.start:chunk.end]
    return f"{heading}\n{body}" if heading else body
