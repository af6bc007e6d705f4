"""Reading archives: the bundled page, each format, and bad files beside good ones."""
from __future__ import annotations

import json

from assistant.archive import read_archive
from assistant.formats import read_page

from conftest import BUNDLED_ARCHIVE, write

EXPECTED = [
    ("SCO Foreign Ministers Debate Regional Challenges, Expanded Membership", "2022-09-28", False),
    ("First Eurasian Economic Forum Took Place in Kyrgyzstan May 26", "2022-05-26", False),
    ("SCO Opens in Tajikistan: Pakistan’s Imran Khan Calls for Replacing Geo-politics With "
     "Geo-economics", "2021-09-16", False),
    ("Afghanistan’s Neighbors Move to Secure Borders and Counter Terrorism", "2021-09-16", False),
    ("Central Asian Heads of State Meet in Turkmenistan on Energy, Transit Corridors and "
     "Fighting the Pandemic", "2021-08-06", True),
]


def test_bundled_page_gives_five_articles_with_headlines_dates_source_category():
    articles, problems = read_archive([BUNDLED_ARCHIVE])
    assert problems == []
    assert [(a.title, a.date, a.date_inferred) for a in articles] == EXPECTED
    assert {a.source for a in articles} == {"EIRNS"}
    assert {a.category for a in articles} == {"Kazakhstan"}
    assert len({a.id for a in articles}) == 5


def test_bundled_page_text_drops_navigation_dateline_and_repeated_headline():
    articles, _ = read_archive([BUNDLED_ARCHIVE])
    first, avaza = articles[0], articles[4]
    assert first.text.startswith("Foreign Ministers of the Shanghai Cooperation Organization")
    assert "Top Left Link Buttons" not in first.text and "Category Archives" not in first.text
    assert first.text.endswith("Dialogue partners are Azerbaijan, Armenia, Cambodia, Nepal, "
                               "Turkey, and Sri Lanka.")
    assert avaza.text.startswith("Today the Third Consultative Meeting")
    assert avaza.title not in avaza.text
    assert all(a.title not in b.text for a in articles for b in articles)


def test_article_ids_do_not_depend_on_how_the_path_is_given(monkeypatch):
    absolute, _ = read_archive([BUNDLED_ARCHIVE])
    monkeypatch.chdir(BUNDLED_ARCHIVE.parent)
    relative, _ = read_archive(["archive"])
    assert [a.id for a in absolute] == [a.id for a in relative]


def test_dateline_forms_and_year_inferred_from_older_neighbour():
    page = ("Site nav\n\nCategory Archives\n\nHeadline one\n\nJune 3 (XNA)—Newest, no year.\n\n"
            "Headline two\n\nDec 30, 2021 (XNA) – Older, short month, spaced dash.\n\n"
            "Headline three\n\nSeptember 1, 2021 (XNA)-Oldest, full month.\n")
    articles = read_page(page, "p.txt", "p.txt")
    assert [(a.date, a.date_inferred) for a in articles] == [
        ("2022-06-03", True), ("2021-12-30", False), ("2021-09-01", False)]
    assert articles[0].text == "Newest, no year."


def test_each_format_is_read_and_bad_files_are_reported_and_skipped(tmp_path, small_archive):
    write(small_archive / "broken.jsonl",
          '{"id": "ok1", "title": "Good line", "date": null, "text": "A fine article."}\n'
          '{"id": "bad", "title": \n'
          '{"id": "notext", "title": "No text"}\n')
    write(small_archive / "latin1.txt", "Caf\xe9 news\n\nDéjà vu.".encode("latin-1"))
    write(small_archive / "empty.md", "")
    write(small_archive / "scripts.html", "<html><script>x()</script><style>p{}</style></html>")
    write(small_archive / "blob.txt", b"\x00\x01\x02binary")
    articles, problems = read_archive([small_archive])
    titles = {a.title for a in articles}
    assert titles == {"Harbour Bridge Reopens", "Wheat harvest breaks record",
                      "Choir wins national prize", "Good line"}
    reported = {(p.path.split("/")[-1], p.line) for p in problems}
    assert reported == {("broken.jsonl", 2), ("broken.jsonl", 3), ("latin1.txt", None),
                        ("empty.md", None), ("scripts.html", None), ("blob.txt", None)}
    assert all(str(small_archive) in str(p) for p in problems)


def test_plain_text_header_lines_and_html_paragraphs(small_archive):
    articles = {a.title: a for a in read_archive([small_archive])[0]}
    bridge = articles["Harbour Bridge Reopens"]
    assert (bridge.date, bridge.source) == ("2022-03-01", "Gazette")
    assert bridge.text.startswith("The harbour bridge reopened")
    choir = articles["Choir wins national prize"]
    assert choir.text == ("The town choir won the national prize in Leeds.\n\n"
                          "Its conductor, Sam Reed, thanked the singers.")
    wheat = articles["Wheat harvest breaks record"]
    assert (wheat.id, wheat.url, wheat.date) == ("b1", "https://example.org/wheat", "2022-07-15")


def test_jsonl_rejects_a_malformed_date_but_keeps_the_file(tmp_path):
    path = write(tmp_path / "x.jsonl", "\n".join(json.dumps(r) for r in [
        {"id": "1", "title": "t", "date": "Sept 2022", "text": "body"},
        {"id": "2", "title": "t", "date": "2022-09-01", "text": "body"}]))
    articles, problems = read_archive([path])
    assert [a.id for a in articles] == ["2"]
    assert [(p.line, "date" in p.reason) for p in problems] == [(1, True)]
