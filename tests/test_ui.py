"""The web chat without a browser: respond(), the source view, the markup and the API shape."""
from __future__ import annotations

import doctest
import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from assistant import article_file, checksums, conversation, followup, store, ui, ui_render
from assistant.article_file import ROWS
from assistant.build import rebuild
from assistant.pipeline import Assistant
from assistant.types import Answer, Article, Snippet, Source
from assistant.conversation import Filters, Turn, api_answer, respond, source_view
from assistant.ui import blocked_paths
from assistant.ui_render import (meta_line, render_source, render_transcript, safe_url,
                                 status_line, text)

from conftest import write

HOSTILE = ("Council met <script>alert('xss')</script> on the bridge. "
           "<img src=x onerror=\"alert('img')\"> <a href=\"javascript:alert(1)\">here</a> "
           "[more](javascript:alert(2)) ![pixel](http://127.0.0.1:9/pixel.png) "
           "zero\u200bwidth \u202eevil\u202c ${alert(3)} {{constructor}} \"quoted\" & done.")
SAFE_TAGS = {"div", "span", "p", "strong", "q", "ol", "ul", "li", "blockquote", "button", "a",
             "article", "h3", "mark", "details", "summary"}
SAFE_ATTRIBUTES = {"class", "data-cite", "data-turn", "data-undate", "title", "href", "target",
                   "rel"}


class Markup(HTMLParser):
    """Collects tags, attributes and the text a browser would show."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.hrefs, self.chunks, self.marks = [], set(), [], [], []
        self.in_mark = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes |= {name for name, _ in attrs}
        self.hrefs += [value for name, value in attrs if name == "href"]
        self.in_mark = self.in_mark or tag == "mark"

    def handle_endtag(self, tag):
        self.in_mark = self.in_mark and tag != "mark"

    def handle_data(self, data):
        self.chunks.append(data)
        if self.in_mark:
            self.marks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def hostile_article(**changes) -> Article:
    fields = dict(id="h1", title="<script>alert('t')</script> Bridge <b>news</b>", text=HOSTILE,
                  date="2022-03-01", source="<i>Gazette</i>", category="Local & <u>city</u>",
                  url="javascript:alert('url')")
    return Article(**{**fields, **changes})


def snippet_of(article: Article, start: int, end: int, score: float = 1.0, **more) -> Snippet:
    return Snippet(quote=article.text[start:end], article_id=article.id, title=article.title,
                   date=article.date, source=article.source, url=article.url, start=start,
                   end=end, score=score, category=article.category,
                   date_inferred=article.date_inferred, **more)


def assert_inert(markup: str) -> Markup:
    parsed = Markup(markup)
    assert set(parsed.tags) <= SAFE_TAGS
    assert parsed.attributes <= SAFE_ATTRIBUTES
    assert all(href.startswith(("http://", "https://")) for href in parsed.hrefs)
    return parsed


def test_the_docstring_examples_hold():
    for module in (followup, ui_render):
        assert doctest.testmod(module).failed == 0


def test_hostile_text_renders_as_the_same_text_and_nothing_else():
    article = hostile_article()
    answer = Answer("q", True, (snippet_of(article, 0, len(article.text)),))
    for markup in (render_transcript([Turn("<b>q</b>", "<b>q</b>", answer)]),
                   render_source(article, (12, 40))):
        parsed = assert_inert(markup)
        assert not ui_render.INVISIBLE.search(parsed.text)
        visible = re.sub("⟨U\\+([0-9A-F]{4})⟩", lambda m: chr(int(m[1], 16)), parsed.text)
        assert HOSTILE in visible
        assert "<script>alert('t')</script> Bridge <b>news</b>" in parsed.text
        assert "javascript:" not in " ".join(parsed.hrefs)


def test_invisible_characters_are_shown_as_their_code_points():
    assert text("a\u200bb") == ('a<span class="invisible-char" title="invisible character '
                                'U+200B">⟨U+200B⟩</span>b')


@pytest.mark.parametrize("url, expected", [
    ("https://example.org/wheat", "https://example.org/wheat"),
    ("http://127.0.0.1:8000/a?b=1&c=2", "http://127.0.0.1:8000/a?b=1&c=2"),
    ("javascript:alert(1)", None), ("JavaScript:alert(1)", None), ("data:text/html,x", None),
    ("//evil.example/x", None), ("https://", None), ("https://ex ample.org", None),
    ("https://example.org/\" onmouseover=\"x", None), ("http://[::1", None), ("", None),
    (None, None),
])
def test_only_plain_http_links_are_links(url, expected):
    assert safe_url(url) == expected


def test_a_card_shows_date_year_inferred_source_category_and_link():
    article = Article("a", "Title", "text", date="2021-08-06", source="EIRNS",
                      category="Kazakhstan", url="https://example.org/a?x=1&y=2",
                      date_inferred=True)
    parsed = assert_inert(meta_line(article))
    assert parsed.text == ("2021-08-06 (year inferred) · EIRNS · Kazakhstan · "
                           "https://example.org/a?x=1&y=2")
    assert parsed.hrefs == ["https://example.org/a?x=1&y=2"]
    assert Markup(meta_line(Article("b", "T", "x"))).text == "undated"


def test_the_source_view_highlights_exactly_the_quoted_span():
    article = hostile_article(text="First sentence. The quoted <b>one</b> here. Last.")
    start = article.text.index("The quoted")
    end = article.text.index(" Last")
    parsed = assert_inert(render_source(article, (start, end), "Source [2]"))
    assert "".join(parsed.marks) == article.text[start:end]
    assert "Source [2]" in parsed.text and article.text in parsed.text


def test_a_turn_shows_the_searched_question_and_an_error_as_text():
    markup = render_transcript([Turn("And who leads it?", "Who leads the SCO?",
                                     Answer("Who leads the SCO?", False)),
                                Turn("<b>x</b>", "<b>x</b>", error="bad <date>")])
    parsed = assert_inert(markup)
    assert "Searched: Who leads the SCO?" in parsed.text
    assert "⚠ bad <date>" in parsed.text
    assert "does not answer" in parsed.text


def test_closest_passages_are_marked_as_not_an_answer():
    article = hostile_article(text="Some passage about something else entirely.")
    answer = Answer("q", False, nearest=(snippet_of(article, 0, 10),))
    parsed = assert_inert(render_transcript([Turn("q", "q", answer)]))
    assert "does not answer this question" in parsed.text
    assert "Closest passages — not an answer" in parsed.text
    assert 'data-cite="0:n:0"' in render_transcript([Turn("q", "q", answer)])


def test_the_status_line_names_counts_model_and_build_time():
    manifest = {"counts": {"articles": 1234, "chunks": 5678},
                "model": {"name": "sentence-transformers/all-MiniLM-L6-v2"},
                "built_at": "2026-01-02T03:04:05+00:00"}
    assert Markup(status_line(manifest)).text == (
        "Index: 1,234 articles · 5,678 chunks · model sentence-transformers/all-MiniLM-L6-v2 · "
        "built 2026-01-02 03:04:05 UTC")


def test_filters_become_a_date_window_or_name_the_bad_date():
    window = Filters(since="2021-01-01", as_of=" 2021-12-31 ").window()
    assert (window.since, window.until, window.as_of) == ("2021-01-01", None, "2021-12-31")
    assert Filters(sources=("EIRNS",), as_of="2021-12-31").describe() == (
        "as of 2021-12-31 · source EIRNS")
    with pytest.raises(Exception, match="since '2021-13-01' is not a date"):
        Filters(since="2021-13-01").window()


def test_a_source_or_category_filter_searches_only_its_articles_however_many_rank_above(
        tmp_path, fake_embedder):
    places = "north south east west river hill market castle station harbour".split()
    rows = [{"id": f"d{n}", "title": f"Bridge repairs at the {place} end", "date": "2022-03-01",
             "source": "Daily", "text": f"Harbour bridge repairs reached the {place} end on "
             f"day {n}. Crews resurfaced {n + 2} lanes of the harbour bridge."}
            for n, place in enumerate(places * 2)]
    rows.append({"id": "w1", "title": "Around town", "date": "2022-03-02", "source": "Weekly",
                 "category": "City", "text": "The bridge repairs were noisy. Ana Lopes "
                 "opened the market."})
    archive = write(tmp_path / "archive" / "news.jsonl", "\n".join(map(json.dumps, rows)))
    rebuild([archive], tmp_path / "index", fake_embedder)
    assistant = Assistant(tmp_path / "index", fake_embedder)

    def quoted(turn):
        return {s.article_id for s in turn.answer.snippets + turn.answer.nearest}

    question = "Which harbour bridge repairs were made?"
    assert "w1" not in quoted(respond(assistant, question))  # 20 articles rank above it
    assert quoted(respond(assistant, question, filters=Filters(sources=("Weekly",)))) == {"w1"}
    assert quoted(respond(assistant, question, filters=Filters(categories=("City",)))) == {"w1"}
    assert quoted(respond(assistant, question, filters=Filters(sources=("Nobody",)))) == set()


@pytest.fixture
def small_assistant(small_archive, tmp_path, fake_embedder):
    rebuild([small_archive], tmp_path / "index", fake_embedder)
    return Assistant(tmp_path / "index", fake_embedder)


def test_respond_answers_with_quotes_cut_from_their_articles(small_assistant):
    turn = respond(small_assistant, "Who cut the ribbon at the harbour bridge?")
    assert turn.error is None and turn.answer.found
    articles = {a.id: a for a in small_assistant.data.articles}
    for s in turn.answer.snippets:
        assert articles[s.article_id].text[s.start:s.end] == s.quote
    assert "Ana Lopes" in turn.answer.snippets[0].quote


def test_respond_turns_user_errors_into_a_message(small_assistant):
    assert "empty" in respond(small_assistant, "   ").error
    too_long = respond(small_assistant, "bridge " * 50_000)
    assert "keep it under 1,000" in too_long.error and len(too_long.asked) <= 1001
    bad_date = respond(small_assistant, "bridge?", filters=Filters(until="yesterday"))
    assert "until 'yesterday' is not a date" in bad_date.error
    assert bad_date.filters.describe() == "until yesterday"


def test_respond_filters_by_date_and_source(small_assistant):
    turn = respond(small_assistant, "What happened to the wheat harvest?",
                   filters=Filters(until="2022-06-30"))
    quotes = turn.answer.snippets or turn.answer.nearest
    assert all(s.date is None or s.date <= "2022-06-30" for s in quotes)
    turn = respond(small_assistant, "Who cut the ribbon at the harbour bridge?",
                   filters=Filters(sources=("Gazette",)))
    assert {s.source for s in turn.answer.snippets + turn.answer.nearest} == {"Gazette"}


def test_the_source_view_opens_the_cited_article(small_assistant):
    history = [respond(small_assistant, "Who cut the ribbon at the harbour bridge?")]
    quote = history[0].answer.snippets[0].quote
    parsed = assert_inert(source_view(small_assistant, history, "0:a:0"))
    assert "".join(parsed.marks) == quote
    for bad in ("", "0:a:9", "5:a:0", "x:y:z", "0:n:0", "0:a"):
        assert "no longer" in Markup(source_view(small_assistant, history, bad)).text


def test_the_source_view_finds_a_quote_again_after_a_rebuild_moved_it(small_assistant):
    history = [respond(small_assistant, "Who cut the ribbon at the harbour bridge?")]
    moved = history[0].answer.snippets[0]
    moved = Snippet(**{**moved.__dict__, "start": 0, "end": len(moved.quote)})
    history = [Turn("q", "q", Answer("q", True, (moved,)))]
    assert "".join(Markup(source_view(small_assistant, history, "0:a:0")).marks) == moved.quote


def test_the_api_answer_is_the_json_of_assistant_ask(small_assistant):
    question = "Who cut the ribbon at the harbour bridge?"
    assert api_answer(small_assistant, question, k=2) == small_assistant.ask(
        question, k=2).to_json()
    json.dumps(api_answer(small_assistant, question, as_of="2022-12-31"))
    with pytest.raises(Exception, match="k must be"):
        api_answer(small_assistant, question, k=0)
    only = api_answer(small_assistant, question, sources=["Gazette"], categories=[])
    assert only["found"] and {s["source"] for s in only["snippets"]} == {"Gazette"}
    with pytest.raises(Exception, match="sources must be a list of names"):
        api_answer(small_assistant, question, sources="Gazette")


def test_the_archive_and_index_are_blocked_from_file_routes(small_assistant, small_archive):
    blocked = blocked_paths(small_assistant)
    assert str(small_assistant.index_dir.resolve()) in blocked
    assert str(small_archive.resolve()) in blocked


@pytest.mark.slow
def test_a_follow_up_about_the_sco_stays_about_the_sco(bundled_index, real_embedder):
    assistant = Assistant(bundled_index, real_embedder)
    first = respond(assistant, "Which countries applied to join the SCO?")
    second = respond(assistant, "And who leads it?", [first])
    assert second.searched == "Who leads the SCO?"
    assert second.answer == assistant.ask("Who leads the SCO?")
    cited = respond(assistant, "Who is the Secretary-General of the CSTO?")
    assert "Stanislav Zas" in cited.answer.snippets[0].quote


def test_the_chat_callback_appends_a_turn_and_ignores_a_blank_message(small_assistant):
    markup, history, box, status = ui.chat(small_assistant, "Who cut the ribbon?", "", "", "",
                                           [], [], [])
    assert len(history) == 1 and box == "" and "Ana Lopes" in Markup(markup).text
    assert "Index: 3 articles" in Markup(status).text
    assert ui.chat(small_assistant, "  ", "", "", "", [], [], history)[1] == history
    assert ui.filter_choices(small_assistant) == (["Gazette"], [])


def test_warm_up_reads_an_older_index_s_filter_choices_before_the_first_page_load(
        small_archive, tmp_path, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, fake_embedder)
    folder = store.current_version(index_dir)  # made as a build before facets were saved
    rows, manifest = json.loads((folder / ROWS).read_text()), folder / "manifest.json"
    for name in ("sources", "categories", "source_codes", "category_codes"):
        del rows[name]
    (folder / ROWS).write_text(json.dumps(rows))
    listed = json.loads(manifest.read_text())
    listed["files"][ROWS] = {"bytes": (folder / ROWS).stat().st_size,
                             "sha256": checksums.sha256_file(folder / ROWS)}
    manifest.write_text(json.dumps(listed))
    assistant = Assistant(index_dir, fake_embedder)
    assistant.warm_up()
    assistant.data.articles._read.cache_clear()
    monkeypatch.setattr(article_file, "parse", None)  # reading an article would fail now
    assert ui.filter_choices(assistant) == (["Gazette"], [])


MAY = {"since": "2022-05-01", "until": "2022-05-31", "phrase": "in May 2022", "start": 14,
       "end": 25, "event": None, "event_date": None, "describe": "2022-05-01 to 2022-05-31"}


def dated(article_id: str, day: str, title: str = "", **changes) -> Snippet:
    article = Article(article_id, title or f"Story {article_id}", f"What {article_id} said.",
                      date=day, source="Wire")
    return replace(snippet_of(article, 0, len(article.text)), **changes)


def test_a_date_window_read_from_the_question_is_shown_with_a_remove_button():
    answer = Answer("What happened in May 2022?", True, (dated("a", "2022-05-26"),),
                    searched="What happened?", window=MAY, timeline=True)
    markup = render_transcript([Turn("What happened in May 2022?",
                                     "What happened in May 2022?", answer)])
    parsed = assert_inert(markup)
    assert ("Dates: 2022-05-01 to 2022-05-31 — read from “in May 2022” Remove dates"
            in parsed.text)
    assert 'data-undate="0"' in markup
    assert ("Searched: What happened? (the dates taken out, read as a window)"
            in parsed.text)
    removed = Turn("What happened in May 2022?", "What happened in May 2022?",
                   Answer("What happened in May 2022?", False), read_dates=False)
    markup = render_transcript([removed])
    assert "data-undate" not in markup and "Dates:" not in Markup(markup).text
    assert "not read as a window (removed)" in Markup(markup).text
    assert "Searched:" not in Markup(markup).text


def test_the_searched_line_shows_the_follow_up_and_the_dates_taken_out():
    answer = Answer("What happened with the SCO in May 2022?", False,
                    searched="What happened with the SCO?", window=MAY)
    parsed = Markup(render_transcript([Turn("And in May 2022?",
                                            "What happened with the SCO in May 2022?", answer)]))
    assert ("Searched: What happened with the SCO? (the follow-up, with the topic before it; "
            "the dates taken out, read as a window)") in parsed.text
    plain = Answer("Who leads the SCO?", False, searched="Who leads the SCO?")
    assert "Searched" not in Markup(render_transcript([Turn("Who leads the SCO?",
                                                            "Who leads the SCO?", plain)])).text


def test_a_window_hung_on_an_event_names_the_event_and_its_date():
    window = {**MAY, "since": None, "until": "2022-09-14", "describe": "up to 2022-09-14",
              "phrase": "before the <b>summit</b>", "event": "the <b>summit</b>",
              "event_date": "2022-09-15"}
    answer = Answer("q", False, searched="q", window=window)
    parsed = assert_inert(render_transcript([Turn("q", "q", answer)]))
    assert ("Dates: up to 2022-09-14 — read from “before the <b>summit</b>” "
            "(the <b>summit</b>: 2022-09-15)") in parsed.text


def test_a_card_lists_the_other_articles_of_its_story_and_hostile_ones_stay_inert():
    copies = (Source("c1", "<script>alert('copy')</script> Dam <img src=x onerror=alert(1)>",
                     "2022-03-03", "<i>Valley Post</i>", "javascript:alert('u')"),
              Source("c2", "Dam opens gates", None, None, "https://example.org/c2?a=1&b=2"))
    answer = Answer("q", True, (dated("a", "2022-03-02", also_in=copies),))
    markup = render_transcript([Turn("q", "q", answer)])
    parsed = assert_inert(markup)
    assert "Also in 2 articles" in parsed.text
    assert ("<script>alert('copy')</script> Dam <img src=x onerror=alert(1)> "
            "2022-03-03 · <i>Valley Post</i> · javascript:alert('u')") in parsed.text
    assert "Dam opens gates undated · https://example.org/c2?a=1&b=2" in parsed.text
    assert parsed.hrefs == ["https://example.org/c2?a=1&b=2"]
    assert 'data-cite="0:a:0:0"' in markup and 'data-cite="0:a:0:1"' in markup
    one = Answer("q", True, (dated("a", "2022-03-02", also_in=copies[1:]),))
    assert "Also in 1 article" in Markup(render_transcript([Turn("q", "q", one)])).text
    assert "Also in" not in Markup(render_transcript([Turn("q", "q", replace(
        one, snippets=(dated("a", "2022-03-02"),)))])).text


def test_newer_coverage_is_named_under_the_answer_and_opens():
    copy = Source("c1", "Dam copy", "2022-03-03", "Valley Post", None)
    newer = (Source("u1", "Dam <b>gates</b> closed", "2022-03-09", "<Wire>", None), copy)
    answer = Answer("q", True, (dated("a", "2022-03-02", also_in=(copy,)),), newer=newer)
    markup = render_transcript([Turn("q", "q", answer)])
    parsed = assert_inert(markup)
    assert ("Newer articles on this story exist: Dam <b>gates</b> closed (2022-03-09, <Wire>); "
            "Dam copy (2022-03-03, Valley Post — a copy of [1])") in parsed.text
    assert 'data-cite="0:w:0"' in markup and 'data-cite="0:w:1"' in markup
    single = Markup(render_transcript([Turn("q", "q", replace(answer, newer=newer[:1]))])).text
    assert "A newer article on this story exists: Dam <b>gates</b> closed (2022-03-09, <Wire>)" \
        in single


def test_a_quote_repeated_from_a_copy_of_its_story_is_shown_once():
    copy_of_a = Source("b", "Copy", "2022-03-03", "Post", None)
    a = dated("a", "2022-03-02", also_in=(copy_of_a,))
    b = replace(dated("b", "2022-03-03", also_in=(Source.of(Article("a", "A", "")),)),
                quote=a.quote)
    other = replace(b, quote="A different passage of the copy.")
    assert conversation.one_per_story((a, b, other)) == (a, other)
    assert conversation.one_per_story((b, a)) == (b,)  # whichever ranks first is kept
    assert conversation.one_per_story((a, dated("c", None))) == (a, dated("c", None))


def test_a_timeline_is_a_dated_list_in_the_order_given_each_cited():
    snippets = (dated("a", "2021-09-16"), dated("b", "2022-05-26"), dated("c", None))
    markup = render_transcript([Turn("q", "q", Answer("q", True, snippets, timeline=True))])
    parsed = assert_inert(markup)
    assert "Timeline — one quote per story, oldest first" in parsed.text
    items = re.findall(r"<li>(.*?)</li>", markup.split('class="quotes timeline"')[1])
    assert [Markup(item).text for item in items] == [
        "2021-09-16 What a said. [1]", "2022-05-26 What b said. [2]", "undated What c said. [3]"]
    plain = render_transcript([Turn("q", "q", Answer("q", True, snippets))])
    assert "timeline" not in plain and "2021-09-16 What a said." not in Markup(plain).text


WIRE = ("Engineers at the northern dam opened all twelve spillway gates on Tuesday after "
        "heavy rain raised the reservoir to a record level. Towns downstream were told to "
        "expect higher water for several days.")


@pytest.fixture
def news_assistant(tmp_path, fake_embedder):
    stories = [
        {"id": "wire-1", "title": "Dam opens spillway gates", "date": "2022-03-02",
         "source": "Wire", "text": WIRE},
        {"id": "paper-1", "title": "Record rain: dam opens gates", "date": "2022-03-03",
         "source": "Valley Post", "text": "From the wire. " + WIRE},
        {"id": "update-1", "title": "Dam spillway gates closed", "date": "2022-03-09",
         "source": "Wire", "text": "The northern dam closed its spillway gates on Wednesday."},
    ]
    archive = tmp_path / "archive" / "news.jsonl"
    archive.parent.mkdir()
    archive.write_text("\n".join(map(json.dumps, stories)), encoding="utf-8")
    rebuild([archive], tmp_path / "index", fake_embedder)
    return Assistant(tmp_path / "index", fake_embedder)


def test_the_source_view_opens_a_copy_with_the_quote_and_newer_coverage_without(news_assistant):
    articles = {a.id: a for a in news_assistant.data.articles}
    wire, copy, update = articles["wire-1"], articles["paper-1"], articles["update-1"]
    quote = snippet_of(wire, 0, WIRE.index(" Towns"), also_in=(Source.of(copy),))
    history = [Turn("q", "q", Answer("q", True, (quote,), newer=(Source.of(update),)))]
    opened = assert_inert(source_view(news_assistant, history, "0:a:0:0"))
    assert "".join(opened.marks) == quote.quote and "Record rain: dam opens gates" in opened.text
    assert "The story of [1] in another article" in opened.text
    newer = assert_inert(source_view(news_assistant, history, "0:w:0"))
    assert newer.marks == [] and "mark" not in newer.tags
    assert "Newer coverage of the story of [1]" in newer.text and update.text in newer.text
    for bad in ("0:w:1", "0:a:0:1", "0:a:0:0:0", "0:n:0:0", "0:w:0:0", "0:x:0"):
        assert "no longer" in Markup(source_view(news_assistant, history, bad)).text
    gone = [Turn("q", "q", Answer("q", True, newer=(Source("zz", "Gone", None, None, None),)))]
    assert "no longer in the index" in Markup(source_view(news_assistant, gone, "0:w:0")).text


def test_removing_the_dates_asks_the_same_question_again_without_them(small_assistant):
    question = "What happened to the wheat harvest in July 2022?"
    history = [respond(small_assistant, question)]
    assert history[0].answer.window["phrase"] == "in July 2022"
    assert history[0].answer.searched == "What happened to the wheat harvest?"
    again = conversation.without_dates(small_assistant, history, "0")
    assert again[0].read_dates is False and again[0].answer.window is None
    assert again[0].answer == small_assistant.ask(question, read_dates=False)
    assert history[0].read_dates is True  # the old list is left as it was
    assert conversation.without_dates(small_assistant, again, "0") == again  # nothing left
    for bad in ("", "7", "x"):
        assert conversation.without_dates(small_assistant, history, bad) == history
    markup, shown, status = ui.remove_dates(small_assistant, history, "0")
    assert shown == again and "not read as a window" in Markup(markup).text


def test_the_api_can_leave_dates_in_the_words_unread(small_assistant):
    question = "What happened to the wheat harvest in July 2022?"
    assert api_answer(small_assistant, question)["window"]["since"] == "2022-07-01"
    unread = api_answer(small_assistant, question, 3, "", "", "", False)
    assert unread == small_assistant.ask(question, read_dates=False).to_json()
    assert unread["window"] is None and unread["searched"] == question
    with pytest.raises(Exception, match="read_dates must be true or false"):
        api_answer(small_assistant, question, read_dates="no")


def test_a_window_that_matched_nothing_is_named_as_searched_past_and_stays_inert():
    empty = {**MAY, "phrase": "in <b>May</b> 2022"}
    answer = Answer("q", True, (dated("a", "2021-09-16"),), searched="q", empty_window=empty)
    markup = render_transcript([Turn("q", "q", answer)])
    parsed = assert_inert(markup)
    assert ("Dates: nothing dated 2022-05-01 to 2022-05-31 matched (read from “in <b>May</b> "
            "2022”): every date searched.") in parsed.text
    assert "data-undate" not in markup  # there is no window to remove
