"""Adding a dataset is one module: a toy dataset, written as a module and found by the same
discovery as the shipped ones, runs through every stage against the NSE emulator into the lake,
ClickHouse and MLflow, with no edit to config.py, tasks.py, metrics.py or layout.py."""
import sys
import textwrap
import time
from datetime import date

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode
from mlflow.tracking import MlflowClient

from luigi_tasks import datasets, layout, warehouse
from luigi_tasks.lake import read_stage
from luigi_tasks.config import clickhouse
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy

DAY = date(2025, 6, 18)
TOY_MODULE = '''
    """A toy NSE file: `toy_DDMMYYYY.csv`, plain CSV, one layout."""
    from datetime import date

    import pyarrow as pa

    from luigi_tasks import quality
    from luigi_tasks.dataset import Dataset
    from luigi_tasks.formats import CsvFormat
    from luigi_tasks.routes import Route

    TOY = CsvFormat(name="toy", types={"SYMBOL": pa.string(), "TRADE_DATE": pa.date32(), "PRICE": pa.float64(),
                                       "QTY": pa.int64()},
                    signature=("SYMBOL", "PRICE"), date_column="TRADE_DATE", text_dates=("TRADE_DATE",))
    SCHEMA = pa.schema([pa.field("trade_date", pa.date32(), nullable=False),
                        pa.field("symbol", pa.string(), nullable=False), pa.field("price", pa.float64()),
                        pa.field("quantity", pa.int64()), pa.field("source_format", pa.string(), nullable=False)])


    def _name(day: date) -> str:
        return f"toy_{day:%d%m%Y}.csv"


    DATASET = Dataset(
        name="toy",
        table="toy_prices",
        starts=date(2025, 1, 1),
        zipped=False,
        routes=(Route("toy-archive", lambda d: f"/content/toy/{_name(d)}", _name),),
        formats=(TOY,),
        schema=SCHEMA,
        key=("symbol",),
        order_by=("trade_date", "symbol"),
        canonical=lambda staged, fmt: {"trade_date": staged["TRADE_DATE"], "symbol": staged["SYMBOL"],
                                       "price": staged["PRICE"], "quantity": staged["QTY"]},
        rules=lambda table: [quality.missing_text(table, "symbol"), quality.negative(table, "price")],
    )
'''
TOY_FILE = b"SYMBOL,TRADE_DATE,PRICE,QTY\nALPHA,18-Jun-2025,101.5,10\nBETA,18-Jun-2025,-3,5\nGAMMA,18-Jun-2025,7.25,\n"


def forget(package: str) -> None:
    """Drop a test's module folder from the import system, so the next test imports its own."""
    for name in [name for name in sys.modules if name == package or name.startswith(f"{package}.")]:
        del sys.modules[name]


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy module in a folder of its own, discovered as datasets/ is, registered for this test only."""
    folder = tmp_path / "toy_datasets"
    folder.mkdir()
    (folder / "toy.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    found = datasets.discover([str(folder)], "toy_datasets.")
    assert list(found) == ["toy"]
    monkeypatch.setitem(datasets.DATASETS, "toy", found["toy"])
    yield found["toy"]
    forget("toy_datasets")


def test_a_dataset_from_one_module_runs_to_the_lake_clickhouse_and_mlflow(toy, data_dir, nse_server, run_tasks,
                                                                        mlflow_store, luigi_config):
    experiment = f"toy-{time.time_ns()}"
    luigi_config("tracking", "experiment", experiment)
    nse_server.files["/content/toy/toy_18062025.csv"] = TOY_FILE  # where the toy module says NSE has it
    assert (toy.clickhouse_table, toy.metric_prefix) == ("toy_prices", "toy_")

    assert run_tasks(BhavcopyETL(date=DAY, datasets=["toy"])).status == LuigiStatusCode.SUCCESS

    assert nse_server.paths_requested() == ["/content/toy/toy_18062025.csv"]
    assert layout.raw_path(data_dir, "toy", DAY).read_bytes() == TOY_FILE
    lake_file = layout.lake_path(data_dir, "toy", DAY)
    assert lake_file == data_dir / "lake/toy_prices/year=2025/month=6/day=18/toy_prices-2025-06-18.parquet"
    assert pq.read_table(lake_file).to_pylist() == [
        {"trade_date": DAY, "symbol": "ALPHA", "price": 101.5, "quantity": 10, "source_format": "toy"},
        {"trade_date": DAY, "symbol": "GAMMA", "price": 7.25, "quantity": None, "source_format": "toy"},
    ]
    rejects = read_stage(layout.rejects_path(data_dir, "toy", DAY)).to_pylist()
    assert [(row["symbol"], row["reason"]) for row in rejects] == [("BETA", "negative price")]

    settings = clickhouse()
    assert settings.table_for("toy") == "toy_prices"
    client = warehouse.connect(chdb_path=settings.chdb_path)
    assert client.query(f"SELECT symbol, price, quantity FROM `{settings.database}`.toy_prices ORDER BY symbol"
                        ).result_rows == [("ALPHA", 101.5, 10), ("GAMMA", 7.25, None)]

    store = MlflowClient(tracking_uri=mlflow_store)
    (run,) = store.search_runs([store.get_experiment_by_name(experiment).experiment_id])
    assert run.data.params["datasets"] == "toy" and run.data.params["clickhouse_table"] == "toy_prices"
    assert run.data.metrics["toy_rows_loaded"] == 2 and run.data.metrics["toy_filtered_rows"] == 1
    assert not [name for name in run.data.metrics if not name.startswith("toy_")]


def test_an_unknown_dataset_is_refused_and_a_registered_one_accepted(toy):
    assert DownloadBhavcopy(date=DAY, dataset="toy").dataset == "toy"
    with pytest.raises(ValueError, match=r"^'toyx' is not a valid choice of dataset; known: \["):
        DownloadBhavcopy(date=DAY, dataset="toyx")


def test_the_shipped_datasets_are_every_module_with_a_dataset_oldest_first():
    assert list(datasets.DATASETS) == ["cm", "fo", "actions", "prices52", "indices", "delivery"]
    starts = [dataset.starts for dataset in datasets.DATASETS.values()]
    assert starts == sorted(starts)


def test_two_modules_with_one_dataset_name_are_refused(tmp_path, monkeypatch):
    folder = tmp_path / "twice_datasets"
    folder.mkdir()
    for module in ("one", "two"):
        (folder / f"{module}.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ValueError, match=r"^two modules define the dataset\(s\) \['toy'\]$"):
            datasets.discover([str(folder)], "twice_datasets.")
    finally:
        forget("twice_datasets")
