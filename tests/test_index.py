"""The index: FAISS equals brute force, save/load round trip, refusal of mismatches."""
from __future__ import annotations

import errno
import json
import os
import time
from dataclasses import replace

import faiss
import numpy as np
import pytest

from assistant import article_file, build, checksums, dense, reuse, sentences, store
from assistant.article_file import ROWS
from assistant.build import rebuild
from assistant.chunking import ChunkSettings, chunk_article, embedding_text
from assistant.errors import AssistantError, IndexDamaged, IndexMismatch, IndexMissing
from assistant.index import chunks_fit, load_index, text_key
from assistant.lexical import tokenize
from assistant.sentences import quote_spans
from assistant.retrieve import DateWindow, allowed_chunks, holds_nothing
from assistant.types import Article, Chunk

from conftest import BUNDLED_ARCHIVE, FakeEmbedder


@pytest.fixture
def built(tmp_path, small_archive, fake_embedder):
    index_dir = tmp_path / "index"
    rebuild([small_archive, BUNDLED_ARCHIVE], index_dir, fake_embedder)
    return index_dir


def load(index_dir, embedder=FakeEmbedder()):
    return load_index(store.current_version(index_dir), embedder.name, embedder.fingerprint)


def test_a_window_allows_the_chunks_of_its_articles_and_of_undated_ones(built):
    data = load(built)
    dates = [data.articles[int(row)].date for row in data.chunks[:, 0]]
    assert None in dates and len(set(dates)) > 3
    known = sorted(d for d in set(dates) if d)
    for window in (DateWindow(until=known[1]), DateWindow(since=known[-2]),
                   DateWindow(since=known[1], until=known[-2])):
        expected = [i for i, d in enumerate(dates) if d is None or window.holds(d)]
        assert np.flatnonzero(allowed_chunks(data, window)).tolist() == expected
        assert not holds_nothing(data, window)
    # A window holding every article filters nothing; undated articles are in every window.
    assert allowed_chunks(data, DateWindow(since=known[0])) is None
    assert allowed_chunks(data, DateWindow()) is None
    before = DateWindow(until="1900-01-01")
    assert np.flatnonzero(allowed_chunks(data, before)).tolist() == \
        [i for i, d in enumerate(dates) if d is None]
    assert not holds_nothing(data, before)
    # Without undated articles, a window holds nothing exactly when no date lies inside it.
    dated = replace(data, articles=[a for a in data.articles if a.date])
    days = sorted({a.date for a in dated.articles})
    edges = [None, "1900-01-01", *days, "2100-01-01"] + [str(np.datetime64(d) + 1) for d in days]
    windows = [DateWindow(since=a, until=b) for a in edges for b in edges]
    for window in windows:
        assert holds_nothing(dated, window) == (bool(window) and not any(window.holds(d) for d in days))
    assert any(holds_nothing(dated, w) for w in windows)


def test_chunks_must_be_in_article_order_as_date_masks_assume(built):
    data = load(built)
    assert chunks_fit(data.chunks, data.articles)
    assert not chunks_fit(data.chunks[::-1], data.articles)
    assert data.chunks_per_article.sum() == len(data.chunks)


def test_faiss_top_k_equals_brute_force_with_and_without_a_filter(built, fake_embedder):
    data = load(built)
    allowed = allowed_chunks(data, DateWindow(until="2021-12-31"))
    assert 0 < np.count_nonzero(allowed) < len(data.chunks)
    for query in ["CSTO Secretary-General", "wheat harvest prices", "choir prize Leeds"]:
        q = fake_embedder.embed_one(query)
        for subset in (None, allowed):
            ids = np.arange(len(data.chunks)) if subset is None else np.flatnonzero(subset)
            scores = data.vectors[ids] @ q
            expected = ids[np.argsort(-scores, kind="stable")[:5]]
            threads = faiss.omp_get_max_threads()
            hits = data.dense_search(q, 5, subset)
            assert faiss.omp_get_max_threads() == threads  # its one-thread search undone
            assert [h.chunk_id for h in hits] == expected.tolist()
            assert np.allclose([h.score for h in hits], np.sort(scores)[::-1][:5], atol=1e-5)


def test_round_trip_keeps_articles_chunks_and_vectors(built, small_archive, fake_embedder):
    data = load(built)
    assert data.manifest["counts"] == {"articles": 8, "chunks": len(data.chunks), "skipped": 0,
                                      "clusters": 0}
    assert data.manifest["model"]["name"] == fake_embedder.name
    assert {a.title for a in data.articles} >= {"Harbour Bridge Reopens", "Choir wins national prize"}
    texts = [data.article_of(i).text[s:e] for i, (_, s, e) in enumerate(data.chunks)]
    assert all(texts)
    assert np.allclose(np.linalg.norm(data.vectors, axis=1), 1.0, atol=1e-5)


def test_articles_load_from_their_saved_rows_or_by_parsing_an_older_index(built, monkeypatch):
    parsed = load(built).articles
    with monkeypatch.context() as patched:
        patched.setattr(article_file, "parse", None)  # saved rows: no line is parsed at load
        saved = load(built).articles
    assert (saved.ids, saved.dates) == (parsed.ids, parsed.dates)
    assert saved.offsets.tolist() == parsed.offsets.tolist()
    assert saved.lengths.tolist() == parsed.lengths.tolist()
    assert list(saved) == list(parsed)
    folder = store.current_version(built)  # an index written before rows were saved
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"][ROWS]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / ROWS).unlink()
    assert list(load(built).articles) == list(parsed)


def test_an_article_is_found_by_id_reading_only_its_own_line(built, monkeypatch):
    data = load(built)
    parse, parsed = article_file.parse, []
    monkeypatch.setattr(article_file, "parse", lambda line: parsed.append(line) or parse(line))
    last = data.article_ids[-1]
    assert data.article_by_id(last).id == last and len(parsed) == 1
    assert data.article_by_id("no such article") is None and len(parsed) == 1


def test_rebuild_reuses_vectors_of_unchanged_chunks_and_sentences(tmp_path, small_archive,
                                                                  fake_embedder, monkeypatch):
    index_dir = tmp_path / "index"
    first = rebuild([small_archive], index_dir, fake_embedder)
    (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today.")
    embedded = []
    monkeypatch.setattr(fake_embedder, "embed", lambda texts: embedded.extend(
        texts) or FakeEmbedder.embed(fake_embedder, texts))
    second = rebuild([small_archive], index_dir, fake_embedder)
    assert (first.embedded, second.embedded) == (first.chunks, 1)
    assert second.chunks == first.chunks + 1
    assert embedded == ["Late news\nA new article arrived today.", "A new article arrived today."]


def test_a_build_stopped_midway_loses_none_of_the_vectors_it_embedded(
        tmp_path, small_archive, fake_embedder, monkeypatch, capsys):
    """A first build of a large archive embeds for hours. Stopped after a few blocks (here
    by Ctrl-C), the next build embeds only what was left, shows what it takes back, and
    makes the index an unstopped build makes."""
    monkeypatch.setattr(build, "EMBED_BLOCK", 2)  # chunks in 2 blocks, sentences in 4
    calls = []

    def embed(texts):
        calls.append(list(texts))
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return FakeEmbedder.embed(fake_embedder, texts)

    monkeypatch.setattr(fake_embedder, "embed", embed)
    stop_at = 0
    rebuild([small_archive], tmp_path / "unstopped", fake_embedder)
    every = [text for texts in calls for text in texts]
    calls.clear()
    stop_at = 4  # both blocks of chunks and one of sentences are done
    with pytest.raises(KeyboardInterrupt):
        rebuild([small_archive], tmp_path / "index", fake_embedder)
    done = [text for texts in calls[:3] for text in texts]
    assert (tmp_path / "index" / build.PENDING).is_dir()
    calls.clear()
    resumed = rebuild([small_archive], tmp_path / "index", fake_embedder, progress=True)
    assert f"reusing {len(done)} vectors that an unfinished build embedded" in \
        capsys.readouterr().err
    again = [text for texts in calls for text in texts]
    assert sorted(done + again) == sorted(every) and not set(done) & set(again)
    assert resumed.embedded == 0  # the chunks were all embedded before the stop
    first, second = load(tmp_path / "unstopped"), load(tmp_path / "index")
    assert np.array_equal(np.asarray(first.vectors), np.asarray(second.vectors))
    count = len(first.sentences.vectors)
    assert np.array_equal(first.sentences.vectors[0:count], second.sentences.vectors[0:count])
    assert not (tmp_path / "index" / build.PENDING).exists()


def test_a_rebuild_shows_each_step_and_the_vectors_it_reuses(tmp_path, small_archive,
                                                              fake_embedder, capsys):
    """The steps before and after the embedding take seconds each at scale: none is
    silent. Only a rebuild that has a version to reuse shows what it reuses."""
    rebuild([small_archive], tmp_path / "index", fake_embedder, progress=True)
    first = capsys.readouterr().err
    (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today.")
    second = rebuild([small_archive], tmp_path / "index", fake_embedder, progress=True)
    shown = capsys.readouterr().err
    for step in ("cutting chunks and sentences", "embedding chunks", "writing the new version"):
        assert step in first and step in shown
    assert "reusing" not in first
    reused = shown.split("reusing chunks:")[-1].split("\r")[0]
    assert f"{second.chunks - 1}/{second.chunks}" in reused and "reusing sentences" in shown


def test_a_rebuild_keeps_the_inverted_files_training_until_a_tenth_of_its_chunks_changed(
        tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(dense, "EXACT_BELOW", 100)  # an inverted file from 100 chunks on
    articles = [Article(f"a{n}", f"Story {n}", f"Harbour{n} report{n % 7} on topic{n % 11} "
                        f"and market{n % 13}.", date="2022-03-01") for n in range(220)]

    def build_of(chosen):
        build.build_index(chosen, [], ["test"], tmp_path, fake_embedder)
        data = load(tmp_path, fake_embedder)
        assert len(data.chunks) == len(chosen)  # one chunk an article
        return data.faiss_index, np.asarray(data.vectors), data.manifest["inverted_file"]

    def centroids(index):
        return index.quantizer.reconstruct_n(0, index.nlist)

    first, _, counted = build_of(articles[:180])
    assert counted == {"changed": 0}
    kept, vectors, counted = build_of(articles[2:185])  # 2 gone, 5 new: 7 of 183 changed
    assert counted == {"changed": 7}
    # The first version's training, filled with the new chunks' vectors.
    assert faiss.serialize_index(kept).tobytes() == \
        faiss.serialize_index(dense.make_faiss_index(vectors, trained=first)).tobytes()
    retrained, _, counted = build_of(articles[2:200])  # 15 more: 22 of 198, over a tenth
    assert counted == {"changed": 0}
    assert not np.array_equal(centroids(retrained), centroids(first))


def test_vectors_go_to_the_lists_given_and_the_others_to_their_nearest(monkeypatch):
    monkeypatch.setattr(dense, "EXACT_BELOW", 100)
    vectors = np.random.default_rng(5).standard_normal((300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    trained = dense.make_faiss_index(vectors)
    plain = dense.make_faiss_index(vectors, trained=trained)
    known = dense.list_of_ids(plain)
    assert (known >= 0).all()
    lists = np.where(np.arange(300) % 3 == 0, -1, known)  # a third to be assigned here
    given = dense.make_faiss_index(vectors, trained=trained, lists=lists)
    assert faiss.serialize_index(given).tobytes() == faiss.serialize_index(plain).tobytes()
    lists[1] = (known[1] + 1) % trained.nlist  # the list given is the list used
    assert dense.list_of_ids(dense.make_faiss_index(vectors, trained=trained, lists=lists))[1] \
        == lists[1]


def test_a_damaged_inverted_file_is_trained_anew_and_the_rest_still_reused(
        tmp_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(dense, "EXACT_BELOW", 100)
    articles = [Article(f"a{n}", f"Story {n}", f"Harbour{n} report{n % 7}.", date="2022-03-01")
                for n in range(181)]
    build.build_index(articles[:180], [], ["test"], tmp_path, fake_embedder)
    with open(store.current_version(tmp_path) / "faiss.index", "r+b") as file:
        file.seek(-8, 2)
        file.write(b"damaged!")
    embedded = []
    monkeypatch.setattr(fake_embedder, "embed", lambda texts: embedded.extend(
        texts) or FakeEmbedder.embed(fake_embedder, texts))
    build.build_index(articles, [], ["test"], tmp_path, fake_embedder)
    assert len(embedded) == 2  # the new chunk and its sentence: the rest was still reused
    assert load(tmp_path, fake_embedder).manifest["inverted_file"] == {"changed": 0}


def test_a_rebuild_counts_the_articles_of_the_last_version_it_no_longer_holds(
        tmp_path, small_archive, fake_embedder):
    """Run from the wrong folder, a rebuild can index another archive: the summary says
    how much of the index in service it replaced."""
    index_dir = tmp_path / "index"
    assert rebuild([small_archive], index_dir, fake_embedder).gone == 0
    (small_archive / "a.txt").unlink()
    (small_archive / "sub" / "c.html").write_text("<h1>Choir</h1><p>The choir sang again.</p>")
    second = rebuild([small_archive], index_dir, fake_embedder)
    assert (second.articles, second.gone) == (2, 2)
    assert ", 2 articles of the last version gone or changed, in " in second.line()
    assert rebuild([small_archive], index_dir, fake_embedder).gone == 0


def test_a_rebuild_of_an_unchanged_archive_keeps_the_version_in_service(
        tmp_path, small_archive, fake_embedder):
    """Nothing is written, but what killed rebuilds left is cleaned up as a commit would;
    any change to the articles or to what could not be read, or a damaged version,
    rebuilds as before."""
    index_dir = tmp_path / "index"
    first = rebuild([small_archive], index_dir, fake_embedder)
    for name in ("v-20000101T000000-aaaaaa",  # before it
                 "v-29990101T000000-cccccc",  # killed before the switch: never in service
                 "v-29990101T000000-dddddd.partial"):  # killed while writing
        (index_dir / name).mkdir()
        (index_dir / name / "vectors.npy").write_bytes(b"some")
    kept = rebuild([small_archive], index_dir, fake_embedder)
    assert kept.unchanged and (kept.version, kept.chunks, kept.embedded) == (
        first.version, first.chunks, 0)
    assert kept.line().endswith(" (unchanged: the version in service is kept)")
    assert sorted(p.name for p in index_dir.glob("v-*")) == [
        "v-20000101T000000-aaaaaa", first.version]

    (small_archive / "d.jsonl").write_text("{not json\n")  # one more problem, same articles
    noted = rebuild([small_archive], index_dir, fake_embedder)
    assert not noted.unchanged and noted.version != first.version and len(noted.problems) == 1
    assert rebuild([small_archive], index_dir, fake_embedder).unchanged

    vectors = index_dir / noted.version / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:-4] + b"\0\0\0\0")  # damaged, its size kept
    mended = rebuild([small_archive], index_dir, fake_embedder)
    assert not mended.unchanged and load(index_dir).vectors.shape[0] == first.chunks

    text = (small_archive / "a.txt").read_text()
    (small_archive / "a.txt").write_text(text.replace("Harbour Bridge Reopens", "Bridge Reopens"))
    retitled = rebuild([small_archive], index_dir, fake_embedder)
    assert not retitled.unchanged and retitled.version != mended.version


def test_the_eval_reuses_an_index_of_exactly_its_articles(tmp_path, small_archive,
                                                          fake_embedder):
    """The manifest's checksum of articles.jsonl tells, without a fingerprint of its own,
    whether the index holds the corpus: any field of any article changed rebuilds it."""
    from assistant.archive import read_archive
    from assistant.evaluate import ensure_index

    articles, problems = read_archive([small_archive])
    assert ensure_index(articles, problems, tmp_path / "ix", fake_embedder, None, False)
    assert not ensure_index(articles, problems, tmp_path / "ix", fake_embedder, None, False)
    retitled = [replace(articles[0], title="Harbour bridge reopens"), *articles[1:]]
    assert ensure_index(retitled, problems, tmp_path / "ix", fake_embedder, None, False)
    assert not ensure_index(retitled, problems, tmp_path / "ix", fake_embedder, None, False)
    assert ensure_index(articles[1:], problems, tmp_path / "ix", fake_embedder, None, False)


def count_work(monkeypatch) -> tuple[list[str], list[str], list[str]]:
    """Lists that fill, as rebuilds run, with the ids of the articles cut into chunks, the
    chunk texts tokenised and the chunk texts cut into quotable sentences."""
    cut, tokenised, quoted = [], [], []
    monkeypatch.setattr(build, "chunk_article", lambda article, settings:
                        cut.append(article.id) or chunk_article(article, settings))
    monkeypatch.setattr(build, "tokenize", lambda text: tokenised.append(text) or tokenize(text))
    monkeypatch.setattr(sentences, "quote_spans", lambda text, start, end: quoted.append(
        text[start:end]) or quote_spans(text, start, end))
    return cut, tokenised, quoted


def test_a_rebuild_cuts_and_tokenises_only_new_articles_and_equals_a_fresh_build(
        tmp_path, small_archive, fake_embedder, monkeypatch):
    rebuild([small_archive, BUNDLED_ARCHIVE], tmp_path / "index", fake_embedder)
    (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today. "
                                           "Its second sentence is here.")
    (small_archive / "a.txt").write_text("Harbour Bridge Reopens\nDate: 2022-03-01\n\n"
                                         "The bridge reopened on Monday, a day late.")
    cut, tokenised, quoted = count_work(monkeypatch)
    rebuild([small_archive, BUNDLED_ARCHIVE], tmp_path / "index", fake_embedder)
    incremental = load(tmp_path / "index")
    assert sorted(cut) == sorted(a.id for a in incremental.articles
                                 if a.title in ("Late news", "Harbour Bridge Reopens"))
    assert len(tokenised) == len(quoted) == 2  # one chunk each

    monkeypatch.undo()
    rebuild([small_archive, BUNDLED_ARCHIVE], tmp_path / "fresh", fake_embedder)
    fresh = load(tmp_path / "fresh")
    assert np.array_equal(incremental.chunks, fresh.chunks)
    assert np.array_equal(incremental.keys, fresh.keys)
    rows = len(incremental.sentences.spans)
    for name in ("offsets", "spans", "vectors"):
        assert np.array_equal(getattr(incremental.sentences, name)[:rows + 1],
                              getattr(fresh.sentences, name)[:rows + 1])
    assert np.array_equal(incremental.vectors, fresh.vectors)
    for name in ("vocab.index.json", "data.csc.index.npy", "indices.csc.index.npy",
                 "indptr.csc.index.npy", "token_ids.npy", "token_offsets.npy"):
        assert (store.current_version(tmp_path / "index") / "bm25" / name).read_bytes() == \
            (store.current_version(tmp_path / "fresh") / "bm25" / name).read_bytes(), name


def test_every_vector_is_its_own_texts_after_a_rebuild(tmp_path, small_archive, fake_embedder):
    """Texts are made when asked for (build.Texts), by chunk and sentence row: each row's
    vector is that of its own text, kept or new."""
    rebuild([small_archive, BUNDLED_ARCHIVE], tmp_path / "index", fake_embedder)
    (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today. "
                                           "Its second sentence is here.")
    rebuild([small_archive, BUNDLED_ARCHIVE], tmp_path / "index", fake_embedder)
    data = load(tmp_path / "index")
    chunks = [Chunk(data.article_of(i).id, s, e) for i, (_, s, e) in enumerate(data.chunks)]
    texts = [embedding_text(data.article_of(i), chunk) for i, chunk in enumerate(chunks)]
    assert np.allclose(data.vectors, fake_embedder.embed(texts), atol=1e-6)
    quotes = [data.article_of(i).text[s:e] for i in range(len(chunks))
              for s, e in data.sentences.of_chunk(i)[1].tolist()]
    assert "A new article arrived today. Its second sentence is here." in quotes  # joined: short
    assert np.allclose(data.sentences.vectors_of(list(range(len(quotes)))),
                       fake_embedder.embed(quotes), atol=0.5 / sentences.SCALE + 1e-6)


def test_an_article_whose_text_key_ends_in_a_zero_byte_is_known_to_a_rebuild(
        tmp_path, small_archive, fake_embedder, monkeypatch):
    """numpy's bytes arrays drop a key's trailing zero bytes when read out: such an
    article was cut again by every rebuild and counted as gone."""
    text = next(t for t in (f"The ferry sailed on time on day {i}. Its crew was thanked."
                            for i in range(10_000)) if text_key(t).endswith(b"\0"))
    (small_archive / "ferry.jsonl").write_text(json.dumps({"id": "ferry", "title": "Ferry",
                                                           "text": text}) + "\n")
    rebuild([small_archive], tmp_path / "index", fake_embedder)
    (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today.")
    cut, _, quoted = count_work(monkeypatch)
    summary = rebuild([small_archive], tmp_path / "index", fake_embedder)
    assert summary.gone == 0 and len(cut) == 1 and quoted == ["A new article arrived today."]


def test_sentence_vectors_are_stored_in_int8_to_half_a_step_and_read_back_as_floats():
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[0, 0] = 0.9  # beyond the largest component int8 holds: clipped
    stored = sentences.stored_as(vectors, np.int8)
    assert stored.dtype == np.int8 and stored[0, 0] == 127
    assert np.abs(sentences.as_floats(stored)[1:] - vectors[1:]).max() <= 0.5 / sentences.SCALE
    # The eval's cache keeps them as float16, which give back the same int8.
    again = sentences.as_floats(stored).astype(np.float16)
    assert np.array_equal(sentences.stored_as(again, np.int8), stored)
    assert np.array_equal(sentences.as_floats(again), again.astype(np.float32))  # format 3's


@pytest.mark.parametrize("version, dtype", [(3, np.float16), (4, np.int8)])
@pytest.mark.parametrize("changed", [True, False])
def test_an_index_of_an_earlier_format_is_read_and_its_sentence_vectors_reused(
        tmp_path, small_archive, fake_embedder, version, dtype, changed):
    """Formats 3 and 4 kept sentence vectors in sentence_vectors.npy, in float16 and int8:
    such an index still loads and quotes from them, and the next rebuild, of an unchanged
    archive too, stores them in int8 under format 5's name instead of embedding them."""
    index_dir = tmp_path / "index"
    rebuild([small_archive], index_dir, fake_embedder)
    folder, data = store.current_version(index_dir), load(index_dir)
    texts = [data.article_of(chunk).text[s:e] for chunk in range(len(data.chunks))
             for s, e in data.sentences.of_chunk(chunk)[1].tolist()]
    old = sentences.stored_as(fake_embedder.embed(texts).astype(np.float16), dtype)
    path = folder / sentences.FORMER_VECTORS
    np.save(path, old)
    (folder / sentences.VECTORS).unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = version
    del manifest["files"][sentences.VECTORS]
    manifest["files"][sentences.FORMER_VECTORS] = {"bytes": path.stat().st_size,
                                                   "sha256": checksums.sha256_file(path)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    loaded = load(index_dir).sentences
    assert loaded.vectors.dtype == dtype
    assert np.array_equal(loaded.vectors_of(list(range(len(texts)))), sentences.as_floats(old))

    if changed:
        (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today.")
    embedded = []
    fake_embedder.embed = lambda batch: embedded.extend(batch) or FakeEmbedder().embed(batch)
    summary = rebuild([small_archive], index_dir, fake_embedder)
    assert not summary.unchanged and not set(embedded) & set(texts) and (changed or not embedded)
    folder = store.current_version(index_dir)
    assert json.loads((folder / "manifest.json").read_text())["format_version"] == 5
    # The software of format 3 would copy int8 as float16: it finds no file of its name.
    assert not (folder / sentences.FORMER_VECTORS).exists()
    vectors = np.load(folder / sentences.VECTORS)
    row_of = {key: row for row, key in enumerate(np.load(folder / sentences.KEYS).tolist())}
    rows = [row_of[text_key(text)] for text in texts]
    assert vectors.dtype == np.int8
    assert np.array_equal(vectors[rows], sentences.stored_as(old, np.int8))


def test_known_rows_and_vectors_are_found_as_a_dict_would_find_them():
    """Sorted lookups of 20-byte keys, some ending in zero bytes (which numpy's bytes
    arrays drop when read out), some repeated, some sharing their first 8 bytes (which
    are looked up first) with other known keys or with keys not known."""
    rng = np.random.default_rng(7)
    known = np.array([rng.bytes(19) + b"\0" if i % 3 else rng.bytes(20) for i in range(300)],
                     dtype="S20")
    known[5] = known[6]
    known[10:20] = [known[9][:8] + rng.bytes(12) for _ in range(10)]
    strangers = [known[9][:8] + rng.bytes(12) for _ in range(10)] + \
        [rng.bytes(20) for _ in range(40)]
    keys = np.concatenate([known[rng.integers(0, 300, 190)], known[9:19],
                           np.array(strangers, dtype="S20")])
    rows = reuse.rows_of(keys, known)
    row_of = {key: row for row, key in enumerate(known.tolist())}
    assert [known[r] if r >= 0 else None for r in rows] == \
        [known[row_of[k]] if k in row_of else None for k in keys.tolist()]
    vectors = rng.random((300, 4))
    vectors[5] = vectors[6]  # the same text, the same vector
    filled = np.zeros((250, 4))
    missing = reuse.fill_known(keys, [(known[:100], vectors[:100]), (known, vectors)], filled)
    assert missing.tolist() == list(range(200, 250))
    assert all(np.array_equal(filled[i], vectors[row_of[k]]) for i, k in
               enumerate(keys[:200].tolist()))


def test_a_rebuild_whose_first_source_holds_every_key_fills_them_all():
    """A rebuild that embeds nothing new, with the eval's cache as a second source: the
    lookup there of no keys finds no rows (it raised ValueError, and the eval stopped)."""
    keys = np.array([bytes([i]) * 20 for i in range(1, 6)], dtype="S20")
    vectors, filled = np.arange(10.0).reshape(5, 2), np.zeros((5, 2))
    assert reuse.rows_of(keys[:0], keys).tolist() == []
    missing = reuse.fill_known(keys, [(keys, vectors), (keys[:2], vectors[:2])], filled)
    assert missing.tolist() == [] and np.array_equal(filled, vectors)


def test_chunks_and_tokens_of_an_older_splitter_or_tokenizer_are_not_reused(
        built, fake_embedder, monkeypatch):
    cut, tokenised, quoted = count_work(monkeypatch)
    monkeypatch.setattr("assistant.chunking.SPLITTER_VERSION", 2)
    monkeypatch.setattr("assistant.reuse.TOKENIZER_VERSION", 2)
    summary = rebuild([built.parent / "archive", BUNDLED_ARCHIVE], built, fake_embedder)
    assert len(cut) == summary.articles and len(tokenised) == len(quoted) == summary.chunks
    assert summary.embedded == 0  # vectors depend on neither: still reused


def test_an_index_of_another_model_is_refused_with_the_fix(built):
    other = FakeEmbedder()
    other.fingerprint = "another-model"
    with pytest.raises(IndexMismatch, match="assistant index"):
        load(built, other)


def test_an_index_of_another_format_is_refused(built):
    manifest_path = store.current_version(built) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 999
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="format 999"):
        load(built)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_index_is_refused_with_the_fix(built, damage):
    target = store.current_version(built) / "vectors.npy"
    if damage == "flip":
        raw = bytearray(target.read_bytes())
        raw[-1] ^= 0xFF
        target.write_bytes(bytes(raw))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-10])
    else:
        target.unlink()
    with pytest.raises(IndexDamaged, match="rebuild"):
        load(built)


def count_hashing(monkeypatch) -> list[str]:
    hashed, sha256_file = [], checksums.sha256_file
    monkeypatch.setattr(checksums, "sha256_file", lambda path: hashed.append(path.name) or
                        sha256_file(path))
    return hashed


def test_a_load_hashes_only_the_files_changed_since_they_were_last_hashed(built, monkeypatch):
    monkeypatch.setattr(checksums, "SETTLED", 0.0)  # the files were written a moment ago
    load(built)  # hashes what the build's own record does not cover, and records it
    hashed = count_hashing(monkeypatch)
    load(built)
    assert set(hashed) == {"manifest.json"}  # to check the record is this manifest's
    store.verify(built, FakeEmbedder())  # `assistant index --check`: every file
    folder = store.current_version(built)
    assert len(set(hashed)) == len(load(built).manifest["files"]) + 1
    time.sleep(0.05)  # past the file system clock's tick (SETTLED's job, set to 0 here)
    target = folder / "vectors.npy"  # damaged in place, its mtime put back
    before, raw = target.stat(), bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    hashed.clear()
    with pytest.raises(IndexDamaged, match="vectors.npy does not match its checksum"):
        load(built)
    assert "vectors.npy" in hashed


def test_a_rebuild_hashes_only_the_files_of_the_last_version_changed_since_last_hashed(
        built, fake_embedder, monkeypatch):
    monkeypatch.setattr(checksums, "SETTLED", 0.0)  # the files were written a moment ago
    load(built)  # records every file as hashed
    hashed = count_hashing(monkeypatch)
    reused = build.previous_work(built, fake_embedder, ChunkSettings())
    assert set(hashed) == {"manifest.json"}
    assert reused.vectors and reused.sentence_vectors and reused.tokens and reused.quotes
    time.sleep(0.05)  # past the file system clock's tick (SETTLED's job, set to 0 here)
    target = store.current_version(built) / "vectors.npy"  # damaged in place, mtime put back
    before, raw = target.stat(), bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    hashed.clear()
    assert not build.previous_work(built, fake_embedder, ChunkSettings()).vectors
    assert "vectors.npy" in hashed


def test_no_index_yet_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexMissing, match="assistant index --index"):
        store.current_version(tmp_path / "none")


def test_a_rebuild_failing_midway_leaves_the_old_index_in_service(
        built, small_archive, fake_embedder, monkeypatch):
    before = store.current_name(built)
    (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today.")

    class Exploding(FakeEmbedder):
        def embed(self, texts):
            raise RuntimeError("power cut while embedding")

    with pytest.raises(RuntimeError):
        rebuild([small_archive, BUNDLED_ARCHIVE], built, Exploding())

    def half_save(folder, data, article_keys):
        (folder / "articles.jsonl").write_text("half written")
        raise OSError("disk full")

    monkeypatch.setattr("assistant.build.save_index", half_save)
    with pytest.raises(OSError):
        rebuild([small_archive, BUNDLED_ARCHIVE], built, fake_embedder)
    assert store.current_name(built) == before
    assert not list(built.glob("*.partial"))
    assert len(load(built).articles) == 8


def test_a_full_disk_stops_a_rebuild_with_a_message_and_the_old_index_in_service(
        built, small_archive, fake_embedder, monkeypatch):
    before = store.current_name(built)
    (small_archive / "new.txt").write_text("Late news\n\nA new article arrived today.")

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)  # the vectors' files reserve their space
    with pytest.raises(AssistantError, match="is full: free some space and run `assistant index`"):
        rebuild([small_archive, BUNDLED_ARCHIVE], built, fake_embedder)
    assert store.current_name(built) == before
    assert not list(built.glob("*.partial"))
    assert len(load(built).articles) == 8


def test_the_summary_line_counts_one_of_a_thing_in_the_singular(tmp_path, fake_embedder):
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "a.txt").write_text("Lone story\nDate: 2022-02-30\n\nOne short sentence.")
    line = rebuild([archive], tmp_path / "index", fake_embedder).line()
    assert line.startswith("indexed 1 article, 1 chunk (1 embedded, 0 reused), 0 skipped, "
                           "1 note, in ")
