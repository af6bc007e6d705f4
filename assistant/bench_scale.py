"""`ask` latency and memory per chunk on large indexes: real chunk metadata, synthetic vectors.

An index of n chunks repeats the dev slice's articles and chunks (ids made unique) with
vectors drawn around the slice's real vectors: real + Gaussian noise, renormalised, so
neighbourhoods keep the shape of real data. Each index is saved like any other and then
loaded and asked in a fresh process, so the memory measured is what a server would hold.
That process then switches to a new version of its index while asking, as after a rebuild.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .chunking import embedding_text
from .dense import make_faiss_index
from .embed import normalise
from .evaluate import percentile
from .index import IndexData, save_index, text_key
from .lexical import LexicalIndex, tokenize
from .sentences import Sentences
from . import store

NOISE = 0.03  # per dimension; a synthetic vector's cosine to its real seed is about 0.85
BLOCK = 100_000
SWITCH_LIMIT = 600  # seconds; a switch not served by then is a failure, not a slow load


def synthetic_index(base: IndexData, size: int, index_dir: Path, exact_below: int):
    """Save an index of `size` chunks built from `base` into `index_dir`; returns its
    vectors and FAISS index (for the recall check against exact search)."""
    articles, rows = list(base.articles), np.asarray(base.chunks)
    copies = -(-size // len(rows))
    texts = [embedding_text(articles[int(r)], base.chunk(i)) for i, r in enumerate(rows[:, 0])]
    tiled = np.concatenate([rows + [len(articles) * c, 0, 0] for c in range(copies)])[:size]
    used = int(tiled[-1, 0]) + 1
    many = [replace(articles[i % len(articles)], id=f"{articles[i % len(articles)].id}~"
                    f"{i // len(articles)}") for i in range(used)]
    vectors = synthetic_vectors(np.asarray(base.vectors), size)
    faiss_index = make_faiss_index(vectors, exact_below)
    manifest = {k: v for k, v in base.manifest.items() if k != "files"}
    # Each repetition carries the slice's copies of a story, so asks do their news work.
    clusters = [[row + len(articles) * c for row in cluster] for c in range(copies)
                for cluster in base.clusters if max(cluster) + len(articles) * c < used]
    manifest["counts"] = {"articles": used, "chunks": size, "skipped": 0,
                          "clusters": len(clusters)}
    keys = np.array([text_key(f"synthetic {i}") for i in range(size)], dtype="S20")
    tokens = [tokenize(text) for text in texts]
    data = IndexData(manifest, many, tiled, keys, vectors, faiss_index,
                     LexicalIndex.build((tokens * copies)[:size]),
                     synthetic_sentences(base.sentences, size), clusters)
    with store.writer_lock(index_dir), store.new_version(index_dir) as folder:
        save_index(folder, data, [text_key(a.text) for a in many])
    return vectors, faiss_index


def synthetic_sentences(base: Sentences, size: int) -> Sentences:
    """The base chunks' sentences, repeated as the chunks are (real vectors, not noisy
    ones: the answerer reads them, the search does not)."""
    offsets = np.asarray(base.offsets[:])
    chunks = len(offsets) - 1
    copies = -(-size // chunks)
    counts = np.tile(np.diff(offsets), copies)[:size]
    tiled = np.concatenate([[0], np.cumsum(counts)])
    total = int(tiled[-1])
    keys = np.array([text_key(f"synthetic sentence {i}") for i in range(total)], dtype="S20")
    return Sentences(tiled, np.tile(base.spans[:], (copies, 1))[:total],
                     np.tile(base.vectors[:], (copies, 1))[:total], keys)


def synthetic_vectors(seeds: np.ndarray, size: int) -> np.ndarray:
    rng = np.random.default_rng(size)
    vectors = np.empty((size, seeds.shape[1]), dtype=np.float32)
    for start in range(0, size, BLOCK):
        rows = np.arange(start, min(size, start + BLOCK)) % len(seeds)
        noise = rng.standard_normal((len(rows), seeds.shape[1]), dtype=np.float32)
        vectors[start:start + len(rows)] = normalise(seeds[rows] + NOISE * noise)
    return vectors


def recall_vs_exact(vectors: np.ndarray, index, queries: np.ndarray, k: int) -> float:
    """Share of the exact top-k (inner product) that `index` also returns."""
    import faiss

    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, k)
    _, found = index.search(queries, k)
    return round(float(np.mean([len(set(t) & set(f)) / k for t, f in zip(truth, found)])), 4)


def memory() -> dict[str, int]:
    """This process's resident bytes: all, anonymous, and file-backed (mapped files)."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile"):
                fields[name] = int(value.split()[0]) * 1024
    return fields


def measure_asks(index_dir: str, base_dir: str, questions: list[str], precision: str) -> dict:
    """In a fresh process: load the index, then time, per question, embedding it alone,
    retrieval alone and the whole `ask`; memory is measured around loading and asking.

    The same questions are first asked of the small base index, whose articles the large
    one repeats: the model's working memory for these answers is then already counted
    before, and the difference is the large index's."""
    from . import lexical
    from .embed import Embedder
    from .pipeline import Assistant
    from .retrieve import retrieve

    embedder = Embedder(precision=precision)
    warm_up = Assistant(Path(base_dir), embedder)
    # A server's warm-up loads numba's compiled loop for a large index. Its runtime (about
    # 135 MB) is the process's, not the index's: loaded before memory is measured.
    lexical.load_compiled_loop(warm_up.data.lexical.columns)
    for question in questions:
        warm_up.ask(question)
    del warm_up
    before, clock = memory(), time.perf_counter()
    assistant = Assistant(Path(index_dir), embedder)
    data = assistant.data
    load_seconds, loaded = time.perf_counter() - clock, memory()
    assistant.ask(questions[-1])  # warm-up, not counted
    millis = {"embed": [], "search": [], "ask": []}
    for question in questions[:-1]:
        clock = time.perf_counter()
        vector = embedder.embed_one(question)
        millis["embed"].append((time.perf_counter() - clock) * 1000)
        clock = time.perf_counter()
        retrieve(data, vector, question)
        millis["search"].append((time.perf_counter() - clock) * 1000)
        clock = time.perf_counter()
        assistant.ask(question)
        millis["ask"].append((time.perf_counter() - clock) * 1000)
    after = memory()
    result = {f"{name}_p{q}_ms": percentile(values, q) for name, values in millis.items()
              for q in (50, 95)}
    result.update(measure_switch(assistant, Path(index_dir), questions))
    result["load_s"] = round(load_seconds, 2)
    result.update({f"resident_{name}_bytes": after[name] - before[name] for name in after})
    result["resident_after_load_bytes"] = loaded["VmRSS"] - before["VmRSS"]
    return result


def measure_switch(assistant, index_dir: Path, questions: list[str]) -> dict:
    """Switch the index in service to a new version, a hard-linked copy of it, as a
    finished rebuild would; then ask until the new version answers: how long that took,
    and how long the asks took meanwhile."""
    served = assistant.data
    with store.writer_lock(index_dir), store.new_version(index_dir) as folder:
        source = store.current_version(index_dir)
        for path in source.rglob("*"):
            if path.is_file():
                (folder / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                os.link(path, folder / path.relative_to(source))
    switched, millis = time.perf_counter(), []
    for question in itertools.cycle(questions):
        clock = time.perf_counter()
        assistant.ask(question)
        millis.append((time.perf_counter() - clock) * 1000)
        if assistant.data is not served:
            break
        if time.perf_counter() - switched > SWITCH_LIMIT:
            raise RuntimeError(f"a new version was not served within {SWITCH_LIMIT} s")
    return {"switch_s": round(time.perf_counter() - switched, 2), "switch_asks": len(millis),
            "switch_ask_p50_ms": percentile(millis, 50),
            "switch_ask_p95_ms": percentile(millis, 95),
            "switch_ask_max_ms": round(max(millis), 1)}


def scale_report(base: IndexData, base_dir: Path, questions, sizes, exact_below: int,
                 asks: int, work: Path, embedder, say) -> dict:
    """Per size: latency, memory per chunk, index type and recall against exact search;
    the largest size's figures also as the report's `..._1m` keys."""
    texts = [q.question for q in questions][:asks + 1]
    queries = embedder.embed(texts)
    spawn = multiprocessing.get_context("spawn")
    report = {}
    for size in sizes:
        vectors, index = synthetic_index(base, size, work / str(size), exact_below)
        row = {"index": type(index).__name__, "dense_recall10_vs_exact": 1.0,
               "dense_recall100_vs_exact": 1.0}
        if size >= exact_below:
            row.update(dense_recall10_vs_exact=recall_vs_exact(vectors, index, queries, 10),
                       dense_recall100_vs_exact=recall_vs_exact(vectors, index, queries, 100))
        del vectors, index
        with spawn.Pool(1) as pool:
            row.update(pool.apply(measure_asks, (str(work / str(size)), str(base_dir), texts,
                                                 embedder.precision)))
        row["bytes_per_chunk"] = round(row["resident_VmRSS_bytes"] / size, 1)
        row["bytes_per_chunk_loaded"] = round(row["resident_after_load_bytes"] / size, 1)
        row["private_bytes_per_chunk"] = round(row["resident_RssAnon_bytes"] / size, 1)
        row["ask_p95_over_embed"] = round(row["ask_p95_ms"] / row["embed_p95_ms"], 2)
        row["search_p95_over_embed"] = round(row["search_p95_ms"] / row["embed_p95_ms"], 2)
        report[str(size)] = row
        say(f"{size} chunks: {row}")
    largest = report[str(max(sizes))]
    return {"scale": report, "largest_size": max(sizes),
            "ask_p95_over_embed_1m": largest["ask_p95_over_embed"],
            "search_p95_over_embed_1m": largest["search_p95_over_embed"],
            "bytes_per_chunk_1m": largest["bytes_per_chunk"]}
