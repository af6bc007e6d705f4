"""Versioned index folders with an atomic switch, in the manner of a commit point.

    index/
      CURRENT              name of the version in service (replaced atomically)
      v-<time>-<id>/       one complete index: manifest.json and its files
      .lock                held while a rebuild writes

A rebuild writes a new version into `<name>.partial/`, flushes every file, renames the
folder, then replaces CURRENT. Readers only ever follow CURRENT, so they see the old
complete index or the new complete one, never a mix. The version CURRENT named before
the switch is kept for a server still loading it; older ones are renamed to
`<name>.trash` (so a half-deleted folder never carries a version's name) and removed.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import AssistantError, IndexDamaged, IndexMismatch, IndexMissing
from .index import load_index, read_manifest, rebuild_advice

CURRENT = "CURRENT"
PARTIAL = ".partial"
TRASH = ".trash"
VERSION_NAME = re.compile(r"v-\d{8}T\d{6}-[0-9a-f]{6}")


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's entry to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_version(index_dir: Path) -> Path:
    """The folder of the version in service; IndexMissing if there is none."""
    name = read_current(index_dir)
    if name is None:
        raise IndexMissing(
            f"no index in {index_dir}/: build one with `assistant index --index {index_dir}`")
    version = index_dir / name
    if not VERSION_NAME.fullmatch(name) or not version.is_dir():
        raise IndexMissing(f"{index_dir}/CURRENT names a missing version {name!r}: "
                           f"{rebuild_fix(index_dir)}")
    return version


def current_name(index_dir: Path) -> str | None:
    """The name in CURRENT, or None; cheap enough to call on every request."""
    return read_current(index_dir) or None


def read_current(index_dir: Path) -> str | None:
    """The text of CURRENT, None if there is no such file; an AssistantError saying what to
    do when `index_dir` is not a folder or CURRENT is not a name (a folder, not UTF-8)."""
    try:
        return (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise not_a_folder(index_dir) from None
    except IsADirectoryError:
        raise current_is_a_folder(index_dir) from None
    except UnicodeDecodeError:
        raise IndexDamaged(f"{index_dir}/CURRENT is not UTF-8 text: "
                           f"{rebuild_fix(index_dir)}") from None


def not_a_folder(index_dir: Path) -> AssistantError:
    return AssistantError(f"{index_dir} is not a folder: give --index a folder "
                          f"(new, or holding an index)")


def current_is_a_folder(index_dir: Path) -> IndexDamaged:
    return IndexDamaged(f"{index_dir}/CURRENT is a folder, not a version's name: remove it, "
                        f"then {rebuild_fix(index_dir)}")


def rebuild_fix(index_dir: Path) -> str:
    """How to rebuild an index whose CURRENT is damaged: from the archive that its newest
    readable version records, if any."""
    for folder in sorted(index_dir.glob("v-*"), reverse=True):  # names sort by time
        if VERSION_NAME.fullmatch(folder.name):
            try:
                return rebuild_advice(index_dir, read_manifest(folder))
            except (AssistantError, OSError):
                continue
    return rebuild_advice(index_dir)


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One rebuild at a time per index folder."""
    if not index_dir.is_dir():
        try:
            index_dir.mkdir(parents=True)
        except (FileExistsError, NotADirectoryError):  # a file in its place or its path
            raise not_a_folder(index_dir) from None
        fsync_path(index_dir.parent)  # the new folder's entry survives a power cut
    with open(index_dir / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AssistantError(
                f"another rebuild is writing {index_dir}/: wait for it to finish") from None
        if (index_dir / CURRENT).is_dir():  # the switch could not replace it: refuse now
            raise current_is_a_folder(index_dir)
        yield


@contextlib.contextmanager
def new_version(index_dir: Path) -> Iterator[Path]:
    """A fresh folder to write a version into; committed when the block ends cleanly.

    Call under `writer_lock`. On an exception the partial folder is removed and CURRENT
    is untouched; a full disk is an AssistantError that says so.
    """
    name = f"v-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    partial = index_dir / (name + PARTIAL)
    partial.mkdir(parents=True)
    try:
        yield partial
    except BaseException as error:
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise AssistantError(f"the disk holding {index_dir} is full: free some space and "
                                 "run `assistant index` again (the index in service is "
                                 "unchanged)") from error
        raise
    commit(index_dir, partial, name)


def commit(index_dir: Path, partial: Path, name: str) -> None:
    """Flush the version to disk, give it its name, then point CURRENT at it."""
    for path in partial.rglob("*"):
        fsync_path(path)
    fsync_path(partial)
    os.rename(partial, index_dir / name)
    fsync_path(index_dir)
    previous = previous_name(index_dir)
    pointer = index_dir / (CURRENT + ".tmp")
    with open(pointer, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / CURRENT)  # the atomic switch
    fsync_path(index_dir)
    clean_old_versions(index_dir, keep={name, previous})


def previous_name(index_dir: Path) -> str | None:
    """The name in CURRENT before the switch; None if it is damaged, as the switch mends it."""
    try:
        return current_name(index_dir)
    except AssistantError:
        return None


def clean_old_versions(index_dir: Path, keep: set[str | None]) -> None:
    """Remove every version folder but those in `keep`: partial folders of killed
    rebuilds, versions committed but never switched to, and older ones. Call under
    `writer_lock`."""
    for path in sorted(index_dir.glob("v-*")):
        if path.name in keep or not path.is_dir():
            continue
        if VERSION_NAME.fullmatch(path.name):
            path = path.rename(path.with_name(path.name + TRASH))
        shutil.rmtree(path, ignore_errors=True)


def clean_without_commit(index_dir: Path) -> None:
    """What a commit cleans up, for a rebuild that commits nothing: the partial folders of
    killed rebuilds, and the versions they named after the one in service but never switched
    to. The versions before it stay (the last commit kept the one a server may still load).
    Call under `writer_lock`."""
    current = current_name(index_dir) or ""
    made = slice(0, len("v-YYYYMMDDTHHMMSS"))  # a name's time, to the second
    clean_old_versions(index_dir, keep={
        path.name for path in index_dir.glob("v-*")
        if VERSION_NAME.fullmatch(path.name) and path.name[made] <= current[made]})


@dataclass(frozen=True)
class Verified:
    """What `verify` found in the version in service."""

    version: str
    articles: int
    chunks: int
    dim: int
    files: int
    model: str
    built_at: str

    def line(self) -> str:
        return (f"ok: {self.version}: {self.articles} articles, {self.chunks} chunks, "
                f"{self.dim}-dim vectors of {self.model}, {self.files} files match their "
                f"checksums (built {self.built_at})")


def verify(index_dir: Path, embedder) -> Verified:
    """Check the version in service without rebuilding it: manifest, format, model
    fingerprint, dimension, counts and every file's checksum. Raises an AssistantError
    naming the problem and the fix; the embedding model itself is not loaded.

    >>> verify(Path("index"), Embedder()).line()  # doctest: +SKIP
    'ok: v-20260101T120000-3fa2b1: 5 articles, 14 chunks, 384-dim vectors of ...'
    """
    folder = current_version(index_dir)
    data = load_index(folder, embedder.name, embedder.fingerprint, every_file=True)
    if data.manifest.get("dim") != embedder.dim:
        raise IndexMismatch(f"index in {folder} holds {data.manifest.get('dim')}-dim vectors "
                            f"but {embedder.name} makes {embedder.dim}-dim ones: "
                            f"{rebuild_advice(index_dir, data.manifest)}")
    return Verified(folder.name, len(data.articles), len(data.chunks), data.vectors.shape[1],
                    len(data.manifest["files"]), embedder.name,
                    str(data.manifest.get("built_at")))
