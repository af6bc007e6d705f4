"""The web chat as a person uses it: headless Chromium (Debian's `chromium`) via Playwright.

One app serves the bundled archive, one a hostile archive and one a wire story syndicated
twice with a follow-up, each started once per module on a free port of 127.0.0.1 with an
index built by the real model. Per-run screenshots go to
$TEST_ARTIFACTS (else pytest's tmp folder); UPDATE_SCREENSHOTS=1 also rewrites the one the
README shows, tests/screenshots/chat-answer.png.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect

from assistant import conversation, ui
from assistant.build import rebuild
from assistant.pipeline import Assistant

from conftest import BUNDLED_ARCHIVE, ROOT, write

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
README_SCREENSHOT = ROOT / "tests" / "screenshots" / "chat-answer.png"
CSTO = "Who is the Secretary-General of the CSTO?"
ANSWER_TIMEOUT = 90_000  # ms: two shared cores, a model on CPU


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("TEST_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium "
                    "(apt-get update -qq && apt-get install -y -qq chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A browser tab on the app that records dialogs and every request it makes."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.dialogs, self.requests = [], []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.locator("#transcript .empty").wait_for()

    def ask(self, question: str):
        turns = self.page.locator("#transcript .turn").count()
        self.page.locator("#question textarea").fill(question)
        self.page.locator("#question textarea").press("Enter")
        turn = self.page.locator("#transcript .turn").nth(turns)
        turn.locator(".msg.assistant > *").first.wait_for(timeout=ANSWER_TIMEOUT)
        return turn

    def open_source(self, button):
        button.click()
        mark = self.page.locator("#source-view mark.quote-highlight")
        mark.wait_for(timeout=ANSWER_TIMEOUT)
        return mark

    def open_article(self, button, title: str):
        """Click `button` and wait for the source view to show the article called `title`."""
        button.click()
        expect(self.page.locator("#source-view .source-title")).to_have_text(
            title, timeout=ANSWER_TIMEOUT)
        return self.page.locator("#source-view")


def launch(assistant: Assistant):
    port = free_port()
    app = ui.start(assistant, port=port, block=False)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def bundled(bundled_index, real_embedder):
    assistant = Assistant(bundled_index, real_embedder)
    app, url = launch(assistant)
    yield assistant, url
    app.close()


@pytest.fixture
def tab(browser, bundled):
    page = Page(browser, bundled[1])
    yield page
    page.context.close()


def assert_offline(tab: Page, url: str):
    assert not tab.dialogs
    assert all(r.startswith((url, "data:", "blob:")) for r in tab.requests), tab.requests


@pytest.mark.browser
def test_an_answer_quotes_its_source_and_the_source_shows_the_quote(tab, bundled, artifacts):
    assistant, url = bundled
    expected = assistant.ask(CSTO).snippets[0]
    turn = tab.ask(CSTO)
    assert "Stanislav Zas" in turn.locator("blockquote.quote").first.inner_text()
    card = turn.locator(".card").first
    assert card.locator(".headline").inner_text() == expected.title
    assert card.locator(".meta").inner_text() == "2021-09-16 · EIRNS · Kazakhstan"

    mark = tab.open_source(card.locator("button.cite"))
    assert mark.text_content() == expected.quote
    assert tab.page.locator("#source-view .source-title").inner_text() == expected.title
    expect(mark).to_be_in_viewport()
    tab.page.screenshot(path=str(artifacts / "chat-answer.png"))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(artifacts / "chat-answer.png", README_SCREENSHOT)
    assert_offline(tab, url)


@pytest.mark.browser
def test_a_follow_up_shows_the_question_searched(tab, bundled, artifacts):
    assistant, url = bundled
    tab.ask("Which countries applied to join the SCO?")
    turn = tab.ask("And who leads it?")
    assert turn.locator(".searched-q").inner_text() == "Who leads the SCO?"
    expected = assistant.ask("Who leads the SCO?")
    quotes = turn.locator("blockquote.quote")
    assert quotes.count() == len(expected.snippets or expected.nearest)
    assert quotes.first.text_content() == (expected.snippets or expected.nearest)[0].quote
    tab.page.screenshot(path=str(artifacts / "chat-follow-up.png"))
    assert_offline(tab, url)


@pytest.mark.browser
def test_examples_closest_passages_and_a_filter_that_excludes_everything(tab, bundled):
    tab.page.locator("#examples button").first.click()
    first = tab.page.locator("#transcript .turn").first
    first.locator(".card").first.wait_for(timeout=ANSWER_TIMEOUT)
    assert first.locator(".msg.user").inner_text().endswith(ui.EXAMPLES[0])
    unanswerable = "Who won the 2030 football world cup?"
    expected = bundled[0].ask(unanswerable)
    turn = tab.ask(unanswerable)
    assert not expected.found and "does not answer" in turn.inner_text()
    assert turn.locator(".nearest .card").count() == len(expected.nearest)
    if expected.nearest:
        assert "Closest passages — not an answer" in turn.locator(".nearest").inner_text()
    tab.page.locator("#filters").get_by_text("Filters").first.click()
    tab.page.get_by_label("Until").fill("2020-01-01")
    turn = tab.ask("Who is the Secretary-General of the CSTO?")
    assert "Filters: until 2020-01-01" in turn.inner_text()
    assert "does not answer" in turn.locator(".msg.assistant").inner_text()
    assert turn.locator(".card").count() == 0


MAY = "What happened in May 2022?"


@pytest.mark.browser
def test_a_date_window_read_from_the_question_is_shown_and_can_be_removed(tab, bundled,
                                                                          artifacts):
    assistant, url = bundled
    expected = assistant.ask(MAY)
    turn = tab.ask(MAY)
    window = turn.locator(".window-note")
    assert window.inner_text().startswith(
        "Dates: 2022-05-01 to 2022-05-31 — read from “in May 2022”")
    assert turn.locator(".searched-q").inner_text() == "What happened?"
    dates = turn.locator("ol.timeline .when").all_inner_texts()
    assert dates == [s.date for s in expected.snippets] and "2022-05-26" in dates
    assert turn.locator("blockquote.quote").first.text_content() == expected.snippets[0].quote
    tab.page.screenshot(path=str(artifacts / "chat-date-window.png"))

    window.get_by_role("button", name="Remove dates").click()
    expect(turn.locator(".window-note.removed")).to_be_visible(timeout=ANSWER_TIMEOUT)
    assert "Dates:" not in turn.inner_text() and turn.locator("button.undate").count() == 0
    assert tab.page.locator("#transcript .turn").count() == 1  # the turn asked again in place
    unread = assistant.ask(MAY, read_dates=False)
    assert unread.window is None
    shown = turn.locator(".msg.assistant blockquote.quote").all_text_contents()
    assert shown == [s.quote for s in unread.snippets or unread.nearest]
    tab.page.screenshot(path=str(artifacts / "chat-date-window-removed.png"))
    assert_offline(tab, url)


@pytest.mark.browser
def test_a_timeline_question_gets_dated_quotes_in_date_order(tab, bundled, artifacts):
    assistant, url = bundled
    expected = assistant.ask("What happened with the SCO?")
    assert expected.timeline
    turn = tab.ask("What happened with the SCO?")
    assert "Timeline — one quote per story, oldest first" in turn.inner_text()
    dates = turn.locator("ol.timeline .when").all_inner_texts()
    assert dates == sorted(dates) and len(dates) >= 2
    assert dates == [s.date for s in expected.snippets]
    items = turn.locator("ol.timeline li")
    for i, snippet in enumerate(expected.snippets):
        assert items.nth(i).locator("blockquote").text_content() == snippet.quote
        assert items.nth(i).locator("button.cite-ref").inner_text() == f"[{i + 1}]"
    mark = tab.open_source(items.last.locator("button.cite-ref"))
    assert mark.text_content() == expected.snippets[-1].quote
    tab.page.screenshot(path=str(artifacts / "chat-timeline.png"))
    assert_offline(tab, url)


def test_the_ask_api_returns_the_json_of_assistant_ask(bundled):
    from gradio_client import Client

    assistant, url = bundled
    client = Client(url, verbose=False, download_files=False)
    result = client.predict(CSTO, api_name="/ask")
    assert result == json.loads(json.dumps(assistant.ask(CSTO).to_json()))
    window = conversation.Filters(as_of="2021-12-31").window()
    assert client.predict(CSTO, 1, "", "", "2021-12-31", api_name="/ask") == json.loads(
        json.dumps(assistant.ask(CSTO, k=1, window=window).to_json()))
    assert client.predict(MAY, api_name="/ask")["window"]["phrase"] == "in May 2022"
    unread = client.predict(MAY, 3, "", "", "", False, api_name="/ask")
    assert unread == json.loads(json.dumps(assistant.ask(MAY, read_dates=False).to_json()))
    assert unread["window"] is None
    # Every article of the bundled archive is from EIRNS.
    assert client.predict(CSTO, 3, "", "", "", True, ["EIRNS"], [], api_name="/ask") == result
    nobody = client.predict(CSTO, 3, "", "", "", True, ["Nobody"], api_name="/ask")
    assert not nobody["found"] and nobody["snippets"] == []
    with pytest.raises(Exception, match="the question is empty"):
        client.predict("  ", api_name="/ask")


@pytest.mark.parametrize("route", [
    "gradio_api/file={archive_file}", "file={archive_file}", "gradio_api/file={index_file}",
    "gradio_api/file=archive/kazakhstan-category-page.txt", "gradio_api/file=README.md",
    "gradio_api/file=/etc/passwd", "gradio_api/file=../../../../etc/passwd",
    "static/..%2F..%2F..%2Fetc%2Fpasswd", "assets/..%2F..%2Farchive%2Fkazakhstan-category-page.txt",
])
def test_no_route_serves_the_archive_or_other_files(bundled, bundled_index, route):
    index_file = next(bundled_index.rglob("manifest.json"))
    archive_file = next(BUNDLED_ARCHIVE.glob("*.txt"))
    target = bundled[1] + route.format(archive_file=archive_file, index_file=index_file)
    try:
        with urllib.request.urlopen(target, timeout=10) as response:
            body, status = response.read().decode("utf-8", "replace"), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode("utf-8", "replace"), error.code
    assert status in (400, 403, 404), (status, body[:200])
    assert "Collective Security Treaty" not in body and "root:" not in body


class PixelCounter(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        PixelCounter.hits.append(self.path)
        self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def pixel_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), PixelCounter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def hostile_text(pixel: str) -> str:
    return ("The harbour council met on Tuesday to discuss the bridge repairs. "
            "<script>alert('script')</script> "
            f"<img src=\"{pixel}/img.png\" onerror=\"alert('onerror')\"> "
            "<a href=\"javascript:alert('link')\">click here</a> [more](javascript:alert('md')) "
            f"![pixel]({pixel}/pixel.png) <iframe src=\"{pixel}/frame\"></iframe> "
            "<svg onload=\"alert('svg')\"></svg> ${alert('template')} {{constructor}} "
            "zero\u200bwidth and bidi \u202eevil\u202c text.\n\n"
            "The council agreed to reopen the harbour bridge in May.")


FILLER = ("The tide tables for the week were posted at the harbour office, and the ferry ran "
          "to its usual timetable along the northern coast.")
LONG_TEXT = "\n\n".join([FILLER] * 40 + [
    "The last lighthouse keeper, Maria Okafor, retired from the Cape Wrath light in 2021."])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, real_embedder, pixel_server):
    root = tmp_path_factory.mktemp("hostile")
    record = {"id": "evil", "title": "Bridge <img src=x onerror=\"alert('title')\"> news",
              "date": "2022-05-02", "url": "javascript:alert('url')",
              "source": "<script>alert('source')</script>", "text": hostile_text(pixel_server),
              "category": "<img src=x onerror=\"alert('category')\">"}
    long = {"id": "long", "title": "Lighthouse keepers of the northern coast", "date": "2022-06-01",
            "url": "https://example.org/lighthouse", "text": LONG_TEXT}
    write(root / "archive" / "hostile.jsonl", json.dumps(record) + "\n" + json.dumps(long) + "\n")
    rebuild([root / "archive"], root / "index", real_embedder)
    app, url = launch(Assistant(root / "index", real_embedder))
    yield url, record
    app.close()


@pytest.mark.browser
def test_a_hostile_article_is_shown_as_text_and_nothing_runs_or_loads(browser, hostile,
                                                                      pixel_server, artifacts):
    url, record = hostile
    tab = Page(browser, url)
    turn = tab.ask("What did the harbour council discuss about the bridge?")
    card = turn.locator(".card").first
    assert card.locator(".headline").text_content() == record["title"]
    mark = tab.open_source(card.locator("button.cite"))
    view = tab.page.locator("#source-view .article-text")
    shown = view.text_content()
    for payload in ("<script>alert('script')</script>", "onerror=\"alert('onerror')\"",
                    "<a href=\"javascript:alert('link')\">", "](javascript:alert('md'))",
                    f"![pixel]({pixel_server}/pixel.png)", "${alert('template')}",
                    "{{constructor}}", "zero⟨U+200B⟩width", "⟨U+202E⟩evil⟨U+202C⟩"):
        assert payload in shown
    assert mark.text_content() in shown
    assert "<script>alert('source')</script>" in tab.page.locator(
        "#source-view .meta").text_content()
    tab.page.wait_for_timeout(1000)  # time for anything that would load or fire
    for selector in ("script", "img", "iframe", "svg", "a[href^='javascript']"):
        assert tab.page.locator(f"#transcript {selector}, #source-view {selector}").count() == 0
    assert tab.page.locator("a[href^='javascript']").count() == 0
    assert tab.dialogs == []
    assert PixelCounter.hits == []
    assert not [r for r in tab.requests if r.startswith(pixel_server)]
    assert_offline(tab, url)
    tab.page.screenshot(path=str(artifacts / "chat-hostile.png"), full_page=True)
    tab.context.close()


@pytest.mark.browser
def test_hostile_source_and_category_names_are_filter_choices_as_text(browser, hostile):
    url, record = hostile
    tab = Page(browser, url)
    tab.page.locator("#filters").get_by_text("Filters").first.click()
    for label, name in (("Sources", record["source"]), ("Categories", record["category"])):
        tab.page.get_by_label(label).click()
        option = tab.page.locator("li[data-testid='dropdown-option']", has_text=name)
        option.wait_for()
        assert option.text_content().replace("✓", "").strip() == name
        tab.page.keyboard.press("Escape")
    tab.page.wait_for_timeout(500)  # time for anything that would fire
    assert tab.page.locator("#filters img, #filters script").count() == 0
    assert tab.dialogs == []
    tab.context.close()


@pytest.mark.browser
def test_a_quote_deep_in_a_long_article_is_scrolled_into_view(browser, hostile):
    url, _ = hostile
    tab = Page(browser, url)
    turn = tab.ask("Who was the last lighthouse keeper at Cape Wrath?")
    button = turn.locator(".card button.cite").filter(has_text="Lighthouse keepers")
    mark = tab.open_source(button)
    assert mark.text_content() == ("The last lighthouse keeper, Maria Okafor, retired from the "
                                   "Cape Wrath light in 2021.")
    expect(mark).to_be_in_viewport()
    assert tab.page.evaluate("""() => {
        const mark = document.querySelector('#source-view mark');
        for (let box = mark.parentElement; box; box = box.parentElement)
            if (box.scrollTop > 0) return true;
        return document.scrollingElement.scrollTop > 0;
    }""")
    assert_offline(tab, url)
    tab.context.close()


WIRE = ("Engineers at the northern dam opened all twelve spillway gates on Tuesday after "
        "heavy rain raised the reservoir to a record level. Officials said towns downstream "
        "were told to expect higher water for several days. The dam operator said the "
        "structure was sound and inspections would continue through the week. Farmers near "
        "the river moved livestock to higher ground as a precaution.")
SYNDICATED = [  # one wire story run by two outlets a day apart, then the wire's follow-up
    {"id": "wire-1", "title": "Dam opens spillway gates after record rain", "date": "2022-03-02",
     "source": "Northern Wire", "url": "https://example.org/wire-1", "text": WIRE},
    {"id": "paper-1", "title": "Record rain: valley dam opens all twelve gates",
     "date": "2022-03-03", "source": "Valley <b>Post</b>", "url": "javascript:alert('copy')",
     "text": WIRE},
    {"id": "update-1", "title": "Dam spillway gates closed as reservoir falls",
     "date": "2022-03-09", "source": "Northern Wire", "text": "The northern dam closed its "
     "spillway gates on Wednesday as the reservoir fell back below its record level. Engineers "
     "said inspections of the structure found no damage, and towns downstream lifted their "
     "flood warnings."},
    {"id": "parks-1", "title": "River parks open to the public", "date": "2022-06-20",
     "source": "Valley Post", "text": "The new river parks opened to the public on Saturday "
     "with paths along the river and a playground paid for by the council."},
]


@pytest.fixture(scope="module")
def syndicated(tmp_path_factory, real_embedder):
    root = tmp_path_factory.mktemp("syndicated")
    write(root / "archive" / "news.jsonl", "".join(json.dumps(r) + "\n" for r in SYNDICATED))
    rebuild([root / "archive"], root / "index", real_embedder)
    assistant = Assistant(root / "index", real_embedder)
    app, url = launch(assistant)
    yield assistant, url
    app.close()


@pytest.mark.browser
def test_a_syndicated_story_is_quoted_once_with_its_copies_and_newer_coverage(
        browser, syndicated, artifacts):
    assistant, url = syndicated
    question = "How many spillway gates did the dam open?"
    expected = assistant.ask(question)
    top = expected.snippets[0]
    assert top.article_id in ("wire-1", "paper-1") and len(top.also_in) == 1
    assert "update-1" in [n.article_id for n in expected.newer]
    copy = next(r for r in SYNDICATED if r["id"] == top.also_in[0].article_id)
    update = SYNDICATED[2]
    tab = Page(browser, url)
    turn = tab.ask(question)
    quotes = turn.locator("blockquote.quote").all_text_contents()
    assert quotes.count(top.quote) == 1  # the copy's identical quote is not repeated
    card = turn.locator(".card").first
    also = card.locator("details.also-in")
    assert also.locator("summary").inner_text() == "Also in 1 article"
    also.locator("summary").click()
    assert also.locator("li .headline").inner_text() == copy["title"]
    assert also.locator("li .meta").inner_text() == f"{copy['date']} · {copy['source']}" \
        " · javascript:alert('copy')"
    assert also.locator("a").count() == 0  # not an http(s) link: shown as text

    newer = turn.locator("p.newer")
    assert newer.inner_text().startswith(("A newer article on this story exists:",
                                          "Newer articles on this story exist:"))
    assert f"{update['title']} ({update['date']}, {update['source']})" in newer.inner_text()
    tab.page.screenshot(path=str(artifacts / "chat-syndicated.png"))
    view = tab.open_article(newer.get_by_role("button", name=update["title"]), update["title"])
    assert view.locator(".source-label").inner_text().lower().startswith("newer coverage")
    assert view.locator(".article-text").text_content() == update["text"]
    assert view.locator("mark").count() == 0

    view = tab.open_article(also.locator("button.cite"), copy["title"])
    assert view.locator("mark.quote-highlight").text_content() == top.quote
    expect(view.locator("mark.quote-highlight")).to_be_in_viewport()
    tab.page.screenshot(path=str(artifacts / "chat-syndicated-copy.png"))
    assert not tab.dialogs and tab.page.locator("a[href^='javascript']").count() == 0
    assert_offline(tab, url)
    tab.context.close()
