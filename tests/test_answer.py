"""The extractive answerer: every quote is exact article text; weak matches are declined."""
from __future__ import annotations

import numpy as np
import pytest

from assistant.build import rebuild
from assistant.errors import BadQuestion
from assistant.pipeline import Assistant
from assistant.sentences import SCALE

from conftest import BUNDLED_ARCHIVE

QUESTIONS = ["Who is the Secretary-General of the CSTO?", "wheat harvest prices",
             "Which choir won the national prize?", "What happened in Avaza?",
             "bridge reopened mayor", "SCO membership applications Iran"]


@pytest.fixture
def assistant(tmp_path, small_archive, fake_embedder):
    rebuild([small_archive, BUNDLED_ARCHIVE], tmp_path / "index", fake_embedder)
    return Assistant(tmp_path / "index", fake_embedder)


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_quote_is_the_article_text_at_its_offsets(assistant, question):
    articles = {a.id: a for a in assistant.data.articles}
    result = assistant.ask(question, k=5)
    quotes = result.snippets + result.nearest
    assert quotes
    for snippet in quotes:
        article = articles[snippet.article_id]
        assert snippet.quote == article.text[snippet.start:snippet.end]
        assert (snippet.title, snippet.date, snippet.source) == (article.title, article.date,
                                                                 article.source)
    assert len({s.article_id for s in quotes}) == len(quotes) <= 5
    assert [s.score for s in quotes] == sorted((s.score for s in quotes), reverse=True)


def test_found_follows_the_threshold(assistant):
    from assistant.answer import answer
    from assistant.retrieve import retrieve

    data, embed = assistant.data, assistant.embedder
    question = "wheat harvest prices"
    q = embed.embed_one(question)
    hits = retrieve(data, q, question)
    best = answer(data, q, question, hits, threshold=-10).snippets[0].score
    assert answer(data, q, question, hits, threshold=best - 1e-6).found
    declined = answer(data, q, question, hits, threshold=best + 1e-6)
    assert not declined.found and declined.snippets == () and declined.nearest


CONTRACT = {"question": str, "found": bool, "snippets": list}
SNIPPET_CONTRACT = {"quote": str, "article_id": str, "title": str, "date": (str, type(None)),
                    "source": (str, type(None)), "url": (str, type(None)), "start": int,
                    "end": int, "score": float}


def test_json_shape_keeps_the_public_contract_and_only_extends_it(assistant):
    result = assistant.ask("Which choir won the national prize?").to_json()
    assert all(isinstance(result[key], kind) for key, kind in CONTRACT.items())
    assert set(result) - set(CONTRACT) == {"searched", "window", "empty_window", "timeline",
                                           "newer"}
    assert result["snippets"]
    for snippet in result["snippets"]:
        assert all(isinstance(snippet[key], kind) for key, kind in SNIPPET_CONTRACT.items())
        assert set(snippet) - set(SNIPPET_CONTRACT) == {"also_in"}


@pytest.mark.parametrize("question", ["", "   \n", "?!…", "x" * 5000])
def test_unsearchable_questions_get_a_message(assistant, question):
    with pytest.raises(BadQuestion):
        assistant.ask(question)


def test_date_window_limits_the_articles_quoted(assistant):
    articles = {a.id: a for a in assistant.data.articles}
    from assistant.retrieve import DateWindow

    for window in [DateWindow(until="2021-12-31"), DateWindow(since="2022-01-01"),
                   DateWindow(as_of="2021-09-16")]:
        result = assistant.ask("SCO meeting heads of state", k=5, window=window)
        for snippet in result.snippets + result.nearest:
            date = articles[snippet.article_id].date
            assert date is None or ((not window.since or date >= window.since)
                                    and (not window.last or date <= window.last))


def test_an_answer_embeds_only_the_question_and_reads_the_best_sentences_closely(
        assistant, monkeypatch):
    import assistant.answer as answer_module

    monkeypatch.setattr(answer_module, "CLOSELY_READ", 2)
    embedded = []
    real_embed = assistant.embedder.embed

    def counting(texts):
        embedded.append(list(texts))
        return real_embed(texts)

    question = "SCO membership applications Iran"
    result = assistant.ask(question, k=5, embed=counting)
    assert embedded == [[question]]  # the sentences' vectors come from the index
    assert 1 <= len(result.snippets + result.nearest) <= 2


def test_each_chunks_sentences_lie_inside_it_and_carry_their_own_vector(assistant):
    data, embedder = assistant.data, assistant.embedder
    for chunk_id in range(len(data.chunks)):
        row, start, end = (int(x) for x in data.chunks[chunk_id])
        text = data.articles[row].text
        first, spans = data.sentences.of_chunk(chunk_id)
        assert len(spans) and start <= spans[0][0] and spans[-1][1] <= end
        vectors = data.sentences.vectors_of(list(range(first, first + len(spans))))
        expected = embedder.embed([text[s:e] for s, e in spans.tolist()])
        assert np.allclose(vectors, expected, atol=0.5 / SCALE + 1e-6)  # int8's rounding


def test_keyword_share_by_surface_forms_equals_tokenizing_each_sentence(assistant):
    from assistant.answer import keyword_share, surface_forms
    from assistant.lexical import tokenize
    from assistant.sentences import quote_spans

    sentences = [a.text[s:e] for a in assistant.data.articles
                 for s, e in quote_spans(a.text, 0, len(a.text))]
    # Every sentence's words asked back, plus plurals, -ies, -ss/-us/-is and stopword forms.
    questions = sentences[::7] + QUESTIONS + [
        "countries cities policy story stories bus status analysis this thi it its wa was",
        "Which parties' leaders, news and series?", "gas glass crisis yes days day"]
    for question in questions:
        terms = set(tokenize(question))
        forms = [surface_forms(term) for term in terms]
        for sentence in sentences:
            expected = len(terms & set(tokenize(sentence))) / len(terms) if terms else 0.0
            assert keyword_share(forms, sentence) == expected, (question, sentence)
