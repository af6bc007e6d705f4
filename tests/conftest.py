"""Shared fixtures: hand-written articles, a deterministic fake embedder, the real model."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest

from assistant.bench_rebuild import TextHashEmbedder
from assistant.embed import normalise

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_ARCHIVE = ROOT / "archive"
SHARED_DATA = ROOT.parent / "shared" / "data" / "news-qa-2022"


class FakeEmbedder:
    """Bag of hashed words: texts sharing words get close vectors. SHA-256 seeded, so the
    same on every run and machine (Python's `hash` is salted)."""

    name = "fake-hashed-words"
    fingerprint = "fake-0001"
    precision = "fp32"
    dim = 64

    def embed(self, texts):
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in zip(rows, texts):
            for word in re.findall(r"\w+", text.lower()):
                seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                row += np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            row[0] += 1e-3  # no zero rows
        return normalise(rows)

    def embed_one(self, text):
        return self.embed([text])[0]


HASH_DIM = 32  # a subprocess's rebuild makes its own: TextHashEmbedder(dim=HASH_DIM)


class HashEmbedder(TextHashEmbedder):
    """The bench's hash embedder with small vectors: no similarity at all, but deterministic
    and fast enough for large archives and for rebuilds in a subprocess."""

    def __init__(self):
        super().__init__(dim=HASH_DIM)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    from assistant.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory, real_embedder):
    """The bundled archive indexed once with the real model."""
    from assistant.build import rebuild

    index_dir = tmp_path_factory.mktemp("bundled") / "index"
    rebuild([BUNDLED_ARCHIVE], index_dir, real_embedder)
    return index_dir


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path



def dropped_from_page_cache(*paths: Path) -> None:
    """Written out, then dropped from the page cache: as after a while unused."""
    for path in paths:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def bytes_read_from_storage() -> int:
    """This process's reads that reached the disk (Linux's /proc/self/io)."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("read_bytes"))


needs_io_counts = pytest.mark.skipif(not Path("/proc/self/io").exists(),
                                     reason="needs Linux's per-process I/O counts")

@pytest.fixture
def small_archive(tmp_path):
    """Three hand-written articles in three formats."""
    root = tmp_path / "archive"
    write(root / "a.txt", "Harbour Bridge Reopens\nDate: 2022-03-01\nSource: Gazette\n\n"
          "The harbour bridge reopened on Monday after repairs. Mayor Ana Lopes cut the ribbon. "
          "Traffic returned to normal by noon.")
    write(root / "b.jsonl", '{"id": "b1", "title": "Wheat harvest breaks record", '
          '"date": "2022-07-15", "url": "https://example.org/wheat", "text": "Farmers in the '
          'valley harvested a record wheat crop this summer. Prices fell by ten percent."}\n')
    write(root / "sub" / "c.html", "<html><head><title>Site | Choir</title><script>alert(1)"
          "</script></head><body><h1>Choir wins national prize</h1><p>The town choir won the "
          "national prize in Leeds.</p><p>Its conductor, Sam Reed, thanked the singers.</p>"
          "</body></html>")
    return root


def pytest_addoption(parser):
    parser.addoption("--kills", type=int, default=20, metavar="N",
                     help="SIGKILLs dealt to rebuilds in tests/test_crash.py (default 20; "
                     "the soak run uses 500)")


@pytest.fixture
def kills(request):
    return request.config.getoption("--kills")
