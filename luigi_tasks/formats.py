"""Reading NSE's CSV layouts: recognise a header, read with explicit types, check the trade date.

Pure functions (bytes -> Arrow table). Each layout is a `CsvFormat` declared by its dataset
module (datasets/cm.py, fo.py, delivery.py). Types are declared, never inferred, so a day whose
numbers do not parse fails loudly instead of turning a column into strings.
"""
import csv
import io
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
    signature: tuple  # columns whose presence says "this layout"
    date_column: str | None  # the trade date, which must equal the requested day; None: the file has
    # no date column and its member name, checked when it is picked from the zip, carries the day
    optional: tuple = ()  # columns old files lack: added as nulls
    text_dates: tuple = ()  # columns written like 01-DEC-2022, parsed with date_formats
    date_formats: tuple = ("%d-%b-%Y", "%d-%b-%y")  # one day (2020-07-13) has a two-digit year
    padded: bool = False  # values carry a leading space and '-' means "none" (the delivery file)

    @property
    def required(self) -> list[str]:
        return [name for name in self.types if name not in self.optional]


def _first_lines(csv_bytes: bytes, day: date, file: str, count: int) -> list[str]:
    head = csv_bytes[: 64 * 1024].split(b"\n", count)[:count]
    try:
        return [line.decode("utf-8-sig" if i == 0 else "utf-8").rstrip("\r") for i, line in enumerate(head)]
    except UnicodeDecodeError as exc:
        raise BhavcopyError(day, file, f"header or first row is not UTF-8 text ({exc})") from None


def detect_format(header: str, formats: list[CsvFormat], day: date, file: str) -> tuple[CsvFormat, list[str]]:
    """Return (format, column names as written, with a '' placeholder for a trailing comma)."""
    if not header.strip():
        raise BhavcopyError(day, file, "empty file: no header line")
    names = [name.strip() for name in header.split(",")]
    real = names[:-1] if names[-1] == "" else names
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
    return fmt, names


def parse_text_dates(texts: pa.Array, fmt: CsvFormat, column: str, day: date, file: str) -> pa.Array:
    """`01-DEC-2022`-style dates, parsed once per distinct value; empty stays null."""
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


def peek(csv_bytes: bytes, formats: list[CsvFormat], day: date, file: str) -> str:
    """Cheap check before a download is kept: a known header, and the first row's date is `day`."""
    lines = _first_lines(csv_bytes, day, file, 2)
    fmt, names = detect_format(lines[0], formats, day, file)
    if len(lines) < 2 or not lines[1].strip():
        raise BhavcopyError(day, file, "header only: the file has no data rows")
    values = next(csv.reader([lines[1]]))
    if len(values) != len(names):
        raise BhavcopyError(day, file, f"first row has {len(values)} fields, the header {len(names)}")
    if fmt.date_column is None:
        return fmt.name
    text = values[names.index(fmt.date_column)].strip()
    if fmt.date_column in fmt.text_dates:
        first = parse_text_dates(pa.array([text]), fmt, fmt.date_column, day, file)
    else:
        try:
            first = pa.array([date.fromisoformat(text)])
        except ValueError:
            raise BhavcopyError(day, file, f"{fmt.date_column} {text!r} is not an ISO date") from None
    check_trade_date(first, day, file)
    return fmt.name


def _read(csv_bytes: bytes, fmt: CsvFormat, names: list[str], day: date, file: str) -> pa.Table:
    placeholders = [name or f"_unnamed_{i}" for i, name in enumerate(names)]
    real = [name for name in names if name]
    # Padded files are read as text first: Arrow's number parsers do not skip the leading space.
    types = {name: pa.string() if fmt.padded or name in fmt.text_dates else fmt.types[name] for name in real}
    try:
        return pacsv.read_csv(
            io.BytesIO(csv_bytes),
            read_options=pacsv.ReadOptions(column_names=placeholders, skip_rows=1, encoding="utf8"),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=real,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                timestamp_parsers=["%Y-%m-%d"],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        problem = str(exc).splitlines()[0]
        if "UTF8" in problem or "utf-8" in problem.lower():
            problem = f"not UTF-8 text: {problem}"
        raise BhavcopyError(day, file, f"cannot read as {fmt.name} CSV: {problem}") from None


def _unpad(table: pa.Table, fmt: CsvFormat, day: date, file: str) -> pa.Table:
    """Trim the leading spaces, read '-' as none, then apply the declared types."""
    for index, name in enumerate(table.column_names):
        text = pc.utf8_trim_whitespace(table[name])
        text = pc.if_else(pc.equal(text, "-"), pa.scalar(None, pa.string()), text)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        if name not in fmt.text_dates and fmt.types[name] != pa.string():
            try:
                text = text.cast(fmt.types[name])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise BhavcopyError(day, file, f"cannot read as {fmt.name} CSV: column {name}: {exc}") from None
        table = table.set_column(index, pa.field(name, text.type), text)
    return table


def parse(csv_bytes: bytes, formats: list[CsvFormat], day: date, file: str) -> pa.Table:
    """CSV bytes -> typed table in the source's own columns, every row dated `day`."""
    lines = _first_lines(csv_bytes, day, file, 1)
    fmt, names = detect_format(lines[0], formats, day, file)
    table = _read(csv_bytes, fmt, names, day, file)
    if table.num_rows == 0:
        raise BhavcopyError(day, file, "header only: the file has no data rows")
    if fmt.padded:
        table = _unpad(table, fmt, day, file)
    for name in fmt.text_dates:
        if name in table.column_names:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, pa.field(name, pa.date32()),
                                     parse_text_dates(table[name], fmt, name, day, file))
    for name in fmt.optional:
        if name not in table.column_names:
            typ = pa.date32() if name in fmt.text_dates else fmt.types[name]
            table = table.append_column(pa.field(name, typ), pa.nulls(table.num_rows, typ))
    table = table.select(list(fmt.types))
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
