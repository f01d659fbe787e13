"""Prices with 52-week high/low (datasets/prices52.py): the PR zip's Pd member, padded, with index rows."""
import csv
import io
import json
import zipfile
from datetime import date

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout, warehouse
from luigi_tasks.lake import read_stage
from luigi_tasks.config import clickhouse
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy

from tests.support import DATA
from tests.nse_server import zip_bytes

DAYS = [date(2025, 6, 18), date(2025, 6, 19)]
MEMBERS = {DAYS[0]: "Pd180625.csv", DAYS[1]: "pd19062025.csv"}  # NSE's older and late-2025 names


def members(day):
    with zipfile.ZipFile(DATA / f"PR{day:%d%m%y}.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def securities(day):
    reader = csv.DictReader(io.StringIO(members(day)[MEMBERS[day]].decode()))
    return [{k: v.strip() for k, v in record.items()} for record in reader if record["SYMBOL"].strip()]


@pytest.mark.parametrize("day", DAYS)
def test_securities_land_and_index_rows_are_rejected_with_their_reason(data_dir, nse_server, run_tasks, day):
    assert run_tasks(BhavcopyETL(date=day, datasets=["prices52"])).status == LuigiStatusCode.SUCCESS
    lake = pq.read_table(layout.lake_path(data_dir, "prices52", day)).to_pylist()
    records = securities(day)
    assert len(lake) == len(records) == 9
    for record, row in zip(records, lake):
        assert (row["trade_date"], row["symbol"], row["series"]) == (day, record["SYMBOL"], record["SERIES"])
        assert row["close"] == float(record["CLOSE_PRICE"]) and row["prev_close"] == float(record["PREV_CL_PR"])
        assert row["hi_52_wk"] == float(record["HI_52_WK"]) and row["lo_52_wk"] == float(record["LO_52_WK"])
        assert row["volume"] == int(record["NET_TRDQTY"]) and row["turnover"] == float(record["NET_TRDVAL"])
        assert row["corp_ind"] is None and row["index_security"] == record["IND_SEC"]
    rejects = read_stage(layout.rejects_path(data_dir, "prices52", day))
    reasons = rejects["reason"].to_pylist()
    assert reasons.count("index row (no symbol; index closes are the indices dataset)") == 4
    assert [row["security"] for row in rejects.to_pylist() if row["market"] == "Y"] == [
        "Nifty 50", "Nifty Next 50", "Nifty Bank", "Nifty IT"]
    assert sum(reason.startswith("section heading or blank line") for reason in reasons) == 4
    sidecar = json.loads(layout.raw_sidecar_path(data_dir, "prices52", day).read_text())
    assert (sidecar["member"], sidecar["route"]) == (MEMBERS[day], "pr-archive")
    assert sidecar["url"].endswith(f"/archives/equities/bhavcopy/pr/PR{day:%d%m%y}.zip")

    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    assert warehouse.count_day(client, settings.database, "prices52", day) == 9


def test_the_pr_zip_is_fetched_once_for_both_datasets(data_dir, nse_server, run_tasks):
    day = DAYS[0]
    assert run_tasks(BhavcopyETL(date=day, datasets=["actions", "prices52"])).status == LuigiStatusCode.SUCCESS
    assert nse_server.paths_requested().count("/archives/equities/bhavcopy/pr/PR180625.zip") == 1
    raws = [layout.raw_path(data_dir, name, day) for name in ("actions", "prices52")]
    assert raws[0].read_bytes() == raws[1].read_bytes() == (DATA / "PR180625.zip").read_bytes()
    sidecars = [json.loads(layout.raw_sidecar_path(data_dir, name, day).read_text()) for name in ("actions", "prices52")]
    assert [s["member"] for s in sidecars] == ["Bc180625.csv", "Pd180625.csv"]
    copied = [s for s in sidecars if "copied_from" in s]
    assert len(copied) == 1 and copied[0]["copied_from"] in {str(path) for path in raws}


def test_an_unknown_pd_header_is_refused(data_dir, nse_server, run_tasks):
    day = DAYS[0]
    files = members(day)
    files["Pd180625.csv"] = files["Pd180625.csv"].replace(b"HI_52_WK", b"HIGH_52_WEEK")
    nse_server.put("PR180625.zip", zip_bytes(files))
    assert run_tasks(BhavcopyETL(date=day, datasets=["prices52"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "prices52", day).exists()
    with pytest.raises(Exception, match=r"^2025-06-18 Pd180625\.csv: unknown header, not pd"):
        DownloadBhavcopy(date=day, dataset="prices52").run()
