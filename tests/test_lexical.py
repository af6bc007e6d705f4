"""BM25: the index built here against bm25s's, and our column-at-a-time scoring of a saved
index against bm25s's own scoring."""
from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from assistant.lexical import (DATA, EMPTY, INDICES, LexicalIndex, TokenIds,
                               add_column_with_numpy, best_ids, merge_tokens, tokenize)

from conftest import bytes_read_from_storage, dropped_from_page_cache, needs_io_counts

WORDS = "summit samarkand kazakhstan oil price tokayev election border grain rail".split()


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(0, 12))) for _ in range(count)]


@pytest.fixture
def saved(tmp_path):
    texts = random_texts(300, seed=1)
    built = LexicalIndex.build([tokenize(t) for t in texts])
    built.save(tmp_path)
    return built, tmp_path


@pytest.mark.parametrize("query", ["summit", "oil price price", "Tokayev at the border",
                                   "nothing matches", "the"])
def test_a_loaded_index_scores_as_bm25s_does(saved, query):
    import bm25s

    built, folder = saved
    reference = bm25s.BM25.load(str(folder), allow_pickle=False)
    known = [t for t in tokenize(query) if t in reference.vocab_dict]
    expected = reference.get_scores(known) if known else np.zeros(300)
    assert np.allclose(LexicalIndex.load(folder).scores(query), expected, atol=1e-6)
    assert np.allclose(built.scores(query), expected, atol=1e-6)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_the_compiled_and_numpy_additions_score_alike_bit_for_bit(monkeypatch, compiled):
    from assistant.kernels import add_column

    texts = random_texts(5000, seed=4)
    index = LexicalIndex.build([tokenize(t) for t in texts])
    adder = add_column if compiled else add_column_with_numpy
    monkeypatch.setattr("assistant.lexical.column_adder", lambda: adder)
    for query in ("summit", "oil price price", "grain rail border election", "nothing"):
        expected = np.zeros(5000, dtype=np.float32)
        for word in tokenize(query):  # each posting added in turn, in float32
            if word in index.vocab:
                docs, scores = index.columns.column(index.vocab[word])
                for doc, score in zip(docs.tolist(), scores.tolist()):
                    expected[doc] = np.float32(expected[doc] + np.float32(score))
        assert np.array_equal(index.scores(query), expected)


@pytest.mark.parametrize("compiled_from, warm_up, loads", [
    (0, False, False), (0, True, True), (10**9, True, False)],
    ids=["one-shot", "warm-up-large", "warm-up-small"])
def test_only_a_warm_up_of_a_large_index_loads_numba(saved, compiled_from, warm_up, loads):
    """numba's import and first call take 0.7 s of a process: more than a one-shot ask
    takes in all, at any size. A process about to ask many questions of an index of
    COMPILED_FROM chunks or more loads it; scores are the same either way."""
    _, folder = saved
    script = ("import pathlib, sys; from assistant import lexical; "
              f"lexical.COMPILED_FROM = {compiled_from}; "
              f"index = lexical.LexicalIndex.load(pathlib.Path({str(folder)!r})); "
              f"{'index.load_compiled_loop(); ' if warm_up else ''}"
              "scores = index.scores('oil price').tobytes().hex(); "
              "print('numba' in sys.modules, lexical.column_adder().__name__, scores)")
    loaded, adder, scores = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                           text=True, check=True).stdout.split()
    assert (loaded, adder) == (str(loads), "add_column" if loads else "add_column_with_numpy")
    expected = LexicalIndex.load(folder).scores("oil price")
    assert bytes.fromhex(scores) == expected.tobytes() and expected.any()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_index_built_equals_bm25s_bit_for_bit(seed):
    """Words numbered in the order they first appear, as the build did with bm25s; then
    the same columns, chunk ids and float32 scores as bm25s's own build of those token ids
    (a text without words holds one placeholder token, as it did)."""
    import bm25s

    tokenized = [tokenize(t) for t in random_texts(400, seed) + ["", "border border border"]]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(token, len(vocab)) for token in tokens or [EMPTY]]
           for tokens in tokenized]
    built = LexicalIndex.build(tokenized)
    assert built.vocab == vocab and list(built.vocab) == list(vocab)
    reference = bm25s.BM25()
    reference.index((ids, vocab), show_progress=False)
    for name, ours in (("data", built.columns.data), ("indices", built.columns.indices),
                       ("indptr", built.columns.indptr)):
        assert ours.dtype == reference.scores[name].dtype
        assert np.array_equal(ours, reference.scores[name]), name


def test_merged_tokens_build_the_index_of_tokenising_everything_again():
    """A rebuild takes the tokens of unchanged chunks from the last index, whose words
    include some no chunk holds any more; its index equals a fresh one, vocabulary too."""
    old_texts, new_texts = random_texts(200, seed=4), random_texts(300, seed=5)
    old = LexicalIndex.build([tokenize(t) for t in old_texts + ["lonely words"]]).tokens
    texts = new_texts[:100] + old_texts[50:150] + new_texts[100:] + [old_texts[0]]
    rows = np.array([-1] * 100 + list(range(50, 150)) + [-1] * 200 + [0])
    fresh = [tokenize(texts[i]) for i in np.flatnonzero(rows < 0)]
    merged = LexicalIndex.from_tokens(merge_tokens(rows, old, fresh))
    fresh_build = LexicalIndex.build([tokenize(t) for t in texts])
    assert merged.vocab == fresh_build.vocab and "lonely" not in merged.vocab
    assert np.array_equal(merged.tokens.offsets, fresh_build.tokens.offsets)
    assert np.array_equal(merged.tokens.ids, fresh_build.tokens.ids)
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(merged.columns, name), getattr(fresh_build.columns, name))


def test_saved_tokens_load_as_they_were_and_damaged_ones_are_refused(saved):
    built, folder = saved
    loaded = TokenIds.load(folder)
    assert [[loaded.words[i] for i in loaded.ids[a:b]] for a, b in
            zip(loaded.offsets, loaded.offsets[1:])] == \
        [[built.tokens.words[i] for i in built.tokens.ids[a:b]] for a, b in
         zip(built.tokens.offsets, built.tokens.offsets[1:])]
    np.save(folder / "token_offsets.npy", loaded.offsets[:-1])
    with pytest.raises(ValueError, match="do not fit"):
        TokenIds.load(folder)


def test_a_truncated_score_file_is_an_error_not_wrong_scores(saved):
    _, folder = saved
    path = folder / DATA
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises((OSError, ValueError)):  # load_index turns both into IndexDamaged
        LexicalIndex.load(folder).scores(" ".join(WORDS))


def brute_force_top(index: LexicalIndex, query: str, k: int, allowed=None):
    scores = index.scores(query)
    ids = np.flatnonzero(scores > 0)
    if allowed is not None:
        ids = np.intersect1d(ids, allowed)
    order = sorted(ids.tolist(), key=lambda i: (-scores[i], i))[:k]
    return order, scores[order]


def mask_of(ids: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[ids] = True
    return mask


@pytest.fixture(scope="module")
def skewed():
    """Common and rare words (Zipf-like): many ties and many chunks without a match."""
    rng = np.random.default_rng(3)
    vocabulary = [f"w{i}" for i in range(400)]
    weights = 1.0 / np.arange(1, 401)
    texts = [" ".join(rng.choice(vocabulary, size=rng.integers(1, 30), p=weights / weights.sum()))
             for _ in range(3000)]
    return LexicalIndex.build([tokenize(t) for t in texts]), vocabulary, rng


def test_top_k_equals_ranking_every_score_with_and_without_a_filter(skewed):
    index, vocabulary, rng = skewed
    for trial in range(60):
        query = " ".join(rng.choice(vocabulary[:5] + vocabulary[200:], size=rng.integers(1, 9)))
        k = int(rng.choice([1, 5, 100]))
        allowed = None if trial % 2 else np.sort(rng.choice(3000, 700, replace=False))
        ids, scores = index.top(query, k, None if allowed is None else mask_of(allowed, 3000))
        expected_ids, expected_scores = brute_force_top(index, query, k, allowed)
        assert np.allclose(scores, expected_scores, rtol=1e-6)
        assert ids.tolist() == expected_ids


@pytest.mark.parametrize("block", [1, 3, 16, 2048])
def test_the_best_ids_are_those_of_sorting_every_score(block):
    """Many blocks per k (the floor from the blocks' maxima is used) and few (it is not);
    rounded scores tie across the k-th; zeros never count."""
    rng = np.random.default_rng(block)
    for trial in range(200):
        size = int(rng.integers(0, 400))
        scores = (rng.random(size) * (rng.random(size) < rng.random())).astype(np.float32)
        if trial % 2:
            scores = np.round(scores * 4).astype(np.float32)
        allowed = rng.random(size) < 0.5 if trial % 3 == 0 else None
        k = int(rng.choice([1, 2, 10, 100]))
        kept = [i for i in range(size) if scores[i] > 0 and (allowed is None or allowed[i])]
        kept.sort(key=lambda i: -scores[i])
        expected = [i for i in kept if scores[i] >= scores[kept[k - 1]]] if len(kept) > k else kept
        assert best_ids(scores, allowed, k, block).tolist() == sorted(expected)



@needs_io_counts
def test_a_question_on_columns_not_cached_reads_them_and_not_the_read_ahead_around(tmp_path):
    # 2M postings of common words (8 MB a column file), and one chunk with a rare word.
    common = [[f"word{n % 50}", f"term{n % 7}"] for n in range(1_000_000)]
    LexicalIndex.build(common[:500_000] + [["samarkand"]] + common[500_000:]).save(tmp_path)
    dropped_from_page_cache(tmp_path / DATA, tmp_path / INDICES)
    loaded = LexicalIndex.load(tmp_path)
    before = bytes_read_from_storage()
    assert np.flatnonzero(loaded.scores("Samarkand")).tolist() == [500_000]
    assert bytes_read_from_storage() - before <= 256 << 10  # a fault alone reads 8 MB here
