"""Versioned index folders with an atomic switch, in the manner of a commit point.

    index/
      CURRENT              name of the version in service (replaced atomically)
      v-<time>-<id>/       one complete index: manifest.json and its files
      .lock                held while a rebuild writes

A rebuild writes a new version into `<name>.partial/`, flushes every file, renames the
folder, then replaces CURRENT. Readers only ever follow CURRENT, so they see the old
complete index or the new complete one, never a mix.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

from .errors import AssistantError, IndexMissing

CURRENT = "CURRENT"
PARTIAL = ".partial"
KEEP_OLD_VERSIONS = 1  # the one before CURRENT stays for a server still reading it


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entry to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_version(index_dir: Path) -> Path:
    """The folder of the version in service; IndexMissing if there is none."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexMissing(
            f"no index in {index_dir}/: build one with `assistant index --index {index_dir}`"
        ) from None
    version = index_dir / name
    if not name or "/" in name or not version.is_dir():
        raise IndexMissing(
            f"{index_dir}/CURRENT names a missing version {name!r}: "
            f"rebuild with `assistant index --index {index_dir}`"
        )
    return version


def current_name(index_dir: Path) -> str | None:
    """The name in CURRENT, or None; cheap enough to call on every request."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One rebuild at a time per index folder."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AssistantError(
                f"another rebuild is writing {index_dir}/: wait for it to finish") from None
        yield


@contextlib.contextmanager
def new_version(index_dir: Path) -> Iterator[Path]:
    """A fresh folder to write a version into; committed when the block ends cleanly.

    Call under `writer_lock`. On an exception the partial folder is removed and CURRENT
    is untouched.
    """
    name = f"v-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    partial = index_dir / (name + PARTIAL)
    partial.mkdir(parents=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    commit(index_dir, partial, name)


def commit(index_dir: Path, partial: Path, name: str) -> None:
    for path in partial.rglob("*"):
        fsync_path(path)
    fsync_path(partial)
    os.rename(partial, index_dir / name)
    fsync_path(index_dir)
    pointer = index_dir / (CURRENT + ".tmp")
    with open(pointer, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / CURRENT)  # the atomic switch
    fsync_path(index_dir)
    clean_old_versions(index_dir, keep=name)


def clean_old_versions(index_dir: Path, keep: str) -> None:
    """Remove partial folders left by killed rebuilds and all but the newest old version."""
    versions = sorted(p for p in index_dir.glob("v-*") if p.is_dir() and p.name != keep)
    for path in versions:
        if path.name.endswith(PARTIAL):
            shutil.rmtree(path, ignore_errors=True)
    finished = [p for p in versions if not p.name.endswith(PARTIAL)]
    for path in finished[: max(0, len(finished) - KEEP_OLD_VERSIONS)]:
        shutil.rmtree(path, ignore_errors=True)
