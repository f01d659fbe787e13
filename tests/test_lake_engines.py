"""The lake as query engines read it: each installable engine gets the right types and every row.

The partition values are unpadded (`month=6`) because DuckDB types `month=06` as VARCHAR
(see layout.lake_path); these tests are what keeps that true.
"""
from datetime import date

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.lake import open_lake
from luigi_tasks.tasks import BhavcopyETL

DAYS = {date(2022, 12, 1): 2339, date(2025, 6, 18): 2993}


@pytest.fixture
def lake(data_dir, nse_server, run_tasks):
    assert run_tasks(*[BhavcopyETL(date=d, load_to_clickhouse=False) for d in DAYS]).status == LuigiStatusCode.SUCCESS
    return layout.lake_root(data_dir, "cm")


def test_duckdb_reads_dates_and_integer_partitions(lake):
    query = f"SELECT * FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = true)"
    types = dict(zip(duckdb.sql(query).columns, map(str, duckdb.sql(query).types)))
    assert {name: types[name] for name in ("trade_date", "year", "month", "day", "volume", "close", "symbol")} == {
        "trade_date": "DATE", "year": "BIGINT", "month": "BIGINT", "day": "BIGINT", "volume": "BIGINT",
        "close": "DOUBLE", "symbol": "VARCHAR"}
    counts = duckdb.sql(f"SELECT trade_date, count(*) FROM ({query}) WHERE month = 12 OR month = 6 "
                        "GROUP BY trade_date ORDER BY trade_date").fetchall()
    assert counts == sorted(DAYS.items())


def test_polars_reads_dates_and_integer_partitions(lake):
    frame = pl.scan_parquet(f"{lake}/**/*.parquet", hive_partitioning=True).collect()
    assert (frame.schema["trade_date"], frame.schema["month"], frame.schema["volume"]) == (pl.Date, pl.Int64, pl.Int64)
    assert frame.filter(pl.col("month") == 6).height == DAYS[date(2025, 6, 18)]
    assert frame.height == sum(DAYS.values())


def test_pyarrow_dataset_reads_dates_and_integer_partitions(lake):
    table = open_lake(lake).to_table()
    assert table.schema.field("trade_date").type == pa.date32()
    assert table.schema.field("month").type == table.schema.field("day").type == pa.int32()
    assert table.filter(ds.field("month") == 12).num_rows == DAYS[date(2022, 12, 1)]


def test_pandas_reads_dates_and_integer_partitions(lake):
    frame = pd.read_parquet(lake, dtype_backend="pyarrow")
    assert str(frame["trade_date"].dtype) == "date32[day][pyarrow]"
    assert str(frame["volume"].dtype) == "int64[pyarrow]"
    assert len(frame[frame["month"].astype(int) == 6]) == DAYS[date(2025, 6, 18)]
    assert len(frame) == sum(DAYS.values())
