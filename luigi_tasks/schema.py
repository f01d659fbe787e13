"""The canonical table every dataset's format maps onto; the lake and ClickHouse share it."""
import pyarrow as pa

CM_BHAVCOPY = pa.schema(
    [
        pa.field("trade_date", pa.date32(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("series", pa.string(), nullable=False),
        pa.field("isin", pa.string(), nullable=True),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("last", pa.float64(), nullable=False),
        pa.field("prev_close", pa.float64(), nullable=False),
        pa.field("volume", pa.int64(), nullable=False),
        pa.field("turnover", pa.float64(), nullable=False),
        pa.field("trades", pa.int64(), nullable=True),
        pa.field("source_format", pa.string(), nullable=False),
    ]
)

# Rejected rows keep the canonical columns, but any of them may be null, plus the reason.
CM_REJECTS = pa.schema(
    [f.with_nullable(True) for f in CM_BHAVCOPY] + [pa.field("reason", pa.string(), nullable=False)]
)
