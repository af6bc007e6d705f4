"""Read an archive folder into Articles: walk its files (hidden ones skipped), read each
in the format its name says (formats.py: `*.jsonl`, `*.html`/`*.htm`, `*.txt`/`*.md`) and
give every article its own id.

A file that cannot be read is reported as a Problem and skipped; the rest is still read.
Files of other kinds in a folder are counted in one notice.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

from .formats import read_html, read_jsonl, read_page, read_plain
from .types import Article, Problem

SUFFIXES = {".jsonl", ".html", ".htm", ".txt", ".md"}
MAX_FILE_BYTES = 200 * 1024 * 1024  # larger files are refused rather than exhausting memory


def read_archive(paths: Iterable[str | os.PathLike], leave_out: Path | None = None
                 ) -> tuple[list[Article], list[Problem]]:
    """Read every archive file under `paths` (files or folders, recursively), but not
    under `leave_out` (the index folder, should it lie inside the archive).

    Returns the articles in a stable order, each with a distinct id, and the problems met
    on the way (repeated ids among them, as notices: see `distinct_ids`).
    """
    articles: list[Article] = []
    problems: list[Problem] = []
    for root in map(Path, paths):
        others, in_folder = Counter(), root.is_dir()  # a file named on its own is read as is
        for path, key in archive_files(root, leave_out):
            if in_folder and path.suffix.lower() not in SUFFIXES:
                others[path.suffix.lower() or "no suffix"] += 1
                continue
            file_articles, file_problems = read_file(path, key)
            articles.extend(file_articles)
            problems.extend(file_problems)
        if others:
            problems.append(other_files(root, others))
    articles, renamed = distinct_ids(articles)
    return articles, problems + renamed


def other_files(root: Path, suffixes: Counter) -> Problem:
    """One notice for the files under `root` that are not in an archive format."""
    kinds = ", ".join(f"{suffix} {count}" for suffix, count in sorted(suffixes.items()))
    return Problem(str(root), f"{counted(sum(suffixes.values()), 'file')} of other kinds not "
                   f"read ({kinds}); articles are read from {' '.join(sorted(SUFFIXES))} files",
                   skipped=False)


def counted(n: int, noun: str) -> str:
    """'1 article', '2 articles'."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def distinct_ids(articles: list[Article]) -> tuple[list[Article], list[Problem]]:
    """Give every article its own id, losing none: an id seen before (in path and line
    order) gets the first free suffix `~2`, `~3`, ... and a notice names both places.

    >>> [a.id for a in distinct_ids([Article("x", "", "a"), Article("x", "", "b")])[0]]
    ['x', 'x~2']
    """
    taken = {article.id for article in articles}
    first: dict[str, str] = {}
    result, notices = [], []
    for article in articles:
        if article.id not in first:
            first[article.id] = article.origin
            result.append(article)
            continue
        n = 2
        while f"{article.id}~{n}" in taken:
            n += 1
        new_id = f"{article.id}~{n}"
        taken.add(new_id)
        result.append(replace(article, id=new_id))
        path, _, line = article.origin.rpartition(":")
        path, line = (path, int(line)) if line.isdigit() else (article.origin, None)
        notices.append(Problem(path, f"duplicate id {article.id!r} (first at "
                               f"{first[article.id]}), indexed as {new_id!r}", line,
                               skipped=False))
    return result, notices


def archive_files(root: Path, leave_out: Path | None = None) -> Iterator[tuple[Path, str]]:
    """(path, key) of the files under `root` (itself, if a file) in sorted order; hidden
    files and folders, and the folder `leave_out`, are skipped. The key, the path relative
    to `root`, feeds article ids so that they do not change with the working directory."""
    if root.is_file():
        yield root, root.name
        return
    if not root.is_dir():
        raise FileNotFoundError(f"archive path not found: {root}")
    leave_out = leave_out.resolve() if leave_out else None
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and (Path(dirpath) / d).resolve() != leave_out)
        for name in sorted(filenames):
            if not name.startswith("."):
                path = Path(dirpath) / name
                yield path, path.relative_to(root).as_posix()


def read_file(path: Path, key: str | None = None) -> tuple[list[Article], list[Problem]]:
    """Read one archive file; never raises for bad content. `key` seeds article ids."""
    key = key or path.name
    suffix = path.suffix.lower()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return [], [Problem(str(path), f"larger than {MAX_FILE_BYTES // 2**20} MB, skipped")]
        raw = path.read_bytes()
    except OSError as error:
        return [], [Problem(str(path), f"cannot be read ({error.strerror or error})")]
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    if encoding != "utf-16" and b"\x00" in raw[:8192]:
        return [], [Problem(str(path), "binary file, not text")]
    try:
        content = raw.decode(encoding)  # UTF-16 with its byte order mark, as Windows saves it
    except UnicodeDecodeError as error:
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        return [], [Problem(str(path), f"not valid {name} (byte {error.start})")]
    if suffix == ".jsonl":
        return read_jsonl(content, str(path), key)
    if suffix in {".html", ".htm"}:
        articles, notices = read_html(content, str(path), key)
    else:
        articles, notices = read_page(content, str(path), key)
        if not articles:
            articles, notices = read_plain(content, str(path), key)
    if not articles:
        return [], [Problem(str(path), "no article text found")]
    return articles, notices
