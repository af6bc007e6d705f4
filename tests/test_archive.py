"""Reading archives: the bundled page, each format, and bad files beside good ones."""
from __future__ import annotations

import json

import pytest

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
    articles, notes = read_page(page, "p.txt", "p.txt")
    assert notes == []
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


@pytest.mark.parametrize("written, read", [
    ("2022-09-01", "2022-09-01"), ("2022-09-01T23:30:00-05:00", "2022-09-01"),
    ("2022-09-01 10:00", "2022-09-01"), ("September 1, 2022", "2022-09-01"),
    ("Thu, 1 Sep 2022 10:00:00 +0000", "2022-09-01"), ("Sept 2022", None), ("2022-02-30", None),
    ("2022-13-45", None), ("0000-01-01", None), ("2022-09-011", None), ("01/09/2022", None),
    ("Smarch 1, 2022", None), (20220901, None)])
def test_a_date_is_read_in_every_format_alike_and_one_not_on_the_calendar_is_noted(
        tmp_path, written, read):
    """The article is kept either way: undated, with a note naming the file (and line)."""
    pages = {"x.jsonl": json.dumps({"id": "1", "title": "t", "date": written, "text": "body"}),
             "x.txt": f"Headline\nDate: {written}\n\nBody.",
             "x.html": f'<html><head><meta name="date" content="{written}"></head><body>'
                       '<h1>Headline</h1><p>Body.</p></body></html>'}
    for name, content in pages.items():
        if name != "x.jsonl" and not isinstance(written, str):
            continue
        articles, problems = read_archive([write(tmp_path / name, content)])
        assert [a.date for a in articles] == [read], name
        assert [(p.path, p.skipped, "indexed undated" in p.reason) for p in problems] == \
            ([] if read else [(str(tmp_path / name), False, True)]), name


def test_a_dateline_not_on_the_calendar_leaves_its_article_undated_and_noted():
    page = ("Category Archives\n\nHeadline one\n\nFeb. 30, 2022 (XNA)—Not a day.\n\n"
            "Headline two\n\nSept. 28, 2022 (XNA)—A day.\n")
    articles, notes = read_page(page, "p.txt", "p.txt")
    assert [(a.title, a.date) for a in articles] == [("Headline one", None),
                                                    ("Headline two", "2022-09-28")]
    assert [(n.path, n.skipped) for n in notes] == [("p.txt", False)]
    assert "'Feb. 30, 2022'" in notes[0].reason


def test_an_unpaired_surrogate_escape_becomes_a_replacement_character_with_a_note(tmp_path):
    path = write(tmp_path / "x.jsonl", '{"id": "s\\udc00", "title": "S", "text": "Lone \\ud800 '
                 'here. Ole Berg retired."}\n{"id": "pair", "text": "A pair \\ud83d\\ude00 is fine."}\n')
    articles, problems = read_archive([path])
    assert [(a.id, a.text) for a in articles] == [
        ("s\ufffd", "Lone \ufffd here. Ole Berg retired."), ("pair", "A pair \U0001F600 is fine.")]
    assert [(p.line, p.skipped) for p in problems] == [(1, False)]
    assert all(a.text.encode("utf-8") and a.id.encode("utf-8") for a in articles)


def test_files_of_other_kinds_in_a_folder_are_counted_in_one_note(tmp_path, small_archive):
    for name in ("notes.json", "style.css", "logo.png", "sub/more.json"):
        write(small_archive / name, "{}")
    write(small_archive / "README", "About this archive\n\nIt holds three articles.")
    articles, problems = read_archive([small_archive])
    assert len(articles) == 3
    assert [(p.path, p.skipped) for p in problems] == [(str(small_archive), False)]
    assert "5 files of other kinds not read (.css 1, .json 2, .png 1, no suffix 1)" in \
        problems[0].reason
    assert read_archive([small_archive / "README"])[0], "a file named directly is read as text"


def test_a_utf16_file_with_its_byte_order_mark_is_read_and_a_blank_text_named(tmp_path):
    """Windows saves text as UTF-16; its zero bytes are not a binary file's."""
    write(tmp_path / "a.txt", "Café opens\n\nA café opened by the harbour.".encode("utf-16"))
    write(tmp_path / "b.jsonl", '{"id": "n", "text": 12345}\n{"id": "b", "text": "  "}\n')
    articles, problems = read_archive([tmp_path])
    assert [(a.title, a.text) for a in articles] == [("Café opens", "A café opened by the harbour.")]
    assert [p.reason for p in problems] == [
        "bad JSON line: 'text' must be a string that is not blank, not 12345",
        "bad JSON line: 'text' must be a string that is not blank, not '  '"]


def test_an_empty_date_in_a_json_line_is_no_date_and_no_note(tmp_path):
    path = write(tmp_path / "x.jsonl", '{"id": "1", "date": "", "text": "body"}\n')
    articles, problems = read_archive([path])
    assert [(a.id, a.date) for a in articles] == [("1", None)] and problems == []


def test_a_json_list_of_categories_is_read_as_words_not_as_python(tmp_path):
    path = write(tmp_path / "x.jsonl", '{"id": "1", "text": "body", "category": ["Asia", '
                 '"Trade", null], "source": ["Wire"]}\n{"id": "2", "text": "b", "category": []}\n')
    articles, _ = read_archive([path])
    assert [(a.category, a.source) for a in articles] == [("Asia, Trade", "Wire"), (None, None)]
