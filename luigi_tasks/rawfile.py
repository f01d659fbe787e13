"""The zip NSE serves: exactly one CSV member, under the name NSE uses, of a bounded size."""
import io
import zipfile
import zlib
from datetime import date

from .errors import BhavcopyError


def is_zip(body: bytes) -> bool:
    return body[:4] == b"PK\x03\x04"


def data_lines(csv_bytes: bytes) -> int:
    """The rows a CSV holds: every line after the header, trailing blank lines aside."""
    return csv_bytes.rstrip().count(b"\n")


def looks_like_csv(body: bytes) -> bool:
    """A first line of UTF-8 text with at least two commas: NSE's CSV itself, not a zip of it."""
    first = body[:4096].split(b"\n", 1)[0]
    try:
        return first.decode("utf-8-sig").count(",") >= 2
    except UnicodeDecodeError:
        return False


def _open(body: bytes, day: date, file: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile as exc:
        if not is_zip(body) and looks_like_csv(body):
            raise BhavcopyError(day, file, f"a bare CSV file ({len(body)} bytes) where NSE serves a zip") from None
        raise BhavcopyError(day, file, f"not a readable zip ({exc}); {len(body)} bytes, truncated or not a zip") from None


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, day: date, file: str, max_bytes: int) -> bytes:
    """One CSV member's bytes, its declared and actual sizes capped against zip bombs."""
    if not info.filename.lower().endswith(".csv"):
        raise BhavcopyError(day, file, f"zip member {info.filename!r} is not a CSV file")
    if info.flag_bits & 0x1:
        raise BhavcopyError(day, file, f"zip member {info.filename!r} is encrypted (password-protected), not NSE's file")
    if info.file_size > max_bytes:
        raise BhavcopyError(day, file, f"zip member {info.filename!r} declares {info.file_size} bytes, over the {max_bytes}-byte cap")
    try:
        with archive.open(info) as member:
            data = member.read(max_bytes + 1)
    except RuntimeError as exc:  # zipfile's "password required" when the flag lied
        raise BhavcopyError(day, file, f"zip member {info.filename!r} cannot be read ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, zipfile.LargeZipFile) as exc:
        raise BhavcopyError(day, file, f"zip member {info.filename!r} is corrupt or truncated ({exc})") from None
    if len(data) > max_bytes:
        raise BhavcopyError(day, file, f"zip member {info.filename!r} inflates past the {max_bytes}-byte cap")
    return data


def read_member(body: bytes, day: date, file: str, expected_member: str | None, max_bytes: int) -> tuple[str, bytes]:
    """Return (member name, CSV bytes) or raise naming the day, the file and the problem.

    The member name is checked against NSE's own so that a path like `../x.csv` can never
    reach a filesystem call, and the declared and actual sizes are capped against zip bombs.
    """
    with _open(body, day, file) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) != 1:
            names = ", ".join(info.filename for info in members) or "none"
            raise BhavcopyError(day, file, f"zip must hold exactly one CSV member, found {len(members)}: {names}")
        info = members[0]
        if expected_member is not None and info.filename != expected_member:
            raise BhavcopyError(day, file, f"zip member {info.filename!r} is not NSE's name for this day ({expected_member!r})")
        return info.filename, _read_capped(archive, info, day, file, max_bytes)


def read_named_member(body: bytes, day: date, file: str, names: tuple[str, ...], max_bytes: int) -> tuple[str, bytes]:
    """(member name, CSV bytes) of the member NSE names for the day in a zip of many (the PR archive).

    Names are compared without regard to case (NSE has written `Bc180625.csv` and `bc16122025.csv`)
    on the part after any folder; exactly one member must match, under the same size caps. A zip
    for another day holds other days' names, so this is also the date check of files that carry
    no date column.
    """
    wanted = {name.lower() for name in names}
    with _open(body, day, file) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        found = [info for info in members if info.filename.rsplit("/", 1)[-1].lower() in wanted]
        if len(found) != 1:
            held = ", ".join(info.filename for info in members) or "none"
            problem = "no member" if not found else f"{len(found)} members"
            raise BhavcopyError(day, file, f"{problem} named {' or '.join(names)} in the zip; it holds: {held[:400]}")
        return found[0].filename, _read_capped(archive, found[0], day, file, max_bytes)
