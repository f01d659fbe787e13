"""What a download is checked for before its file is kept: the CSV inside, its layout, its rows.

Pure: the body NSE (or the local archive) served in, the member, the sidecar and the row count
out, or a BhavcopyError naming the day, the file and the problem. DownloadBhavcopy only wires it.
"""
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from . import local_archive, rawfile
from .dataset import Dataset
from .source import Fetched


@dataclass(frozen=True)
class Checked:
    member: str  # NSE's name for the CSV
    rows: int  # its data lines
    sidecar: dict  # what the raw file's seal says of it: route, URL, member, format, content
    csv_bytes: bytes = field(repr=False, default=b"")  # the CSV itself, unzipped (handoff.py keeps it for Parse)


def member_csv(spec: Dataset, day: date, body: bytes, file: str, member: str | None, max_bytes: int,
               zipped: bool) -> tuple[str, bytes]:
    """(file name, CSV bytes): the one member of NSE's zip, or the body itself for a plain CSV."""
    if zipped and spec.member is not None:  # a zip of many members: the one named for the day
        return rawfile.read_named_member(body, day, file, spec.member(day), max_bytes)
    if zipped:
        return rawfile.read_member(body, day, file, member, max_bytes)
    return member or os.path.basename(file.split("?", 1)[0]), body


def check(spec: Dataset, day: date, fetched: Fetched, max_bytes: int, prove: bool,
          copied_from: str | None = None) -> Checked:
    """The served file checked as the day's: its member, its layout, and, when `prove` (a refetch
    that will replace a file the lake was built from), every row parsed and validated as well."""
    # A zip is checked as NSE's zip; only the reports API or a local file may be the CSV itself.
    served_zip = rawfile.is_zip(fetched.body)
    csv_served = (fetched.from_api or fetched.route == local_archive.ROUTE) and not served_zip
    member, csv_bytes = member_csv(spec, day, fetched.body, fetched.url, fetched.member, max_bytes,
                                   zipped=spec.zipped and not csv_served)
    source_format = spec.peek(csv_bytes, day, member)
    if prove:
        spec.prove(csv_bytes, day, member)
    sidecar = {
        "date": day.isoformat(),
        "dataset": spec.name,
        "route": fetched.route,
        "url": fetched.url,
        **({"source_path": fetched.url} if fetched.route == local_archive.ROUTE else {}),
        "member": member,
        "format": source_format,
        "content": "zip" if served_zip else "csv",
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **({"copied_from": copied_from} if copied_from else {}),
    }
    return Checked(member, rawfile.data_lines(csv_bytes), sidecar, csv_bytes)
