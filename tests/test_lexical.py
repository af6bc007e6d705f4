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
