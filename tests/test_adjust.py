"""Adjusted prices and the cross-check (adjust.py, actions_check.py) around a planted ex-date.

The fixture days are NSE's real CM files for 2025-06-18 and -19, edited here: INFY's 19th is what a
1:1 bonus makes of it (prices halved, volume doubled), HDFCBANK's close halves with no action listed
(an unexplained gap), and 2025-06-17 is the 18th's file re-dated and served too: a backfill of the 18th
and 19th must not fetch it (a day's check compares with the session before only when the lake holds it). The PR zips list INFY BONUS 1:1 ex 2025-06-19 (right), SBIN BONUS 1:1 ex the same day
(planted wrong: SBIN's price does not halve), WIPRO's split ex 2025-07-04 (after the last session).
"""
import csv
import io
import json
import zipfile
from datetime import date

import pyarrow.dataset as ds
import pytest
from luigi.execution_summary import LuigiStatusCode
from mlflow.tracking import MlflowClient

from luigi_tasks import RangeDaily, adjust, layout, warehouse
from luigi_tasks.__main__ import main
from luigi_tasks.config import clickhouse
from luigi_tasks.tasks import BhavcopyETL

from tests.support import DATA
from tests.nse_server import member_text, zip_bytes

DAYS = [date(2025, 6, 18), date(2025, 6, 19)]
PRICES = ("OpnPric", "HghPric", "LwPric", "ClsPric", "LastPric")


def cm_name(day):
    return f"BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv"


def cm_records(day):
    return list(csv.DictReader(io.StringIO(member_text(DATA / f"{cm_name(day)}.zip"))))


def write_cm(server, day, records):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    server.put(f"{cm_name(day)}.zip", zip_bytes({cm_name(day): out.getvalue()}))


def halve(record, prev_close):
    record.update({name: f"{float(record[name]) / 2:.2f}" for name in PRICES})
    record["PrvsClsgPric"] = f"{prev_close / 2:.2f}"
    record["TtlTradgVol"] = str(int(record["TtlTradgVol"]) * 2)


@pytest.fixture
def ex_date_files(nse_server):
    """Serve 2025-06-17 (the 18th re-dated) and the 19th with INFY's bonus and HDFCBANK's gap applied."""
    before = {(r["TckrSymb"], r["SctySrs"]): float(r["ClsPric"]) for r in cm_records(DAYS[0])}
    day17 = date(2025, 6, 17)
    text = member_text(DATA / f"{cm_name(DAYS[0])}.zip").replace("2025-06-18", "2025-06-17")
    nse_server.put(f"{cm_name(day17)}.zip", zip_bytes({cm_name(day17): text}))
    with zipfile.ZipFile(DATA / "PR180625.zip") as archive:
        nse_server.put("PR170625.zip", zip_bytes({name.replace("180625", "170625"): archive.read(name)
                                                   for name in archive.namelist()}))
    records = cm_records(DAYS[1])
    for record in records:
        if (record["TckrSymb"], record["SctySrs"]) in (("INFY", "EQ"), ("HDFCBANK", "EQ")):
            halve(record, before[(record["TckrSymb"], record["SctySrs"])])
    write_cm(nse_server, DAYS[1], records)
    return {(r["TckrSymb"], r["SctySrs"], day): r for day in DAYS
            for r in (cm_records(DAYS[0]) if day == DAYS[0] else records)}


@pytest.fixture
def loaded(data_dir, ex_date_files, run_tasks):
    backfill = RangeDaily(of=BhavcopyETL, start=DAYS[0], stop=date(2025, 6, 20),
                          of_params={"datasets": ["cm", "actions"]})
    assert run_tasks(backfill).status == LuigiStatusCode.SUCCESS
    return ex_date_files


def clickhouse_rows(query, **parameters):
    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    return client.query(query.replace("{db}", f"`{settings.database}`"), parameters=parameters).result_rows


def test_adjusted_prices_on_both_sides_of_the_ex_date_in_clickhouse_and_the_lake(data_dir, loaded, nse_server):
    lake = adjust.adjusted_from_lake(data_dir).to_pylist()
    by_key = {(row["symbol"], row["series"], row["trade_date"]): row for row in lake}
    infy_18, infy_19 = by_key["INFY", "EQ", DAYS[0]], by_key["INFY", "EQ", DAYS[1]]
    source = loaded["INFY", "EQ", DAYS[0]]
    assert infy_18["adj_factor"] == 0.5
    assert infy_18["adj_close"] == float(source["ClsPric"]) * 0.5
    assert infy_18["adj_volume"] == int(source["TtlTradgVol"]) * 2
    assert (infy_19["adj_factor"], infy_19["adj_close"], infy_19["adj_volume"]) == (
        1.0, float(loaded["INFY", "EQ", DAYS[1]]["ClsPric"]), float(loaded["INFY", "EQ", DAYS[1]]["TtlTradgVol"]))
    assert by_key["SBIN", "EQ", DAYS[0]]["adj_factor"] == 0.5  # the planted (wrong) bonus adjusts too
    assert by_key["WIPRO", "EQ", DAYS[0]]["adj_factor"] == 1.0  # its split's ex-date is after the last session
    adjusted = sorted(key for key, row in by_key.items() if row["adj_factor"] != 1.0)
    assert adjusted == [("INFY", "EQ", DAYS[0]), ("SBIN", "EQ", DAYS[0])]
    assert len(lake) == len(cm_records(DAYS[0])) + len(cm_records(DAYS[1]))
    assert not [path for path in nse_server.paths_requested() if "20250617" in path or "170625" in path]

    rows = clickhouse_rows("SELECT symbol, series, trade_date, adj_factor, adj_open, adj_high, adj_low, adj_close, "
                           "adj_prev_close, adj_volume, close, volume FROM {db}.cm_bhavcopy_adjusted")
    assert len(rows) == len(lake)  # the lake and ClickHouse hold the same days
    for symbol, series, day, factor, *values, close, volume in rows:
        row = by_key[symbol, series, day]
        assert factor == pytest.approx(row["adj_factor"], rel=1e-12)
        assert values == pytest.approx([row[f"adj_{name}"] for name in ("open", "high", "low", "close", "prev_close",
                                                                         "volume")], rel=1e-12)
        assert (close, volume) == (row["close"], row["volume"])


def test_the_documented_lake_query_agrees(data_dir, loaded):
    duckdb = pytest.importorskip("duckdb")
    answer = duckdb.sql(adjust.LAKE_QUERY.format(lake=data_dir / "lake")).fetchall()
    lake = {(row["symbol"], row["series"], row["trade_date"]): row for row in adjust.adjusted_from_lake(data_dir).to_pylist()}
    columns = duckdb.sql(adjust.LAKE_QUERY.format(lake=data_dir / "lake")).columns
    assert len(answer) == len(lake)
    for values in answer:
        row = dict(zip(columns, values))
        expected = lake[row["symbol"], row["series"], row["trade_date"]]
        assert row["adj_factor"] == pytest.approx(expected["adj_factor"])
        assert row["adj_close"] == pytest.approx(expected["adj_close"])
        assert row["adj_volume"] == pytest.approx(expected["adj_volume"])


def test_the_corporate_actions_view_has_one_row_per_action_as_the_lake_function(data_dir, loaded):
    rows = clickhouse_rows("SELECT symbol, series, ex_date, purpose, kind, factor, first_seen, last_seen, days_listed "
                           "FROM {db}.corporate_actions ORDER BY symbol, series, ex_date, purpose")
    listed = clickhouse_rows("SELECT count() FROM {db}.corporate_actions_listed")[0][0]
    assert listed == 13 + 8  # every listing: the 18th's 11 lines give 13 actions, the 19th's 6 give 8
    infy = [row for row in rows if row[:2] == ("INFY", "EQ")]
    assert infy == [("INFY", "EQ", DAYS[1], "BONUS 1:1", "bonus", 0.5, DAYS[0], DAYS[1], 2)]  # 3 listings, 2 days
    assert len(rows) == len({row[:4] for row in rows}) == 14  # 12 keys on the 18th, 2 new on the 19th
    in_clickhouse = ds.field("trade_date").isin(DAYS)  # the 17th's PR zip is in the lake alone
    frame = adjust.corporate_actions(adjust.read_lake(data_dir, "actions", in_clickhouse))
    lake = [tuple(None if v != v else v for v in (r.symbol, r.series, r.ex_date, r.purpose, r.kind, r.factor, r.first_seen,
                                                   r.last_seen, r.days_listed)) for r in frame.itertuples()]
    assert sorted(lake, key=str) == sorted(rows, key=str)


def test_the_cross_check_flags_the_planted_wrong_factor_and_the_unexplained_gap(data_dir, loaded, capsys, mlflow_store):
    report = json.loads((data_dir / "checks" / "actions" / "2025-06-19.json").read_text())
    assert report["previous_session"] == "2025-06-18"
    flagged = {(f["symbol"], f["flag"]) for f in report["flagged"]}
    assert ("SBIN", "contradicts") in flagged and ("HDFCBANK", "unexplained gap") in flagged
    assert not any(symbol == "INFY" for symbol, _ in flagged)
    assert (report["check_actions"], report["check_contradicted"]) == (2, 1)  # INFY agrees, SBIN does not
    first = json.loads((data_dir / "checks" / "actions" / "2025-06-18.json").read_text())
    assert first == {"date": "2025-06-18",  # the range's first day: its session before is not in the lake
                     "skipped": "the previous session is not in the lake (or precedes the PR archive)"}

    client = MlflowClient(tracking_uri=mlflow_store)
    experiment = client.get_experiment_by_name("nse-bhavcopy-etl")
    (run, *_) = client.search_runs([experiment.experiment_id], filter_string="tags.trade_date = '2025-06-19'",
                                   order_by=["attributes.start_time DESC"])
    assert run.data.params["datasets"] == "cm,actions"
    assert {name: run.data.metrics[f"actions_{name}"] for name in ("check_actions", "check_contradicted")} == {
        "check_actions": 2, "check_contradicted": 1}
    assert run.data.metrics["actions_check_unexplained_gaps"] == report["check_unexplained_gaps"]

    assert main(["actions", "--check"]) == 1
    assert capsys.readouterr().out.splitlines() == [  # the real 18th -> 19th moves stay inside the bands
        "2025-06-19  contradicts     SBIN EQ  close 791.9 -> 785.1 (x0.9914), factor 0.5000  [BONUS 1:1]",
        "2025-06-19  ok              INFY EQ  close 1632.9 -> 809.2 (x0.4956), factor 0.5000  [BONUS 1:1]",
        "2025-06-19  unexplained gap HDFCBANK EQ  close 1933.9 -> 967.65 (x0.5004)",
        "summary: 2 session(s); 2 action(s) checked, 1 contradict their factor, 0 not traded; 1 unexplained gap(s)",
    ]
