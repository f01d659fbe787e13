"""Files a user already has: folders of NSE's daily files, under NSE's names or the peers'.

`[nse] local_archive` names the folders. Each folder list is walked once per process and indexed
by file name alone, so a backfill over 20 years of files never walks it once per day. A day's
file is then looked up by the names its dataset declares (`Dataset.archive_names`), in any case.

A file found here passes the checks a download does (rawfile.read_member, Dataset.peek) before
it is used, and its bytes are kept as found. A file that fails them is never used: the network
routes are tried next, unless `[nse] offline` is set. Two files for one day are one file if they
hold the same CSV (a zip and its extracted member, say) or the same rows; otherwise the day is
refused until one of them is removed. A peer's rewrite whose columns are not in NSE's order
(eod2 keeps pandas copies with ISIN first, which also turn the series `NA` into an empty cell) is
refused.
"""
import functools
import logging
import os
import stat
from dataclasses import dataclass
from datetime import date

from . import rawfile
from .errors import BhavcopyError
from .source import Fetched

ROUTE = "local"

logger = logging.getLogger("luigi-interface")


@dataclass(frozen=True)
class Index:
    folders: tuple[str, ...]  # as configured, for messages
    roots: tuple[str, ...]  # the same folders with symlinks resolved: a file must lie under one
    files: dict[str, tuple[str, ...]]  # lower-cased file name -> every path with that name

    def paths(self, names: list[str]) -> list[str]:
        """Every file holding one of `names`, in the order of the names (NSE's own come first)."""
        found = {}
        for name in names:
            found.update(dict.fromkeys(self.files.get(name.lower(), ())))
        return list(found)

    def shown(self) -> str:
        return os.pathsep.join(self.folders)


@functools.lru_cache(maxsize=8)
def index(folders: tuple[str, ...]) -> Index:
    """Every file under the folders, by name; symlinked folders are not followed."""
    files: dict[str, list[str]] = {}

    def unreadable(error: OSError) -> None:
        logger.warning("local archive: cannot list %s (%s); its files are not indexed", error.filename, error.strerror)

    for folder in folders:
        if not os.path.isdir(folder):
            raise ValueError(f"[nse] local_archive: {folder} is not a folder")
        for parent, _, names in os.walk(folder, onerror=unreadable):
            for name in names:
                files.setdefault(name.lower(), []).append(os.path.join(parent, name))
    return Index(folders, tuple(os.path.realpath(folder) for folder in folders),
                 {name: tuple(sorted(paths)) for name, paths in files.items()})


def read(archive: Index, path: str, day: date, max_bytes: int) -> bytes:
    """The file's bytes, or a one-line refusal: a link leaving the archive, not a file, too big."""
    real = os.path.realpath(path)
    if not any(os.path.commonpath([real, root]) == root for root in archive.roots):
        raise BhavcopyError(day, path, f"a symlink to {real}, outside the local archive {archive.shown()}: refused")
    try:
        info = os.stat(real)
        if not stat.S_ISREG(info.st_mode):
            raise BhavcopyError(day, path, "not a regular file")
        if info.st_size > max_bytes:
            raise BhavcopyError(day, path, f"{info.st_size} bytes, over the {max_bytes}-byte cap ([nse] max_member_mb)")
        with open(real, "rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as exc:
        raise BhavcopyError(day, path, f"cannot read the file: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Found:
    path: str
    body: bytes  # as found, kept as the raw file
    member: str  # NSE's member name for a zip, the file's own name for a CSV
    csv: bytes
    source_format: str


def _member(dataset, day: date, path: str) -> str:
    """NSE's member name for a zip found here: the one its file name spells, else the day's era's."""
    stem = os.path.basename(path).lower().removesuffix(".zip")
    members = [route.member(day) for route in dataset.routes_for(day) if not route.on_web]
    return next((member for member in members if member.lower() == stem), members[0])


def _in_nse_order(dataset, csv_bytes: bytes, source_format: str) -> bool:
    header = csv_bytes.split(b"\n", 1)[0].decode("utf-8-sig")
    written = [name.strip() for name in header.split(",") if name.strip()]
    fmt = next(fmt for fmt in dataset.formats if fmt.name == source_format)
    return written == [name for name in fmt.types if name in written]


def check(dataset, day: date, path: str, body: bytes, max_bytes: int) -> Found:
    """The checks a download meets (one CSV member under NSE's name, the caps, a known header, the
    date inside), plus NSE's column order; errors name the path."""
    if dataset.zipped and rawfile.is_zip(body):
        member, csv_bytes = rawfile.read_member(body, day, path, _member(dataset, day, path), max_bytes)
    else:
        member, csv_bytes = os.path.basename(path), body
    source_format = dataset.peek(csv_bytes, day, path)
    if not _in_nse_order(dataset, csv_bytes, source_format):
        raise BhavcopyError(day, path, f"columns are not in NSE's {source_format} order: a tool rewrote this file "
                                       f"(eod2's pandas copies put ISIN first and empty the series NA); "
                                       f"import NSE's own file instead")
    return Found(path, body, member, csv_bytes, source_format)


def _same(dataset, day: date, first: Found, other: Found) -> bool:
    """One file twice: the same CSV (line endings aside), or the same rows once parsed."""
    if first.csv.replace(b"\r\n", b"\n").rstrip() == other.csv.replace(b"\r\n", b"\n").rstrip():
        return True
    try:
        return dataset.parse(first.csv, day, first.path).equals(dataset.parse(other.csv, day, other.path))
    except BhavcopyError:
        return False


def find(dataset, day: date, archive: Index, max_bytes: int) -> tuple[Found | None, list[str]]:
    """(the day's file, refusals): the first file that passes its checks, once every other passing
    file is shown to be the same; raises naming both paths when two differ."""
    passed, refused = [], []
    for path in archive.paths(dataset.archive_names(day)):
        try:
            passed.append(check(dataset, day, path, read(archive, path, day, max_bytes), max_bytes))
        except BhavcopyError as exc:
            refused.append(f"{exc.file}: {exc.problem}")
    for other in passed[1:]:
        if not _same(dataset, day, passed[0], other):
            raise BhavcopyError(day, passed[0].path, f"differs from {other.path}: two different {dataset.name} files "
                                                     f"for this day in the local archive; remove the wrong one")
    return (passed[0] if passed else None), refused


def fetch(dataset, day: date, folders: tuple[str, ...], max_bytes: int, offline: bool) -> Fetched | None:
    """The day's file from the local archive as route `local`, or None to try the network.

    Offline, a day the archive cannot serve fails here, so NSE is never asked.
    """
    if not folders:
        if offline:
            raise BhavcopyError(day, dataset.name, "not in the local archive (none is set: [nse] local_archive) "
                                                   "and [nse] offline is set")
        return None
    archive = index(folders)
    found, refused = find(dataset, day, archive, max_bytes)
    for problem in refused:
        logger.warning("%s local archive: %s (not used)", day.isoformat(), problem)
    if found is not None:
        return Fetched(ROUTE, found.path, found.member, found.body)
    if offline:
        tried = "; refused " + "; ".join(refused) if refused else ""
        raise BhavcopyError(day, dataset.name, f"not in the local archive {archive.shown()} and [nse] offline is set "
                                               f"(looked for {', '.join(dataset.archive_names(day))}{tried})")
    return None
