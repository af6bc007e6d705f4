"""The index files' SHA-256 checksums, and the record of files already found to match
them, so that a load hashes only the files changed since.

`hashed.json` sits beside the manifest, not listed in it. At a million chunks hashing
every file took 4 s of a 4.5 s load; `assistant index --check` still hashes every file.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .embed import available_cores

HASHED = "hashed.json"
SETTLED = 1.0  # seconds a file must have been unchanged when hashed for its stat to count


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: list[Path]) -> Iterator[str]:
    """Each file's SHA-256, in the order given, hashed side by side on one thread a core
    (hashlib lets go of the GIL): give the largest first. At a million chunks the files
    are 8 GB, and one after the other took 8-12 s. Closed early (a load stops at the
    first mismatch), the hashes not yet begun are dropped."""
    with ThreadPoolExecutor(available_cores()) as pool:
        hashing = [pool.submit(sha256_file, path) for path in paths]
        try:
            for digest in hashing:
                yield digest.result()
        finally:
            for digest in hashing:
                digest.cancel()


def verified(folder: Path, manifest: dict, name: str) -> Path:
    """`folder/name`, once its checksum matches the manifest's (ValueError if not)."""
    path = folder / name
    if sha256_file(path) != manifest["files"][name].get("sha256"):
        raise ValueError(f"{path} does not match its checksum")
    return path


def stat_of(path: Path) -> list[int]:
    """What writing, replacing or linking a file changes: size, inode, mtime, ctime."""
    st = path.stat()
    return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def record_hashed(folder: Path, stats: dict[str, list[int]]) -> None:
    """Note that the files with these stats (taken before hashing) match the manifest.
    Best effort: an index the user cannot write to is simply hashed on every load."""
    record = {"manifest": sha256_file(folder / "manifest.json"), "at_ns": time.time_ns(),
              "files": stats}
    scratch = folder / f".{HASHED}.{os.getpid()}"
    try:
        scratch.write_text(json.dumps(record), encoding="utf-8")
        os.replace(scratch, folder / HASHED)
    except OSError:
        scratch.unlink(missing_ok=True)


def hashed_unchanged(folder: Path, stats: dict[str, list[int]]) -> set[str]:
    """Files whose stat is as when they were last found to match this manifest, and which
    had been unchanged for SETTLED seconds then: a change within the same tick of the
    file system's clock would leave the stat as it was."""
    try:
        record = json.loads((folder / HASHED).read_text(encoding="utf-8"))
        if record["manifest"] != sha256_file(folder / "manifest.json"):
            return set()
        settled = record["at_ns"] - SETTLED * 1e9
        return {name for name, stat in stats.items()
                if record["files"].get(name) == stat and stat[3] < settled}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def bytes_to_hash(folder: Path, names) -> int:
    """How many bytes loading `folder` would hash: those of its files `names` (the
    manifest's) changed since they last matched (OSError if one is missing)."""
    stats = {name: stat_of(folder / name) for name in names}
    unchanged = hashed_unchanged(folder, stats)
    return sum(stat[0] for name, stat in stats.items() if name not in unchanged)
