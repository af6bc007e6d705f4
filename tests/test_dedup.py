"""Near-duplicate and syndicated articles on small hand-made archives, checked against an
exact all-pairs computation."""
from __future__ import annotations

import random
import re
from dataclasses import replace
from itertools import combinations

import numpy as np
import pytest

from assistant.dedup import (BUCKET_BITS, DedupSettings, Pair, Sets, cluster_index,
                             drop_boilerplate, find_clusters, is_copy, minhash, shingle_sets,
                             similar_pairs)
from assistant.kernels import min_hashes
from assistant.types import Article

WIRE = (
    "ALMATY, Kazakhstan (AP) — Kazakhstan's president said Tuesday that the government had "
    "restored order across the country after a week of unrest, and that troops sent by a "
    "Russia-led military alliance would begin to withdraw within two days. Speaking to "
    "parliament, the president said the mission of the Collective Security Treaty "
    "Organization had been successfully completed. He named a new prime minister, an "
    "economist who had served as first deputy prime minister, and promised to address the "
    "economic grievances that brought protesters into the streets. The unrest began over a "
    "sharp rise in fuel prices in the west of the country and spread to Almaty, the largest "
    "city, where government buildings were set on fire. Officials said more than 160 people "
    "were killed and nearly 10,000 detained. Human rights groups called for an independent "
    "investigation into the use of force against protesters."
)
SAME_TOPIC = (
    "Kazakhstan's parliament on Tuesday approved a new prime minister nominated by the "
    "president, days after troops from a Russia-led alliance helped end the worst unrest in "
    "the country's three decades of independence. Lawmakers voted unanimously for the "
    "economist, who pledged to curb fuel prices and to review the privatisation programme. "
    "Analysts in Almaty said the vote showed the president had consolidated power after "
    "removing his predecessor from the security council, and that the alliance's mission "
    "had raised questions about Moscow's influence in Central Asia."
)


def article(article_id: str, text: str, date: str | None = "2022-01-11",
            title: str = "") -> Article:
    return Article(id=article_id, title=title or f"Headline {article_id}", text=text, date=date)


def words(rng: random.Random, n: int) -> list[str]:
    return [f"w{rng.randrange(5000)}" for _ in range(n)]


def test_reprint_with_new_headline_and_trailing_boilerplate_clusters():
    articles = [
        article("ap", WIRE, "2022-01-11", "Kazakhstan says order restored; CSTO troops to leave"),
        article("gazette", WIRE + "\n\nSubscribe to the Gazette for more world news.", "2022-01-12",
                "President declares calm after week of deadly riots"),
        article("other", SAME_TOPIC, "2022-01-11", "Kazakh parliament approves new premier"),
    ]
    assert find_clusters(articles) == [["ap", "gazette"]]


def test_different_stories_on_the_same_topic_do_not_cluster():
    articles = [article("a", WIRE), article("b", SAME_TOPIC)]
    assert find_clusters(articles) == []
    assert similar_pairs(articles) == []


def test_trimmed_reprint_clusters_by_containment():
    trimmed = WIRE[:WIRE.index(" He named")]  # the outlet cut the story after three sentences
    articles = [article("full", WIRE), article("trimmed", trimmed, "2022-01-12")]
    (pair,) = similar_pairs(articles)
    assert pair.similarity < 0.5 and pair.containment == 1.0
    assert find_clusters(articles) == [["full", "trimmed"]]
    assert find_clusters(articles, DedupSettings(containment=None)) == []


def test_date_window():
    edited = WIRE.replace("within two days", "by the end of the week").replace(
        "Human rights groups called", "Rights groups in Geneva and New York called")
    near_identical = WIRE + " Subscribe now."
    # Same text a month apart: a copy only when nearly identical.
    assert find_clusters([article("a", WIRE, "2022-01-11"),
                          article("b", near_identical, "2022-02-20")]) == [["a", "b"]]
    far_edit = [article("a", WIRE, "2022-01-11"), article("b", edited, "2022-02-20")]
    pair = similar_pairs(far_edit, DedupSettings(max_days=None))[0]
    assert 0.5 <= pair.similarity < 0.8
    assert find_clusters(far_edit) == []
    assert find_clusters(far_edit, DedupSettings(max_days=None)) == [["a", "b"]]
    assert find_clusters([article("a", WIRE, "2022-01-11"),
                          article("b", edited, "2022-01-14")]) == [["a", "b"]]


def test_undated_copies_cluster_only_when_near_identical():
    edited = WIRE.replace("within two days", "by the end of the week").replace(
        "Human rights groups called", "Rights groups in Geneva and New York called")
    assert find_clusters([article("a", WIRE, None), article("b", WIRE + " Subscribe now.", None)]) \
        == [["a", "b"]]
    assert find_clusters([article("a", WIRE, None), article("b", edited, "2022-01-11")]) == []


def test_boilerplate_only_pages_do_not_cluster_but_their_articles_still_can():
    box = ("Would you like to receive our daily newsletter? We will use the details you have "
           "shared to manage your registration as described in our privacy policy.")
    rng = random.Random(5)
    stories = [" ".join(words(rng, 120)) for _ in range(3)]
    articles = [article(f"empty{n}", box, title=f"Unrelated headline {n}") for n in range(4)]
    articles += [article("s0", stories[0] + " " + box), article("s0-copy", stories[0] + " " + box),
                 article("s1", stories[1] + " " + box), article("s2", stories[2] + " " + box)]
    settings = DedupSettings(boilerplate_min_df=4)
    assert find_clusters(articles, settings) == [["s0", "s0-copy"]]
    assert len(find_clusters(articles, replace(settings, boilerplate_min_df=100))[0]) == 4


def test_clusters_are_transitive_ordered_and_deterministic():
    rng = random.Random(11)
    base = words(rng, 300)
    a = " ".join(base)
    b = " ".join(base[:280] + words(rng, 20))
    c = " ".join(base[:260] + words(rng, 40))
    articles = [article("z-copy", c, None), article("y-copy", b, "2022-01-12"),
                article("x-orig", a, "2022-01-10"), article("lone", " ".join(words(rng, 300)))]
    clusters = find_clusters(articles, DedupSettings(near_identical=0.7))
    assert clusters == [["x-orig", "y-copy", "z-copy"]]  # by date, undated last
    for _ in range(5):
        rng.shuffle(articles)
        assert find_clusters(articles, DedupSettings(near_identical=0.7)) == clusters
    assert cluster_index(clusters + [["p", "q"]]) == {"x-orig": 0, "y-copy": 0, "z-copy": 0,
                                                      "p": 1, "q": 1}


def test_empty_and_tiny_texts():
    assert find_clusters([]) == []
    articles = [article("e1", "—"), article("e2", "—"), article("t1", "Wheat fell."),
                article("t2", "Wheat fell."), article("t3", "Wheat rose.")]
    # Two identical one-line briefs are copies; texts without words never are.
    assert find_clusters(articles) == [["t1", "t2"]]


def exact_pairs(articles: list[Article], settings: DedupSettings) -> list[tuple[str, str]]:
    """All pairs checked directly on Python sets: the oracle for the LSH fast path."""
    sets = [set(s.tolist()) for s in drop_boilerplate(
        shingle_sets([a.text for a in articles], settings.shingle_words), 10**9)]
    found = []
    for (i, a), (j, b) in combinations(enumerate(articles), 2):
        if not sets[i] or not sets[j]:
            continue
        common = len(sets[i] & sets[j])
        smaller = min(len(sets[i]), len(sets[j]))
        apart = None if not (a.date and b.date) else abs(
            (np.datetime64(a.date) - np.datetime64(b.date)).astype(int))
        pair = Pair(a.id, b.id, common / len(sets[i] | sets[j]), common / smaller, apart)
        if is_copy(pair, smaller, settings):
            found.append((a.id, b.id))
    return found


def test_lsh_finds_what_the_exact_all_pairs_check_finds():
    rng = random.Random(2022)
    articles = []
    for story in range(30):
        base = words(rng, rng.randint(60, 400))
        articles.append(article(f"s{story}", " ".join(base), f"2022-03-{1 + story % 28:02d}"))
        for copy in range(rng.randint(0, 3)):
            kept = base[:int(len(base) * rng.uniform(0.4, 1.0))]  # trimmed ...
            edits = words(rng, rng.randint(0, 40))  # ... and edited
            day = 1 + (story + rng.randint(0, 12)) % 28
            date = None if rng.random() < 0.2 else f"2022-03-{day:02d}"
            articles.append(article(f"s{story}c{copy}", " ".join(kept + edits), date))
    settings = DedupSettings(boilerplate_min_df=10**9)
    expected = exact_pairs(articles, settings)
    found = [(p.a, p.b) for p in similar_pairs(articles, settings)]
    assert len(expected) > 20
    assert sorted(found) == sorted(expected)


def test_minhash_estimates_jaccard():
    rng = random.Random(9)
    base = words(rng, 2000)
    sets = shingle_sets([" ".join(base), " ".join(base[:1000] + words(rng, 1000))])
    a, b = sets
    exact = len(np.intersect1d(a, b)) / len(np.union1d(a, b))
    signatures = minhash(sets, num_perm=512)
    estimate = float(np.mean(signatures[0] == signatures[1]))
    assert exact == pytest.approx(0.33, abs=0.02)
    assert estimate == pytest.approx(exact, abs=0.06)  # ~3 standard errors at 512 permutations


def random_sets(rng: np.random.Generator, count: int, pool: np.ndarray) -> Sets:
    """`count` sets (some empty) of values drawn from `pool`, end to end."""
    sets = [np.unique(rng.choice(pool, rng.integers(0, 40))) for _ in range(count)]
    return Sets(np.concatenate(sets).astype(np.uint64),
                np.cumsum([len(s) for s in sets], dtype=np.int64))


def test_min_hashes_are_each_permutations_least_hash_of_a_set():
    rng = np.random.default_rng(5)
    sets = random_sets(rng, 50, rng.integers(0, 2**64, 200, dtype=np.uint64))
    a = rng.integers(0, 2**64, 16, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**64, 16, dtype=np.uint64)
    found = min_hashes(sets.values, sets.ends, a, b)
    with np.errstate(over="ignore"):
        for members, signature in zip(sets, found):
            expected = (members[:, None] * a + b >> np.uint64(32)).min(axis=0) if len(members) \
                else np.full(16, 2**32 - 1)
            assert np.array_equal(signature, expected)


def test_boilerplate_is_every_shingle_in_max_df_sets_and_only_those():
    """Counted exactly, though a bucket of values sharing their low bits fills up with
    rare values as well as common ones."""
    rng = np.random.default_rng(8)
    low = rng.integers(0, 1 << BUCKET_BITS, 30, dtype=np.uint64)  # 30 buckets, crowded
    pool = np.repeat(low, 8) + (rng.integers(0, 2**40, 30 * 8, dtype=np.uint64)
                                << np.uint64(BUCKET_BITS))
    weights = np.ones(len(pool), dtype=int)
    weights[:64:8] = 200  # a common value in each of 8 buckets, beside 7 rare ones
    sets = random_sets(rng, 400, np.repeat(pool, weights))
    for max_df in (1, 20, 60, 10**9):
        held = [set(members.tolist()) for members in sets]
        counts = {value: sum(value in h for h in held) for value in set().union(*held)}
        found = drop_boilerplate(sets, max_df)
        assert len(found) == len(sets)
        for members, before in zip(found, held):
            assert set(members.tolist()) == {v for v in before if counts[v] < max_df}


def test_shingles_ignore_case_and_punctuation_and_are_stable():
    first, second = shingle_sets(["The Harbour bridge, reopened!", "the harbour BRIDGE reopened"],
                                 k=3)
    assert np.array_equal(first, second) and len(first) == 2
    assert shingle_sets(["one two three"], k=3)[0].tolist() == \
        shingle_sets(["One two three."], k=3)[0].tolist()


def reference_shingles(text: str, k: int) -> np.ndarray:
    """shingle_sets() spelled out in Python: re's words, FNV-1a, the polynomial, unique."""
    def mixed(x: int) -> int:
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) % 2**64
        return x ^ (x >> 31)

    def fnv(word: str) -> int:
        value = 0xCBF29CE484222325
        for character in word:
            value = ((value ^ ord(character)) * 0x100000001B3) % 2**64
        return mixed(value)

    hashes = [fnv(word) for word in re.findall(r"[^\W_]+", text.lower())]
    width, shingles = min(k, len(hashes)), set()
    for start in range(len(hashes) - width + 1 if hashes else 0):
        combined = 0
        for value in hashes[start:start + width]:
            combined = (combined * 0x9E3779B97F4A7C15 + value) % 2**64
        shingles.add(mixed(combined))
    return np.array(sorted(shingles), dtype=np.uint64)


def test_shingle_sets_equal_splitting_words_with_re_in_python(monkeypatch):
    rng = random.Random(4)
    # Letters and digits of many scripts, underscores, apostrophes, a letter that lower-cases
    # to two code points (İ), a lone surrogate, emoji, NUL and repeated shingles.
    alphabet = list("abcXYZ019 _-’'.,\n\t\x00") + ["é", "ß", "İ", "Σ", "ж", "中", "٣", "\u00b2",
                                                    "\ud800", "😀", "𝔘", "\u0301"]
    texts = ["", "   ", "one", "a a a a a a a a", "İstanbul İzmir"] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(200))) for _ in range(300)]
    monkeypatch.setattr("assistant.dedup.TEXTS_AT_ONCE", 7)  # many calls, and a short last one
    for k in (1, 3, 5):
        for text, found in zip(texts, shingle_sets(texts, k)):
            assert np.array_equal(found, reference_shingles(text, k)), (text, k)
