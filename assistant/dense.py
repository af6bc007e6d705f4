"""The dense side of the index: the FAISS index a size calls for, and searching it, with
or without a date filter."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .disk_array import read_rows, will_need
from .types import Hit

EXACT_BELOW = 100_000  # chunks; larger indexes are approximate (README, "Performance")
NPROBE = 16  # inverted lists searched per query (of ~2·sqrt(n))
# Scoring one allowed chunk exactly (its float32 vector read from disk) costs about as much
# as scanning this many 8-bit codes of a probed list: 0.35-0.45 us against 6-9 ns (read
# through a map; with a pread per article's run of chunks, 0.4-0.9 us).
GATHER_COST = 50
RETRAIN_AFTER = 0.1  # share of an inverted file's chunks changed before k-means runs anew


def make_faiss_index(vectors: np.ndarray, exact_below: int | None = None, trained=None,
                     lists: np.ndarray | None = None):
    """Inner-product search; on unit vectors, inner product is cosine similarity.

    Below `exact_below` (default EXACT_BELOW) chunks, exact (IndexFlatIP: 1,536 bytes a
    chunk in memory). Above, an inverted file of ~2·sqrt(n) k-means lists holding 8-bit
    scalar-quantised vectors (IVF-SQ8: 384 bytes a chunk), of which NPROBE lists are
    searched. `trained`, an inverted file whose training still fits (keeps_training),
    gives its lists' centroids and quantiser instead of k-means (5.5 s at 120,000 chunks);
    `lists` then gives each vector's list in it where known (-1 where not: list_of_ids).
    """
    import faiss

    count, dim = vectors.shape
    if count < (EXACT_BELOW if exact_below is None else exact_below):
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index
    if trained is not None:
        index = empty_copy(trained)
    else:
        nlist = int(2 * np.sqrt(count))
        index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(np.random.default_rng(0).choice(count, min(count, 40 * nlist),
                                                         replace=False))
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for start in range(0, count, 100_000):
        block = np.ascontiguousarray(vectors[start:start + 100_000], dtype=np.float32)
        if lists is None or trained is None:
            index.add(block)
        else:
            add_to_lists(index, block, lists[start:start + 100_000])
    index.nprobe = NPROBE
    return index


def add_to_lists(index, vectors: np.ndarray, lists: np.ndarray) -> None:
    """Add `vectors` to an inverted file, each to its list in `lists` where known (>= 0):
    only the others are assigned by searching the lists' centroids, which is most of
    what adding costs (1.6 s of 1.7 at 120,000 chunks; it grows with the list count)."""
    import faiss

    lists = np.array(lists, dtype=np.int64)
    unknown = np.flatnonzero(lists < 0)
    if len(unknown):
        lists[unknown] = faiss.downcast_index(index.quantizer).search(vectors[unknown], 1)[1][:, 0]
    index.add_core(len(vectors), faiss.swig_ptr(vectors), None, faiss.swig_ptr(lists))


def list_of_ids(index) -> np.ndarray:
    """Per id of an inverted file, the list that holds it (-1 if none does)."""
    import faiss

    lists = np.full(index.ntotal, -1, dtype=np.int64)
    for number in range(index.nlist):
        size = index.invlists.list_size(number)
        if size:
            lists[faiss.rev_swig_ptr(index.invlists.get_ids(number), size)] = number
    return lists


def keeps_training(index, count: int, changed: int) -> bool:
    """Whether an inverted file's training serves `count` chunks, `changed` of which are
    new to it or gone since it was trained: at most RETRAIN_AFTER of them. Past that,
    k-means runs anew (the archive grew, shrank or moved on to other stories; its list
    count, ~2·sqrt(n), has changed by 5% at most)."""
    import faiss

    return isinstance(index, faiss.IndexIVFScalarQuantizer) and changed <= RETRAIN_AFTER * count


def empty_copy(index):
    """An empty inverted file trained as `index` is: its lists' centroids and its scalar
    quantiser's ranges."""
    import faiss

    quantizer = faiss.IndexFlatIP(index.d)
    quantizer.add(index.quantizer.reconstruct_n(0, index.nlist))
    copy = faiss.IndexIVFScalarQuantizer(quantizer, index.d, index.nlist,
                                         faiss.ScalarQuantizer.QT_8bit,
                                         faiss.METRIC_INNER_PRODUCT, index.by_residual)
    faiss.copy_array_to_vector(faiss.vector_to_array(index.sq.trained), copy.sq.trained)
    copy.is_trained = True
    return copy


def search_params(index, allowed: np.ndarray | None, allowed_count: int):
    """FAISS search parameters restricting `index` to the chunks `allowed` (a mask over
    chunk ids, holding `allowed_count`; None: all)."""
    import faiss

    if allowed is None:
        return None
    # A bitmap: built in a millisecond, where a set of ids takes tens of them at 1M chunks.
    bits = np.packbits(allowed, bitorder="little")
    selector = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(bits))
    selector.bits = bits  # the bitmap must live as long as the selector
    if isinstance(index, faiss.IndexIVF):
        return faiss.SearchParametersIVF(sel=selector, nprobe=filtered_nprobe(index, allowed_count))
    return faiss.SearchParameters(sel=selector)


def filtered_nprobe(index, allowed_count: int) -> int:
    """Lists an inverted file probes for a filter keeping `allowed_count` chunks:
    proportionally more the fewer are allowed, so a filter keeping a tenth of the chunks
    still finds about as many candidates."""
    share = max(allowed_count, 1) / max(index.ntotal, 1)
    return min(index.nlist, int(np.ceil(index.nprobe / share)))


def exact_filter_cheaper(index, allowed_count: int) -> bool:
    """Whether scoring a filter's chunks exactly costs less than probing the inverted file
    for them. At 1M chunks the two meet near 12,000 chunks: a filter keeping 50,000 took
    23 ms exactly against 3.5 ms probed (recall@10 0.99)."""
    scanned = filtered_nprobe(index, allowed_count) * index.ntotal / index.nlist
    return allowed_count * GATHER_COST <= scanned


def read_faiss_index(path: Path):
    """The saved FAISS index, mapped, not read: a query probes a few of an inverted file's
    lists. MMAP_IFC keeps FAISS's in-memory list layout over the map; plain MMAP's on-disk
    lists searched 2.5 times slower (1.3 against 0.5 ms at 1M chunks)."""
    import faiss

    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    quantizer = faiss.downcast_index(index.quantizer) if isinstance(index, faiss.IndexIVF) else None
    if isinstance(quantizer, faiss.IndexFlat):  # its centroids, which every search scans
        will_need([span(faiss.rev_swig_ptr(quantizer.get_xb(), quantizer.ntotal * quantizer.d))])
    return index


def span(array: np.ndarray) -> tuple[int, int]:
    """The addresses an array's bytes lie between."""
    return array.ctypes.data, array.ctypes.data + array.nbytes


def search_read_ahead(index, query: np.ndarray, k: int, params,
                      asked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An inverted file's search (scores, ids), its probed lists asked from disk first."""
    import faiss

    nearest, lists = index.quantizer.search(query, params.nprobe if params else index.nprobe)
    read_lists_ahead(index, lists, asked)
    scores = np.empty((1, k), dtype=np.float32)
    ids = np.empty((1, k), dtype=np.int64)
    # The C++ call: Python's wrapper of it takes no search parameters (filters).
    index.search_preassigned_c(1, faiss.swig_ptr(query), k, faiss.swig_ptr(lists),
                               faiss.swig_ptr(nearest), faiss.swig_ptr(scores),
                               faiss.swig_ptr(ids), False, params)
    return scores, ids


def read_lists_ahead(index, lists: np.ndarray, asked: np.ndarray) -> None:
    """Ask the disk at once for the codes and ids of the `lists` not `asked` for before
    (a mask over lists, updated), in an inverted file read by read_faiss_index (in one
    built in memory, the hint does nothing). Left to faults on FAISS's map, lists not
    cached were read a page a fault, one fault after another: at 1M chunks, 800-1,400
    faults and 70-150 ms a search, against 5-7 ms with this. Once searched, a list's
    pages stay mapped, so each list is asked for once a process."""
    import faiss

    new = np.unique(lists[lists >= 0])
    new = new[~asked[new]]
    asked[new] = True
    ranges = []
    for number in new.tolist():
        size = index.invlists.list_size(number)
        if size:
            for part in (faiss.rev_swig_ptr(index.invlists.get_codes(number), size * index.code_size),
                         faiss.rev_swig_ptr(index.invlists.get_ids(number), size)):
                ranges.append(span(part))
    will_need(ranges)


def dense_search(faiss_index, vectors: np.ndarray, query: np.ndarray, k: int,
                 allowed: np.ndarray | None = None, asked: np.ndarray | None = None) -> list[Hit]:
    """Top-k rows of `faiss_index` by inner product with `query`, among the `allowed`
    ones (a mask over rows; None: all); `vectors` are the rows, read for exact scores.
    `asked`: an inverted file's lists asked from disk so far (read_lists_ahead)."""
    import faiss

    searchable = faiss_index.ntotal if allowed is None else int(np.count_nonzero(allowed))
    k = min(k, searchable)
    if k <= 0:
        return []
    if allowed is not None and isinstance(faiss_index, faiss.IndexIVF) \
            and exact_filter_cheaper(faiss_index, searchable):
        # Few chunks allowed: exact scores from their vectors (read from disk) beat
        # probing lists that hold hardly any of them.
        ids = np.flatnonzero(allowed)
        scores = read_rows(vectors, ids) @ query.astype(np.float32)
        top = np.argsort(-scores, kind="stable")[:k]
        return [Hit(int(ids[i]), float(scores[i])) for i in top]
    # One question, one thread: FAISS's OpenMP team would spin at its barriers against
    # the keyword search and the embedding on the other core, stalling 5-15 ms.
    # The setting is this thread's own (builds elsewhere keep every core); restored.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        query = query.reshape(1, -1).astype(np.float32)
        params = search_params(faiss_index, allowed, searchable)
        if asked is not None:
            scores, ids = search_read_ahead(faiss_index, query, k, params, asked)
        else:
            scores, ids = faiss_index.search(query, k, params=params)
    finally:
        faiss.omp_set_num_threads(threads)
    return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
