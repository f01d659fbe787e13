"""Row rules: each bad row lands in rejects with its reason; good rows and rejects add up."""
from datetime import date

import pyarrow as pa
import pytest

from luigi_tasks.datasets import DATASETS
from luigi_tasks.errors import BhavcopyError
from luigi_tasks.schema import CM_BHAVCOPY

DAY = date(2025, 6, 18)


def validate(canonical):
    return DATASETS["cm"].validate(canonical, DAY, "f.csv")
GOOD = dict(trade_date=DAY, symbol="INFY", series="EQ", isin="INE009A01021", open=10.0, high=12.0, low=9.0,
            close=11.0, last=11.0, prev_close=10.0, volume=100, turnover=1100.0, trades=5, source_format="udiff")


def table(*rows):
    return pa.Table.from_pylist(list(rows), schema=pa.schema([f.with_nullable(True) for f in CM_BHAVCOPY]))


def row(**changes):
    return {**GOOD, **changes}


@pytest.mark.parametrize(
    "bad, reason",
    [
        (row(symbol=None), "missing symbol"),
        (row(symbol="  "), "missing symbol"),
        (row(series=""), "missing series"),
        (row(close=-1.0), "negative close"),
        (row(open=-0.05), "negative open"),
        (row(prev_close=-1.0), "negative prev_close"),
        (row(last=-0.5), "negative last"),
        (row(high=8.0, low=9.0, open=8.5, close=8.5, last=8.5), "high < low"),
        (row(volume=-1), "negative volume"),
        (row(turnover=-0.5), "negative turnover"),
        (row(trades=-2), "negative trades"),
    ],
)
def test_each_rule_rejects_with_its_reason(bad, reason):
    checked = validate(table(row(symbol="TCS"), bad))
    assert checked.good["symbol"].to_pylist() == ["TCS"]
    assert checked.rejects.num_rows == 1
    assert checked.rejects["reason"][0].as_py() == reason


@pytest.mark.parametrize("name", ["open", "high", "low", "close", "last", "prev_close", "volume", "turnover", "trades"])
def test_an_empty_value_is_kept_as_null(name):
    """NSE leaves LastPric empty on traded debt rows (ZT, YT): an empty value is no reason to reject."""
    checked = validate(table(row(**{name: None}), row(symbol="TCS")))
    assert checked.rejects.num_rows == 0
    assert checked.good.to_pylist()[0][name] is None and checked.good.to_pylist()[0]["symbol"] == "INFY"


@pytest.mark.parametrize("zeros", [["open"], ["low"], ["close"], ["last"], ["prev_close"], ["volume", "turnover"],
                                   ["open", "high", "low", "close", "last"]])
def test_a_zero_value_is_kept(zeros):
    """NSE prints LAST 0.0 on some debt rows (SREIBNPNCD NT, 2022-12-02); zero is not impossible."""
    checked = validate(table(row(**dict.fromkeys(zeros, 0)), row(symbol="TCS")))
    assert checked.rejects.num_rows == 0
    assert [checked.good.to_pylist()[0][name] for name in zeros] == [0] * len(zeros)


def test_a_file_whose_rows_are_all_rejected_is_refused():
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 f\.csv: all 2 rows rejected \(high < low\)"):
        validate(table(row(high=1.0, low=2.0), row(symbol="TCS", high=1.0, low=2.0)))


def test_a_row_breaking_two_rules_names_both():
    checked = validate(table(row(symbol=None, volume=-5), row(symbol="TCS")))
    assert checked.rejects["reason"].to_pylist() == ["missing symbol; negative volume"]


def test_exact_duplicate_keeps_the_first_copy():
    checked = validate(table(row(), row(), row(symbol="TCS")))
    assert checked.good.num_rows == 2
    assert checked.rejects["reason"].to_pylist() == ["duplicate row"]


def test_conflicting_duplicates_are_all_rejected():
    checked = validate(table(row(), row(close=11.5), row(symbol="TCS")))
    assert checked.good["symbol"].to_pylist() == ["TCS"]
    assert checked.rejects["reason"].to_pylist() == ["conflicting duplicate (symbol, series)"] * 2


def test_same_symbol_in_two_series_is_not_a_duplicate():
    checked = validate(table(row(), row(series="BE")))
    assert checked.good.num_rows == 2 and checked.rejects.num_rows == 0


def test_close_outside_low_high_is_kept_and_counted():
    """Trade-for-trade series publish a close that was not traded; NSE's files have such rows."""
    checked = validate(table(row(close=13.0), row(open=8.0, symbol="TCS"), row(symbol="WIPRO")))
    assert checked.good.num_rows == 3
    assert checked.warning_rows == 2


def test_good_rows_are_typed_as_the_canonical_schema_and_nothing_is_lost():
    rows = [row(symbol=f"S{i}") for i in range(50)] + [row(symbol=None), row(symbol="S1")]
    checked = validate(table(*rows))
    assert checked.good.schema == CM_BHAVCOPY
    assert checked.good.num_rows + checked.rejects.num_rows == len(rows)
    assert checked.rejects.column_names == CM_BHAVCOPY.names + ["reason"]
