"""Parquet files: the lake (one zstd file per day in Hive partitions) and the stages' files.

Readable with nothing but hive partitioning. Writers get a temporary path from the caller, which
renames it, so readers see all of a file or none of it.
"""
import shutil

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

LAKE_COMPRESSION = "zstd"
# Staging keeps all 34 source columns and is read once: lz4 writes in about half zstd's time.
STAGING_COMPRESSION = "lz4"


def write_table(table: pa.Table, path, compression: str = LAKE_COMPRESSION) -> int:
    pq.write_table(table, path, compression=compression)
    return table.num_rows


def publish(normalized_path, path) -> int:
    """The lake file is the normalized file, byte for byte (both are zstd, canonical schema)."""
    shutil.copyfile(normalized_path, path)
    return parquet_rows(path)


def parquet_rows(path) -> int:
    """Rows of a Parquet file, from its footer alone."""
    return pq.ParquetFile(path).metadata.num_rows


def read_table(path) -> pa.Table:
    return pq.read_table(path)


def open_lake(lake_root) -> ds.Dataset:
    """The whole lake as one dataset: year, month and day come from the folder names."""
    return ds.dataset(lake_root, format="parquet", partitioning="hive")
