"""BM25: our column-at-a-time scoring of a saved index against bm25s's own scoring."""
from __future__ import annotations

import random

import numpy as np
import pytest

from assistant.lexical import DATA, LexicalIndex, tokenize

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
