"""Question -> cited answer: Assistant.ask() answers from the index in service, and picks
up the versions that rebuilds (build.py) switch to."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from functools import partial
from pathlib import Path
from time import monotonic

import numpy as np

from . import news, store
from .answer import answer
from .checksums import bytes_to_hash
from .embed import Embedder
from .errors import AssistantError, BadQuestion
from .index import IndexData, load_index, read_manifest
from .retrieve import DateWindow, holds_nothing, retrieve, start_scoring, vector_of
from .timeline import is_timeline_question
from .types import Answer, Hit

MAX_QUESTION_CHARS = 1000
EVENT_MIN_COSINE = 0.4  # below this, no article is about the event named
RELOAD_ATTEMPTS = 5  # a server reloading while rebuilds switch versions in quick succession
RELOAD_WAIT = 1.0  # seconds an ask may wait for a newer version before answering from the old
QUICK_HASH_BYTES = 256 << 20  # a new version needing no more hashed loads within the wait


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
        self._reload_due = 0.0  # until when asks wait for it (monotonic())
        self._load_seconds = 0.0  # how long the last load took
        self._lock = threading.Lock()
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="reload")

    @property
    def data(self) -> IndexData:
        """The index in service. The first call loads it. When a rebuild has switched
        CURRENT since, the new version loads on another thread while asks are answered
        from the one loaded. If the new version should load within RELOAD_WAIT seconds
        (_quick_to_load), asks in its load's first RELOAD_WAIT seconds wait for it
        instead: a small index, or a rebuild's own version, is there by then. Any other
        (3-6 s to load at a million chunks when every file is hashed) holds no ask up."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_current()
            if self._reload is None:
                if store.current_name(self.index_dir) == self._loaded[0]:
                    return self._loaded[1]
                self._reload = self._loader.submit(self._load_current)
                self._reload_due = monotonic() + (RELOAD_WAIT if self._quick_to_load() else 0.0)
            reload, due = self._reload, self._reload_due
        wait([reload], timeout=max(0.0, due - monotonic()))
        with self._lock:
            if reload.done() and self._reload is reload:
                self._reload = None
                self._loaded = reload.result()  # a version that fails to load says so here
            return self._loaded[1]

    def _quick_to_load(self) -> bool:
        """Whether the version CURRENT names should load within RELOAD_WAIT: the last load
        did, and the new one has few bytes to hash (a rebuild's own version records the
        files its build hashed; a copied one is hashed in full: 3-6 s at 1M chunks)."""
        if self._load_seconds > RELOAD_WAIT:
            return False
        try:
            folder = store.current_version(self.index_dir)
            return bytes_to_hash(folder, read_manifest(folder)["files"]) <= QUICK_HASH_BYTES
        except (AssistantError, OSError):
            return False

    def _load_current(self) -> tuple[str, IndexData]:
        """The version CURRENT names, loaded. A version that a later rebuild cleans up
        while it is being loaded fails to load; CURRENT has moved on by then, so the
        newer version is loaded instead."""
        attempts, started = RELOAD_ATTEMPTS, monotonic()
        while True:
            name = store.current_name(self.index_dir)
            try:
                folder = store.current_version(self.index_dir)
                loaded = load_index(folder, self.embedder.name, self.embedder.fingerprint)
                self._load_seconds = monotonic() - started
                return folder.name, loaded
            except AssistantError:
                attempts -= 1
                if not attempts or store.current_name(self.index_dir) == name:
                    raise

    def warm_up(self) -> None:
        """Load the index and the model and ask one question, so that a problem surfaces
        now, with its message, and the first user's question is not the slow one (it
        would load the model). A large index's keyword search loads its compiled loop
        (lexical.COMPILED_FROM): asked many questions, the process gains it back. The
        sources and categories are read too: an index built before they were saved reads
        every article for them."""
        self.data.lexical.load_compiled_loop()
        self.ask("news")
        self.data.facets

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
        empty = None
        if when and holds_nothing(data, narrowed):
            empty, when, searched = when, None, question  # it dates the event, not its coverage
        hits, result = respond(data, partial(vectors.of, searched), searched, wanted,
                               narrowed if when else window, method, scoring.get(searched))
        if when and not hits:  # the same, when nothing matched inside the window
            empty, when, searched = when, None, question
            hits, result = respond(data, partial(vectors.of, searched), searched, wanted,
                                   window, method)
        result = news.with_copies(result, data)
        result = news.as_timeline(result, k=wanted) if timeline else \
            news.newer_coverage(result, data, hits, narrowed if when else window)
        return replace(result, question=question, searched=searched,
                       window=news.window_json(when), empty_window=news.window_json(empty),
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
