"""What a stage has just written, kept in memory for the next stage of the day in this process.

A backfill runs a day's stages one after another in one process, and each stage read back what the
one before had just written: the raw zip was unzipped a second time by the parse, the staging and
normalized files decoded again by the next stage, the lake file by the load (about 3.5 ms of a
day's work, against ~15 ms for a bare script's whole day).

An entry is keyed by the file's path and the SHA-256 of its bytes. The next stage still reads the
file, and takes the kept value only for exactly the bytes that were written from it, so a file
replaced since (another run, a redo, an edit) is decoded from disk as before. An entry goes when it
is taken, and only the last KEEP_BYTES of values are kept, so memory stays bounded: a batch's loads
run after all its writes (LoadClickHouse), so a batch's lake tables wait here for them (25 CM days
are a few MB; F&O days beyond the bound are read back from disk). A forked
worker (`--workers 2`) has its own, mostly empty, and reads the files.
"""
import hashlib
from collections import OrderedDict

KEEP_BYTES = 128 * 2**20  # of the values kept: bytes, Arrow tables (their buffers) and tuples of them
_kept: OrderedDict = OrderedDict()  # path -> (sha256 of the file's bytes, value, its size)


def size_of(value) -> int:
    if isinstance(value, tuple):
        return sum(map(size_of, value))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return getattr(value, "nbytes", 0)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def keep(path, sha256: str, value) -> None:
    """Remember `value` (what the file at `path`, of these bytes, decodes to) for the next stage."""
    _kept[str(path)] = (sha256, value, size_of(value))
    _kept.move_to_end(str(path))
    while sum(entry[2] for entry in _kept.values()) > KEEP_BYTES and len(_kept) > 1:
        _kept.popitem(last=False)


def take(path, sha256: str):
    """The value kept for the file at `path` if it was kept for exactly these bytes, else None."""
    entry = _kept.pop(str(path), None)
    return entry[1] if entry is not None and entry[0] == sha256 else None


def clear() -> None:
    _kept.clear()
