"""Reading NSE's CSV layouts: recognise a header, read with explicit types, check the trade date.

Pure functions (bytes -> Arrow table). Each layout is a `CsvFormat` declared by its dataset
module (datasets/cm.py, fo.py, delivery.py). Types are declared, never inferred, so a day whose
numbers do not parse fails loudly instead of turning a column into strings.
"""
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import BhavcopyError


@dataclass(frozen=True)
class CsvFormat:
    """One layout of one NSE file, as NSE writes its header."""

    name: str  # stored as source_format
    types: dict  # every column it may have -> Arrow type, in NSE's order
    signature: tuple  # columns whose presence says "this layout" (and this dataset's family of files)
    date_column: str | None  # the trade date, which must equal the requested day; None: the file has
    # no date column and its member name, checked when it is picked from the zip, carries the day
    optional: tuple = ()  # columns old files lack: added as nulls
    text_dates: tuple = ()  # columns written like 01-DEC-2022 or 8-MAY-1995, parsed with date_formats
    date_formats: tuple = ("%d-%b-%Y", "%d-%b-%y")  # one day (2020-07-13) has a two-digit year
    dashes: bool = False  # '-' means "none" (the delivery file's BE/BZ rows)
    fixed: tuple = ()  # (column, value) pairs every row must carry, e.g. UDiFF ("Sgmt", "CM")

    @property
    def required(self) -> list[str]:
        return [name for name in self.types if name not in self.optional]


def _first_lines(csv_bytes: bytes, day: date, file: str, count: int) -> list[str]:
    head = csv_bytes[: 64 * 1024].split(b"\n", count)[:count]
    try:
        return [line.decode("utf-8-sig" if i == 0 else "utf-8").rstrip("\r") for i, line in enumerate(head)]
    except UnicodeDecodeError as exc:
        raise BhavcopyError(day, file, f"header or first row is not UTF-8 text ({exc})") from None


def _fields(line: str) -> list[str]:
    """One CSV line's fields; quotes (some files quote every field, the header too) are removed."""
    return next(csv.reader([line]), [])


def detect_format(header: str, formats: list[CsvFormat], day: date, file: str) -> tuple[CsvFormat, list[str]]:
    """Return (format, column names as written, without the trailing comma's empty name)."""
    if not header.strip():
        raise BhavcopyError(day, file, "empty file: no header line")
    names = [name.strip() for name in _fields(header)]
    real = names[:-1] if names and names[-1] == "" else names
    fmt = next((f for f in formats if all(column in real for column in f.signature)), None)
    if fmt is None:
        known = " or ".join(f.name for f in formats)
        raise BhavcopyError(day, file, f"unknown header, not {known}: {header[:200]!r}")
    unknown = [name for name in real if name not in fmt.types]
    if unknown:
        raise BhavcopyError(day, file, f"schema drift: unknown column(s) {', '.join(map(repr, unknown))} in the {fmt.name} header")
    missing = [name for name in fmt.required if name not in real]
    if missing:
        raise BhavcopyError(day, file, f"required column(s) {', '.join(missing)} missing from the {fmt.name} header")
    if len(set(real)) != len(real):
        raise BhavcopyError(day, file, f"duplicate column names in the {fmt.name} header")
    return fmt, real


def _row_names(real: list[str], first_row: list[str], day: date, file: str) -> list[str]:
    """Column names for the data rows: NSE's trailing comma is on the rows, the header, both or neither."""
    if len(first_row) == len(real):
        return real
    if len(first_row) == len(real) + 1 and not first_row[-1].strip():
        return real + [""]
    raise BhavcopyError(day, file, f"first row has {len(first_row)} fields, the header {len(real)}")


def _head(csv_bytes: bytes, formats: list[CsvFormat], day: date, file: str) -> tuple[CsvFormat, list[str], list[str]]:
    """(format, names for the data rows, the first row's fields) from the first two lines."""
    lines = _first_lines(csv_bytes, day, file, 2)
    fmt, real = detect_format(lines[0], formats, day, file)
    if len(lines) < 2 or not lines[1].strip():
        raise BhavcopyError(day, file, "header only: the file has no data rows")
    first_row = _fields(lines[1])
    return fmt, _row_names(real, first_row, day, file), first_row


def parse_text_dates(texts: pa.Array, fmt: CsvFormat, column: str, day: date, file: str) -> pa.Array:
    """`01-DEC-2022`, `8-MAY-1995`, `29-Apr-2010`-style dates, parsed once per distinct value; empty stays null."""
    parsed = {}
    for text in pc.unique(texts).to_pylist():
        if text is None:
            continue
        for pattern in fmt.date_formats:
            try:
                parsed[text] = datetime.strptime(text.strip(), pattern).date()
                break
            except ValueError:
                continue
        else:
            raise BhavcopyError(day, file, f"{column} {text!r} is not a date like 01-DEC-2022")
    keys = pa.array(list(parsed), pa.string())
    values = pa.array(list(parsed.values()), pa.date32())
    return pc.take(values, pc.index_in(texts, value_set=keys))


def check_trade_date(dates: pa.Array, day: date, file: str) -> None:
    """NSE has served the previous day's file on a holiday; a file is only for the day it says."""
    found = sorted(pc.unique(dates).to_pylist(), key=lambda d: (d is None, d))
    if found != [day]:
        shown = ", ".join("empty" if d is None else d.isoformat() for d in found[:5])
        raise BhavcopyError(day, file, f"wrong trade date inside the file: {shown} (expected {day.isoformat()})")


def check_fixed(columns: dict, fmt: CsvFormat, day: date, file: str) -> None:
    """A file of another segment at this URL (a CM UDiFF file where the F&O file should be) is refused."""
    for column, expected in fmt.fixed:
        found = sorted(pc.unique(columns[column]).to_pylist(), key=lambda v: (v is None, v))
        if found != [expected]:
            shown = ", ".join("empty" if v is None else v for v in found[:5])
            raise BhavcopyError(day, file, f"wrong file: {column} is {shown}, expected {expected} "
                                           f"(a file of another segment or dataset)")


def peek(csv_bytes: bytes, formats: list[CsvFormat], day: date, file: str) -> str:
    """Cheap check before a download is kept: a known header, this segment, and the first row's date is `day`."""
    fmt, names, values = _head(csv_bytes, formats, day, file)
    first = {name: value.strip() for name, value in zip(names, values) if name}
    check_fixed({column: pa.array([first[column] or None], pa.string()) for column, _ in fmt.fixed}, fmt, day, file)
    if fmt.date_column is None:
        return fmt.name
    text = first[fmt.date_column]
    if fmt.date_column in fmt.text_dates:
        found = parse_text_dates(pa.array([text]), fmt, fmt.date_column, day, file)
    else:
        try:
            found = pa.array([date.fromisoformat(text)])
        except ValueError:
            raise BhavcopyError(day, file, f"{fmt.date_column} {text!r} is not an ISO date") from None
    check_trade_date(found, day, file)
    return fmt.name


_BLANK_LINE = re.compile(rb"(?<=\n)[ \t\r]+(?=\n|$)")


def _read(csv_bytes: bytes, fmt: CsvFormat, names: list[str], day: date, file: str, as_text: bool) -> pa.Table:
    """Read with the declared types, or every column `as_text` (for padded values: Arrow's number
    parsers do not skip the spaces NSE writes, e.g. the delivery file's leading space)."""
    placeholders = [name or f"_unnamed_{i}" for i, name in enumerate(names)]
    real = [name for name in names if name]
    types = {name: pa.string() if as_text or name in fmt.text_dates else fmt.types[name] for name in real}
    try:
        return pacsv.read_csv(
            io.BytesIO(csv_bytes),
            read_options=pacsv.ReadOptions(column_names=placeholders, skip_rows=1, encoding="utf8"),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=real,
                null_values=[""],
                strings_can_be_null=True,
                timestamp_parsers=["%Y-%m-%d"],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        problem = str(exc).splitlines()[0]
        if "UTF8" in problem or "utf-8" in problem.lower():
            problem = f"not UTF-8 text: {problem}"
        raise BhavcopyError(day, file, f"cannot read as {fmt.name} CSV: {problem}") from None


def _typed(table: pa.Table, fmt: CsvFormat, day: date, file: str) -> pa.Table:
    """Trim every text value, read empty (and for the delivery file '-') as none, then apply the declared types."""
    for index, name in enumerate(table.column_names):
        if table.schema.field(name).type != pa.string():
            continue  # already read as its declared type
        text = pc.utf8_trim_whitespace(table[name])
        empty = pc.equal(text, "")
        if fmt.dashes:
            empty = pc.or_(empty, pc.equal(text, "-"))
        text = pc.if_else(empty, pa.scalar(None, pa.string()), text)
        if name in fmt.text_dates:
            text = parse_text_dates(text, fmt, name, day, file)
        elif fmt.types[name] != pa.string():
            try:
                text = text.cast(fmt.types[name])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise BhavcopyError(day, file, f"cannot read as {fmt.name} CSV: column {name}: {exc}") from None
        table = table.set_column(index, pa.field(name, text.type), text)
    return table


def parse(csv_bytes: bytes, formats: list[CsvFormat], day: date, file: str) -> pa.Table:
    """CSV bytes -> typed table in the source's own columns (text trimmed), every row dated `day`."""
    fmt, names, _ = _head(csv_bytes, formats, day, file)
    if b"\n " in csv_bytes or b"\n\t" in csv_bytes:  # a whitespace-only line ends some files; cheap test first
        csv_bytes = _BLANK_LINE.sub(b"", csv_bytes)
    try:
        table = _read(csv_bytes, fmt, names, day, file, as_text=fmt.dashes)
    except BhavcopyError:
        if fmt.dashes:
            raise
        table = _read(csv_bytes, fmt, names, day, file, as_text=True)  # padded numbers; a bad one fails in _typed
    if table.num_rows == 0:
        raise BhavcopyError(day, file, "header only: the file has no data rows")
    table = _typed(table, fmt, day, file)
    for name in fmt.optional:
        if name not in table.column_names:
            typ = pa.date32() if name in fmt.text_dates else fmt.types[name]
            table = table.append_column(pa.field(name, typ), pa.nulls(table.num_rows, typ))
    table = table.select(list(fmt.types))
    check_fixed({column: table[column] for column, _ in fmt.fixed}, fmt, day, file)
    if fmt.date_column is not None:
        check_trade_date(table[fmt.date_column], day, file)
    return table.replace_schema_metadata({"source_format": fmt.name, "trade_date": day.isoformat()})


def format_of(table: pa.Table) -> str:
    """The layout a staged table was read from (parse() records it in the schema metadata)."""
    return (table.schema.metadata or {}).get(b"source_format", b"").decode()


def day_of(table: pa.Table) -> date:
    """The day a staged table was parsed for (parse() records it), for files without a date column."""
    return date.fromisoformat((table.schema.metadata or {})[b"trade_date"].decode())


def assemble(columns: dict[str, pa.Array | pa.ChunkedArray], schema: pa.Schema, num_rows: int) -> pa.Table:
    """Canonical columns -> a table of `schema` (nullable while unvalidated); missing ones are null."""
    arrays = []
    for field in schema:
        values = columns.get(field.name)
        arrays.append(pa.nulls(num_rows, field.type) if values is None else values.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema([f.with_nullable(True) for f in schema]))


def lakhs_to_rupees(values) -> pa.Array:
    """NSE prints some turnovers in lakhs (1 lakh = 100,000 rupees); kept to the paisa."""
    return pc.round(pc.multiply(values.cast(pa.float64()), 100_000.0), 2)
