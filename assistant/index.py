"""The index on disk: articles, chunks, vectors, FAISS and BM25, with a validated manifest.

One version folder holds plain files only (JSON, .npy without pickle, FAISS's own format):

    manifest.json   format, model + fingerprint, dimension, chunking, counts, checksums
    articles.jsonl  one article a line (quotes are cut from its `text`)
    chunks.npy      int64 rows (article_row, start, end)
    keys.npy        SHA-1 of each chunk's embedded text, to reuse vectors on rebuild
    vectors.npy     float32 unit rows
    faiss.index     inner-product index over the vectors
    bm25/           the keyword index
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import IndexDamaged, IndexMismatch
from .lexical import LexicalIndex
from .types import Article, Chunk, Hit

FORMAT_VERSION = 1
ARRAYS = ("chunks.npy", "keys.npy", "vectors.npy")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def make_faiss_index(vectors: np.ndarray):
    """Exact inner-product search: on unit vectors, inner product is cosine similarity."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


@dataclass
class IndexData:
    """Everything one index version holds, in memory."""

    manifest: dict
    articles: list[Article]
    chunks: np.ndarray  # (n, 3) int64: article_row, start, end
    keys: np.ndarray  # (n,) S20
    vectors: np.ndarray  # (n, dim) float32
    faiss_index: object
    lexical: LexicalIndex

    def chunk(self, chunk_id: int) -> Chunk:
        row, start, end = (int(x) for x in self.chunks[chunk_id])
        return Chunk(self.articles[row].id, start, end)

    def article_of(self, chunk_id: int) -> Article:
        return self.articles[int(self.chunks[chunk_id, 0])]

    def dense_search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[Hit]:
        """Top-k chunks by cosine to the unit `query` vector, within `allowed` chunk ids."""
        import faiss

        k = min(k, len(self.chunks) if allowed is None else len(allowed))
        if k <= 0:
            return []
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
        scores, ids = self.faiss_index.search(query.reshape(1, -1).astype(np.float32), k,
                                              params=params)
        return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def save_index(folder: Path, data: IndexData) -> None:
    """Write every file of `data` into `folder`, then the manifest with their checksums."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "articles.jsonl").open("w", encoding="utf-8") as handle:
        for article in data.articles:
            handle.write(json.dumps(asdict(article), ensure_ascii=False) + "\n")
    for name, array in zip(ARRAYS, (data.chunks, data.keys, data.vectors)):
        np.save(folder / name, array, allow_pickle=False)
    faiss.write_index(data.faiss_index, str(folder / "faiss.index"))
    data.lexical.save(folder / "bm25")
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
    missing = [name for name in (*ARRAYS, "articles.jsonl", "faiss.index") if name not in listed]
    if missing or not any(name.startswith("bm25/") for name in listed):
        raise IndexDamaged(f"{folder}/manifest.json does not list "
                           f"{', '.join(missing) or 'the bm25/ files'}: {fix}")
    for name, expected in listed.items():
        path = folder / name
        expected = expected if isinstance(expected, dict) else {}
        if not path.is_file() or path.stat().st_size != expected.get("bytes"):
            raise IndexDamaged(f"index file {path} is missing or truncated: {fix}")
        if verify_checksums and sha256_file(path) != expected.get("sha256"):
            raise IndexDamaged(f"index file {path} does not match its checksum: {fix}")


def load_index(folder: Path, model_name: str, fingerprint: str) -> IndexData:
    """Load one version folder, refusing anything inconsistent with a fix-it message."""
    import faiss

    manifest = read_manifest(folder)
    check_manifest(folder, manifest, model_name, fingerprint)
    try:
        with (folder / "articles.jsonl").open(encoding="utf-8") as handle:
            articles = [Article(**json.loads(line)) for line in handle]
        chunks, keys, vectors = (np.load(folder / name, allow_pickle=False) for name in ARRAYS)
        faiss_index = faiss.read_index(str(folder / "faiss.index"))
        lexical = LexicalIndex.load(folder / "bm25")
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
    return IndexData(manifest, articles, chunks, keys, vectors, faiss_index, lexical)


def chunks_fit(chunks: np.ndarray, articles: list[Article]) -> bool:
    """True when every chunk row names an article and lies inside its text."""
    if chunks.ndim != 2 or chunks.shape[1] != 3:
        return False
    if len(chunks) == 0:
        return True
    rows, starts, ends = chunks[:, 0], chunks[:, 1], chunks[:, 2]
    if rows.min() < 0 or rows.max() >= len(articles):
        return False
    lengths = np.array([len(a.text) for a in articles], dtype=np.int64)[rows]
    return bool(((0 <= starts) & (starts < ends) & (ends <= lengths)).all())
