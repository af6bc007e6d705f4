"""Ranked chunks -> an Answer of verbatim quotes: the sentences that best answer the question.

Each candidate sentence is scored by its cosine to the question (bi-encoder; the
sentences' vectors are in the index), plus the share of the question's keywords it holds,
plus a little of its chunk's retrieval rank. Every quote is `article.text[start:end]` by
construction.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from .index import IndexData
from .lexical import STOPWORDS, TOKEN, fold, tokenize
from .types import Answer, Hit, Snippet

# Weights and the threshold were chosen on the news-qa-2022 dev weeks (see README, "How good is it").
KEYWORD_WEIGHT = 0.3
RANK_WEIGHT = 0.15
NOVELTY_WEIGHT = 0.3  # names and numbers the question does not already hold
FOUND_THRESHOLD = 0.9  # best quote score below this: the archive does not answer (calibrated)
CHUNKS_READ = 8  # how many top chunks the answerer reads sentence by sentence
CLOSELY_READ = 24  # of their sentences, how many get the cosine term (best by cheap evidence)


class Candidate(NamedTuple):  # a tuple: an answer makes 50-150 of them
    chunk_id: int
    start: int
    end: int
    rank: int
    sentence: int  # row in the index's sentences, for its vector


def candidate_sentences(data: IndexData, hits: list[Hit]) -> list[Candidate]:
    """The sentences of the top chunks, each once (overlapping chunks share sentences)."""
    seen, candidates = set(), []
    for rank, hit in enumerate(hits[:CHUNKS_READ]):
        row = int(data.chunks[hit.chunk_id, 0])
        first, spans = data.sentences.of_chunk(hit.chunk_id)
        for offset, (start, end) in enumerate(spans.tolist()):
            if (row, start) not in seen:
                seen.add((row, start))
                candidates.append(Candidate(hit.chunk_id, start, end, rank, first + offset))
    return candidates


def keyword_share(term_forms: list[frozenset[str]], sentence: str) -> float:
    """Share of the question's terms (each as its surface_forms()) the sentence holds."""
    if not term_forms:
        return 0.0
    words = set(TOKEN.findall(sentence.lower()))
    return sum(not forms.isdisjoint(words) for forms in term_forms) / len(term_forms)


def surface_forms(term: str) -> frozenset[str]:
    """The words tokenize() turns into `term`: itself, +s, and -y as -ies. Matching them
    against a sentence's words is tokenize()'s verdict without folding every word."""
    forms = {term, term + "s", term[:-1] + "ies"}
    return frozenset(f for f in forms if f not in STOPWORDS and fold(f) == term)


def score_sentences(data: IndexData, query_vector: np.ndarray, question: str,
                    candidates: list[Candidate]) -> np.ndarray:
    """Cheap evidence (keywords, rank, new names) for every sentence, plus the cosine to
    the question for the CLOSELY_READ best of them; the rest score -inf."""
    article = {chunk: data.article_of(chunk) for chunk in {c.chunk_id for c in candidates}}
    texts = [article[c.chunk_id].text[c.start:c.end] for c in candidates]
    term_forms = [surface_forms(term) for term in set(tokenize(question))]
    keywords = np.array([keyword_share(term_forms, t) for t in texts])
    ranks = np.array([1.0 / (1 + c.rank) for c in candidates])
    novelty = np.array([new_names(question, t) for t in texts])
    scores = KEYWORD_WEIGHT * keywords + RANK_WEIGHT * ranks + NOVELTY_WEIGHT * novelty
    kept = np.argsort(-scores, kind="stable")[:CLOSELY_READ]
    total = np.full(len(texts), -np.inf)
    vectors = data.sentences.vectors_of([candidates[i].sentence for i in kept])
    total[kept] = scores[kept] + vectors @ query_vector.astype(np.float32)
    return total


# The lookahead first: most positions fail it at once, before the lookbehinds (2.4x faster).
NAME = re.compile(r"(?=[A-Z\d])(?<!^)(?<![.!?]\s)\b(?:[A-Z][\w’'-]+|\d[\d,.]*)")


def new_names(question: str, sentence: str) -> float:
    """Share (capped at 1) of up to three capitalised words or numbers in the sentence
    that the question does not contain: quiz answers are names and figures.

    >>> new_names("Which country hosts the summit?", "The summit is in Samarkand, Uzbekistan.")
    0.6666666666666666
    """
    asked = question.lower()
    names = {name for name in NAME.findall(sentence) if name.lower() not in asked}
    return min(len(names), 3) / 3


def answer(data: IndexData, query_vector: np.ndarray, question: str, hits: list[Hit],
           k: int = 3, threshold: float = FOUND_THRESHOLD) -> Answer:
    """Up to `k` quotes, best first, one per story (an article and its copies: IndexData.
    stories); `found` is False (and the quotes move to `nearest`) when even the best falls
    below `threshold`."""
    candidates = candidate_sentences(data, hits)
    if not candidates:
        return Answer(question, found=False)
    scores = score_sentences(data, query_vector, question, candidates)
    snippets, quoted, stories = [], set(), data.stories
    for i in np.argsort(-scores, kind="stable"):
        if not np.isfinite(scores[i]):
            break  # not embedded: not read closely enough to quote
        candidate = candidates[i]
        row = int(data.chunks[candidate.chunk_id, 0])
        story = tuple(stories.get(row, (row,)))
        if story in quoted:
            continue
        quoted.add(story)
        article = data.article_of(candidate.chunk_id)
        snippets.append(make_snippet(article, candidate.start, candidate.end, float(scores[i])))
        if len(snippets) == k:
            break
    if snippets[0].score < threshold:
        return Answer(question, found=False, nearest=tuple(snippets))
    return Answer(question, found=True, snippets=tuple(snippets))


def make_snippet(article, start: int, end: int, score: float) -> Snippet:
    return Snippet(
        quote=article.text[start:end], article_id=article.id, title=article.title,
        date=article.date, source=article.source, url=article.url, start=start, end=end,
        score=score, category=article.category, date_inferred=article.date_inferred,
    )
