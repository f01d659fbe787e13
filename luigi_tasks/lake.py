"""Table files: the lake (one zstd Parquet file per day in Hive partitions) and the stages' files.

The lake is Parquet, readable with nothing but hive partitioning. The stages' own files (staging,
normalized, rejects) are read once by the next stage and by nobody else, so they are Arrow IPC
files with lz4 buffers: a CM day writes and reads in about 1.4 ms against about 5.4 ms as Parquet
lz4, at about the same size (uncompressed IPC is 0.4 ms but 2.5 times the bytes: ~6 GB of staging
for the CM history alone). A file is built in memory (`table_bytes`, `stage_bytes`); the stage
writes those bytes to a temporary path and renames it (targets.py), so readers see all of a file or
none of it, and its seal hashes the very bytes written.
"""
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

LAKE_COMPRESSION = "zstd"
STAGE_COMPRESSION = "lz4"
_PARQUET_MAGIC, _IPC_MAGIC = b"PAR1", b"ARROW1"
_ROWS_KEY = b"num_rows"  # in the IPC footer, as Parquet's footer has it: counting batches decompresses them


def table_bytes(table: pa.Table) -> pa.Buffer:
    """A lake file's bytes: `table` as zstd Parquet, in memory, so its writer hashes what it writes."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=LAKE_COMPRESSION)
    return sink.getvalue()


def write_table(table: pa.Table, path) -> int:
    Path(path).write_bytes(table_bytes(table))
    return table.num_rows


def stage_bytes(table: pa.Table) -> pa.Buffer:
    """A stage's file: Arrow IPC (the file format, with a footer), lz4 buffers; built in memory,
    which also writes it faster than many small writes to the file."""
    options = ipc.IpcWriteOptions(compression=STAGE_COMPRESSION)
    footer = {_ROWS_KEY: str(table.num_rows).encode()}
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema, options=options, metadata=footer) as writer:
        writer.write_table(table)
    return sink.getvalue()


def write_stage(table: pa.Table, path) -> int:
    Path(path).write_bytes(stage_bytes(table))
    return table.num_rows


def read_stage(source) -> pa.Table:
    """A stage's file, from its path or from its bytes already read."""
    with (pa.BufferReader(source) if isinstance(source, bytes) else pa.OSFile(str(source))) as stream:
        return ipc.open_file(stream).read_all()


def stage_rows(path) -> int:
    """Rows of a stage's file, from its footer, else by counting its record batches."""
    with pa.OSFile(str(path)) as source:
        reader = ipc.open_file(source)
        written = (reader.metadata or {}).get(_ROWS_KEY)
        if written is not None:
            return int(written)
        return sum(reader.get_record_batch(i).num_rows for i in range(reader.num_record_batches))


def parquet_rows(path) -> int:
    """Rows of a Parquet file, from its footer alone."""
    return pq.ParquetFile(path).metadata.num_rows


def file_rows(path) -> int:
    """Rows of a lake or a stage's file, whichever its first bytes say it is."""
    with open(path, "rb") as handle:
        magic = handle.read(len(_IPC_MAGIC))
    if magic.startswith(_PARQUET_MAGIC):
        return parquet_rows(path)
    if magic == _IPC_MAGIC:
        return stage_rows(path)
    raise ValueError(f"{path} is neither Parquet nor an Arrow IPC file")


def read_table(source) -> pa.Table:
    """A lake file, from its path or from its bytes already read (and checked against its seal)."""
    return pq.read_table(pa.BufferReader(source) if isinstance(source, bytes) else source)


def open_lake(lake_root) -> ds.Dataset:
    """The whole lake as one dataset: year, month and day come from the folder names."""
    return ds.dataset(lake_root, format="parquet", partitioning="hive")
