"""Table files: the lake (one zstd Parquet file per day in Hive partitions) and the stages' files.

The lake is Parquet, readable with nothing but hive partitioning. The stages' own files (staging,
normalized, rejects) are read once by the next stage and by nobody else, so they are Arrow IPC
files with lz4 buffers: a CM day writes and reads in about 1.4 ms against about 5.4 ms as Parquet
lz4, at about the same size (uncompressed IPC is 0.4 ms but 2.5 times the bytes: ~6 GB of staging
for the CM history alone). Writers get a temporary path from the caller, which renames it, so
readers see all of a file or none of it.
"""
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

LAKE_COMPRESSION = "zstd"
STAGE_COMPRESSION = "lz4"
_PARQUET_MAGIC, _IPC_MAGIC = b"PAR1", b"ARROW1"
_ROWS_KEY = b"num_rows"  # in the IPC footer, as Parquet's footer has it: counting batches decompresses them


def write_table(table: pa.Table, path, compression: str = LAKE_COMPRESSION) -> int:
    pq.write_table(table, path, compression=compression)
    return table.num_rows


def write_stage(table: pa.Table, path) -> int:
    """A stage's file: Arrow IPC (the file format, with a footer), lz4 buffers."""
    options = ipc.IpcWriteOptions(compression=STAGE_COMPRESSION)
    footer = {_ROWS_KEY: str(table.num_rows).encode()}
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema, options=options, metadata=footer) as writer:
        writer.write_table(table)
    return table.num_rows


def read_stage(path) -> pa.Table:
    with pa.OSFile(str(path)) as source:
        return ipc.open_file(source).read_all()


def stage_rows(path) -> int:
    """Rows of a stage's file, from its footer, else by counting its record batches."""
    with pa.OSFile(str(path)) as source:
        reader = ipc.open_file(source)
        written = (reader.metadata or {}).get(_ROWS_KEY)
        if written is not None:
            return int(written)
        return sum(reader.get_record_batch(i).num_rows for i in range(reader.num_record_batches))


def publish(normalized_path, path) -> pa.Table:
    """The lake file: the normalized file's rows, as zstd Parquet. Returns them (for the load)."""
    table = read_stage(normalized_path)
    write_table(table, path)
    return table


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
