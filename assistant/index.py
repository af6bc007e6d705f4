"""The index on disk: articles, chunks, vectors, FAISS and BM25, with a validated manifest.

One version folder holds plain files only (JSON, .npy without pickle, FAISS's own format):

    manifest.json   format, model + fingerprint, dimension, chunking, counts, checksums
    articles.jsonl  one article a line (quotes are cut from its `text`)
    article_rows.json  each line's offset, id, text length and date (article_file.py)
    chunks.npy      int64 rows (article_row, start, end)
    keys.npy        SHA-1 of each chunk's embedded text, to reuse vectors on rebuild
    article_keys.npy  SHA-1 of each article's text, to reuse its chunks on rebuild
    vectors.npy     float32 unit rows
    faiss.index     inner-product index over the vectors
    bm25/           the keyword index, and each chunk's tokens for the next rebuild
    sentence*.npy   each chunk's quotable sentences and their vectors (sentences.py)
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import numpy as np

from .article_file import ROWS, ArticleFile, article_days, text_lengths, write_articles
from .embed import available_cores
from .errors import IndexDamaged, IndexMismatch
from .lexical import OFFSETS, TOKENIZER_VERSION, TOKENS, VOCAB, LexicalIndex
from .sentences import FILES as SENTENCE_FILES, KEYS as SENTENCE_KEYS, Sentences
from .sentences import OFFSETS as SENTENCE_OFFSETS, SPANS as SENTENCE_SPANS
from .sentences import VECTORS as SENTENCE_VECTORS, by_article as quotes_by_article
from .types import Article, Chunk, Hit

FORMAT_VERSION = 3  # 2: clusters.json; 3: sentence vectors
ARRAYS = ("chunks.npy", "keys.npy", "vectors.npy")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


EXACT_BELOW = 100_000  # chunks; larger indexes are approximate (README, "Performance")
NPROBE = 16  # inverted lists searched per query (of ~2·sqrt(n))
# Scoring one allowed chunk exactly (its float32 vector read from disk) costs about as much
# as scanning this many 8-bit codes of a probed list: 0.35-0.45 us against 6-9 ns.
GATHER_COST = 50


def make_faiss_index(vectors: np.ndarray, exact_below: int = EXACT_BELOW):
    """Inner-product search; on unit vectors, inner product is cosine similarity.

    Below `exact_below` chunks, exact (IndexFlatIP: 1,536 bytes a chunk in memory). Above,
    an inverted file of ~2·sqrt(n) k-means lists holding 8-bit scalar-quantised vectors
    (IVF-SQ8: 384 bytes a chunk), of which NPROBE lists are searched.
    """
    import faiss

    count, dim = vectors.shape
    if count < exact_below:
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index
    lists = int(2 * np.sqrt(count))
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, lists,
                                          faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    sample = np.sort(np.random.default_rng(0).choice(count, min(count, 40 * lists),
                                                     replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for start in range(0, count, 100_000):
        index.add(np.ascontiguousarray(vectors[start:start + 100_000], dtype=np.float32))
    index.nprobe = NPROBE
    return index


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


@dataclass
class IndexData:
    """Everything one index version holds, in memory."""

    manifest: dict
    articles: Sequence[Article]  # an ArticleFile once loaded: texts read on demand
    chunks: np.ndarray  # (n, 3) int64: article_row, start, end
    keys: np.ndarray  # (n,) S20
    vectors: np.ndarray  # (n, dim) float32
    faiss_index: object
    lexical: LexicalIndex
    sentences: Sentences | None  # None only in search-only test data
    clusters: list[list[int]] = field(default_factory=list)  # article rows: copies of a story

    def chunk(self, chunk_id: int) -> Chunk:
        row, start, end = (int(x) for x in self.chunks[chunk_id])
        return Chunk(self.articles[row].id, start, end)

    def article_of(self, chunk_id: int) -> Article:
        return self.articles[int(self.chunks[chunk_id, 0])]

    def article_id_of(self, chunk_id: int) -> str:
        row = int(self.chunks[chunk_id, 0])
        return self.articles.ids[row] if isinstance(self.articles, ArticleFile) \
            else self.articles[row].id

    @cached_property
    def days_in_order(self) -> np.ndarray:
        """Every article's day, sorted, the undated (NaT) last: a date window bisects them."""
        return np.sort(article_days(self.articles))

    @cached_property
    def chunks_per_article(self) -> np.ndarray:
        """Per article row, its number of chunks. Chunks are in article order (chunks_fit),
        so a date mask over chunks repeats each article's verdict that many times."""
        return np.bincount(self.chunks[:, 0], minlength=len(self.articles))

    def dense_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[Hit]:
        """Top-k chunks by cosine to the unit `query` vector, among the `allowed` ones (a
        mask over chunk ids; None: all)."""
        import faiss

        searchable = len(self.chunks) if allowed is None else int(np.count_nonzero(allowed))
        k = min(k, searchable)
        if k <= 0:
            return []
        if allowed is not None and isinstance(self.faiss_index, faiss.IndexIVF) \
                and exact_filter_cheaper(self.faiss_index, searchable):
            # Few chunks allowed: exact scores from their vectors (read from disk) beat
            # probing lists that hold hardly any of them.
            ids = np.flatnonzero(allowed)
            scores = np.asarray(self.vectors[ids] @ query.astype(np.float32))
            top = np.argsort(-scores, kind="stable")[:k]
            return [Hit(int(ids[i]), float(scores[i])) for i in top]
        # One question, one thread: FAISS's OpenMP team would spin at its barriers against
        # the keyword search and the embedding on the other core, stalling 5-15 ms.
        # The setting is this thread's own (builds elsewhere keep every core); restored.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.faiss_index.search(
                query.reshape(1, -1).astype(np.float32), k,
                params=search_params(self.faiss_index, allowed, searchable))
        finally:
            faiss.omp_set_num_threads(threads)
        return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def save_index(folder: Path, data: IndexData, article_keys: list[bytes]) -> None:
    """Write every file of `data` into `folder`, then the manifest with their checksums;
    `article_keys` are the text keys of `data.articles`."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    write_articles(folder / "articles.jsonl", data.articles)
    for name, array in zip(ARRAYS, (data.chunks, data.keys, data.vectors)):
        np.save(folder / name, array, allow_pickle=False)
    np.save(folder / "article_keys.npy", np.array(article_keys, dtype="S20"), allow_pickle=False)
    faiss.write_index(data.faiss_index, str(folder / "faiss.index"))
    data.lexical.save(folder / "bm25")
    data.sentences.save(folder)
    (folder / "clusters.json").write_text(json.dumps(data.clusters), encoding="utf-8")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = dict(data.manifest, files={
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in files
    })
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    data.manifest = manifest


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexDamaged(f"{folder}/manifest.json is unreadable ({error}): "
                           f"rebuild with `assistant index --index {folder.parent}`") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise IndexDamaged(f"{folder}/manifest.json lists no files: "
                           f"rebuild with `assistant index --index {folder.parent}`")
    return manifest


def check_manifest(folder: Path, manifest: dict, model_name: str, fingerprint: str,
                   verify_checksums: bool = True) -> None:
    """Refuse an index of another format or model, or whose files are not as recorded."""
    fix = f"rebuild it with `assistant index --index {folder.parent}`"
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"index format {manifest.get('format_version')} is not the "
                            f"supported {FORMAT_VERSION}: {fix}")
    model = manifest.get("model", {})
    if model.get("name") != model_name or model.get("fingerprint") != fingerprint:
        raise IndexMismatch(f"index was built with model {model.get('name')} "
                            f"({str(model.get('fingerprint'))[:12]}), not the installed "
                            f"{model_name} ({fingerprint[:12]}): {fix}")
    listed = manifest["files"]
    missing = [name for name in (*ARRAYS, *SENTENCE_FILES, "articles.jsonl", "faiss.index")
               if name not in listed]
    if missing or not any(name.startswith("bm25/") for name in listed):
        raise IndexDamaged(f"{folder}/manifest.json does not list "
                           f"{', '.join(missing) or 'the bm25/ files'}: {fix}")
    for name, expected in listed.items():
        path = folder / name
        expected = expected if isinstance(expected, dict) else {}
        if not path.is_file() or path.stat().st_size != expected.get("bytes"):
            raise IndexDamaged(f"index file {path} is missing or truncated: {fix}")
    if not verify_checksums:
        return
    # Files are hashed side by side (hashlib lets go of the GIL): at a million chunks
    # they are 8 GB, and loading took 8-12 s hashing them one after the other.
    names = sorted(listed, key=lambda name: -listed[name]["bytes"])
    with ThreadPoolExecutor(available_cores()) as pool:
        try:
            list(pool.map(partial(verified, folder, manifest), names))
        except ValueError as error:
            pool.shutdown(cancel_futures=True)  # the rest need not be hashed
            raise IndexDamaged(f"index file {error}: {fix}") from None


def load_index(folder: Path, model_name: str, fingerprint: str) -> IndexData:
    """Load one version folder, refusing anything inconsistent with a fix-it message."""
    manifest = read_manifest(folder)
    check_manifest(folder, manifest, model_name, fingerprint)
    try:
        # Texts stay on disk until quoted. Rows are read from a checksummed file only: an
        # index written before they were saved has its lines parsed instead.
        articles = ArticleFile(folder / "articles.jsonl",
                               folder / ROWS if ROWS in manifest["files"] else None)
        chunks = np.load(folder / "chunks.npy", allow_pickle=False)
        # Keys and vectors are only read by rebuilds (and small filtered searches): mapped.
        keys, vectors = (np.load(folder / name, mmap_mode="r", allow_pickle=False)
                         for name in ("keys.npy", "vectors.npy"))
        faiss_index = read_faiss_index(folder / "faiss.index")
        lexical = LexicalIndex.load(folder / "bm25")
        clusters = json.loads((folder / "clusters.json").read_text(encoding="utf-8"))
        sentences = Sentences.load(folder, len(chunks), manifest.get("dim"))
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        raise IndexDamaged(f"index in {folder} is damaged ({error}): "
                           f"rebuild it with `assistant index --index {folder.parent}`") from None
    counts = manifest.get("counts", {})
    if (len(articles), len(chunks)) != (counts.get("articles"), counts.get("chunks")) \
            or vectors.shape != (len(chunks), manifest.get("dim")) \
            or faiss_index.ntotal != len(chunks) or faiss_index.d != manifest.get("dim") \
            or len(keys) != len(chunks) or not chunks_fit(chunks, articles):
        raise IndexDamaged(f"index in {folder} has counts that disagree with its manifest: "
                           f"rebuild it with `assistant index --index {folder.parent}`")
    return IndexData(manifest, articles, chunks, keys, vectors, faiss_index, lexical, sentences,
                     clusters)


def read_faiss_index(path: Path):
    """The saved FAISS index, mapped, not read: a query probes a few of an inverted file's
    lists. MMAP_IFC keeps FAISS's in-memory list layout over the map; plain MMAP's on-disk
    lists searched 2.5 times slower (1.3 against 0.5 ms at 1M chunks)."""
    import faiss

    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)


def chunks_fit(chunks: np.ndarray, articles: list[Article]) -> bool:
    """True when every chunk row names an article and lies inside its text, and the
    chunks are in article order (as every build writes them; date masks rely on it)."""
    if chunks.ndim != 2 or chunks.shape[1] != 3:
        return False
    if len(chunks) == 0:
        return True
    rows, starts, ends = chunks[:, 0], chunks[:, 1], chunks[:, 2]
    if rows[0] < 0 or rows[-1] >= len(articles) or (rows[1:] < rows[:-1]).any():
        return False
    lengths = text_lengths(articles)[rows]
    return bool(((0 <= starts) & (starts < ends) & (ends <= lengths)).all())


@dataclass
class Reusable:
    """What a rebuild takes from the index in service instead of computing it again."""

    vectors: dict[bytes, np.ndarray] = field(default_factory=dict)  # chunk key -> vector
    sentence_vectors: dict[bytes, np.ndarray] = field(default_factory=dict)  # float16
    tokens: dict[bytes, list[str]] = field(default_factory=dict)  # chunk key -> BM25 tokens
    spans: dict[bytes, list[tuple[int, int]]] = field(default_factory=dict)  # article key -> chunks
    quotes: dict[bytes, tuple] = field(default_factory=dict)  # article key -> sentences.cut's


def reusable(folder: Path, model_name: str, fingerprint: str, chunking: dict) -> Reusable:
    """Reusable work of an index version of any format: vectors if the same model made
    them, chunks if the same chunking settings and splitter cut them, and BM25 tokens if
    the same tokenizer made them. Only files whose checksums hold are read; what is
    missing or damaged is simply not reused."""
    reuse = Reusable()
    try:
        manifest = read_manifest(folder)

        def array(name: str) -> np.ndarray:
            return np.load(verified(folder, manifest, name), allow_pickle=False)

        keys = array("keys.npy").tolist()
        model = manifest.get("model", {})
        if (model.get("name"), model.get("fingerprint")) == (model_name, fingerprint):
            vectors = array("vectors.npy")
            if len(vectors) == len(keys):
                reuse.vectors = dict(zip(keys, vectors))
            if SENTENCE_KEYS in manifest["files"]:  # from format 3 on
                known, vectors = array(SENTENCE_KEYS).tolist(), array(SENTENCE_VECTORS)
                if len(vectors) == len(known):
                    reuse.sentence_vectors = dict(zip(known, vectors))
        if manifest.get("chunking") == chunking:
            chunks = array("chunks.npy")
            ranges = chunks_by_article(chunks, array("article_keys.npy"))
            reuse.spans = {key: [tuple(span) for span in chunks[first:last, 1:].tolist()]
                           for key, (first, last) in ranges.items()}
            if SENTENCE_KEYS in manifest["files"]:
                offsets = array(SENTENCE_OFFSETS)
                if len(offsets) == len(chunks) + 1:
                    reuse.quotes = quotes_by_article(ranges, offsets, array(SENTENCE_SPANS),
                                                     array(SENTENCE_KEYS))
        if manifest.get("tokenizer") == TOKENIZER_VERSION:
            for name in (TOKENS, OFFSETS, VOCAB):
                verified(folder, manifest, f"bm25/{name}")
            tokens = LexicalIndex.reusable_tokens(folder / "bm25")
            if len(tokens) == len(keys):
                reuse.tokens = dict(zip(keys, tokens))
    except (IndexDamaged, OSError, ValueError, KeyError, TypeError, IndexError):
        pass  # reuse what was read before the problem
    return reuse


def verified(folder: Path, manifest: dict, name: str) -> Path:
    """`folder/name`, once its checksum matches the manifest's (ValueError if not)."""
    path = folder / name
    if sha256_file(path) != manifest["files"][name].get("sha256"):
        raise ValueError(f"{path} does not match its checksum")
    return path


def chunks_by_article(chunks: np.ndarray, article_keys: np.ndarray
                      ) -> dict[bytes, tuple[int, int]]:
    """Article text key -> the range of its chunk ids (of the first article with that
    text, when copies share it); empty unless the chunks are in article order, as a build
    writes them."""
    rows = chunks[:, 0]
    if np.any(np.diff(rows) < 0):
        return {}
    firsts = np.searchsorted(rows, np.arange(len(article_keys)), "left").tolist()
    lasts = np.searchsorted(rows, np.arange(len(article_keys)), "right").tolist()
    ranges: dict[bytes, tuple[int, int]] = {}
    for key, first, last in zip(article_keys.tolist(), firsts, lasts):
        if first < last:
            ranges.setdefault(key, (first, last))
    return ranges
