"""Loops compiled by numba: BM25's, adding a word's column of scores at question time and
building the columns from every chunk's token ids; and the near-duplicate check's word
shingles and MinHash.

At a million chunks a question's words hold 0.5M postings at the median and 1.7M at
p95; numpy's `add.at` took twice as long at the median (2.0 ms against 0.8). Building
the columns of 400,000 chunks (30M postings) takes 0.7 s, against 20.6 s in bm25s's
Python loop and 9.4 s sorting (word, chunk) pairs in numpy; the MinHash signatures of
7,486 articles 0.9-1.7 s against 4.8-7.5 s in numpy, and the shingle sets of 3,743 articles
0.5 s (1 s with lower-casing) against 4 s in Python. The loops release the GIL, so a
question's keyword search runs while another thread embeds it, and a build's columns and
signatures while other threads work. Compiled code is cached beside this file after the
first call (about 9 s for them all).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import dedup


@njit(cache=True, nogil=True)
def add_column(total: np.ndarray, docs: np.ndarray, scores: np.ndarray) -> None:
    """total[docs] += scores."""
    for i in range(len(docs)):
        total[docs[i]] += scores[i]


@njit(cache=True, nogil=True)
def first_appearance(ids: np.ndarray, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """`ids` renumbered 0, 1, 2, ... in the order the ids first appear, and the old id of
    each new one (ids that never appear are dropped)."""
    new_id = np.full(vocab_size, -1, dtype=np.int64)
    old_id = np.empty(vocab_size, dtype=np.int64)
    renumbered = np.empty(len(ids), dtype=np.int32)
    used = 0
    for i in range(len(ids)):
        word = ids[i]
        if new_id[word] < 0:
            new_id[word] = used
            old_id[used] = word
            used += 1
        renumbered[i] = new_id[word]
    return renumbered, old_id[:used]


@njit(cache=True, nogil=True)
def postings(ids: np.ndarray, offsets: np.ndarray, vocab_size: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word-major postings of chunks whose token ids are ids[offsets[c]:offsets[c + 1]]:
    (indptr, chunks, counts), where word w's chunks, ascending, and the times it occurs in
    each are chunks[indptr[w]:indptr[w + 1]] and counts[...] (a counting sort)."""
    chunks_holding = np.zeros(vocab_size, dtype=np.int64)
    last_chunk = np.full(vocab_size, -1, dtype=np.int64)
    for chunk in range(len(offsets) - 1):
        for i in range(offsets[chunk], offsets[chunk + 1]):
            if last_chunk[ids[i]] != chunk:
                last_chunk[ids[i]] = chunk
                chunks_holding[ids[i]] += 1
    indptr = np.zeros(vocab_size + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(chunks_holding)
    head = indptr[:-1].copy()
    chunks = np.empty(indptr[-1], dtype=np.int32)
    counts = np.empty(indptr[-1], dtype=np.int32)
    seen = np.zeros(vocab_size, dtype=np.int32)
    for chunk in range(len(offsets) - 1):
        for i in range(offsets[chunk], offsets[chunk + 1]):
            seen[ids[i]] += 1
        for i in range(offsets[chunk], offsets[chunk + 1]):
            word = ids[i]
            if seen[word]:
                chunks[head[word]] = chunk
                counts[head[word]] = seen[word]
                head[word] += 1
                seen[word] = 0
    return indptr, chunks, counts


@njit(cache=True, nogil=True)
def bm25_scores(idf: np.ndarray, length_norm: np.ndarray, indptr: np.ndarray,
                chunks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each posting's score, idf * tf / (tf + length_norm[chunk]), in float64 rounded to
    float32 (as bm25s computes it, so that its scores and these are the same bits)."""
    scores = np.empty(len(chunks), dtype=np.float32)
    for word in range(len(indptr) - 1):
        weight = np.float64(idf[word])
        for p in range(indptr[word], indptr[word + 1]):
            tf = np.float64(counts[p])
            scores[p] = np.float32(weight * (tf / (length_norm[chunks[p]] + tf)))
    return scores


@njit(cache=True, nogil=True)
def take_ranges(source: np.ndarray, starts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """source[starts[r]:starts[r] + n] for every range r of n = offsets[r + 1] - offsets[r]
    elements, one after another."""
    out = np.empty(offsets[-1], dtype=source.dtype)
    for r in range(len(starts)):
        out[offsets[r]:offsets[r + 1]] = source[starts[r]:starts[r] + offsets[r + 1] - offsets[r]]
    return out


@njit(cache=True, nogil=True)
def min_hashes(values: np.ndarray, ends: np.ndarray, a: np.ndarray, b: np.ndarray
               ) -> np.ndarray:
    """MinHash signatures (dedup.minhash) of the sets values[ends[s - 1]:ends[s]]: per set
    and permutation i, the least (a[i] * x + b[i] mod 2**64) >> 32 of its values, or
    2**32 - 1 for an empty set. Each value meets all permutations in turn, a loop the
    compiler vectorises: 2-2.5 times faster than each permutation meeting all values."""
    signatures = np.empty((len(ends), len(a)), dtype=np.uint32)
    lowest = np.empty(len(a), dtype=np.uint64)
    for s in range(len(ends)):
        lowest[:] = 2**32 - 1
        for x in values[ends[s - 1] if s else 0:ends[s]]:
            for i in range(len(a)):
                lowest[i] = min(lowest[i], (x * a[i] + b[i]) >> np.uint64(32))
        signatures[s] = lowest
    return signatures


@njit(cache=True, nogil=True)
def crowded_buckets(values: np.ndarray, bits: int, crowd: int) -> np.ndarray:
    """Positions, ascending, of the values whose bucket (their low `bits` bits) holds
    `crowd` or more of the values: one small table, no array as long as the values."""
    mask = np.uint64((1 << bits) - 1)
    counts = np.zeros(1 << bits, dtype=np.uint32)
    for value in values:
        counts[value & mask] += 1
    found = 0
    for value in values:
        found += counts[value & mask] >= crowd
    positions = np.empty(found, dtype=np.int64)
    found = 0
    for p in range(len(values)):
        if counts[values[p] & mask] >= crowd:
            positions[found] = p
            found += 1
    return positions


FNV_OFFSET, FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
GOLDEN = np.uint64(dedup.GOLDEN)


mix64 = njit(cache=True, nogil=True)(dedup.mix64)  # the splitmix64 finaliser, of one value


@njit(cache=True, nogil=True)
def word_shingles(codes: np.ndarray, ends: np.ndarray, word_char: np.ndarray, k: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """dedup.shingle_sets of the texts codes[ends[t - 1]:ends[t]] (code points, lower-cased):
    all sets end to end, and where each ends. Words are runs of code points c with
    word_char[c]; a word's hash is FNV-1a over its code points, mixed."""
    longest = 0
    for t in range(len(ends)):
        longest = max(longest, ends[t] - (ends[t - 1] if t else 0))
    words = np.empty(longest // 2 + 1, dtype=np.uint64)
    out = np.empty(len(codes) // 2 + len(ends), dtype=np.uint64)
    set_ends = np.empty(len(ends), dtype=np.int64)
    size = 0
    for t in range(len(ends)):
        count, inside, word = 0, False, FNV_OFFSET
        for i in range(ends[t - 1] if t else 0, ends[t]):
            if word_char[codes[i]]:
                if not inside:
                    inside, word = True, FNV_OFFSET
                word = (word ^ np.uint64(codes[i])) * FNV_PRIME
            elif inside:
                words[count] = mix64(word)
                count, inside = count + 1, False
        if inside:
            words[count] = mix64(word)
            count += 1
        first, width = size, min(k, count)
        for run in range(count - width + 1 if count else 0):
            combined = np.uint64(0)
            for offset in range(width):
                combined = combined * GOLDEN + words[run + offset]
            out[size] = mix64(combined)
            size += 1
        shingles = np.sort(out[first:size])
        size = first
        for j in range(len(shingles)):  # unique: sorted, repeats are neighbours
            if j == 0 or shingles[j] != shingles[j - 1]:
                out[size] = shingles[j]
                size += 1
        set_ends[t] = size
    return out[:size], set_ends
