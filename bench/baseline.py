"""The floor: the same work per day as the pipeline, in one plain loop, without Luigi or MLflow.

Download, unzip, parse with explicit types, map to the canonical columns, apply the row rules,
write one zstd Parquet file per day, insert into the embedded ClickHouse. Run in its own process
(`python -m bench.baseline BASE_URL DATA_DIR UDIFF_FROM DAY...`) since chdb allows one engine per
process. The caller passes the UDiFF switch (luigi_tasks.routes.UDIFF_FROM): importing the package
here would add Luigi's import, about 0.4 s and 50 MB, to the floor it measures.
"""
import io
import json
import sys
import time
import zipfile
from datetime import date
from pathlib import Path

import clickhouse_connect
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import requests

LEGACY = {"SYMBOL": "symbol", "SERIES": "series", "ISIN": "isin", "OPEN": "open", "HIGH": "high", "LOW": "low",
          "CLOSE": "close", "LAST": "last", "PREVCLOSE": "prev_close", "TOTTRDQTY": "volume",
          "TOTTRDVAL": "turnover", "TOTALTRADES": "trades"}
UDIFF = {"TckrSymb": "symbol", "SctySrs": "series", "ISIN": "isin", "OpnPric": "open", "HghPric": "high",
         "LwPric": "low", "ClsPric": "close", "LastPric": "last", "PrvsClsgPric": "prev_close",
         "TtlTradgVol": "volume", "TtlTrfVal": "turnover", "TtlNbOfTxsExctd": "trades"}
TYPES = {"symbol": pa.string(), "series": pa.string(), "isin": pa.string(), "volume": pa.int64(), "trades": pa.int64()}


def url_for(base: str, day: date, udiff_from: date) -> str:
    if day >= udiff_from:
        return f"{base}/content/cm/BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv.zip"
    mon = day.strftime("%b").upper()
    return f"{base}/content/historical/EQUITIES/{day:%Y}/{mon}/cm{day:%d}{mon}{day:%Y}bhav.csv.zip"


def one_day(session, client, base: str, out: Path, day: date, udiff_from: date) -> int:
    body = session.get(url_for(base, day, udiff_from), timeout=(5, 30)).content
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        data = archive.read(archive.namelist()[0])
    mapping = UDIFF if data.startswith(b"TradDt") else LEGACY
    table = pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(
        include_columns=list(mapping),
        column_types={src: TYPES.get(dst, pa.float64()) for src, dst in mapping.items()},
        strings_can_be_null=True))
    table = table.rename_columns([mapping[name] for name in table.column_names])
    table = table.append_column("trade_date", pa.array([day] * table.num_rows, pa.date32()))
    good = pc.and_(pc.greater(table["high"], 0), pc.greater_equal(table["high"], table["low"]))
    table = table.filter(good)
    folder = out / "lake" / f"year={day.year}" / f"month={day.month:02d}" / f"day={day.day:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part.parquet", compression="zstd")
    client.insert_arrow("cm", table, database="bench")
    return table.num_rows


def main(base: str, out: str, udiff_from: str, days: list[str]) -> dict:
    out_path = Path(out)
    started = time.perf_counter()
    client = clickhouse_connect.get_client(interface="chdb", path=str(out_path / "clickhouse"))
    client.command("CREATE DATABASE IF NOT EXISTS bench")
    client.command(
        "CREATE TABLE IF NOT EXISTS bench.cm (symbol String, series LowCardinality(String), isin Nullable(String), "
        "open Float64, high Float64, low Float64, close Float64, last Float64, prev_close Float64, volume Int64, "
        "turnover Float64, trades Nullable(Int64), trade_date Date) "
        "ENGINE = MergeTree PARTITION BY toYYYYMM(trade_date) ORDER BY (trade_date, symbol, series)")
    session = requests.Session()
    switch = date.fromisoformat(udiff_from)
    rows = sum(one_day(session, client, base, out_path, date.fromisoformat(d), switch) for d in days)
    return {"seconds": time.perf_counter() - started, "rows": rows}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])))
