"""Hostile archives lose nothing: every bad file is reported by path (and line), every good
article is indexed, duplicate ids are renamed deterministically and reported, a date that
cannot be read leaves its article undated with a note, and a 50 MB article is indexed
within bounded memory."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from assistant import store
from assistant.archive import MAX_FILE_BYTES, read_archive
from assistant.cli import main
from assistant.index import load_index

from conftest import HASH_DIM, FakeEmbedder, HashEmbedder, write

ROOT = Path(__file__).resolve().parent.parent
HUGE_MB = 50
SENTENCE = "The committee met on day {} to discuss the harbour budget and its many delays. "
# Measured for the 50 MB article: 2.2 GB to read, chunk, embed (32 dimensions) and write it
# and its sentences, most of it the near-duplicate check (dedup.py holds all its words and
# shingles at once).
PEAK_RSS_LIMIT_MB = 3000

GOOD_TITLES = {"Harbour Bridge Reopens", "Wheat harvest breaks record", "Choir wins national prize",
               "Fine line", "Same id, first", "Same id, second", "Same id, third",
               "Second b1", "Café opens", "Odd date",
               "Leap question"}
SKIPPED = {  # file name, line -> words the report must hold
    ("bad-utf8.txt", None): "UTF-8", ("binary.txt", None): "binary",
    ("empty.txt", None): "no article", ("blank.md", None): "no article",
    ("scripts.html", None): "no article", ("too-big.txt", None): "larger than",
    ("dangling.txt", None): "cannot be read", ("broken.jsonl", 2): "bad JSON",
    ("broken.jsonl", 3): "expected a JSON object", ("broken.jsonl", 4): "no 'text'",
    ("broken.jsonl", 7): "bad JSON",
}
RENAMED = {("dup.jsonl", 2): "same~2", ("dup2.jsonl", 1): "same~3", ("dup2.jsonl", 2): "b1~2"}
UNDATED = {("broken.jsonl", 5), ("feb30.txt", None)}  # its article is indexed without a date


def record(**fields) -> str:
    return json.dumps(fields, ensure_ascii=False) + "\n"


def hostile_archive(root: Path, small_archive: Path, huge: bool = False) -> Path:
    """The three good articles of `small_archive` beside every kind of bad file."""
    for path in small_archive.rglob("*"):
        if path.is_file():
            write(root / path.relative_to(small_archive), path.read_bytes())
    write(root / "bad-utf8.txt", b"Caf\xe9 news\n\nLatin-1 bytes \xe9\xe8 are not UTF-8.")
    write(root / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 64)
    write(root / "empty.txt", b"")
    write(root / "blank.md", "  \n\n\t\n")
    write(root / "scripts.html", "<html><head><script>steal()</script></head><body><script>"
          "more()</script><style>p{}</style><noscript>Enable JS</noscript></body></html>")
    write(root / "cafe.txt", "Café opens\n\nA café opened in the old harbour station. ☕ 咖啡.")
    write(root / "feb30.txt", "Leap question\nDate: 2022-02-30\n\nA day that never was.")
    with open(root / "too-big.txt", "wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_FILE_BYTES + 1)
    os.symlink(root / "no-such-file.txt", root / "dangling.txt")
    write(root / "broken.jsonl", "".join([
        record(id="ok1", title="Fine line", date=None, text="A fine article about the port."),
        '{"id": "bad", "title": \n', "[1, 2, 3]\n", record(id="notext", title="No text"),
        record(id="d", title="Odd date", date="Sept 2022", text="Bad date."), "\n",
        '{"id": "cut", "title": "Truncated', ]))
    write(root / "dup.jsonl", record(id="same", title="Same id, first", text="First of three.")
          + record(id="same", title="Same id, second", text="Second of three."))
    write(root / "dup2.jsonl", record(id="same", title="Same id, third", text="Third of three.")
          + record(id="b1", title="Second b1", text="Another article that claims id b1."))
    if huge:
        write_huge_article(root / "huge.txt")
    return root


def write_huge_article(path: Path) -> int:
    """A valid plain-text article of HUGE_MB megabytes; returns its text length."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("A very long report\nDate: 2022-01-01\n\n")
        size, day = 0, 0
        while size < HUGE_MB * 2**20:
            paragraph = "".join(SENTENCE.format(day + i) for i in range(40)).strip()
            handle.write(paragraph + "\n\n")
            size, day = size + len(paragraph) + 2, day + 40
    return size


def by_file(problems) -> dict:
    return {(Path(p.path).name, p.line): p for p in problems}


def test_every_bad_file_is_reported_and_every_good_article_read(tmp_path, small_archive):
    root = hostile_archive(tmp_path / "hostile", small_archive)
    articles, problems = read_archive([root])
    assert {a.title for a in articles} == GOOD_TITLES
    skipped = by_file(p for p in problems if p.skipped)
    assert set(skipped) == set(SKIPPED)
    for where, words in SKIPPED.items():
        assert words in skipped[where].reason and str(root) in skipped[where].path, where
    notes = by_file(p for p in problems if not p.skipped)
    assert {where for where, p in notes.items() if "indexed undated" in p.reason} == UNDATED
    renamed = {where: p for where, p in notes.items() if where not in UNDATED}
    assert {where: p.reason.split()[-1].strip("'") for where, p in renamed.items()} == RENAMED
    assert "first at" in renamed[("dup2.jsonl", 2)].reason and "b.jsonl:1" in \
        renamed[("dup2.jsonl", 2)].reason


def test_duplicate_ids_are_resolved_the_same_way_every_time(tmp_path, small_archive):
    root = hostile_archive(tmp_path / "hostile", small_archive)
    first = {a.title: a.id for a in read_archive([root])[0]}
    again = {a.title: a.id for a in read_archive([root])[0]}
    assert first == again
    assert (first["Same id, first"], first["Same id, second"], first["Same id, third"],
            first["Wheat harvest breaks record"], first["Second b1"]) == \
        ("same", "same~2", "same~3", "b1", "b1~2")
    assert len(set(first.values())) == len(first)


def test_index_command_reports_each_problem_and_counts_both(tmp_path, small_archive, capsys,
                                                            monkeypatch):
    monkeypatch.setattr("assistant.embed.Embedder", lambda *args, **kwargs: FakeEmbedder())
    root = hostile_archive(tmp_path / "hostile", small_archive)
    assert main(["index", "--archive", str(root), "--index", str(tmp_path / "index")]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith(f"indexed {len(GOOD_TITLES)} articles,")
    assert f"{len(SKIPPED)} skipped, {len(RENAMED) + len(UNDATED)} notes" in out
    lines = err.splitlines()
    assert len([n for n in lines if n.startswith("skipped ")]) == len(SKIPPED)
    assert len([n for n in lines if n.startswith("note: ")]) == len(RENAMED) + len(UNDATED)
    assert f"{root / 'broken.jsonl'}:7: bad JSON" in err
    assert main(["index", "--check", "--index", str(tmp_path / "index")]) == 0
    assert capsys.readouterr().out.startswith("ok: v-")


DRIVER = f"""
import json, resource, sys
from pathlib import Path

from assistant.bench_rebuild import TextHashEmbedder
from assistant.build import rebuild

summary = rebuild([Path(sys.argv[1])], Path(sys.argv[2]), TextHashEmbedder(dim={HASH_DIM}))
print(json.dumps({{"line": summary.line(), "problems": len(summary.problems),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def test_a_50_mb_article_is_indexed_in_bounded_memory_beside_the_bad_files(tmp_path,
                                                                            small_archive):
    root = hostile_archive(tmp_path / "hostile", small_archive, huge=True)
    assert (root / "huge.txt").stat().st_size >= HUGE_MB * 2**20
    driver = write(tmp_path / "driver.py", DRIVER)
    done = subprocess.run([sys.executable, str(driver), str(root), str(tmp_path / "index")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(f"\n50 MB article: {report['line']}, peak {report['peak_mb']:.0f} MB")
    assert report["peak_mb"] < PEAK_RSS_LIMIT_MB
    assert report["problems"] == len(SKIPPED) + len(RENAMED) + len(UNDATED)
    data = load_index(store.current_version(tmp_path / "index"), HashEmbedder.name,
                      HashEmbedder.fingerprint)
    huge = next(a for a in data.articles if a.title == "A very long report")
    assert len(huge.text) >= HUGE_MB * 2**20 - 100 and huge.text.endswith("many delays.")
    assert {a.title for a in data.articles} == GOOD_TITLES | {huge.title}
    assert data.manifest["counts"]["skipped"] == len(SKIPPED)


def test_no_pickle_anywhere_and_gradio_at_a_fixed_release():
    """An index file is input too: nothing is ever unpickled, so none can run code."""
    import re
    import tomllib
    from importlib.metadata import version

    for path in sorted((ROOT / "assistant").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(pickle|cPickle|dill|joblib)\b|torch\.load\(",
                             source, re.M), path.name
        for call in re.findall(r"\b(?:np|BM25)\.load\(.*", source):  # the line of each call
            assert "allow_pickle=False" in call, (path.name, call)
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in dependencies if d.startswith("gradio"))
    assert re.fullmatch(r"gradio>=(\d+)\.(\d+).*", pin)
    assert tuple(map(int, re.findall(r"\d+", pin)[:2])) >= (6, 16)
    assert tuple(map(int, version("gradio").split(".")[:2])) >= (6, 16)


def test_an_index_folder_inside_the_archive_is_not_read_as_articles(tmp_path, small_archive,
                                                                     capsys, monkeypatch):
    monkeypatch.setattr("assistant.embed.Embedder", lambda *args, **kwargs: FakeEmbedder())
    inside = small_archive / "index"
    for _ in range(2):
        assert main(["index", "--archive", str(small_archive), "--index", str(inside)]) == 0
        assert capsys.readouterr().out.startswith("indexed 3 articles,")
    assert main(["index", "--archive", str(small_archive), "--index", str(small_archive)]) == 1
    assert "inside the index folder" in capsys.readouterr().err


def test_when_no_article_is_read_each_reason_is_given(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("assistant.embed.Embedder", lambda *args, **kwargs: FakeEmbedder())
    write(tmp_path / "bad" / "latin1.txt", "Caf\xe9 news\n\nDéjà vu.".encode("latin-1"))
    write(tmp_path / "bad" / "empty.txt", "")
    assert main(["index", "--archive", str(tmp_path / "bad"), "--index", str(tmp_path / "i")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad' / 'latin1.txt'}: not valid UTF-8" in err
    assert f"{tmp_path / 'bad' / 'empty.txt'}: no article text found" in err
