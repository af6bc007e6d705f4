"""Crashes and switches: a rebuild killed with SIGKILL at random moments leaves exactly the
old complete index or the new complete one in service, and a serving Assistant picks up
finished rebuilds without failing a request.

The CI run deals 20 kills; the soak is `python -m pytest tests/test_crash.py --kills 500`.
"""
from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from assistant import pipeline, store
from assistant.archive import read_archive
from assistant.build import rebuild
from assistant.cli import main
from assistant.errors import IndexDamaged
from assistant.index import load_index
from assistant.pipeline import Assistant

from conftest import HASH_DIM, FakeEmbedder, HashEmbedder, write

ROOT = Path(__file__).resolve().parent.parent

# The rebuild under test runs in its own process with the HashEmbedder, so that a rebuild
# takes a fraction of a second and kills land in every phase: reading, embedding, writing,
# flushing, renaming, switching CURRENT, cleaning up.
DRIVER = f"""
import sys, time
from pathlib import Path

import numpy as np
import faiss  # imported before "ready": kills should land in the rebuild itself

from assistant.bench_rebuild import TextHashEmbedder
from assistant.build import rebuild
from assistant.dedup import find_clusters
from assistant.lexical import LexicalIndex
from assistant.types import Article

# numba's kernels loaded (compiled on their first use): BM25's and the near-duplicate check's
LexicalIndex.build([["warm"]])
find_clusters([Article("warm", "warm", "warm")])

print("ready", flush=True)
started = time.monotonic()
rebuild([Path(sys.argv[1])], Path(sys.argv[2]), TextHashEmbedder(dim={HASH_DIM}))
print(f"done {{time.monotonic() - started:.3f}}", flush=True)
"""
MODEL, FINGERPRINT = HashEmbedder.name, HashEmbedder.fingerprint


def make_archives(root: Path) -> dict[str, Path]:
    """Two archives sharing most articles: B edits every third article of A and adds 40."""
    rng = random.Random(6)
    words = "harbour bridge wheat choir council budget railway election river port".split()

    def article(i: int, edition: str) -> dict:
        text = " ".join(f"{rng.choice(words).title()} report {i}.{j} of edition {edition} "
                        f"notes {rng.choice(words)} and {rng.choice(words)}." for j in range(25))
        return {"id": f"n{i}", "title": f"Story {i}", "date": "2022-01-01", "text": text}

    base = [article(i, "a") for i in range(240)]
    edited = [article(i, "b") if i % 3 == 0 else record for i, record in enumerate(base)]
    edited += [article(i, "b") for i in range(240, 280)]
    paths = {}
    for name, records in (("A", base), ("B", edited)):
        paths[name] = write(root / name / "news.jsonl",
                            "".join(json.dumps(r) + "\n" for r in records)).parent
    return paths


def snapshot(index_dir: Path) -> tuple:
    """The index in service, loaded with every checksum verified, as comparable arrays."""
    data = load_index(store.current_version(index_dir), MODEL, FINGERPRINT)
    articles = [(a.id, a.title, a.text) for a in data.articles]
    return articles, data.chunks.tobytes(), data.keys.tobytes(), data.vectors.tobytes()


def start_rebuild(driver: Path, archive: Path, index_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(driver), str(archive), str(index_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT)
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise AssertionError(f"driver did not start: {line!r} {process.stderr.read()}")
    return process


def finish(process: subprocess.Popen) -> float:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return float(out.split()[-1])


def phase_of_kill(index_dir: Path, before: set[str], switched: bool) -> str:
    """Where in the rebuild a kill landed, judged by what it left behind."""
    left = {p.name for p in index_dir.iterdir()} - before
    if switched:
        return "while cleaning up" if any(n.endswith(".trash") for n in left) \
            else "after the switch"
    if "CURRENT.tmp" in left or any(store.VERSION_NAME.fullmatch(n) for n in left):
        return "between rename and switch"
    return "while writing files" if any(n.endswith(".partial") for n in left) \
        else "while reading and embedding"


def test_sigkill_at_random_moments_leaves_the_old_or_the_new_index(tmp_path, kills):
    archives = make_archives(tmp_path / "archives")
    driver = write(tmp_path / "driver.py", DRIVER)
    index_dir = tmp_path / "index"
    reference, seconds = {}, []
    for name in ("B", "A"):  # complete builds: reference snapshots and a rebuild's duration
        seconds.append(finish(start_rebuild(driver, archives[name], index_dir)))
        reference[name] = snapshot(index_dir)
    duration, in_service, rng = max(seconds), "A", random.Random(kills)
    phases, finished = Counter(), 0
    for attempt in range(3 * kills):
        if sum(phases.values()) == kills:
            break
        target = "B" if in_service == "A" else "A"
        before = {p.name for p in index_dir.iterdir()}
        process = start_rebuild(driver, archives[target], index_dir)
        # Stratified moments: the n-th attempt lands in the n-th slice of a rebuild's time.
        time.sleep(duration * 1.2 * (attempt % kills + rng.random()) / kills)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
            process.wait()
        else:
            finish(process)
            finished += 1
        found = snapshot(index_dir)
        assert found in (reference[in_service], reference[target]), \
            f"after kill {sum(phases.values())} the index is neither {in_service} nor {target}"
        switched = found != reference[in_service]
        phases[phase_of_kill(index_dir, before, switched)] += killed
        in_service = target if switched else in_service
    assert sum(phases.values()) == kills, f"only {sum(phases.values())} rebuilds were killed"
    print(f"\n{kills} SIGKILLs during rebuilds of ~{duration:.2f} s, each leaving exactly the "
          f"old or the new index in service; landed {dict(phases)} "
          f"({finished} rebuilds finished before their kill)")
    finish(start_rebuild(driver, archives["B"], index_dir))  # a clean rebuild clears debris
    assert snapshot(index_dir) == reference["B"]
    leftovers = sorted(p.name for p in index_dir.iterdir() if p.name.startswith("v-"))
    assert len(leftovers) <= 2 and not any(n.endswith((".partial", ".trash")) for n in leftovers)
    assert not (index_dir / "CURRENT.tmp").exists()


def test_the_version_in_service_and_the_one_before_it_survive_cleanup(tmp_path, small_archive,
                                                                      fake_embedder):
    index_dir = tmp_path / "index"
    names = []
    for n in range(4):
        write(small_archive / f"late{n}.txt", f"Late news {n}\n\nArticle number {n} arrived.")
        names.append(rebuild([small_archive], index_dir, fake_embedder).version)
    (index_dir / (names[-1] + "x.partial")).mkdir()  # debris of a killed rebuild
    rebuild([small_archive], index_dir, fake_embedder)
    kept = sorted(p.name for p in index_dir.glob("v-*"))
    assert names[-1] in kept and len(kept) == 2 and store.current_name(index_dir) in kept


def test_serving_threads_see_no_error_while_rebuilds_switch_versions(tmp_path):
    archives = make_archives(tmp_path / "archives")
    index_dir = tmp_path / "index"
    rebuild([archives["A"]], index_dir, HashEmbedder())
    texts = {(a.id, a.text) for name in "AB" for a in read_archive([archives[name]])[0]}
    assistant = Assistant(index_dir, HashEmbedder())
    stop, errors, answers, sizes = threading.Event(), [], [0], set()
    questions = ["harbour bridge report", "wheat budget", "railway election river", "Story 7"]

    def ask_forever(n: int) -> None:
        while not stop.is_set():
            try:
                result = assistant.ask(questions[n % len(questions)])
                sizes.add(len(assistant.data.articles))
                for s in result.snippets + result.nearest:
                    assert any(i == s.article_id and t[s.start:s.end] == s.quote
                               for i, t in texts)
                answers[0] += 1
            except Exception as error:  # any failure at all counts
                errors.append(repr(error))
            n += 1

    threads = [threading.Thread(target=ask_forever, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(12):
            rebuild([archives["B" if n % 2 == 0 else "A"]], index_dir, HashEmbedder())
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert answers[0] > 12 and sizes == {240, 280}


def test_a_version_cleaned_up_while_a_server_loads_it_gives_way_to_the_newer_one(
        tmp_path, small_archive, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, fake_embedder)
    assistant = Assistant(index_dir, fake_embedder)
    real_load, interrupted = pipeline.load_index, []

    def load_slowly(folder, *args):
        if not interrupted:  # two rebuilds finish while the server reads this version
            interrupted.append(folder.name)
            for n in range(2):
                write(small_archive / f"late{n}.txt", f"Late news {n}\n\nArticle {n} arrived.")
                rebuild([small_archive], index_dir, fake_embedder)
            assert not folder.exists()
        return real_load(folder, *args)

    monkeypatch.setattr(pipeline, "load_index", load_slowly)
    assert assistant.ask("harbour bridge reopened").found
    assert len(assistant.data.articles) == 5 and interrupted


def rebuild_with_late_news(archive, index_dir, embedder) -> None:
    """A rebuild that adds a fourth article to `small_archive`: a new version to switch to."""
    write(archive / "late.txt", "Late news\n\nThe ferry to the island resumed service.")
    rebuild([archive], index_dir, embedder)


def assert_answered_from_the_loaded_version(assistant, release: threading.Event) -> None:
    """An ask while the new version's load is held until `release` is answered at once, from
    the version loaded (an ask that waited would get the new one once the load is let go)."""
    threading.Timer(5.0, release.set).start()
    assert assistant.ask("harbour bridge reopened").found
    assert len(assistant.data.articles) == 3


def test_asks_are_answered_from_the_loaded_version_while_a_new_one_loads(
        tmp_path, small_archive, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, fake_embedder)
    assistant = Assistant(index_dir, fake_embedder)
    assert len(assistant.data.articles) == 3
    real_load, entered, release = pipeline.load_index, threading.Event(), threading.Event()

    def load_when_released(*args):
        entered.set()
        assert release.wait(30)
        return real_load(*args)

    monkeypatch.setattr(pipeline, "load_index", load_when_released)
    monkeypatch.setattr(pipeline, "RELOAD_WAIT", 0.01)
    rebuild_with_late_news(small_archive, index_dir, fake_embedder)
    for _ in range(3):  # the load is held up: every ask is answered, from the old version
        assert assistant.ask("harbour bridge reopened").found
        assert len(assistant.data.articles) == 3
    assert entered.is_set()
    release.set()
    deadline = time.monotonic() + 30
    while len(assistant.data.articles) == 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # the load finishes on its own thread
    assert len(assistant.data.articles) == 4
    assert assistant.ask("ferry to the island").snippets[0].title == "Late news"


def test_no_ask_waits_for_a_new_version_when_the_last_load_took_longer_than_the_wait(
        tmp_path, small_archive, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, fake_embedder)
    real_load, release = pipeline.load_index, threading.Event()
    clock = [0.0]  # the asking code's clock: the first load takes 60 s

    def load(*args):
        if clock[0] == 0.0:
            clock[0] = 60.0
        else:
            assert release.wait(30)  # an ask that waits for this load gets the new version
        return real_load(*args)

    monkeypatch.setattr(pipeline, "load_index", load)
    monkeypatch.setattr(pipeline, "monotonic", lambda: clock[0])
    monkeypatch.setattr(pipeline, "RELOAD_WAIT", 30.0)
    assistant = Assistant(index_dir, fake_embedder)
    assert len(assistant.data.articles) == 3
    rebuild_with_late_news(small_archive, index_dir, fake_embedder)
    assert_answered_from_the_loaded_version(assistant, release)


def test_no_ask_waits_for_a_new_version_with_many_bytes_to_hash(
        tmp_path, small_archive, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, fake_embedder)
    real_load, release = pipeline.load_index, threading.Event()
    assistant = Assistant(index_dir, fake_embedder)
    assert len(assistant.data.articles) == 3  # a quick load

    def load(*args):
        assert release.wait(30)  # an ask that waits for this load gets the new version
        return real_load(*args)

    monkeypatch.setattr(pipeline, "load_index", load)
    monkeypatch.setattr(pipeline, "RELOAD_WAIT", 30.0)
    monkeypatch.setattr(pipeline, "QUICK_HASH_BYTES", 0)  # any file to hash is too many
    rebuild_with_late_news(small_archive, index_dir, fake_embedder)
    assert_answered_from_the_loaded_version(assistant, release)


def test_a_new_version_that_fails_to_load_is_reported_on_an_ask(
        tmp_path, small_archive, fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, fake_embedder)
    assistant = Assistant(index_dir, fake_embedder)
    assert assistant.ask("harbour bridge reopened").found
    rebuild_with_late_news(small_archive, index_dir, fake_embedder)
    vectors = store.current_version(index_dir) / "vectors.npy"
    damaged = bytearray(vectors.read_bytes())
    damaged[-1] ^= 0xFF
    vectors.write_bytes(bytes(damaged))
    monkeypatch.setattr(pipeline, "RELOAD_WAIT", 30.0)
    with pytest.raises(IndexDamaged, match="does not match its checksum"):
        assistant.ask("harbour bridge reopened")


@pytest.mark.parametrize("damage, words", [
    (None, "ok: v-"), ("flip", "does not match its checksum"),
    ("truncate", "missing or truncated"), ("unlist", "does not list vectors.npy"),
    ("model", "built with model"), ("dim", "16-dim"), ("counts", "disagree"),
    ("current", "names a missing version"), ("no index", "no index in"),
])
def test_index_check_says_ok_or_names_the_problem_and_the_fix(
        tmp_path, small_archive, monkeypatch, capsys, damage, words):
    embedder = FakeEmbedder()
    monkeypatch.setattr("assistant.embed.Embedder", lambda *args, **kwargs: embedder)
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, FakeEmbedder())
    version = store.current_version(index_dir)
    manifest = json.loads((version / "manifest.json").read_text())
    if damage in ("flip", "truncate"):
        raw = bytearray((version / "vectors.npy").read_bytes())
        raw[-1] ^= 0xFF
        (version / "vectors.npy").write_bytes(raw if damage == "flip" else raw[:-4])
    elif damage in ("unlist", "counts"):
        if damage == "unlist":
            del manifest["files"]["vectors.npy"]
        else:
            manifest["counts"]["articles"] += 1
        (version / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "model":
        embedder.fingerprint = "another-model"
    elif damage == "dim":
        embedder.dim = 16
    elif damage == "current":
        (index_dir / "CURRENT").write_text("../../etc\n")
    elif damage == "no index":
        index_dir = tmp_path / "elsewhere"
    code = main(["index", "--check", "--index", str(index_dir)])
    out, err = capsys.readouterr()
    assert code == (0 if damage is None else 1)
    shown = out if damage is None else err
    assert shown.count("\n") == 1 and words in shown, shown
    if damage == "no index":  # no version to name the archive
        assert f"assistant index --index {index_dir}" in err
    elif damage:  # the archive it was built from (CURRENT damaged: the newest version's),
        # so that the fix works from any folder
        assert f"assistant index --archive {small_archive} --index {index_dir}`" in err
