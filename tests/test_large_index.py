"""Large-index machinery without the model: the approximate FAISS index against exact
search (an oracle), date filters on it, and articles read lazily from disk."""
from __future__ import annotations

import json
import resource
from types import SimpleNamespace

import numpy as np
import pytest

from assistant import article_file, disk_array
from assistant.article_file import (ROWS, ArticleFile, article_dates, json_line,
                                    article_facets, text_lengths, write_articles)
from assistant.dense import (NPROBE, exact_filter_cheaper, make_faiss_index, read_faiss_index,
                             search_params)
from assistant.disk_array import MappedArray, read_rows
from assistant.embed import normalise
from assistant.index import IndexData
from assistant.types import Article, Hit

from conftest import bytes_read_from_storage, dropped_from_page_cache, needs_io_counts


def clustered(count: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim)).astype(np.float32)
    rows = centres[rng.integers(0, 50, count)] + 0.3 * rng.standard_normal((count, dim))
    return normalise(rows.astype(np.float32))


def data_over(vectors: np.ndarray, exact_below: int) -> IndexData:
    chunks = np.zeros((len(vectors), 3), dtype=np.int64)
    return IndexData({}, [], chunks, np.zeros(len(vectors), "S20"), vectors,
                     make_faiss_index(vectors, exact_below), None, None)


def exact_top(vectors, query, k, allowed=None):
    ids = np.arange(len(vectors)) if allowed is None else np.sort(allowed)
    scores = vectors[ids] @ query
    return set(ids[np.argsort(-scores)[:k]].tolist())


def test_small_indexes_stay_exact_and_large_ones_approximate_well():
    vectors = clustered(6000)
    assert type(make_faiss_index(vectors[:500], 1000)).__name__ == "IndexFlatIP"
    data = data_over(vectors, exact_below=1000)
    assert type(data.faiss_index).__name__ == "IndexIVFScalarQuantizer"
    queries = clustered(20, seed=1)
    overlap = [len({h.chunk_id for h in data.dense_search(q, 10)} & exact_top(vectors, q, 10))
               / 10 for q in queries]
    assert np.mean(overlap) >= 0.9


def test_filters_on_the_approximate_index_return_only_allowed_chunks(tmp_path):
    import faiss

    vectors = clustered(6000)
    data = data_over(vectors, exact_below=1000)
    query = clustered(1, seed=2)[0]
    built = data.dense_search(query, 100)
    faiss.write_index(data.faiss_index, str(tmp_path / "faiss.index"))
    data.faiss_index = read_faiss_index(tmp_path / "faiss.index")  # as load_index reads it
    assert data.dense_search(query, 100) == built  # mapped, it searches as built
    rng = np.random.default_rng(3)
    for share in (0.005, 0.3):  # few allowed: exact over their vectors; many: wider probe
        allowed = np.sort(rng.choice(len(vectors), int(share * len(vectors)), replace=False))
        mask = np.zeros(len(vectors), dtype=bool)
        mask[allowed] = True
        assert exact_filter_cheaper(data.faiss_index, len(allowed)) == (share < 0.1)
        hits = data.dense_search(query, 10, mask)
        assert len(hits) == 10 and {h.chunk_id for h in hits} <= set(allowed.tolist())
        found = len({h.chunk_id for h in hits} & exact_top(vectors, query, 10, allowed))
        assert found >= 8
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_filter_is_searched_the_cheaper_way_at_a_million_chunks():
    """The bench's 1M index (2,000 lists): a filter keeping 5,000 chunks is scored exactly;
    one keeping 50,000 probes the lists (23 ms exactly, 3.5 ms probed)."""
    index = SimpleNamespace(ntotal=1_000_000, nlist=2_000, nprobe=16)
    assert exact_filter_cheaper(index, 5_000)
    assert not exact_filter_cheaper(index, 50_000)


ARTICLES = [Article("a1", "Bridge reopens", "The bridge reopened. Traffic flows.", "2022-03-01",
                    "Gazette"),
            Article("a2", "Ünïcode “quotes”", "Text with — dashes and 日本語.", None),
            Article("a3", "Third", "x" * 5000, "2021-12-31", url="https://e.org/3")]


@pytest.mark.parametrize("rows_saved", [True, False])
def test_article_file_reads_each_article_back_on_demand(tmp_path, rows_saved):
    path = tmp_path / "articles.jsonl"
    if rows_saved:  # as a build writes it
        write_articles(path, ARTICLES)
    else:  # as an older build wrote it: the lines are parsed
        path.write_bytes(b"".join(json_line(a) for a in ARTICLES))
    lazy = ArticleFile(path, tmp_path / ROWS if rows_saved else None)
    assert len(lazy) == 3 and list(lazy) == ARTICLES and lazy[-1] == ARTICLES[-1]
    assert lazy[1:] == ARTICLES[1:]
    assert text_lengths(lazy).tolist() == text_lengths(ARTICLES).tolist() == [35, 27, 5000]
    assert article_dates(lazy) == article_dates(ARTICLES) == ["2022-03-01", None, "2021-12-31"]
    assert lazy.ids == ["a1", "a2", "a3"]
    path.unlink()  # a cleanup removing the version: the open file still answers
    assert lazy[2].text == "x" * 5000


def test_facets_come_from_the_saved_rows_without_reading_an_article(tmp_path, monkeypatch):
    path, rows = tmp_path / "articles.jsonl", tmp_path / ROWS
    articles = [*ARTICLES, Article("a4", "Fourth", "Text.", None, "", category="Economy"),
                Article("a5", "Fifth", "More.", None, "Courier", category="Economy")]
    write_articles(path, articles)

    def facets_of(articles):
        facets = article_facets(articles)
        return (facets.sources, facets.categories, facets.source_codes.tolist(),
                facets.category_codes.tolist(), facets.articles_in(["Gazette"], []).tolist(),
                facets.articles_in(["Courier", "Gazette"], ["Economy"]).tolist())

    expected = (["Courier", "Gazette"], ["Economy"], [1, -1, -1, -1, 0], [-1, -1, -1, 0, 0],
                [True, False, False, False, False], [False, False, False, False, True])
    assert facets_of(articles) == expected  # an empty source is none
    monkeypatch.setattr(article_file, "parse", None)  # reading an article would fail
    assert facets_of(ArticleFile(path, rows)) == expected
    saved = json.loads(rows.read_text())  # rows saved before facets were
    for name in ("sources", "categories", "source_codes", "category_codes"):
        del saved[name]
    rows.write_text(json.dumps(saved))
    older = ArticleFile(path, rows)
    monkeypatch.undo()
    assert facets_of(older) == expected  # every article read, once
    monkeypatch.setattr(article_file, "parse", None)
    assert facets_of(older) == expected


def test_saved_rows_that_do_not_describe_the_file_are_refused(tmp_path):
    path = tmp_path / "articles.jsonl"
    write_articles(path, ARTICLES)
    write_articles(tmp_path / "other.jsonl", ARTICLES[:2])  # rows of another file
    with pytest.raises(ValueError, match="does not describe"):
        ArticleFile(path, tmp_path / ROWS)


def resident_file_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssFile"))


def test_mapped_rows_read_then_released_do_not_stay_resident(tmp_path):
    path = tmp_path / "column.npy"
    values = np.arange(16_000_000, dtype=np.float32)  # 64 MB
    np.save(path, values)
    array = MappedArray(path)
    before = resident_file_bytes()
    assert float(array[1_000:9_001_000].sum(dtype=np.float64)) == \
        float(values[1_000:9_001_000].sum(dtype=np.float64))
    held = resident_file_bytes() - before
    array.release(1_000, 9_001_000)
    released = resident_file_bytes() - before
    assert held >= 30_000_000 and released < 2_000_000, (held, released)
    assert np.array_equal(array[5:10], values[5:10])  # still readable after a release
    np.save(path, values[:10])
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(ValueError):
        MappedArray(path)



def test_searches_of_an_inverted_file_read_from_disk_match_faiss_own(tmp_path):
    """dense_search asks FAISS's C++ search for the lists it picked itself (and read
    ahead): the same hits as FAISS's own search, with and without a filter."""
    import faiss

    vectors = clustered(6000)
    faiss.write_index(make_faiss_index(vectors, 1000), str(tmp_path / "faiss.index"))
    data = data_over(vectors, exact_below=1000)
    data.faiss_index = read_faiss_index(tmp_path / "faiss.index")
    rng = np.random.default_rng(5)
    for query in clustered(10, seed=6):
        mask = rng.random(len(vectors)) < 0.3  # a filter the inverted file probes for
        for allowed in (None, mask):
            count = len(vectors) if allowed is None else int(mask.sum())
            scores, ids = data.faiss_index.search(
                query[None], 20, params=search_params(data.faiss_index, allowed, count))
            assert data.dense_search(query, 20, allowed) == [
                Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0])]
    assert data.lists_asked.sum() >= NPROBE  # the lists probed are asked for once


@needs_io_counts
def test_a_search_of_lists_not_cached_waits_on_no_page_read_alone(tmp_path):
    """Left to faults on FAISS's map, a question's probed lists and the centroids were
    read a page at a time, one after another (1,366 faults, 125 ms at 1M chunks). Asked
    for at load (centroids) and before the search (lists), they are read side by side."""
    import faiss

    vectors = normalise(np.random.default_rng(7).standard_normal((200_000, 64)).astype(np.float32))
    path = tmp_path / "faiss.index"  # 14 MB of lists, 16 KB each: 16 are probed
    faiss.write_index(make_faiss_index(vectors, 1000), str(path))
    dropped_from_page_cache(path)
    data = IndexData({}, [], np.zeros((0, 3), np.int64), np.zeros(0, "S20"), vectors,
                     read_faiss_index(path), None, None)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
    assert len(data.dense_search(vectors[0], 10)) == 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults <= 2


def test_read_rows_of_a_mapped_array_are_its_rows_however_the_ids_run(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(3000 * 4, dtype=np.float32).reshape(3000, 4))
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    rng = np.random.default_rng(8)
    for ids in (np.arange(3000), np.array([0]), np.array([2999]), np.array([], dtype=np.int64),
                np.sort(rng.choice(3000, 700, replace=False)), np.r_[5:40, 41, 900:950, 2998]):
        assert np.array_equal(read_rows(mapped, ids), mapped[ids])
    assert np.array_equal(read_rows(np.asarray(mapped), ids), mapped[ids])  # in memory


@needs_io_counts
def test_rows_not_cached_are_read_without_a_fault_and_do_not_stay_resident(tmp_path):
    """Through the map, rows not cached were read a fault at a time, and stayed mapped."""
    path = tmp_path / "vectors.npy"
    np.save(path, np.ones((40_000, 384), dtype=np.float32))  # 61 MB
    dropped_from_page_cache(path)
    mapped = np.load(path, mmap_mode="r")
    ids = np.unique(np.r_[np.arange(0, 40_000, 100), np.arange(20_000, 20_050)])  # a run too
    faults, mapped_pages = resource.getrusage(resource.RUSAGE_SELF).ru_majflt, resident_file()
    assert np.array_equal(read_rows(mapped, ids), np.ones((len(ids), 384), dtype=np.float32))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults <= 2
    assert resident_file() - mapped_pages < 1 << 20


def resident_file() -> int:
    """Bytes of files mapped and resident in this process (RssFile)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssFile"))


@needs_io_counts
def test_prefetched_rows_are_read_from_disk_without_the_read_ahead_around_them(tmp_path):
    path = tmp_path / "column.npy"
    values = np.arange(16_000_000, dtype=np.float32)  # 64 MB
    np.save(path, values)
    dropped_from_page_cache(path)
    array = MappedArray(path)
    before = bytes_read_from_storage()
    rows = slice(8_000_000, 8_050_000)  # 200 KB; a fault alone reads the device's
    array.prefetch(rows.start, rows.stop)  # read-ahead window around it (8 MB here)
    assert np.array_equal(array[rows], values[rows])
    assert bytes_read_from_storage() - before <= 1 << 20


def test_an_array_filled_in_its_own_file_is_saved_without_writing_it_again(tmp_path, monkeypatch):
    path = tmp_path / "vectors.npy"
    filled = disk_array.array_file(path, (3, 4), np.float16)
    filled[1] = 7
    written, save = [], np.save
    monkeypatch.setattr(np, "save", lambda file, array, **kw: written.append(file) or
                        save(file, array, **kw))
    disk_array.save_array(path, filled)
    disk_array.save_array(tmp_path / "copy.npy", filled)
    assert written == [tmp_path / "copy.npy"]
    for saved in (path, tmp_path / "copy.npy"):
        assert np.array_equal(np.load(saved), [[0] * 4, [7] * 4, [0] * 4])
