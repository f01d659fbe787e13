"""What a stage keeps for the next: taken only for exactly the bytes it was kept for, and bounded."""
import pyarrow.parquet as pq
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import handoff, lake, layout
from luigi_tasks.tasks import LoadClickHouse, NormalizeBhavcopy, ParseBhavcopy, WriteParquet

from tests.test_tasks import UDIFF_DAY
from tests.test_tasks_clickhouse import clickhouse_totals


def test_a_kept_value_is_taken_once_and_only_for_the_bytes_it_was_kept_for():
    handoff.keep("/lake/a.parquet", handoff.digest(b"one"), "rows of one")
    assert handoff.take("/lake/a.parquet", handoff.digest(b"two")) is None  # the file changed since
    assert handoff.take("/lake/a.parquet", handoff.digest(b"one")) is None  # a mismatch drops the entry
    handoff.keep("/lake/a.parquet", handoff.digest(b"one"), "rows of one")
    assert handoff.take("/lake/a.parquet", handoff.digest(b"one")) == "rows of one"
    assert handoff.take("/lake/a.parquet", handoff.digest(b"one")) is None  # taken: gone


def test_only_the_last_values_within_keep_bytes_are_kept():
    part = b"x" * (handoff.KEEP_BYTES // 4)
    for i in range(6):
        handoff.keep(f"/raw/{i}.zip", handoff.digest(b"%d" % i), ("member.csv", part))
    assert [handoff.take(f"/raw/{i}.zip", handoff.digest(b"%d" % i)) is not None for i in range(6)] == \
        [False, False, True, True, True, True]
    handoff.keep("/raw/big.zip", handoff.digest(b"big"), part * 5)  # larger than the bound: kept alone
    assert handoff.take("/raw/big.zip", handoff.digest(b"big")) == part * 5


def test_a_lake_file_replaced_after_it_was_written_is_loaded_from_disk(data_dir, nse_server, run_tasks):
    assert run_tasks(WriteParquet(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    written = lake.read_table(layout.lake_path(data_dir, "cm", UDIFF_DAY))
    # Another run replaces the lake file (sealed, so it is a valid lake file) before this process loads it.
    target = WriteParquet(date=UDIFF_DAY).output()
    with target.replacing(rows=lake.parquet_rows) as path:
        pq.write_table(written.slice(0, 10), path, compression="zstd")
    assert run_tasks(LoadClickHouse(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert clickhouse_totals(UDIFF_DAY)[0] == 10 < written.num_rows


def test_a_staging_file_replaced_after_it_was_written_is_read_from_disk(data_dir, nse_server, run_tasks):
    assert run_tasks(ParseBhavcopy(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    staged = lake.read_stage(layout.staging_path(data_dir, "cm", UDIFF_DAY))
    # Another run replaces the staging file (sealed) before this process normalizes it.
    ParseBhavcopy(date=UDIFF_DAY).output().replace_with(lake.stage_bytes(staged.slice(0, 10)), rows=10)
    assert run_tasks(WriteParquet(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert lake.read_stage(layout.normalized_path(data_dir, "cm", UDIFF_DAY)).num_rows == 10 < staged.num_rows
    assert pq.read_metadata(layout.lake_path(data_dir, "cm", UDIFF_DAY)).num_rows == 10


def test_a_normalized_file_replaced_after_it_was_written_is_read_from_disk(data_dir, nse_server, run_tasks):
    assert run_tasks(NormalizeBhavcopy(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    normalized = lake.read_stage(layout.normalized_path(data_dir, "cm", UDIFF_DAY))
    NormalizeBhavcopy(date=UDIFF_DAY).output()["rows"].replace_with(lake.stage_bytes(normalized.slice(0, 7)), rows=7)
    assert run_tasks(WriteParquet(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert lake.read_table(layout.lake_path(data_dir, "cm", UDIFF_DAY)).equals(normalized.slice(0, 7))
