"""The index on disk: articles, chunks, vectors, FAISS and BM25, with a validated manifest.

One version folder holds plain files only (JSON, .npy without pickle, FAISS's own format):

    manifest.json   format, model + fingerprint, dimension, chunking, counts, checksums
    articles.jsonl  one article a line (quotes are cut from its `text`)
    article_rows.json  each line's offset, id, text length, date, source and category
                    (article_file.py)
    chunks.npy      int64 rows (article_row, start, end)
    keys.npy        SHA-1 of each chunk's embedded text, to reuse vectors on rebuild
    article_keys.npy  SHA-1 of each article's text, to reuse its chunks on rebuild
    vectors.npy     float32 unit rows
    faiss.index     inner-product index over the vectors
    bm25/           the keyword index, and each chunk's tokens for the next rebuild
    sentence*.npy   each chunk's quotable sentences and their vectors (sentences.py)
    hashed.json     each file's stat when last hashed, not in the manifest (checksums.py)
"""
from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .article_file import (ROWS, ArticleFile, Facets, article_days, article_facets,
                           article_ids, text_lengths, write_articles)
from .checksums import HASHED, hashed_unchanged, record_hashed, sha256_files, stat_of
from .dense import dense_search, read_faiss_index
from .disk_array import save_array
from .errors import IndexDamaged, IndexMismatch
from .lexical import LexicalIndex
from .sentences import Sentences, files_listed as sentence_files
from .types import Article, Chunk, Hit

# 2: clusters.json; 3: sentence vectors; 4: those in int8; 5: int8's file renamed
FORMAT_VERSION = 5
READABLE_FORMATS = (3, 4, FORMAT_VERSION)  # 3's float16 sentence vectors read as well
CHUNK_VECTORS = "vectors.npy"
ARRAYS = ("chunks.npy", "keys.npy", CHUNK_VECTORS)


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


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
        return self.article_ids[int(self.chunks[chunk_id, 0])]

    def article_by_id(self, article_id: str) -> Article | None:
        row = self.rows_by_id.get(article_id)
        return None if row is None else self.articles[row]

    @cached_property
    def facets(self) -> Facets:
        return article_facets(self.articles)

    @cached_property
    def article_ids(self) -> list[str]:
        return article_ids(self.articles)

    @cached_property
    def rows_by_id(self) -> dict[str, int]:
        """Article id -> row: a citation names its article by id (at a million chunks,
        reading the articles in turn to find one took seconds)."""
        return {article_id: row for row, article_id in enumerate(self.article_ids)}

    @cached_property
    def stories(self) -> dict[int, list[int]]:
        """Article row -> the rows of every article of its story (copies included); rows
        without copies are not in it."""
        return {row: cluster for cluster in self.clusters for row in cluster}

    @cached_property
    def story_sizes(self) -> np.ndarray:
        """Per article row, how many articles carry its story (1: it has no copies)."""
        sizes = np.ones(len(self.articles), dtype=np.int64)
        for cluster in self.clusters:
            sizes[cluster] = len(cluster)
        return sizes

    @cached_property
    def days_in_order(self) -> np.ndarray:
        """Every article's day, sorted, the undated (NaT) last: a date window bisects them."""
        return np.sort(article_days(self.articles))

    @cached_property
    def chunks_per_article(self) -> np.ndarray:
        """Per article row, its number of chunks. Chunks are in article order (chunks_fit),
        so a date mask over chunks repeats each article's verdict that many times."""
        return np.bincount(self.chunks[:, 0], minlength=len(self.articles))

    @cached_property
    def lists_asked(self) -> np.ndarray | None:
        """Per list of an inverted file, whether this process has asked the disk for it
        (dense.read_lists_ahead); None for an exact index."""
        lists = getattr(self.faiss_index, "nlist", None)
        return None if lists is None else np.zeros(lists, dtype=bool)

    def dense_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[Hit]:
        """Top-k chunks by cosine to the unit `query` vector, among the `allowed` ones (a
        mask over chunk ids; None: all)."""
        return dense_search(self.faiss_index, self.vectors, query, k, allowed, self.lists_asked)


def save_index(folder: Path, data: IndexData, article_keys: list[bytes]) -> None:
    """Write every file of `data` into `folder`, then the manifest with their checksums;
    `article_keys` are the text keys of `data.articles`."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    write_articles(folder / "articles.jsonl", data.articles)
    for name, array in zip(ARRAYS, (data.chunks, data.keys, data.vectors)):
        save_array(folder / name, array)
    np.save(folder / "article_keys.npy", np.array(article_keys, dtype="S20"), allow_pickle=False)
    faiss.write_index(data.faiss_index, str(folder / "faiss.index"))
    data.lexical.save(folder / "bm25")
    data.sentences.save(folder)
    (folder / "clusters.json").write_text(json.dumps(data.clusters), encoding="utf-8")
    stats = {p.relative_to(folder).as_posix(): stat_of(p) for p in sorted(folder.rglob("*"))
             if p.is_file() and p.name not in ("manifest.json", HASHED)}
    # As a load does: 1.1 GB at 120,000 chunks took 0.94-1.10 s one file after another,
    # 0.50-0.68 s side by side.
    names = sorted(stats, key=lambda name: -stats[name][0])
    digests = dict(zip(names, sha256_files([folder / name for name in names])))
    manifest = dict(data.manifest, files={
        name: {"bytes": stat[0], "sha256": digests[name]} for name, stat in stats.items()
    })
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    record_hashed(folder, stats)
    data.manifest = manifest


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexDamaged(f"{folder}/manifest.json is unreadable ({error}): "
                           f"{rebuild_advice(folder.parent)}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise IndexDamaged(f"{folder}/manifest.json lists no files: "
                           f"{rebuild_advice(folder.parent)}")
    return manifest


def rebuild_advice(index_dir: Path, manifest: dict | None = None) -> str:
    """How to rebuild `index_dir`: from the archive its `manifest` names, if it names it by
    absolute paths. A rebuild indexes exactly the archive it is given, and the default,
    archive/, is relative to the folder it runs in."""
    archive = manifest.get("archive") if manifest else None
    if archive and all(isinstance(p, str) and Path(p).is_absolute() for p in archive):
        given = "".join(f" --archive {shlex.quote(p)}" for p in archive)
        return f"rebuild it with `assistant index{given} --index {index_dir}`"
    return (f"rebuild it with `assistant index --index {index_dir}` (and --archive, unless "
            "the archive is archive/ in the current folder)")


def check_manifest(folder: Path, manifest: dict, model_name: str, fingerprint: str,
                   every_file: bool = False) -> None:
    """Refuse an index of another format or model, or whose files are not as recorded.
    Files unchanged since they were last hashed (HASHED) are not hashed again, unless
    `every_file`."""
    fix = rebuild_advice(folder.parent, manifest)
    if manifest.get("format_version") not in READABLE_FORMATS:
        raise IndexMismatch(f"index format {manifest.get('format_version')} is not one of "
                            f"the supported {', '.join(map(str, READABLE_FORMATS))}: {fix}")
    model = manifest.get("model", {})
    if model.get("name") != model_name or model.get("fingerprint") != fingerprint:
        raise IndexMismatch(f"index was built with model {model.get('name')} "
                            f"({str(model.get('fingerprint'))[:12]}), not the installed "
                            f"{model_name} ({fingerprint[:12]}): {fix}")
    listed = manifest["files"]
    missing = [name for name in (*ARRAYS, *sentence_files(listed), "articles.jsonl",
                                 "faiss.index")
               if name not in listed]
    if missing or not any(name.startswith("bm25/") for name in listed):
        raise IndexDamaged(f"{folder}/manifest.json does not list "
                           f"{', '.join(missing) or 'the bm25/ files'}: {fix}")
    stats = {}
    for name, expected in listed.items():
        path = folder / name
        expected = expected if isinstance(expected, dict) else {}
        if not path.is_file() or path.stat().st_size != expected.get("bytes"):
            raise IndexDamaged(f"index file {path} is missing or truncated: {fix}")
        stats[name] = stat_of(path)  # before hashing: a change meanwhile shows next time
    unchanged = set() if every_file else hashed_unchanged(folder, stats)
    names = sorted(set(listed) - unchanged, key=lambda name: -listed[name]["bytes"])
    with closing(sha256_files([folder / name for name in names])) as digests:
        for name, digest in zip(names, digests):  # a mismatch closes them: no more hashed
            if digest != listed[name].get("sha256"):
                raise IndexDamaged(f"index file {folder / name} does not match its checksum: "
                                   f"{fix}")
    if names:
        record_hashed(folder, stats)


def load_index(folder: Path, model_name: str, fingerprint: str,
               every_file: bool = False) -> IndexData:
    """Load one version folder, refusing anything inconsistent with a fix-it message
    (`every_file`: hash every file, not only those changed since they last were)."""
    manifest = read_manifest(folder)
    check_manifest(folder, manifest, model_name, fingerprint, every_file)
    try:
        # Texts stay on disk until quoted. Rows are read from a checksummed file only: an
        # index written before they were saved has its lines parsed instead.
        articles = ArticleFile(folder / "articles.jsonl",
                               folder / ROWS if ROWS in manifest["files"] else None)
        chunks = np.load(folder / "chunks.npy", allow_pickle=False)
        # Keys and vectors are read by rebuilds (and small filtered searches, with pread): mapped.
        keys, vectors = (np.load(folder / name, mmap_mode="r", allow_pickle=False)
                         for name in ("keys.npy", "vectors.npy"))
        faiss_index = read_faiss_index(folder / "faiss.index")
        lexical = LexicalIndex.load(folder / "bm25")
        clusters = json.loads((folder / "clusters.json").read_text(encoding="utf-8"))
        sentences = Sentences.load(folder, len(chunks), manifest.get("dim"), manifest["files"])
    except (OSError, ValueError, TypeError, RuntimeError) as error:
        raise IndexDamaged(f"index in {folder} is damaged ({error}): "
                           f"{rebuild_advice(folder.parent, manifest)}") from None
    counts = manifest.get("counts", {})
    if (len(articles), len(chunks)) != (counts.get("articles"), counts.get("chunks")) \
            or vectors.shape != (len(chunks), manifest.get("dim")) \
            or faiss_index.ntotal != len(chunks) or faiss_index.d != manifest.get("dim") \
            or len(keys) != len(chunks) or not chunks_fit(chunks, articles):
        raise IndexDamaged(f"index in {folder} has counts that disagree with its manifest: "
                           f"{rebuild_advice(folder.parent, manifest)}")
    return IndexData(manifest, articles, chunks, keys, vectors, faiss_index, lexical, sentences,
                     clusters)


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
