"""The Parquet lake: one zstd file per day in Hive partitions, readable with nothing but hive partitioning."""
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def write_table(table: pa.Table, path) -> int:
    """Write one file; the caller hands a temporary path and renames it, so readers see all or nothing."""
    pq.write_table(table, path, compression="zstd")
    return table.num_rows


def read_table(path) -> pa.Table:
    return pq.read_table(path)


def open_lake(lake_root) -> ds.Dataset:
    """The whole lake as one dataset: year, month and day come from the folder names."""
    return ds.dataset(lake_root, format="parquet", partitioning="hive")
