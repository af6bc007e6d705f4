"""Saved .npy arrays read a few rows at a time, without staying resident in the server.

A server asks each index file for a few rows a question. Simply mapped, every page it
touched would stay resident in the server (and the kernel maps neighbouring pages along
with each one read): at a million chunks that was most of the server's memory. So rows
are read with pread (DiskArray, read_rows), or, where a question reads megabytes (BM25's
columns), mapped, asked for all at once, and handed back after use (MappedArray): that
saves copying them. A build, for its part, fills its vector files through a map of them
(array_file, save_array).
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import os
from pathlib import Path

import numpy as np

# A fault maps the cached pages around it too, up to this aligned block (Linux's
# fault_around_bytes): released ranges are widened to it, or those pages would stay.
FAULT_AROUND = 1 << 16


def npy_header(path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """dtype, shape and data offset of a saved array of rows; ValueError if it holds
    none, or if the file is shorter than its header says."""
    header = np.load(path, mmap_mode="r", allow_pickle=False)  # maps, reads no data
    if header.ndim == 0 or header.dtype.hasobject:
        raise ValueError(f"{path} does not hold an array of rows")
    return header.dtype, header.shape, header.offset


def array_file(path: Path, shape: tuple[int, ...], dtype) -> np.memmap:
    """A new .npy file of zeros at `path`, mapped for writing. A build fills its vectors in
    place: they are not held in memory as well, nor copied into the file (save_array).
    Its disk space is taken now (OSError if the disk is full): a write to a mapped page
    that the disk has no room for kills the process (SIGBUS) instead of raising."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    with open(path, "r+b") as file:
        try:
            os.posix_fallocate(file.fileno(), 0, os.fstat(file.fileno()).st_size)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise
            # a file system that cannot reserve space ahead: it is taken as pages are written
    return array


def save_array(path: Path, array: np.ndarray) -> None:
    """np.save, unless `array` is the file at `path` already (array_file): then flushed."""
    if isinstance(array, np.memmap) and path.exists() and os.path.samefile(array.filename, path):
        array.flush()
    else:
        np.save(path, array, allow_pickle=False)


def row_bytes(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    """Bytes one row of an array of this dtype and shape takes."""
    return dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))


class DiskArray:
    """Rows of a saved array, read on demand: `array[start:stop]` as for a numpy array,
    whose other operations it does not offer."""

    def __init__(self, path: Path):
        self.dtype, self.shape, self.offset = npy_header(path)
        self.row_bytes = row_bytes(self.dtype, self.shape)
        self.file = open(path, "rb")  # closed when the index holding it is dropped

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("a DiskArray reads contiguous rows: array[start:stop]")
        start, stop, _ = rows.indices(len(self))
        count = max(stop - start, 0)
        raw = os.pread(self.file.fileno(), count * self.row_bytes,
                       self.offset + start * self.row_bytes)
        if len(raw) != count * self.row_bytes:
            raise OSError(f"{self.file.name} is shorter than its header says")
        return np.frombuffer(raw, dtype=self.dtype).reshape((count, *self.shape[1:]))


class MappedArray:
    """A saved one-dimensional array, mapped read-only: `array[start:stop]` is a view;
    `prefetch(start, stop)` has those rows read from disk now, if they are not cached;
    `release(start, stop)` unmaps those rows' pages from this process once read (the
    kernel keeps them cached for the next question)."""

    def __init__(self, path: Path):
        dtype, shape, offset = npy_header(path)
        if len(shape) != 1:
            raise ValueError(f"{path} does not hold a one-dimensional array")
        with open(path, "rb") as file:
            self.map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        self.array = np.frombuffer(self.map, dtype=dtype, count=shape[0], offset=offset)
        self.offset, self.itemsize = offset, dtype.itemsize

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.array[rows]

    def prefetch(self, start: int, stop: int) -> None:
        """Start reading rows start:stop into the page cache, without waiting. Left to
        faults, pages not cached are read one fault at a time, each with the device's
        read-ahead window around it (8 MB here: at 1M chunks, an ask whose BM25 columns
        were not cached read 125 MB, against 5.6 MB with this)."""
        if stop <= start or not hasattr(self.map, "madvise"):  # not on Windows
            return
        first = (self.offset + start * self.itemsize) // mmap.PAGESIZE * mmap.PAGESIZE
        self.map.madvise(mmap.MADV_WILLNEED, first, self.offset + stop * self.itemsize - first)

    def release(self, start: int, stop: int) -> None:
        if stop <= start or not hasattr(self.map, "madvise"):  # not on Windows
            return
        first = (self.offset + start * self.itemsize) // FAULT_AROUND * FAULT_AROUND
        last = -(-(self.offset + stop * self.itemsize) // FAULT_AROUND) * FAULT_AROUND
        self.map.madvise(mmap.MADV_DONTNEED, first, min(last, len(self.map)) - first)


LIBC = ctypes.CDLL(None, use_errno=True) if hasattr(mmap, "MADV_WILLNEED") else None


def will_need(ranges: list[tuple[int, int]]) -> None:
    """Start reading the pages under these address ranges (start, stop) of memory that
    another library mapped from a file (FAISS's inverted lists), as MappedArray.prefetch
    does for its own maps; ranges that touch are asked for in one call."""
    if LIBC is None:
        return
    merged: list[list[int]] = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start // mmap.PAGESIZE * mmap.PAGESIZE, stop])
    for start, stop in merged:
        LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(stop - start), mmap.MADV_WILLNEED)


def read_rows(array: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """array[ids], for sorted `ids`. From a mapped saved array (np.memmap) the rows are
    asked for at once, then read with one pread per run of consecutive ids, rather than
    through the map: there, rows not cached were read a fault at a time, one after
    another (at 1M chunks, the 5,204 vectors of every 100th article: 1.6-2.4 s, against
    36-57 ms this way), and every page read stayed resident in the server (74 MB)."""
    if not isinstance(array, np.memmap) or array.filename is None or len(ids) == 0 \
            or not hasattr(os, "posix_fadvise"):  # Linux's calls
        return np.asarray(array[ids])
    size_of_row = row_bytes(array.dtype, array.shape)
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    runs = list(zip(ids[np.r_[0, breaks]].tolist(), (ids[np.r_[breaks - 1, -1]] + 1).tolist()))
    rows = np.empty((len(ids), *array.shape[1:]), dtype=array.dtype)
    buffer, done = memoryview(rows.reshape(-1).view(np.uint8)), 0
    with open(array.filename, "rb") as file:
        for start, stop in runs:
            os.posix_fadvise(file.fileno(), array.offset + start * size_of_row,
                             (stop - start) * size_of_row, os.POSIX_FADV_WILLNEED)
        for start, stop in runs:
            size = (stop - start) * size_of_row
            if os.preadv(file.fileno(), [buffer[done:done + size]],
                         array.offset + start * size_of_row) != size:
                raise OSError(f"{array.filename} is shorter than its header says")
            done += size
    return rows
