"""The command line in-process, end to end with the real model on the bundled archive."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import sys

import pytest

from assistant.ask_text import choices
from assistant.cli import main
from conftest import BUNDLED_ARCHIVE

pytestmark = pytest.mark.slow


def ask_json(capsys, index_dir, *args):
    assert main(["ask", *args, "--index", str(index_dir), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object
    return json.loads(out)


def test_index_command_prints_one_summary_line(tmp_path, capsys):
    assert main(["index", "--archive", "archive", "--index", str(tmp_path / "ix")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("indexed 5 articles,") and "0 skipped" in out[0]


def test_index_stopped_by_ctrl_c_keeps_its_vectors_for_the_next_run(tmp_path, capsys,
                                                                    monkeypatch):
    from assistant.embed import Embedder

    embed, calls = Embedder.embed, []

    def embed_then_stop(self, texts):
        calls.append(texts)
        if len(calls) == 2:  # the chunks are embedded, the sentences not
            raise KeyboardInterrupt
        return embed(self, texts)

    monkeypatch.setattr(Embedder, "embed", embed_then_stop)
    command = ["index", "--archive", "archive", "--index", str(tmp_path / "ix")]
    assert main(command) == 130
    assert "interrupted (the vectors embedded so far are kept: run it again to go on)" in \
        capsys.readouterr().err
    monkeypatch.setattr(Embedder, "embed", embed)
    assert main(command) == 0
    assert "12 chunks (0 embedded, 12 reused)" in capsys.readouterr().out


def test_csto_secretary_general_is_quoted_from_the_right_article(capsys, bundled_index):
    result = ask_json(capsys, bundled_index, "Who is the Secretary-General of the CSTO?")
    assert result["found"] is True
    top = result["snippets"][0]
    assert "Stanislav Zas" in top["quote"]
    assert top["date"] == "2021-09-16" and top["source"] == "EIRNS"
    assert top["title"] == "Afghanistan’s Neighbors Move to Secure Borders and Counter Terrorism"


@pytest.mark.parametrize("question", [
    "What is the best recipe for sourdough pizza?",
    "Who won the football World Cup final?",
    "How do I reset my router password?",
])
def test_off_topic_questions_are_declined(capsys, bundled_index, question):
    result = ask_json(capsys, bundled_index, question)
    assert (result["question"], result["found"], result["snippets"]) == (question, False, [])


@pytest.mark.parametrize("question, needle, date", [
    ("Where did the Central Asian heads of state meet in August?", "Avaza", "2021-08-06"),
    ("How many applications to join the SCO were received?", "11 applications", "2022-09-28"),
    ("Where was the first Eurasian Economic Forum held?", "Bishkek", "2022-05-26"),
])
def test_answers_on_the_bundled_archive(capsys, bundled_index, question, needle, date):
    result = ask_json(capsys, bundled_index, question)
    assert result["found"] and needle in result["snippets"][0]["quote"]
    assert result["snippets"][0]["date"] == date


def test_as_of_excludes_later_articles(capsys, bundled_index):
    result = ask_json(capsys, bundled_index, "SCO summit membership", "--as-of", "2021-12-31", "-k", "5")
    assert all(s["date"] <= "2021-12-31" for s in result["snippets"])


def error_line(capsys, args) -> str:
    """The one line `main(args)` printed on stderr, having exited 1 without a traceback."""
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_source_and_category_flags_match_the_index_names_in_any_case(capsys, bundled_index):
    question = "Who is the Secretary-General of the CSTO?"
    everything = ask_json(capsys, bundled_index, question)
    assert ask_json(capsys, bundled_index, question, "--source", "EIRNS", "--source",
                    "eirns", "--category", "kazakhSTAN") == everything  # all are these


@pytest.mark.parametrize("flag, known", [("--source", "EIRNS"), ("--category", "Kazakhstan")])
def test_a_source_or_category_no_article_has_is_refused_naming_the_known_ones(
        capsys, bundled_index, flag, known):
    err = error_line(capsys, ["ask", "q", "--index", str(bundled_index), "--source", "EIRNS",
                              flag, "Nobody"])
    assert f"{flag} 'Nobody'" in err and err.strip().endswith(f": {known}")


def test_a_long_list_of_known_names_is_cut_to_the_first_ten_and_a_count():
    listed = choices([f"s{n:02}" for n in range(25)], "--source", "sources")
    assert listed == ("give one of the index's 25 sources: "
                      + ", ".join(f"s{n:02}" for n in range(10)) + " (and 15 more)")


@pytest.mark.parametrize("end", ["--until", "--as-of"])
def test_a_date_window_ending_before_it_starts_is_refused(capsys, bundled_index, end):
    err = error_line(capsys, ["ask", "q", "--index", str(bundled_index),
                              "--since", "2022-05-01", end, "2022-04-30"])
    assert f"--since 2022-05-01 is after {end} 2022-04-30" in err


def test_plain_output_numbers_quotes_and_sources(capsys, bundled_index):
    assert main(["ask", "Who is the Secretary-General of the CSTO?", "--index", str(bundled_index)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1] “") and "Stanislav Zas" in out and "— 2021-09-16, EIRNS" in out


def test_output_to_a_reader_that_has_gone_is_no_traceback(bundled_index):
    """`assistant ask ... | head -1`: the pipe closes before the answer is written."""
    ask = subprocess.Popen([sys.executable, "-c", "import sys; from assistant.cli import main; "
                            "sys.exit(main(sys.argv[1:]))", "ask", "Who leads the CSTO?",
                            "--index", str(bundled_index)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ask.stdout.close()
    err = ask.stderr.read()
    assert ask.wait(timeout=120) == 0 and "Traceback" not in err, err


def test_plain_output_says_when_the_dates_asked_matched_nothing(capsys, bundled_index):
    """The bundled archive has no article of March 2022: every date is searched, and said."""
    question = "Who is the Secretary-General of the CSTO in March 2022?"
    assert main(["ask", question, "--index", str(bundled_index)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Dates: nothing dated 2022-03-01 to 2022-03-31 matched (read from "
                          "“in March 2022”): every date searched\n")
    assert "Stanislav Zas" in out


@pytest.mark.parametrize("args, message", [
    (["ask", "   "], "question is empty"),
    (["ask", "anything", "--index", "/nonexistent/ix"], "assistant index --index"),
    (["index", "--archive", "/nonexistent/archive"], "archive path not found"),
    (["index", "--check", "--archive", "archive"], "leave out --archive"),
    (["serve", "--index", "/nonexistent/ix", "--archive", "/nonexistent/archive", "--port",
      str(free_port())], "archive path not found"),
])
def test_fixable_errors_are_one_line_and_exit_1(capsys, args, message):
    assert message in error_line(capsys, args)


@pytest.mark.parametrize("args, message", [
    (["ask", "   "], "question is empty"),
    (["ask", "anything", "--index", "/nonexistent/ix"], "assistant index --index"),
    (["eval", "--corpus", "/nonexistent/c.jsonl", "--questions", "/nonexistent/q.jsonl"],
     "/nonexistent/"),
])
def test_with_json_a_fixable_error_is_also_one_json_object_on_stdout(capsys, args, message):
    assert main([*args, "--json"]) == 1
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and message in json.loads(out)["error"]
    assert err == f"error: {json.loads(out)['error']}\n"


@pytest.mark.parametrize("command", [["index", "--archive", "archive"], ["index", "--check"],
                                     ["ask", "q"], ["serve", "--port", str(free_port())]])
@pytest.mark.parametrize("index", ["afile", "afile/sub"])
def test_an_index_path_that_is_a_file_is_refused(capsys, tmp_path, command, index):
    (tmp_path / "afile").write_text("hi\n")
    err = error_line(capsys, [*command, "--index", str(tmp_path / index)])
    assert f"{tmp_path / index} is not a folder: give --index a folder" in err
    assert (tmp_path / "afile").read_text() == "hi\n"


def damage_current(index_dir, damage: str) -> None:
    current = index_dir / "CURRENT"
    if damage == "folder":
        current.unlink()
        current.mkdir()
    elif damage == "bytes":
        current.write_bytes(b"\xff\xfe\x00")
    else:
        current.write_text("v-20200101T000000-abcdef\n")


@pytest.mark.parametrize("command", [["index", "--check"], ["ask", "q"],
                                     ["serve", "--port", str(free_port())]])
@pytest.mark.parametrize("damage, message", [
    ("bytes", "CURRENT is not UTF-8 text: rebuild it with `assistant index --archive"),
    ("folder", "CURRENT is a folder, not a version's name: remove it, then rebuild it with "
               "`assistant index --archive"),
    ("missing", "CURRENT names a missing version 'v-20200101T000000-abcdef': rebuild it "
                "with `assistant index --archive"),
])
def test_a_damaged_current_file_is_refused_with_the_fix(capsys, tmp_path, bundled_index,
                                                        command, damage, message):
    """The fix names the archive the index's versions record (the default archive/ is
    relative to the folder the command runs in)."""
    index_dir = shutil.copytree(bundled_index, tmp_path / "ix")
    damage_current(index_dir, damage)
    err = error_line(capsys, [*command, "--index", str(index_dir)])
    archive = shlex.quote(str(BUNDLED_ARCHIVE))
    assert message in err and f"--archive {archive} --index {index_dir}`" in err


def test_with_no_readable_version_the_fix_says_to_name_the_archive(capsys, tmp_path,
                                                                   bundled_index):
    index_dir = shutil.copytree(bundled_index, tmp_path / "ix")
    for manifest in index_dir.glob("v-*/manifest.json"):
        manifest.write_text("{")
    damage_current(index_dir, "bytes")
    assert error_line(capsys, ["ask", "q", "--index", str(index_dir)]).rstrip().endswith(
        f"rebuild it with `assistant index --index {index_dir}` (and --archive, unless the "
        "archive is archive/ in the current folder)")


def test_the_fix_for_an_undecodable_current_file_works(capsys, tmp_path, bundled_index):
    index_dir = shutil.copytree(bundled_index, tmp_path / "ix")
    damage_current(index_dir, "bytes")
    assert main(["index", "--archive", "archive", "--index", str(index_dir)]) == 0
    assert main(["index", "--check", "--index", str(index_dir)]) == 0
    assert capsys.readouterr().out.count("\n") == 2


def test_a_rebuild_refuses_a_current_folder_before_building(capsys, tmp_path, bundled_index):
    index_dir = shutil.copytree(bundled_index, tmp_path / "ix")
    damage_current(index_dir, "folder")
    assert "remove it" in error_line(capsys, ["index", "--archive", "archive", "--index",
                                              str(index_dir)])
    assert sorted(p.name for p in index_dir.iterdir()) == sorted(
        p.name for p in bundled_index.iterdir())  # no version was built


def test_serve_names_a_port_in_use(capsys, bundled_index):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = error_line(capsys, ["serve", "--index", str(bundled_index), "--port", str(port)])
    assert f"port {port} is in use on 127.0.0.1: pick another with --port" in err


@pytest.mark.parametrize("host", ["999.1.1.1", "example.invalid"])
def test_serve_names_a_host_it_cannot_listen_on(capsys, bundled_index, host):
    err = error_line(capsys, ["serve", "--index", str(bundled_index), "--host", host,
                              "--port", str(free_port())])
    assert f"cannot listen on host '{host}'" in err and "give --host" in err


@pytest.mark.parametrize("port", ["99999", "-5", "0", "65536"])
def test_serve_refuses_a_port_outside_1_to_65535(capsys, bundled_index, port):
    with pytest.raises(SystemExit) as exit:
        main(["serve", "--index", str(bundled_index), "--port", port])
    assert exit.value.code == 2
    assert f"'{port}' is not a port number from 1 to 65535" in capsys.readouterr().err


HOSTILE = {"id": "h1", "title": "Lamp\x1b[2J\x1b]0;owned\x07 news", "date": "2022-03-01",
           "source": "Gazette\u202e", "url": "https://example.org/lamp",
           "text": "The lighthouse keeper\x00 Mira Olsen repaired the \u2066lighthouse\u2069 "
                   "lamp\x9b6n on \u202eTuesday. The lamp shines again over the harbour."}
# What a terminal acts on (C0 but newline and tab, DEL, C1) and the bidi controls.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_plain_output_shows_control_and_bidi_characters_as_marks(capsys, tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "h.jsonl").write_text(json.dumps(HOSTILE) + "\n")
    index_dir = str(tmp_path / "ix")
    assert main(["index", "--archive", str(tmp_path / "archive"), "--index", index_dir]) == 0
    question = ["ask", "Who repaired the lighthouse lamp?", "--index", index_dir]
    assert main(question) == 0
    out = capsys.readouterr().out
    assert not UNSAFE.search(out)
    assert "Lamp⟨U+001B⟩[2J⟨U+001B⟩]0;owned⟨U+0007⟩ news" in out
    assert ("keeper⟨U+0000⟩ Mira Olsen repaired the ⟨U+2066⟩lighthouse⟨U+2069⟩ "
            "lamp⟨U+009B⟩6n on ⟨U+202E⟩Tuesday") in out
    snippet = ask_json(capsys, index_dir, *question[1:2])["snippets"][0]
    assert (snippet["title"], snippet["source"]) == (HOSTILE["title"], HOSTILE["source"])
    assert snippet["quote"] in HOSTILE["text"] and "\x00" in snippet["quote"]  # as it is


def test_timeline_lists_the_sco_meetings_in_date_order(capsys, bundled_index):
    result = ask_json(capsys, bundled_index, "What happened with the SCO?")
    assert result["timeline"] is True and result["found"]
    dates = [s["date"] for s in result["snippets"]]
    assert dates == sorted(dates) and {"2021-09-16", "2022-09-28"} <= set(dates)
    assert any("Dushanbe" in s["quote"] for s in result["snippets"])
    assert all("SCO" in s["quote"] or "Shanghai Cooperation" in s["quote"]
               for s in result["snippets"])


def test_dates_in_words_narrow_the_search_and_are_reported(capsys, bundled_index):
    result = ask_json(capsys, bundled_index, "What happened in May 2022?")
    assert result["window"]["since"] == "2022-05-01" and result["window"]["until"] == "2022-05-31"
    assert result["window"]["phrase"] == "in May 2022" and result["searched"] == "What happened?"
    assert [s["date"] for s in result["snippets"]] == ["2022-05-26"]
    scoped = ask_json(capsys, bundled_index, "Which leaders met in Dushanbe in September 2021?")
    assert scoped["found"] and all(s["date"].startswith("2021-09") for s in scoped["snippets"])
