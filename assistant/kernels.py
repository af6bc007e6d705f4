"""BM25's inner loops over every chunk, compiled by numba: adding a word's column of
scores, and picking the top k.

At a million chunks a question's words hold up to 1.4M postings and the score array is
a million long; numpy's fancy-index add and partition took 3-29 ms a question on them,
these loops 2-7 ms. They release the GIL, so a question's keyword search runs while
another thread embeds it. Compiled code is cached beside this file after the first call.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def add_column(total: np.ndarray, docs: np.ndarray, scores: np.ndarray) -> None:
    """total[docs] += scores."""
    for i in range(len(docs)):
        total[docs[i]] += scores[i]


@njit(cache=True, nogil=True)
def best_ids(scores: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """Ids of the k highest positive scores and of any tied with the k-th, ascending;
    only where `allowed` (a mask; empty: everywhere). Fewer when fewer are positive."""
    masked = len(allowed) > 0
    heap = np.empty(k, dtype=scores.dtype)  # a min-heap of the k best seen so far
    size = 0
    floor = scores.dtype.type(0)  # a score must beat this to enter the heap
    for i in range(len(scores)):
        score = scores[i]
        if score <= floor or (masked and not allowed[i]):
            continue
        if size < k:  # sift up from the end
            child = size
            size += 1
            while child > 0 and heap[(child - 1) // 2] > score:
                heap[child] = heap[(child - 1) // 2]
                child = (child - 1) // 2
            heap[child] = score
        else:  # replace the root, sift down
            parent = 0
            while True:
                child = 2 * parent + 1
                if child >= k:
                    break
                if child + 1 < k and heap[child + 1] < heap[child]:
                    child += 1
                if heap[child] >= score:
                    break
                heap[parent] = heap[child]
                parent = child
            heap[parent] = score
        if size == k:
            floor = heap[0]
    if size == 0:
        return np.empty(0, dtype=np.int64)
    kth = heap[0]  # the k-th best, or the lowest positive when fewer than k are
    count = 0
    for i in range(len(scores)):
        if scores[i] >= kth and (not masked or allowed[i]):
            count += 1
    ids = np.empty(count, dtype=np.int64)
    count = 0
    for i in range(len(scores)):
        if scores[i] >= kth and (not masked or allowed[i]):
            ids[count] = i
            count += 1
    return ids
