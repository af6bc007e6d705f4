"""Chunking: offsets are exact, sentences are not cut, neighbours overlap."""
from __future__ import annotations

from assistant.archive import read_archive
from assistant.chunking import ChunkSettings, chunk_article, sentence_spans
from assistant.types import Article

from conftest import BUNDLED_ARCHIVE


def test_sentences_respect_abbreviations_and_initials():
    text = ("Minister Dr. S. Jaishankar met Lavrov. The summit is on Sept. 15-16 in Samarkand! "
            "U.S. officials said “no.” Then it ended")
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Minister Dr. S. Jaishankar met Lavrov.",
        "The summit is on Sept. 15-16 in Samarkand!",
        "U.S. officials said “no.”",
        "Then it ended",
    ]


def test_every_chunk_is_exact_text_within_bounds_and_covers_the_article():
    articles, _ = read_archive([BUNDLED_ARCHIVE])
    for article in articles:
        chunks = chunk_article(article, ChunkSettings(max_chars=400))
        assert chunks and chunks[0].start == 0 and chunks[-1].end == len(article.text.rstrip())
        for chunk in chunks:
            piece = article.text[chunk.start:chunk.end]
            assert piece == piece.strip() and len(piece) <= 400
        for before, after in zip(chunks, chunks[1:]):
            assert before.start < after.start  # moves on
            assert article.text[before.end:after.start].strip() == ""  # overlap or touch, no gap



def test_neighbouring_chunks_share_a_sentence():
    articles, _ = read_archive([BUNDLED_ARCHIVE])
    pairs = [(a, b) for article in articles
             for a, b in zip(chunk_article(article), chunk_article(article)[1:])]
    assert pairs and all(b.start < a.end for a, b in pairs)


def test_a_sentence_longer_than_a_chunk_is_cut_at_whitespace():
    article = Article(id="x", title="t", text=" ".join(["word"] * 500) + ".")
    chunks = chunk_article(article, ChunkSettings(max_chars=200))
    assert all(c.end - c.start <= 200 for c in chunks)
    assert all(article.text[c.start:c.end].startswith("word") for c in chunks)
    assert chunks[-1].end == len(article.text)
