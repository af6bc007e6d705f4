"""Read an archive folder into Articles: walk its files (hidden ones skipped), read each
in the format its name says (formats.py: `*.jsonl`, `*.html`/`*.htm`, `*.txt`/`*.md`) and
give every article its own id.

A file that cannot be read is reported as a Problem and skipped; the rest is still read.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

from .formats import read_html, read_jsonl, read_page, read_plain
from .types import Article, Problem

SUFFIXES = {".jsonl", ".html", ".htm", ".txt", ".md"}
MAX_FILE_BYTES = 200 * 1024 * 1024  # larger files are refused rather than exhausting memory


def read_archive(paths: Iterable[str | os.PathLike]) -> tuple[list[Article], list[Problem]]:
    """Read every archive file under `paths` (files or folders, recursively).

    Returns the articles in a stable order, each with a distinct id, and the problems met
    on the way (repeated ids among them, as notices: see `distinct_ids`).
    """
    articles: list[Article] = []
    problems: list[Problem] = []
    for path, key in iter_archive_files(paths):
        file_articles, file_problems = read_file(path, key)
        articles.extend(file_articles)
        problems.extend(file_problems)
    articles, renamed = distinct_ids(articles)
    return articles, problems + renamed


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


def iter_archive_files(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, str]]:
    """(path, key) of the archive files under `paths` in sorted order; hidden files and
    folders are skipped. The key, the path relative to the root given, feeds article ids
    so that they do not change with the working directory."""
    for root in map(Path, paths):
        if root.is_file():
            yield root, root.name
            continue
        if not root.is_dir():
            raise FileNotFoundError(f"archive path not found: {root}")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
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
    if b"\x00" in raw[:8192]:
        return [], [Problem(str(path), "binary file, not text")]
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return [], [Problem(str(path), f"not valid UTF-8 (byte {error.start})")]
    if suffix == ".jsonl":
        return read_jsonl(content, str(path), key)
    if suffix in {".html", ".htm"}:
        articles = wrap(read_html(content, str(path), key))
    else:
        articles = read_page(content, str(path), key) or wrap(read_plain(content, str(path), key))
    if not articles:
        return [], [Problem(str(path), "no article text found")]
    return articles, []


def wrap(article: Article | None) -> list[Article]:
    return [article] if article else []
