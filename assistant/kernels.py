"""BM25's inner loop, compiled by numba: adding a word's column of scores.

At a million chunks a question's words hold 0.5M postings at the median and 1.7M at
p95; numpy's `add.at` took twice as long at the median (2.0 ms against 0.8). The loop
releases the GIL, so a question's keyword search runs while another thread embeds it.
Compiled code is cached beside this file after the first call.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def add_column(total: np.ndarray, docs: np.ndarray, scores: np.ndarray) -> None:
    """total[docs] += scores."""
    for i in range(len(docs)):
        total[docs[i]] += scores[i]
