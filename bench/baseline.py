"""The floor: the same work per file as the pipeline, in one plain loop, without Luigi or MLflow.

Download, unzip, parse with explicit types, map to the canonical columns (lakhs to rupees), apply a
row rule, write one zstd Parquet file per dataset and day, insert into the embedded ClickHouse, one
table per dataset. Run in its own process (`python -m bench.baseline BASE_URL DATA_DIR MANIFEST`,
MANIFEST a JSON list of [dataset, day, url path] from bench/mirror.py) since chdb allows one engine
per process.
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

CM_LEGACY = {"SYMBOL": "symbol", "SERIES": "series", "ISIN": "isin", "OPEN": "open", "HIGH": "high", "LOW": "low",
             "CLOSE": "close", "LAST": "last", "PREVCLOSE": "prev_close", "TOTTRDQTY": "volume",
             "TOTTRDVAL": "turnover", "TOTALTRADES": "trades"}
CM_UDIFF = {"TckrSymb": "symbol", "SctySrs": "series", "ISIN": "isin", "OpnPric": "open", "HghPric": "high",
            "LwPric": "low", "ClsPric": "close", "LastPric": "last", "PrvsClsgPric": "prev_close",
            "TtlTradgVol": "volume", "TtlTrfVal": "turnover", "TtlNbOfTxsExctd": "trades"}
FO_LEGACY = {"INSTRUMENT": "instrument_type", "SYMBOL": "symbol", "EXPIRY_DT": "expiry_date",
             "STRIKE_PR": "strike_price", "OPTION_TYP": "option_type", "OPEN": "open", "HIGH": "high", "LOW": "low",
             "CLOSE": "close", "SETTLE_PR": "settle_price", "CONTRACTS": "volume", "VAL_INLAKH": "turnover",
             "OPEN_INT": "open_interest", "CHG_IN_OI": "change_in_oi"}
FO_UDIFF = {"FinInstrmTp": "instrument_type", "TckrSymb": "symbol", "XpryDt": "expiry_date",
            "StrkPric": "strike_price", "OptnTp": "option_type", "OpnPric": "open", "HghPric": "high",
            "LwPric": "low", "ClsPric": "close", "SttlmPric": "settle_price", "TtlTradgVol": "volume",
            "TtlTrfVal": "turnover", "OpnIntrst": "open_interest", "ChngInOpnIntrst": "change_in_oi",
            "TtlNbOfTxsExctd": "trades"}
DELIVERY = {"SYMBOL": "symbol", "SERIES": "series", "PREV_CLOSE": "prev_close", "OPEN_PRICE": "open",
            "HIGH_PRICE": "high", "LOW_PRICE": "low", "LAST_PRICE": "last", "CLOSE_PRICE": "close",
            "AVG_PRICE": "avg_price", "TTL_TRD_QNTY": "volume", "TURNOVER_LACS": "turnover",
            "NO_OF_TRADES": "trades", "DELIV_QTY": "delivery_qty", "DELIV_PER": "delivery_pct"}
STRINGS = {"symbol", "series", "isin", "instrument_type", "option_type"}
INTEGERS = {"volume", "trades", "open_interest", "change_in_oi", "delivery_qty"}
COLUMNS = {"cm": list(CM_UDIFF.values()), "fo": list(FO_UDIFF.values()), "delivery": list(DELIVERY.values())}
CH_TYPES = {pa.string(): "Nullable(String)", pa.float64(): "Nullable(Float64)", pa.int64(): "Nullable(Int64)",
            pa.date32(): "Date"}


def _type(name: str) -> pa.DataType:
    return pa.string() if name in STRINGS else pa.int64() if name in INTEGERS else (
        pa.timestamp("s") if name == "expiry_date" else pa.float64())


def mapping_for(dataset: str, data: bytes) -> tuple[dict, bool]:
    """The column mapping of this file's layout, and whether its turnover is in lakhs."""
    if dataset == "delivery":
        return DELIVERY, True
    if data.startswith(b"TradDt"):
        return (CM_UDIFF if dataset == "cm" else FO_UDIFF), False
    return (CM_LEGACY, False) if dataset == "cm" else (FO_LEGACY, True)


def one_file(session, client, base: str, out: Path, dataset: str, day: date, url_path: str, tables: set) -> int:
    data = session.get(base + url_path, timeout=(5, 30)).content
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read(archive.namelist()[0])
    if dataset == "delivery":
        data = data.replace(b", ", b",")
    mapping, lakhs = mapping_for(dataset, data)
    table = pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(
        include_columns=list(mapping), include_missing_columns=True,
        column_types={src: _type(dst) for src, dst in mapping.items()},
        null_values=["", "-"], strings_can_be_null=True,
        timestamp_parsers=["%d-%b-%Y", "%Y-%m-%d"]))
    table = table.rename_columns([mapping[name] for name in table.column_names])
    for name in COLUMNS[dataset]:  # what an older layout lacks is null, so every day fits one table
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(table.num_rows, _type(name)))
    table = table.select(COLUMNS[dataset])
    if "expiry_date" in table.column_names:
        table = table.set_column(table.schema.get_field_index("expiry_date"), "expiry_date",
                                 table["expiry_date"].cast(pa.date32()))
    if lakhs:
        table = table.set_column(table.schema.get_field_index("turnover"), "turnover",
                                 pc.multiply(table["turnover"], 100_000.0))
    table = table.append_column("trade_date", pa.array([day] * table.num_rows, pa.date32()))
    good = pc.fill_null(pc.greater_equal(table["high"], table["low"]), True)
    if dataset == "cm":
        good = pc.and_(good, pc.greater(table["high"], 0))
    table = table.filter(good)
    folder = out / dataset / f"year={day.year}" / f"month={day.month:02d}" / f"day={day.day:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part.parquet", compression="zstd")
    if dataset not in tables:
        columns = ", ".join(f"{field.name} {CH_TYPES[field.type]}" for field in table.schema)
        client.command(f"CREATE TABLE IF NOT EXISTS bench.{dataset} ({columns}) "
                       "ENGINE = MergeTree PARTITION BY toYYYYMM(trade_date) ORDER BY trade_date")
        tables.add(dataset)
    client.insert_arrow(dataset, table, database="bench")
    return table.num_rows


def main(base: str, out: str, manifest: str) -> dict:
    out_path = Path(out)
    files = json.loads(Path(manifest).read_text())
    started = time.perf_counter()
    client = clickhouse_connect.get_client(interface="chdb", path=str(out_path / "clickhouse"))
    client.command("CREATE DATABASE IF NOT EXISTS bench")
    session, tables = requests.Session(), set()
    rows = sum(one_file(session, client, base, out_path, dataset, date.fromisoformat(day), url_path, tables)
               for dataset, day, url_path in files)
    return {"seconds": time.perf_counter() - started, "rows": rows, "files": len(files)}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
