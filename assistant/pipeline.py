"""The whole story: rebuild() turns an archive into an index; Assistant.ask() answers from it."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import store
from .answer import answer
from .archive import read_archive
from .chunking import ChunkSettings, chunk_article, embedding_text
from .embed import Embedder
from .errors import AssistantError, BadQuestion
from .index import FORMAT_VERSION, IndexData, load_index, make_faiss_index, save_index, text_key
from .lexical import LexicalIndex
from .retrieve import DateWindow, retrieve
from .types import Answer, Problem

MAX_QUESTION_CHARS = 1000
RELOAD_ATTEMPTS = 5  # a server reloading while rebuilds switch versions in quick succession


@dataclass(frozen=True)
class BuildSummary:
    articles: int
    chunks: int
    embedded: int  # chunks embedded anew; the rest reused vectors from the previous index
    problems: tuple[Problem, ...]
    seconds: float
    version: str

    def line(self) -> str:
        skipped = sum(p.skipped for p in self.problems)
        renamed = len(self.problems) - skipped
        return (f"indexed {self.articles} articles, {self.chunks} chunks "
                f"({self.embedded} embedded, {self.chunks - self.embedded} reused), "
                f"{skipped} skipped, " + (f"{renamed} duplicate ids renamed, " if renamed else "")
                + f"in {self.seconds:.1f} s")


def rebuild(archive_paths: list[Path], index_dir: Path, embedder: Embedder,
            settings: ChunkSettings = ChunkSettings(), progress: bool = False) -> BuildSummary:
    """Read the archive, embed what is new, and switch the index to the result atomically."""
    started = time.monotonic()
    articles, problems = read_archive(archive_paths)
    if not articles:
        raise AssistantError(f"no articles found in {', '.join(map(str, archive_paths))}"
                             + (f" ({len(problems)} files skipped)" if problems else ""))
    rows, texts = [], []
    for row, article in enumerate(articles):
        for chunk in chunk_article(article, settings):
            rows.append((row, chunk.start, chunk.end))
            texts.append(embedding_text(article, chunk))
    keys = np.array([text_key(t) for t in texts], dtype="S20")
    with store.writer_lock(index_dir):
        vectors, embedded = embed_reusing(texts, keys, previous_vectors(index_dir, embedder),
                                          embedder, progress)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": {"name": embedder.name, "fingerprint": embedder.fingerprint,
                      "precision": embedder.precision},
            "dim": int(vectors.shape[1]),
            "chunking": settings.to_json(),
            "counts": {"articles": len(articles), "chunks": len(rows),
                       "skipped": sum(p.skipped for p in problems)},
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "archive": [str(p) for p in archive_paths],
            "problems": [str(p) for p in problems],
        }
        data = IndexData(manifest, articles, np.array(rows, dtype=np.int64).reshape(-1, 3), keys,
                         vectors, make_faiss_index(vectors), LexicalIndex.build(texts))
        with store.new_version(index_dir) as folder:
            save_index(folder, data)
    return BuildSummary(len(articles), len(rows), embedded, tuple(problems),
                        time.monotonic() - started, store.current_name(index_dir) or "")


def previous_vectors(index_dir: Path, embedder: Embedder) -> dict[bytes, np.ndarray]:
    """Vectors of the index in service, by text key, when it was built by the same model."""
    try:
        data = load_index(store.current_version(index_dir), embedder.name, embedder.fingerprint)
    except AssistantError:
        return {}
    return dict(zip(data.keys.tolist(), data.vectors))


def embed_reusing(texts: list[str], keys: np.ndarray, known: dict[bytes, np.ndarray],
                  embedder: Embedder, progress: bool) -> tuple[np.ndarray, int]:
    """Vectors for all texts, embedding only those whose key is not in `known`."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    missing = []
    for i, key in enumerate(keys.tolist()):
        if key in known:
            vectors[i] = known[key]
        else:
            missing.append(i)
    if missing:
        vectors[missing] = embedder.embed([texts[i] for i in missing], progress=progress)
    return vectors, len(missing)


def check_question(question: str) -> str:
    """The question, stripped; BadQuestion if there is nothing to search for.

    Undecodable bytes (lone surrogates from a terminal or a request) become U+FFFD.
    """
    if not isinstance(question, (str, type(None))):
        raise BadQuestion(f"the question must be text, not {type(question).__name__}")
    question = (question or "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    question = question.strip()
    if not question:
        raise BadQuestion("the question is empty: type a few words to search for")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"the question is {len(question):,} characters long: "
                          f"keep it under {MAX_QUESTION_CHARS:,}")
    if not any(ch.isalnum() for ch in question):
        raise BadQuestion("the question has no words in it: ask with a few words")
    return question


class Assistant:
    """Answers questions from the index in service, picking up a finished rebuild."""

    def __init__(self, index_dir: Path, embedder: Embedder | None = None):
        self.index_dir = Path(index_dir)
        self.embedder = embedder or Embedder()
        self._loaded: tuple[str, IndexData] | None = None
        self._lock = threading.Lock()

    @property
    def data(self) -> IndexData:
        """The current index, reloaded when CURRENT names a new version.

        A version that a later rebuild cleans up while it is being loaded fails to load;
        CURRENT has moved on by then, so the newer version is loaded instead.
        """
        with self._lock:
            for attempt in range(RELOAD_ATTEMPTS):
                name = store.current_name(self.index_dir)
                if self._loaded is not None and self._loaded[0] == name:
                    break
                try:
                    folder = store.current_version(self.index_dir)
                    self._loaded = (folder.name, load_index(folder, self.embedder.name,
                                                            self.embedder.fingerprint))
                    break
                except AssistantError:
                    if attempt + 1 == RELOAD_ATTEMPTS or \
                            store.current_name(self.index_dir) == name:
                        raise
            return self._loaded[1]

    def ask(self, question: str, k: int = 3, window: DateWindow = DateWindow(),
            method: str = "hybrid") -> Answer:
        question = check_question(question)
        if k < 1:
            raise BadQuestion(f"-k must be at least 1, not {k}")
        data = self.data
        query_vector = self.embedder.embed_one(question)
        hits = retrieve(data, query_vector, question, window=window, method=method)
        return answer(data, self.embedder.embed, query_vector, question, hits, k=k)
