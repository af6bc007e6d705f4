"""The whole story: rebuild() turns an archive into an index; Assistant.ask() answers from it."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np

from . import news, store
from .answer import answer
from .archive import read_archive
from .cache import EmbeddingCache
from .chunking import ChunkSettings, chunk_article, embedding_text
from .embed import Embedder
from .errors import AssistantError, BadQuestion
from .dedup import find_clusters
from .index import (FORMAT_VERSION, IndexData, Reusable, load_index, make_faiss_index,
                    reusable, save_index, text_key)
from .lexical import TOKENIZER_VERSION, LexicalIndex, tokenize
from .retrieve import DateWindow, holds_nothing, retrieve, start_scoring, vector_of
from .sentences import Sentences, cut as cut_sentences
from .timeline import is_timeline_question
from .types import Answer, Article, Chunk, Hit, Problem

MAX_QUESTION_CHARS = 1000
EVENT_MIN_COSINE = 0.4  # below this, no article is about the event named
RELOAD_ATTEMPTS = 5  # a server reloading while rebuilds switch versions in quick succession
RELOAD_WAIT = 1.0  # seconds an ask waits for a newer version before answering from the old


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
            settings: ChunkSettings = ChunkSettings(), progress: bool = False,
            cache: EmbeddingCache | None = None) -> BuildSummary:
    """Read the archive, embed what is new, and switch the index to the result atomically."""
    started = time.monotonic()
    articles, problems = read_archive(archive_paths)
    if not articles:
        raise AssistantError(f"no articles found in {', '.join(map(str, archive_paths))}"
                             + (f" ({len(problems)} files skipped)" if problems else ""))
    return build_index(articles, problems, [str(p) for p in archive_paths], index_dir, embedder,
                       settings, progress, cache, started)


def build_index(articles: list[Article], problems: list[Problem], origin: list[str],
                index_dir: Path, embedder: Embedder, settings: ChunkSettings = ChunkSettings(),
                progress: bool = False, cache: EmbeddingCache | None = None,
                started: float | None = None) -> BuildSummary:
    """Index `articles` into a new version of `index_dir`, reusing what the version in
    service already computed for unchanged texts (index.reusable)."""
    started = time.monotonic() if started is None else started
    with store.writer_lock(index_dir):
        reuse = previous_work(index_dir, embedder, settings)
        article_keys = [text_key(a.text) for a in articles]
        rows, texts = chunk_all(articles, settings, reuse.spans, article_keys)
        keys = np.array([text_key(t) for t in texts], dtype="S20")
        offsets, spans, quotes, quote_keys = cut_sentences(articles, rows, text_key, article_keys,
                                                           reuse.quotes)
        if cache:
            cached = cache.load()
            reuse.vectors.update(cached)
            reuse.sentence_vectors.update(cached)
        # Near duplicates and BM25 are Python and numpy work; they run while the model embeds
        # on its own threads (OpenVINO releases the GIL), so a rebuild that embeds little
        # is not also held up by them.
        with ThreadPoolExecutor(2, thread_name_prefix="index") as pool:
            clusters = pool.submit(story_clusters, articles)
            lexical = pool.submit(bm25_index, texts, keys, reuse.tokens)
            vectors, new = embed_reusing(texts, keys, reuse.vectors, embedder,
                                         "chunks" if progress else None)
            quote_vectors, new_quotes = embed_reusing(quotes, quote_keys, reuse.sentence_vectors,
                                                      embedder, "sentences" if progress else None,
                                                      dtype=np.float16)
            clusters, lexical = clusters.result(), lexical.result()
        if cache:
            cache.add(keys[new], vectors[new])
            cache.add(quote_keys[new_quotes], quote_vectors[new_quotes])
        sentences = Sentences(offsets, spans, quote_vectors, quote_keys)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": {"name": embedder.name, "fingerprint": embedder.fingerprint,
                      "precision": embedder.precision},
            "dim": int(vectors.shape[1]),
            "chunking": settings.to_json(),
            "tokenizer": TOKENIZER_VERSION,
            "counts": {"articles": len(articles), "chunks": len(rows),
                       "skipped": sum(p.skipped for p in problems), "clusters": len(clusters)},
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "archive": origin,
            "archive_fingerprint": archive_fingerprint(articles),
            "problems": [str(p) for p in problems],
        }
        data = IndexData(manifest, articles, np.array(rows, dtype=np.int64).reshape(-1, 3), keys,
                         vectors, make_faiss_index(vectors), lexical, sentences, clusters)
        with store.new_version(index_dir) as folder:
            save_index(folder, data, article_keys)
    return BuildSummary(len(articles), len(rows), len(new), tuple(problems),
                        time.monotonic() - started, store.current_name(index_dir) or "")


def story_clusters(articles: list[Article]) -> list[list[int]]:
    """Rows of the articles that are copies of one story (syndicated or re-scraped)."""
    row_of = {article.id: row for row, article in enumerate(articles)}
    return [[row_of[i] for i in cluster] for cluster in find_clusters(articles)]


def bm25_index(texts: list[str], keys: np.ndarray, known: dict[bytes, list[str]]
               ) -> LexicalIndex:
    """BM25 over the chunk texts, tokenising only those whose tokens are not `known`."""
    return LexicalIndex.build([known.get(key) or tokenize(text)
                               for key, text in zip(keys.tolist(), texts)])


def archive_fingerprint(articles: list[Article]) -> str:
    """SHA-256 over every article's fields: equal fingerprints, equal archives."""
    digest = hashlib.sha256()
    for article in articles:
        digest.update(json.dumps(asdict(article), sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def previous_work(index_dir: Path, embedder: Embedder, settings: ChunkSettings) -> Reusable:
    """What the index in service lets this rebuild skip (nothing if there is none)."""
    try:
        folder = store.current_version(index_dir)
    except AssistantError:
        return Reusable()
    return reusable(folder, embedder.name, embedder.fingerprint, settings.to_json())


def chunk_all(articles: list[Article], settings: ChunkSettings,
              known: dict[bytes, list[tuple[int, int]]], article_keys: list[bytes]
              ) -> tuple[list, list[str]]:
    """(article_row, start, end) rows and embedding texts of every chunk; an article whose
    text is in `known` keeps the chunks it had, without cutting it again."""
    rows, texts = [], []
    for row, article in enumerate(articles):
        spans = known.get(article_keys[row])
        chunks = ([Chunk(article.id, s, e) for s, e in spans] if spans
                  else chunk_article(article, settings))
        for chunk in chunks:
            rows.append((row, chunk.start, chunk.end))
            texts.append(embedding_text(article, chunk))
    return rows, texts


EMBED_BLOCK = 2048  # texts embedded at a time (their float32 vectors are held only meanwhile)


def embed_reusing(texts: list[str], keys: np.ndarray, known: dict[bytes, np.ndarray],
                  embedder: Embedder, progress: str | None, dtype=np.float32
                  ) -> tuple[np.ndarray, list[int]]:
    """Vectors for all texts, as `dtype`, embedding those whose key is not in `known`
    (each distinct text once, a block at a time); also returns the positions that were
    not known. `progress` names the texts on a progress bar (None: no bar)."""
    from tqdm import tqdm

    vectors = np.zeros((len(texts), embedder.dim), dtype=dtype)
    new, first = [], {}  # positions not known; key -> its first such position
    for i, key in enumerate(keys.tolist()):
        if key in known:
            vectors[i] = known[key]
        else:
            new.append(i)
            first.setdefault(key, i)
    distinct = list(first.values())
    with tqdm(total=len(distinct), unit="text", desc=f"embedding {progress}",
              disable=progress is None or not distinct) as bar:
        for start in range(0, len(distinct), EMBED_BLOCK):
            block = distinct[start:start + EMBED_BLOCK]
            vectors[block] = embedder.embed([texts[i] for i in block])
            bar.update(len(block))
    if new:
        vectors[new] = vectors[[first[key] for key in keys[new].tolist()]]
    return vectors, new


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
        self._reload: Future | None = None  # the load of a newer version, while it runs
        self._reload_due = 0.0  # until when asks wait for it (time.monotonic())
        self._lock = threading.Lock()
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="reload")

    @property
    def data(self) -> IndexData:
        """The index in service. The first call loads it. When a rebuild has switched
        CURRENT since, the new version loads on another thread while asks are answered
        from the one loaded; for the load's first RELOAD_WAIT seconds they wait for it
        instead. A small index is there by then; a large one (4-6 s to load at a million
        chunks) stalls nobody."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_current()
            if self._reload is None:
                if store.current_name(self.index_dir) == self._loaded[0]:
                    return self._loaded[1]
                self._reload = self._loader.submit(self._load_current)
                self._reload_due = time.monotonic() + RELOAD_WAIT
            reload, due = self._reload, self._reload_due
        wait([reload], timeout=max(0.0, due - time.monotonic()))
        with self._lock:
            if reload.done() and self._reload is reload:
                self._reload = None
                self._loaded = reload.result()  # a version that fails to load says so here
            return self._loaded[1]

    def _load_current(self) -> tuple[str, IndexData]:
        """The version CURRENT names, loaded. A version that a later rebuild cleans up
        while it is being loaded fails to load; CURRENT has moved on by then, so the
        newer version is loaded instead."""
        attempts = RELOAD_ATTEMPTS
        while True:
            name = store.current_name(self.index_dir)
            try:
                folder = store.current_version(self.index_dir)
                return folder.name, load_index(folder, self.embedder.name,
                                               self.embedder.fingerprint)
            except AssistantError:
                attempts -= 1
                if not attempts or store.current_name(self.index_dir) == name:
                    raise

    def warm_up(self) -> None:
        """Load the index and the model and ask one question, so that a problem surfaces
        now, with its message, and the first user's question is not the slow one (it
        would load the model and BM25's compiled loops)."""
        self.ask("news")

    def ask(self, question: str, k: int = 3, window: DateWindow = DateWindow(),
            method: str = "hybrid", timeline: bool | None = None, read_dates: bool = True,
            embed=None) -> Answer:
        """Cited quotes answering `question`. Dates in its words narrow `window` (unless
        `read_dates` is False); a timeline question (or `timeline=True`) gets one dated
        quote per story, in order. `embed` replaces the embedder's (the eval memoises)."""
        question = check_question(question)
        if k < 1:
            raise BadQuestion(f"-k must be at least 1, not {k}")
        data, vectors = self.data, QuestionVectors(embed or self.embedder.embed)
        scoring: dict[str, Future] = {}  # keyword scores begun before their search

        def event_date(phrase: str, rest: str) -> str | None:
            vector = vectors.of(phrase, rest)  # the rest is embedded alongside
            if method != "dense":  # and its keywords scored while the event is dated
                scoring[rest] = start_scoring(data, rest)
            return date_of_event(data, vector)

        when, narrowed = news.read_window(question, window, event_date) if read_dates \
            else (None, window)
        searched = when.query if when and when.query.strip(" ?") else question
        timeline = is_timeline_question(question) if timeline is None else timeline
        wanted = max(k, news.TIMELINE_QUOTES) if timeline else k
        if when and news.asks_only_when(searched):
            digest = news.window_digest(data, narrowed, question, news.TIMELINE_QUOTES)
            return replace(digest, searched=searched, window=news.window_json(when))
        if when and holds_nothing(data, narrowed):
            when, searched = None, question  # the date names the event, not its coverage
        hits, result = respond(data, partial(vectors.of, searched), searched, wanted,
                               narrowed if when else window, method, scoring.get(searched))
        if when and not hits:  # the same, when no keyword matched inside the window
            when, searched = None, question
            hits, result = respond(data, partial(vectors.of, searched), searched, wanted,
                                   window, method)
        result = news.with_copies(result, data, hits)
        result = news.as_timeline(result, data, k=wanted) if timeline else \
            news.newer_coverage(result, data, hits, narrowed if when else window)
        return replace(result, question=question, searched=searched,
                       window=news.window_json(when),
                       ranked=tuple(ranked_articles(data, hits)))


def date_of_event(data: IndexData, phrase_vector: np.ndarray) -> str | None:
    """The date of the article that best matches an event ("the summit in Samarkand"),
    given the phrase's vector."""
    hits = data.dense_search(phrase_vector, 1)
    if hits and hits[0].score >= EVENT_MIN_COSINE:
        return data.article_of(hits[0].chunk_id).date
    return None


class QuestionVectors:
    """The vectors of one question's texts, each embedded once; texts embedded together
    run side by side (one inference request a core)."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray]):
        self.embed = embed
        self.known: dict[str, np.ndarray] = {}

    def of(self, text: str, *alongside: str) -> np.ndarray:
        """The vector of `text`; the `alongside` texts are embedded in the same call."""
        missing = [t for t in dict.fromkeys((text, *alongside)) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.embed(missing)))
        return self.known[text]


def ranked_articles(data: IndexData, hits: list[Hit]) -> list[str]:
    """Distinct article ids in the order their chunks were retrieved."""
    return list(dict.fromkeys(data.article_id_of(h.chunk_id) for h in hits))


def respond(data: IndexData, query_vector: np.ndarray | Callable[[], np.ndarray], question: str,
            k: int = 3, window: DateWindow = DateWindow(), method: str = "hybrid",
            scoring: Future | None = None) -> tuple[list[Hit], Answer]:
    """Retrieve, then quote: the ranked chunks and the answer made from them."""
    hits = retrieve(data, query_vector, question, window=window, method=method,
                    scoring=scoring)
    return hits, answer(data, vector_of(query_vector), question, hits, k=k)
