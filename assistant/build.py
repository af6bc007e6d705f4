"""Archive -> index: rebuild() reads the archive, embeds what is new and switches the index
in service to the result."""
from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import store
from .archive import counted, read_archive
from .article_file import file_digest
from .cache import EmbeddingCache
from .chunking import ChunkSettings, chunk_article, embedding_text
from .dedup import find_clusters
from .dense import keeps_training, list_of_ids, make_faiss_index
from .disk_array import array_file
from .embed import Embedder
from .errors import AssistantError
from .index import (CHUNK_VECTORS, FORMAT_VERSION, IndexData, load_index, read_manifest,
                    save_index, text_key)
from .lexical import TOKENIZER_VERSION, LexicalIndex, TokenIds, merge_tokens, tokenize
from .reuse import Reusable, fill_known, reusable, rows_of
from .sentences import VECTORS as SENTENCE_VECTORS, Sentences, as_floats, stored_as
from .sentences import cut as cut_sentences
from .types import Article, Chunk, Problem


@dataclass(frozen=True)
class BuildSummary:
    articles: int
    chunks: int
    embedded: int  # chunks embedded anew; the rest reused vectors from the previous index
    problems: tuple[Problem, ...]
    seconds: float
    version: str
    gone: int = 0  # articles of the previous version whose text this one does not hold
    unchanged: bool = False  # the version in service already held exactly these: kept

    def line(self) -> str:
        skipped = sum(p.skipped for p in self.problems)
        notes = len(self.problems) - skipped
        return (f"indexed {counted(self.articles, 'article')}, "
                f"{counted(self.chunks, 'chunk')} "
                f"({self.embedded} embedded, {self.chunks - self.embedded} reused), "
                f"{skipped} skipped, " + (f"{counted(notes, 'note')}, " if notes else "")
                + (f"{counted(self.gone, 'article')} of the last version gone or changed, "
                   if self.gone else "") + f"in {self.seconds:.1f} s"
                + (" (unchanged: the version in service is kept)" if self.unchanged else ""))


SHOWN = 20  # problems listed when no article could be read


def rebuild(archive_paths: list[Path], index_dir: Path, embedder: Embedder,
            settings: ChunkSettings = ChunkSettings(), progress: bool = False,
            cache: EmbeddingCache | None = None) -> BuildSummary:
    """Read the archive, embed what is new, and switch the index to the result atomically."""
    started = time.monotonic()
    for path in archive_paths:
        if path.resolve().is_relative_to(index_dir.resolve()):
            raise AssistantError(f"the archive {path} is inside the index folder {index_dir}: "
                                 "keep the index in a folder of its own (--index)")
    articles, problems = read_archive(archive_paths, leave_out=index_dir)
    if not articles:
        raise AssistantError(f"no articles found in {', '.join(map(str, archive_paths))}"
                             + "".join(f"\n  {problem}" for problem in problems[:SHOWN])
                             + (f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN
                                else ""))
    origin = [str(path.resolve()) for path in archive_paths]  # rebuildable from any folder
    return build_index(articles, problems, origin, index_dir, embedder, settings, progress, cache,
                       started)


def build_index(articles: list[Article], problems: list[Problem], origin: list[str],
                index_dir: Path, embedder: Embedder, settings: ChunkSettings = ChunkSettings(),
                progress: bool = False, cache: EmbeddingCache | None = None,
                started: float | None = None) -> BuildSummary:
    """Index `articles` into a new version of `index_dir`, reusing what the version in
    service already computed for unchanged texts (reuse.reusable)."""
    started = time.monotonic() if started is None else started
    with store.writer_lock(index_dir):
        article_keys = [text_key(a.text) for a in articles]
        held = manifest_if_unchanged(index_dir, articles, article_keys, problems, origin,
                                     embedder, settings)
        saved = Checkpoints.of(index_dir, embedder.fingerprint, cache)
        if held is not None:
            saved.clear()  # an unfinished build's vectors, for articles no longer there
            store.clean_without_commit(index_dir)
            return BuildSummary(len(articles), held["counts"]["chunks"], 0, tuple(problems),
                                time.monotonic() - started, store.current_name(index_dir) or "",
                                unchanged=True)
        stage(progress, "cutting chunks and sentences...")
        reuse = previous_work(index_dir, embedder, settings)
        rows = chunk_all(articles, settings, reuse.spans, article_keys)
        texts = chunk_texts(articles, rows)
        keys = np.array([text_key(text) for text in texts], dtype="S20")
        offsets, spans, quote_keys = cut_sentences(articles, rows, text_key, article_keys,
                                                   reuse.quotes)
        quotes = sentence_texts(articles, rows, offsets, spans)
        resumed = saved.add_to(reuse)
        if resumed and saved.pending:
            stage(progress, f"reusing {resumed} vectors that an unfinished build embedded...")
        with store.new_version(index_dir) as folder:
            # The vectors are filled in their files (array_file): not held in memory as
            # well, nor written out again when saved.
            vectors = array_file(folder / CHUNK_VECTORS, (len(texts), embedder.dim), np.float32)
            quote_vectors = array_file(folder / SENTENCE_VECTORS, (len(quotes), embedder.dim),
                                       np.int8)
            # Near duplicates (Python, numpy and a compiled loop) and BM25 (tokenising new
            # chunks, then compiled loops) run while the model embeds on its own threads
            # (OpenVINO releases the GIL), so a rebuild that embeds little is not also
            # held up by them.
            with ThreadPoolExecutor(2, thread_name_prefix="index") as pool:
                clusters = pool.submit(story_clusters, articles)
                lexical = pool.submit(bm25_index, texts, keys, reuse.tokens)
                new = embed_reusing(texts, keys, reuse.vectors, embedder,
                                    "chunks" if progress else None, vectors,
                                    saved.saver(saved.chunks, keys, vectors))
                embed_reusing(quotes, quote_keys, reuse.sentence_vectors, embedder,
                              "sentences" if progress else None, quote_vectors,
                              saved.saver(saved.sentences, quote_keys, quote_vectors))
                clusters, lexical = clusters.result(), lexical.result()
            stage(progress, "writing the new version...")
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
                "problems": [str(p) for p in problems],
            }
            faiss_index, changed = dense_index(vectors, keys, reuse.inverted_file)
            if changed is not None:
                manifest["inverted_file"] = {"changed": changed}
            sentences = Sentences(offsets, spans, quote_vectors, quote_keys)
            data = IndexData(manifest, articles, np.array(rows, dtype=np.int64).reshape(-1, 3),
                             keys, vectors, faiss_index, lexical, sentences, clusters)
            save_index(folder, data, article_keys)
        saved.clear()  # the new version holds them now
    gone = len(reuse.article_keys - set(article_keys)) if reuse.article_keys else 0
    return BuildSummary(len(articles), len(rows), len(new), tuple(problems),
                        time.monotonic() - started, store.current_name(index_dir) or "", gone)


PENDING = "embedded-pending"  # in the index folder: Checkpoints of a build not committed


@dataclass(frozen=True)
class Checkpoints:
    """Where a build saves each block of vectors once it is embedded, so that a build
    stopped before it commits (Ctrl-C, a crash, a reboot) loses none of them: the next
    build reuses them. A first build of 400,000 chunks embeds for hours.

    eval and bench save into the user's cache, which keeps sentence vectors as floats
    beside chunk vectors; `assistant index` into a folder of the index's own (PENDING),
    removed once a version holds the vectors."""

    chunks: EmbeddingCache
    sentences: EmbeddingCache
    pending: Path | None = None

    @classmethod
    def of(cls, index_dir: Path, fingerprint: str, cache: EmbeddingCache | None) -> "Checkpoints":
        if cache is not None:
            return cls(cache, cache)
        folder = index_dir / PENDING
        return cls(EmbeddingCache(folder / "chunks", fingerprint),
                   EmbeddingCache(folder / "sentences", fingerprint), folder)

    @property
    def shared(self) -> bool:
        """Chunk and sentence vectors in one cache (the user's)."""
        return self.sentences is self.chunks

    def add_to(self, reuse: Reusable) -> int:
        """Add the saved vectors to what the build copies from; returns how many."""
        chunks = self.chunks.load()
        sentences = None if self.shared else self.sentences.load()
        for sources, saved in ((reuse.vectors, chunks),
                               (reuse.sentence_vectors, chunks if self.shared else sentences)):
            if saved is not None:
                sources.append(saved)
        return sum(len(keys) for keys, _ in filter(None, (chunks, sentences)))

    def saver(self, cache: EmbeddingCache, keys: np.ndarray, vectors: np.ndarray
              ) -> Callable[[list[int]], None]:
        """Saves the rows given of `vectors` under their keys into `cache`."""
        def save(rows: list[int]) -> None:
            block = vectors[rows]
            if block.dtype == np.int8 and self.shared:
                # As floats, like the chunk vectors beside them; quantised again, they
                # give back the same int8 (stored_as).
                block = as_floats(block).astype(np.float16)
            try:
                cache.add(keys[rows], block)
            except OSError:
                pass  # only what a stopped build would have kept is lost
        return save

    def clear(self) -> None:
        if self.pending is not None:
            shutil.rmtree(self.pending, ignore_errors=True)


def stage(progress: bool, message: str) -> None:
    """A line on stderr for a step without a bar: at 552,860 chunks, writing the new
    version took 11 s, and cutting before the first bar several."""
    if progress:
        print(message, file=sys.stderr, flush=True)


def manifest_if_unchanged(index_dir: Path, articles: list[Article], article_keys: list[bytes],
                          problems: list[Problem], origin: list[str], embedder: Embedder,
                          settings: ChunkSettings) -> dict | None:
    """The manifest of the version in service if building these articles would make it
    again: the same articles (the checksum of articles.jsonl), from the same archive with
    the same problems, by this model, chunking and tokenizer, in this format (an older one
    is written again, once), its files sound (as a load checks them). A rebuild of an
    unchanged archive then writes nothing: at 552,860 chunks it took a minute and wrote
    3.5 GB of vectors already on disk.

    The cheap checks come first: loading the index, and the checksum (JSON of every
    article: 3.6 s at 552,860 chunks), only once the texts (`article_keys`) are the same,
    as an edited article's are not."""
    same = {"format_version": FORMAT_VERSION, "chunking": settings.to_json(),
            "tokenizer": TOKENIZER_VERSION, "archive": origin,
            "problems": [str(p) for p in problems]}
    try:
        folder = store.current_version(index_dir)
        manifest = read_manifest(folder)
        if any(manifest.get(key) != value for key, value in same.items()) or \
                not np.array_equal(np.load(folder / "article_keys.npy", allow_pickle=False),
                                   np.array(article_keys, dtype="S20")):
            return None
        load_index(folder, embedder.name, embedder.fingerprint)  # its files are sound
    except (AssistantError, OSError, ValueError):
        return None
    if manifest["files"]["articles.jsonl"].get("sha256") == file_digest(articles):
        return manifest
    return None


def story_clusters(articles: list[Article]) -> list[list[int]]:
    """Rows of the articles that are copies of one story (syndicated or re-scraped)."""
    row_of = {article.id: row for row, article in enumerate(articles)}
    return [[row_of[i] for i in cluster] for cluster in find_clusters(articles)]


def bm25_index(texts: Sequence[str], keys: np.ndarray, known: tuple[np.ndarray, TokenIds] | None
               ) -> LexicalIndex:
    """BM25 over the chunk texts, tokenising only those whose key is not among the
    `known` chunks' keys."""
    known_keys, tokens = known or (np.zeros(0, dtype="S20"), None)
    rows = rows_of(keys, known_keys)
    fresh = [tokenize(texts[i]) for i in np.flatnonzero(rows < 0).tolist()]
    return LexicalIndex.from_tokens(merge_tokens(rows, tokens, fresh))


def dense_index(vectors: np.ndarray, keys: np.ndarray,
                previous: tuple[object, np.ndarray, int] | None) -> tuple[object, int | None]:
    """The FAISS index of the chunks, and for an inverted file, how many chunks changed
    since it was trained (new to the last version or gone from it, added up over
    rebuilds): the last version's training is kept while it fits (keeps_training), and
    with it the lists its unchanged chunks were in (their vectors are the same)."""
    import faiss

    trained, changed, lists = None, 0, None
    if previous is not None:
        index, previous_keys, changed = previous
        rows = rows_of(keys, previous_keys)
        kept = rows[rows >= 0]
        changed += len(keys) - len(kept) + len(previous_keys) - len(np.unique(kept))
        trained = index if keeps_training(index, len(keys), changed) else None
        changed = changed if trained is not None else 0
        if trained is not None and index.ntotal == len(previous_keys):
            lists = np.where(rows >= 0, list_of_ids(index)[rows], -1)
    faiss_index = make_faiss_index(vectors, trained=trained, lists=lists)
    return faiss_index, (changed if isinstance(faiss_index, faiss.IndexIVF) else None)


def previous_work(index_dir: Path, embedder: Embedder, settings: ChunkSettings) -> Reusable:
    """What the index in service lets this rebuild skip (nothing if there is none)."""
    try:
        folder = store.current_version(index_dir)
    except AssistantError:
        return Reusable()
    return reusable(folder, embedder.name, embedder.fingerprint, settings.to_json())


def chunk_all(articles: list[Article], settings: ChunkSettings,
              known: dict[bytes, list[tuple[int, int]]], article_keys: list[bytes]
              ) -> list[tuple[int, int, int]]:
    """(article_row, start, end) rows of every chunk; an article whose text is in `known`
    keeps the chunks it had, without cutting it again."""
    rows = []
    for row, article in enumerate(articles):
        spans = known.get(article_keys[row]) or [
            (chunk.start, chunk.end) for chunk in chunk_article(article, settings)]
        rows.extend((row, start, end) for start, end in spans)
    return rows


@dataclass(frozen=True)
class Texts(Sequence):
    """Texts made when asked for, not held: a rebuild needs only the new ones (and each
    chunk's once, for its key), and holding all of them raised its peak memory by 1.7 GB
    at 552,860 chunks (README, "Rebuilds")."""

    length: int
    make: Callable[[int], str]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> str:
        return self.make(i)


def chunk_texts(articles: list[Article], rows: list[tuple[int, int, int]]) -> Texts:
    """What is embedded for each chunk (chunking.embedding_text)."""
    def text(i: int) -> str:
        row, start, end = rows[i]
        return embedding_text(articles[row], Chunk(articles[row].id, start, end))
    return Texts(len(rows), text)


def sentence_texts(articles: list[Article], rows: list[tuple[int, int, int]],
                   offsets: np.ndarray, spans: np.ndarray) -> Texts:
    """Each chunk's quotable sentences, in the order sentences.cut gives their spans."""
    article_rows = np.repeat([row for row, _, _ in rows], np.diff(offsets))
    return Texts(len(spans), lambda i: articles[article_rows[i]].text[spans[i, 0]:spans[i, 1]])


EMBED_BLOCK = 2048  # texts embedded at a time (their float32 vectors are held only meanwhile)


def embed_reusing(texts: Sequence[str], keys: np.ndarray,
                  known: list[tuple[np.ndarray, np.ndarray]], embedder: Embedder,
                  progress: str | None, vectors: np.ndarray,
                  save: Callable[[list[int]], None] = lambda rows: None) -> np.ndarray:
    """Fill `vectors` (zeros, a row per text) with the texts' vectors, embedding those
    whose key no `known` (keys, vectors) source holds (each distinct text once, a block at
    a time, each block then given to `save`); returns the positions that were not known.
    `progress` names the texts on a progress bar (None: no bar)."""
    from tqdm import tqdm

    # At 552,860 chunks copying the kept vectors took 6-7 s each for chunks and sentences.
    with tqdm(total=len(keys), unit="vector", desc=f"reusing {progress}",
              disable=progress is None or not known) as bar:
        new = fill_known(keys, known, vectors, bar.update)
    _, first, copy_of = np.unique(keys[new], return_index=True, return_inverse=True)
    distinct = new[np.sort(first)].tolist()  # each text's first position, in order
    with tqdm(total=len(distinct), unit="text", desc=f"embedding {progress}",
              disable=progress is None or not distinct) as bar:
        for start in range(0, len(distinct), EMBED_BLOCK):
            block = distinct[start:start + EMBED_BLOCK]
            vectors[block] = stored_as(embedder.embed([texts[i] for i in block]), vectors.dtype)
            save(block)
            bar.update(len(block))
    vectors[new] = vectors[new[first[copy_of]]]
    return new
