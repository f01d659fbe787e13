"""NSE's UDiFF layout (from 2024-07-08), shared by the CM and F&O bhavcopies: 34 columns, ISO dates."""
import pyarrow as pa

from ..formats import CsvFormat

UDIFF_TYPES = {
    "TradDt": pa.date32(), "BizDt": pa.date32(), "Sgmt": pa.string(), "Src": pa.string(),
    "FinInstrmTp": pa.string(), "FinInstrmId": pa.int64(), "ISIN": pa.string(), "TckrSymb": pa.string(),
    "SctySrs": pa.string(), "XpryDt": pa.date32(), "FininstrmActlXpryDt": pa.date32(),
    "StrkPric": pa.float64(), "OptnTp": pa.string(), "FinInstrmNm": pa.string(),
    "OpnPric": pa.float64(), "HghPric": pa.float64(), "LwPric": pa.float64(), "ClsPric": pa.float64(),
    "LastPric": pa.float64(), "PrvsClsgPric": pa.float64(), "UndrlygPric": pa.float64(),
    "SttlmPric": pa.float64(), "OpnIntrst": pa.int64(), "ChngInOpnIntrst": pa.int64(),
    "TtlTradgVol": pa.int64(), "TtlTrfVal": pa.float64(), "TtlNbOfTxsExctd": pa.int64(),
    "SsnId": pa.string(), "NewBrdLotQty": pa.int64(), "Rmks": pa.string(),
    "Rsvd1": pa.string(), "Rsvd2": pa.string(), "Rsvd3": pa.string(), "Rsvd4": pa.string(),
}


def udiff_format(segment: str) -> CsvFormat:
    """CM and F&O share the layout; `Sgmt` tells them apart, so the other segment's file is refused."""
    return CsvFormat(name="udiff", types=UDIFF_TYPES, signature=("TckrSymb", "Sgmt"), date_column="TradDt",
                     fixed=(("Sgmt", segment),))
