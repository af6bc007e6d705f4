"""Near-duplicate and syndicated articles: word shingles, MinHash and LSH banding (pure).

Two articles are near duplicates when the Jaccard similarity of their sets of k-word
shingles reaches a threshold, or when nearly all of the shorter one's shingles are in the
other (containment: a wire story trimmed by the outlet that reprints it). Shingles found
in very many articles (a site's newsletter box, "How relevant is this ad to you?") are
boilerplate and dropped first, so that pages scraped as nothing but boilerplate do not
all look alike. MinHash signatures estimate the similarity and LSH banding makes pairs
whose signatures agree on a whole band into candidates; each candidate is then checked
on the exact shingle sets, so the thresholds are exact, not estimated. Syndicated copies
run within days of each other: outside `max_days` (or when a date is missing) a pair must
be near-identical to count.

    >>> wire = "The harbour bridge reopened on Monday after two years of repairs, the mayor said."
    >>> articles = [Article("a", "Bridge reopens", wire, date="2022-03-01"),
    ...             Article("b", "Bridge open again", wire + " Subscribe!", date="2022-03-02"),
    ...             Article("c", "Wheat", "Wheat prices fell.", date="2022-03-01")]
    >>> find_clusters(articles)
    [['a', 'b']]
"""
from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

from .types import Article

WORD_CHARACTER = re.compile(r"[^\W_]")  # words are runs of these (letters and digits)
MAX_SIZE_RATIO = 3  # containment is looked for in texts up to three times the shorter one
GOLDEN = 0x9E3779B97F4A7C15  # odd multiplier from the golden ratio (Fibonacci hashing)
TEXTS_AT_ONCE = 1000  # their code points: 4 bytes each, about 20 MB for news articles
# drop_boilerplate's first count: 2**20 buckets (a 4 MB table). A bucket holds on average
# under a third of max_df shingles at any archive size (about 1,500 a text, max_df a 200th
# of the texts), so few beside boilerplate share a crowded one.
BUCKET_BITS = 20


@dataclass(frozen=True)
class Pair:
    """Two near-duplicate articles (ids) and how much of their shingle sets they share."""

    a: str
    b: str
    similarity: float  # Jaccard: |A & B| / |A | B|
    containment: float  # |A & B| / min(|A|, |B|): high when one is a trimmed copy of the other
    days_apart: int | None  # None when either article is undated


@dataclass(frozen=True)
class Sets:
    """Sets of shingle hashes end to end: set i is values[ends[i - 1]:ends[i]], sorted and
    unique. One array, not one a text: numpy's cost for each of 30,000 small arrays,
    split out, filtered and joined again, was 2.4 s of the search's 24.8."""

    values: np.ndarray  # uint64
    ends: np.ndarray  # int64, one per set

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.ends[i - 1] if i else 0:self.ends[i]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))


@dataclass(frozen=True)
class DedupSettings:
    """How near duplicates are found; defaults chosen on the news-qa-2022 dev corpus."""

    threshold: float = 0.5  # Jaccard of shingle sets for a pair published close together
    near_identical: float = 0.8  # ... for a pair far apart in time or undated
    max_days: int | None = 7  # None: dates are ignored
    containment: float | None = 0.8  # or this share of the shorter one's shingles in common
    min_contained: int = 50  # shingles the shorter text needs for containment to count
    shingle_words: int = 5
    # A shingle in at least max(boilerplate_min_df, boilerplate_share * articles) articles is
    # boilerplate; the share keeps a wire story's many copies in a big archive from counting.
    boilerplate_min_df: int = 20
    boilerplate_share: float = 0.005
    num_perm: int = 128
    seed: int = 1


def find_clusters(articles: list[Article], settings: DedupSettings = DedupSettings()
                  ) -> list[list[str]]:
    """Groups (size >= 2) of article ids that are copies of one story.

    Members are ordered by date (undated last), then id; groups by their first member.
    """
    pairs = similar_pairs(articles, settings)
    return clusters_of(pairs, articles)


def cluster_index(clusters: list[list[str]]) -> dict[str, int]:
    """article id -> position of its cluster in `clusters` (for timeline and citations).

    >>> cluster_index([["a", "b"], ["c", "d"]])
    {'a': 0, 'b': 0, 'c': 1, 'd': 1}
    """
    return {article_id: n for n, members in enumerate(clusters) for article_id in members}


def similar_pairs(articles: list[Article], settings: DedupSettings = DedupSettings()
                  ) -> list[Pair]:
    """Every pair of articles that counts as near duplicates, ordered by (a, b) position."""
    sets = shingle_sets([article.text for article in articles], settings.shingle_words)
    max_df = max(settings.boilerplate_min_df, math.ceil(settings.boilerplate_share * len(sets)))
    sets = drop_boilerplate(sets, max_df)
    signatures = minhash(sets, settings.num_perm, settings.seed)
    rows = band_rows(lowest_jaccard(settings), settings.num_perm)
    days = [to_day(article.date) for article in articles]
    pairs = []
    for i, j in sorted(candidate_pairs(signatures, rows)):
        first, second = sets[i], sets[j]
        common = len(np.intersect1d(first, second, assume_unique=True))
        smaller = min(len(first), len(second))
        apart = abs(days[i] - days[j]) if days[i] is not None and days[j] is not None else None
        pair = Pair(articles[i].id, articles[j].id, common / (len(first) + len(second) - common),
                    common / smaller, apart)
        if is_copy(pair, smaller, settings):
            pairs.append(pair)
    return pairs


def is_copy(pair: Pair, smaller: int, settings: DedupSettings) -> bool:
    """Close in time: Jaccard over the threshold, or the shorter text contained in the other.
    Far apart or undated: near-identical, since a story run again weeks later is a copy
    only if it is nearly the same text."""
    close = settings.max_days is None or (
        pair.days_apart is not None and pair.days_apart <= settings.max_days)
    if not close:
        return pair.similarity >= settings.near_identical
    contained = settings.containment is not None and smaller >= settings.min_contained \
        and pair.containment >= settings.containment
    return pair.similarity >= settings.threshold or contained


def lowest_jaccard(settings: DedupSettings) -> float:
    """The lowest Jaccard a copy can have, which LSH must still make a candidate. A text of
    s shingles contained at c in one of MAX_SIZE_RATIO * s has J = c / (1 + ratio - c)."""
    lowest = min(settings.threshold, settings.near_identical)
    if settings.containment is None:
        return lowest
    return min(lowest, settings.containment / (1 + MAX_SIZE_RATIO - settings.containment))


def shingle_sets(texts: list[str], k: int = 5) -> Sets:
    """Per text, the sorted unique 64-bit hashes of its k-word shingles (lower-cased
    words). A text shorter than k words is one shingle; a text without words has
    none. A compiled loop hashes the words (FNV-1a over their code points, the same on
    every run and machine) and their shingles, TEXTS_AT_ONCE texts a call.

    >>> [len(s) for s in shingle_sets(["one two three four five six", "Six!", ""], k=5)]
    [2, 1, 0]
    """
    from .kernels import word_shingles

    values, ends, before = [np.zeros(0, dtype=np.uint64)], [np.zeros(0, dtype=np.int64)], 0
    for first in range(0, len(texts), TEXTS_AT_ONCE):
        lowered = [text.lower() for text in texts[first:first + TEXTS_AT_ONCE]]
        codes = np.frombuffer("".join(lowered).encode("utf-32-le", "surrogatepass"),
                              dtype=np.uint32)
        text_ends = np.cumsum([len(text) for text in lowered], dtype=np.int64)
        table = word_characters(1 << int(codes.max(initial=0)).bit_length())
        block, set_ends = word_shingles(codes, text_ends, table, k)
        values.append(block)
        ends.append(set_ends + before)
        before += len(block)
    return Sets(np.concatenate(values), np.concatenate(ends))


@cache
def word_characters(size: int) -> np.ndarray:
    """Per code point below `size`, whether it is a WORD_CHARACTER: told by the regular
    expression itself, so the compiled loop splits words exactly as re would. Sized to
    the texts' highest code point (a power of two): all of Unicode took 0.2 s."""
    everything = "".join(map(chr, range(min(size, sys.maxunicode + 1))))
    marked = WORD_CHARACTER.sub("\0", everything)  # each word character -> NUL
    words = np.frombuffer(marked.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 0
    words[0] = False  # NUL itself is no word character
    return words


def drop_boilerplate(sets: Sets, max_df: int) -> Sets:
    """The sets without the shingles that occur in `max_df` or more of them (a set holds
    a shingle once, so its count is how many sets hold it). Only the shingles in buckets
    (of their low BUCKET_BITS bits) that hold max_df shingles are counted exactly: sorting
    all 46 million shingles of 30,000 articles took 5-9 s."""
    from .kernels import crowded_buckets

    if len(sets) < max_df:
        return sets
    maybe = crowded_buckets(sets.values, BUCKET_BITS, max_df)
    candidates, counts = np.unique(sets.values[maybe], return_counts=True)
    common = candidates[counts >= max_df]
    if not len(common):
        return sets
    dropped = maybe[np.isin(sets.values[maybe], common)]  # positions, ascending
    return Sets(np.delete(sets.values, dropped), sets.ends - np.searchsorted(dropped, sets.ends))


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads every input bit over all 64 output bits. Arrays
    wrap around silently; kernels.py compiles this same function for one value."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def minhash(sets: Sets, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """(len(sets), num_perm) uint32 MinHash signatures; an empty set gets a row of 2**32-1
    sentinels, which agree with nothing real (and empty sets never count as similar).

    Permutation i is multiply-shift hashing, h_i(x) = (a_i * x + b_i mod 2**64) >> 32 with a_i
    odd (Dietzfelbinger et al. 1997): P[min h_i(A) == min h_i(B)] ~ Jaccard(A, B).
    """
    from .kernels import min_hashes

    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64)
    return min_hashes(sets.values.astype(np.uint64, copy=False), sets.ends, a, b)


def band_rows(threshold: float, num_perm: int, recall: float = 0.95) -> int:
    """Rows per LSH band: the most (fewest candidates) that still make a pair at the
    threshold a candidate with probability >= recall: 1 - (1 - t**r)**(num_perm // r).

    >>> band_rows(0.5, 128)
    3
    """
    for rows in range(num_perm, 0, -1):
        if 1 - (1 - threshold ** rows) ** (num_perm // rows) >= recall:
            return rows
    return 1


def candidate_pairs(signatures: np.ndarray, rows: int) -> set[tuple[int, int]]:
    """(i, j), i < j, of the rows whose signatures agree on at least one whole band."""
    real = np.flatnonzero(~np.all(signatures == 2**32 - 1, axis=1))
    pairs: set[tuple[int, int]] = set()
    for first in range(0, signatures.shape[1] - rows + 1, rows):
        keys = band_keys(signatures[real, first:first + rows])
        order = np.argsort(keys, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(keys[order]) != 0])
        sizes = np.diff(np.r_[starts, len(order)])
        shared = real[order]  # runs of rows with equal keys; most rows are alone in theirs
        for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist()):
            members = sorted(shared[start:start + size].tolist())
            pairs.update((x, y) for n, x in enumerate(members) for y in members[n + 1:])
    return pairs


def band_keys(band: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of a band; a rare collision only adds a candidate, which
    the exact check then drops."""
    keys = np.zeros(len(band), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in band.T:
            keys = mix64(keys * np.uint64(GOLDEN) + column.astype(np.uint64))
    return keys


def to_day(iso: str | None) -> int | None:
    return date.fromisoformat(iso).toordinal() if iso else None


def clusters_of(pairs: list[Pair], articles: list[Article]) -> list[list[str]]:
    """Connected components of the pairs (union-find), in a deterministic order."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for pair in pairs:
        parent[root(pair.a)] = root(pair.b)
    groups: dict[str, list[str]] = {}
    for article_id in parent:
        groups.setdefault(root(article_id), []).append(article_id)
    dates = {article.id: article.date for article in articles}

    def key(article_id: str) -> tuple:
        return (dates.get(article_id) is None, dates.get(article_id) or "", article_id)

    clusters = [sorted(members, key=key) for members in groups.values() if len(members) > 1]
    return sorted(clusters, key=lambda members: key(members[0]))
