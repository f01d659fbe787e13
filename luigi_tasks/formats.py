"""NSE's two CM bhavcopy layouts: recognise a header, read with explicit types, map to one schema.

Pure functions (bytes -> Arrow table -> Arrow table). Types are declared, never inferred, so a
day whose numbers do not parse fails loudly instead of turning a column into strings.
"""
import csv
import io
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import BhavcopyError
from .schema import CM_BHAVCOPY

LEGACY = "legacy"
UDIFF = "udiff"

# UDiFF, from 2024-07-08: 34 columns, ISO dates, 12 columns always empty for CM.
UDIFF_TYPES = {
    "TradDt": pa.date32(), "BizDt": pa.date32(), "Sgmt": pa.string(), "Src": pa.string(),
    "FinInstrmTp": pa.string(), "FinInstrmId": pa.int64(), "ISIN": pa.string(), "TckrSymb": pa.string(),
    "SctySrs": pa.string(), "XpryDt": pa.date32(), "FininstrmActlXpryDt": pa.date32(),
    "StrkPric": pa.float64(), "OptnTp": pa.string(), "FinInstrmNm": pa.string(),
    "OpnPric": pa.float64(), "HghPric": pa.float64(), "LwPric": pa.float64(), "ClsPric": pa.float64(),
    "LastPric": pa.float64(), "PrvsClsgPric": pa.float64(), "UndrlygPric": pa.float64(),
    "SttlmPric": pa.float64(), "OpnIntrst": pa.int64(), "ChngInOpnIntrst": pa.int64(),
    "TtlTradgVol": pa.int64(), "TtlTrfVal": pa.float64(), "TtlNbOfTxsExctd": pa.int64(),
    "SsnId": pa.string(), "NewBrdLotQty": pa.int64(), "Rmks": pa.string(),
    "Rsvd1": pa.string(), "Rsvd2": pa.string(), "Rsvd3": pa.string(), "Rsvd4": pa.string(),
}
UDIFF_COLUMNS = list(UDIFF_TYPES)

# Legacy, until 2024-07-05. TIMESTAMP is read as text: it is `01-DEC-2022`, or `13-Jul-20` on one day.
LEGACY_REQUIRED_TYPES = {
    "SYMBOL": pa.string(), "SERIES": pa.string(), "OPEN": pa.float64(), "HIGH": pa.float64(),
    "LOW": pa.float64(), "CLOSE": pa.float64(), "LAST": pa.float64(), "PREVCLOSE": pa.float64(),
    "TOTTRDQTY": pa.int64(), "TOTTRDVAL": pa.float64(), "TIMESTAMP": pa.string(),
}
# Files from before about 2011 lack these two; they become null columns.
LEGACY_OPTIONAL_TYPES = {"TOTALTRADES": pa.int64(), "ISIN": pa.string()}
LEGACY_TYPES = {**LEGACY_REQUIRED_TYPES, **LEGACY_OPTIONAL_TYPES}

# canonical name -> source column, per format
CANONICAL_SOURCES = {
    LEGACY: {
        "trade_date": "TIMESTAMP", "symbol": "SYMBOL", "series": "SERIES", "isin": "ISIN",
        "open": "OPEN", "high": "HIGH", "low": "LOW", "close": "CLOSE", "last": "LAST",
        "prev_close": "PREVCLOSE", "volume": "TOTTRDQTY", "turnover": "TOTTRDVAL", "trades": "TOTALTRADES",
    },
    UDIFF: {
        "trade_date": "TradDt", "symbol": "TckrSymb", "series": "SctySrs", "isin": "ISIN",
        "open": "OpnPric", "high": "HghPric", "low": "LwPric", "close": "ClsPric", "last": "LastPric",
        "prev_close": "PrvsClsgPric", "volume": "TtlTradgVol", "turnover": "TtlTrfVal", "trades": "TtlNbOfTxsExctd",
    },
}
DATE_COLUMN = {LEGACY: "TIMESTAMP", UDIFF: "TradDt"}
_LEGACY_DATE_FORMATS = ("%d-%b-%Y", "%d-%b-%y")


def _first_lines(csv_bytes: bytes, day: date, file: str, count: int) -> list[str]:
    head = csv_bytes[: 64 * 1024].split(b"\n", count)[:count]
    try:
        return [line.decode("utf-8-sig" if i == 0 else "utf-8").rstrip("\r") for i, line in enumerate(head)]
    except UnicodeDecodeError as exc:
        raise BhavcopyError(day, file, f"header or first row is not UTF-8 text ({exc})") from None


def detect_format(header: str, day: date, file: str) -> tuple[str, list[str]]:
    """Return (format, column names as written, with a '' placeholder for a trailing comma)."""
    names = [name.strip() for name in header.split(",")]
    if not header.strip():
        raise BhavcopyError(day, file, "empty file: no header line")
    real = names[:-1] if names[-1] == "" else names
    if "TckrSymb" in real:
        fmt, required, allowed = UDIFF, UDIFF_COLUMNS, UDIFF_COLUMNS
    elif "SYMBOL" in real and "TIMESTAMP" in real:
        fmt, required, allowed = LEGACY, list(LEGACY_REQUIRED_TYPES), list(LEGACY_TYPES)
    else:
        raise BhavcopyError(day, file, f"unknown header, neither legacy nor UDiFF: {header[:200]!r}")
    unknown = [name for name in real if name not in allowed]
    if unknown:
        raise BhavcopyError(day, file, f"schema drift: unknown column(s) {', '.join(map(repr, unknown))} in the {fmt} header")
    missing = [name for name in required if name not in real]
    if missing:
        raise BhavcopyError(day, file, f"required column(s) {', '.join(missing)} missing from the {fmt} header")
    if len(set(real)) != len(real):
        raise BhavcopyError(day, file, f"duplicate column names in the {fmt} header")
    return fmt, names


def _legacy_dates(texts: pa.Array, day: date, file: str) -> pa.Array:
    """Parse `01-DEC-2022` and the odd two-digit `13-Jul-20`, once per distinct value."""
    parsed = {}
    for text in pc.unique(texts).to_pylist():
        if text is None:
            raise BhavcopyError(day, file, "TIMESTAMP is empty on some rows")
        for fmt in _LEGACY_DATE_FORMATS:
            try:
                parsed[text] = datetime.strptime(text.strip(), fmt).date()
                break
            except ValueError:
                continue
        else:
            raise BhavcopyError(day, file, f"TIMESTAMP {text!r} is not a date like 01-DEC-2022")
    keys = pa.array(list(parsed), pa.string())
    values = pa.array(list(parsed.values()), pa.date32())
    return pc.take(values, pc.index_in(texts, value_set=keys))


def check_trade_date(dates: pa.Array, day: date, file: str) -> None:
    """NSE has served the previous day's file on a holiday; a file is only for the day it says."""
    found = sorted({d for d in pc.unique(dates).to_pylist()}, key=lambda d: (d is None, d))
    if found != [day]:
        shown = ", ".join("empty" if d is None else d.isoformat() for d in found[:5])
        raise BhavcopyError(day, file, f"wrong trade date inside the file: {shown} (expected {day.isoformat()})")


def peek(csv_bytes: bytes, day: date, file: str) -> str:
    """Cheap check before a download is kept: a known header, and the first row's date is `day`."""
    lines = _first_lines(csv_bytes, day, file, 2)
    fmt, names = detect_format(lines[0], day, file)
    if len(lines) < 2 or not lines[1].strip():
        raise BhavcopyError(day, file, "header only: the file has no data rows")
    values = next(csv.reader([lines[1]]))
    text = values[names.index(DATE_COLUMN[fmt])].strip() if len(values) == len(names) else None
    if text is None:
        raise BhavcopyError(day, file, f"first row has {len(values)} fields, the header {len(names)}")
    if fmt == LEGACY:
        first = _legacy_dates(pa.array([text]), day, file)
    else:
        try:
            first = pa.array([date.fromisoformat(text)])
        except ValueError:
            raise BhavcopyError(day, file, f"{DATE_COLUMN[fmt]} {text!r} is not an ISO date") from None
    check_trade_date(first, day, file)
    return fmt


def parse(csv_bytes: bytes, day: date, file: str) -> pa.Table:
    """CSV bytes -> typed table in the source's own columns, every row dated `day`."""
    lines = _first_lines(csv_bytes, day, file, 1)
    fmt, names = detect_format(lines[0], day, file)
    types = UDIFF_TYPES if fmt == UDIFF else LEGACY_TYPES
    placeholders = [name or f"_unnamed_{i}" for i, name in enumerate(names)]
    real = [name for name in names if name]
    try:
        table = pacsv.read_csv(
            io.BytesIO(csv_bytes),
            read_options=pacsv.ReadOptions(column_names=placeholders, skip_rows=1, encoding="utf8"),
            convert_options=pacsv.ConvertOptions(
                column_types={name: types[name] for name in real},
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
        raise BhavcopyError(day, file, f"cannot read as {fmt} CSV: {problem}") from None
    if table.num_rows == 0:
        raise BhavcopyError(day, file, "header only: the file has no data rows")
    if fmt == LEGACY:
        index = table.schema.get_field_index("TIMESTAMP")
        table = table.set_column(index, pa.field("TIMESTAMP", pa.date32()), _legacy_dates(table["TIMESTAMP"], day, file))
        for name, typ in LEGACY_OPTIONAL_TYPES.items():
            if name not in table.column_names:
                table = table.append_column(pa.field(name, typ), pa.nulls(table.num_rows, typ))
        table = table.select(list(LEGACY_TYPES))
    else:
        table = table.select(UDIFF_COLUMNS)
    check_trade_date(table[DATE_COLUMN[fmt]], day, file)
    return table.replace_schema_metadata({"source_format": fmt})


def format_of(table: pa.Table) -> str:
    return (table.schema.metadata or {}).get(b"source_format", b"").decode() or (
        UDIFF if "TckrSymb" in table.column_names else LEGACY
    )


def to_canonical(table: pa.Table) -> pa.Table:
    """Source columns -> the canonical CM schema, values untouched (no rounding, no unit change)."""
    fmt = format_of(table)
    sources = CANONICAL_SOURCES[fmt]
    columns = [table[sources[field.name]].cast(field.type) for field in CM_BHAVCOPY if field.name in sources]
    columns.append(pa.array([fmt] * table.num_rows, pa.string()))
    schema = pa.schema([field.with_nullable(True) for field in CM_BHAVCOPY])
    return pa.Table.from_arrays(columns, schema=schema)
