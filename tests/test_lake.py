"""The lake's Parquet files and the stages' Arrow IPC files: what is written is what is read and counted."""
import datetime as dt

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from luigi_tasks import lake
from luigi_tasks.schema import CM_BHAVCOPY


def cm_rows(n: int) -> pa.Table:
    columns = {field.name: pa.nulls(n, field.type) for field in CM_BHAVCOPY}
    columns["trade_date"] = pa.array([dt.date(2025, 6, 18)] * n, pa.date32())
    columns["symbol"] = pa.array([f"S{i}" for i in range(n)], pa.string())
    columns["series"] = pa.array(["EQ"] * n, pa.string())
    columns["close"] = pa.array([i / 4 for i in range(n)], pa.float64())
    columns["volume"] = pa.array([None if i % 7 == 0 else i for i in range(n)], pa.int64())
    columns["source_format"] = pa.array(["udiff"] * n, pa.string())
    return pa.table(columns, schema=CM_BHAVCOPY)


def test_a_stage_file_reads_back_equal_with_its_schema_and_lz4_buffers(tmp_path):
    rows = cm_rows(3000)
    path = tmp_path / "2025-06-18.arrow"
    assert lake.write_stage(rows, path) == 3000
    back = lake.read_stage(path)
    assert back.equals(rows) and back.schema.equals(CM_BHAVCOPY) and back.schema.metadata is None
    assert path.read_bytes()[:6] == b"ARROW1"
    assert path.stat().st_size < rows.nbytes  # compressed
    assert lake.stage_rows(path) == lake.file_rows(path) == 3000


def test_an_empty_stage_file_counts_zero(tmp_path):
    path = tmp_path / "rejects.arrow"
    lake.write_stage(cm_rows(0), path)
    assert lake.stage_rows(path) == 0 and lake.read_stage(path).num_rows == 0


def test_an_ipc_file_without_our_footer_count_is_counted_by_its_batches(tmp_path):
    path = tmp_path / "other.arrow"
    feather.write_feather(cm_rows(2500), path, chunksize=1000)  # three record batches, no num_rows key
    assert lake.stage_rows(path) == lake.file_rows(path) == 2500


def test_file_rows_reads_parquet_footers_and_refuses_anything_else(tmp_path):
    lake.write_table(cm_rows(10), tmp_path / "day.parquet")
    assert lake.file_rows(tmp_path / "day.parquet") == 10
    (tmp_path / "day.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"day\.csv is neither Parquet nor an Arrow IPC file"):
        lake.file_rows(tmp_path / "day.csv")


def test_a_truncated_stage_file_is_refused_not_read_short(tmp_path):
    path = tmp_path / "cut.arrow"
    lake.write_stage(cm_rows(3000), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(pa.ArrowInvalid):
        lake.read_stage(path)


def test_a_lake_file_holds_the_rows_as_zstd_parquet(tmp_path):
    rows = cm_rows(3000)
    (tmp_path / "lake.parquet").write_bytes(lake.table_bytes(rows))
    metadata = pq.ParquetFile(tmp_path / "lake.parquet").metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert lake.read_table(tmp_path / "lake.parquet").equals(rows)
