"""Bad files, through Luigi: each is refused by the stage that can tell, with an error naming the
date, the file and the problem, and that stage and the ones after it write nothing; or the file
is accepted by a documented rule (duplicates go to rejects) and no row is lost.

Covered elsewhere, with assertions on the targets: a truncated zip
(test_tasks.py::test_truncated_zip_fails_without_target), two members
(test_tasks.py::test_zip_with_two_members_fails) and the wrong date on the first row
(test_tasks.py::test_wrong_date_inside_fails).
"""
import struct
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.lake import read_stage
from luigi_tasks.tasks import BhavcopyETL

from tests.support import DATA
from tests.faults.fault_helpers import (
    DAY, FILE, MEMBER, SOURCE_ROWS, STAGES, assert_day_complete, clickhouse_rows, csv_text, done_stages, expected_files,
    hidden_temps, lake_rows, luigi_failures, make_zip, no_mlflow, tree, visible_files,
)

pytestmark = pytest.mark.usefixtures("no_mlflow")

TEXT = csv_text()
HEADER, *ROWS = TEXT.splitlines(keepends=True)
COLUMNS = HEADER.rstrip("\r\n").split(",")


def drop_column(text: str, name: str) -> str:
    index = COLUMNS.index(name)
    lines = []
    for line in text.splitlines():
        fields = line.split(",")
        del fields[index]
        lines.append(",".join(fields) + "\n")
    return "".join(lines)


def add_column(text: str, name: str, value: str) -> str:
    header, *rows = text.splitlines()
    return "".join(f"{line}\n" for line in [f"{header},{name}", *(f"{row},{value}" for row in rows)])


def with_row(index: int, change) -> str:
    """The file with data row `index` changed (it stays the same length in rows)."""
    rows = list(ROWS)
    rows[index] = change(rows[index])
    return HEADER + "".join(rows)


def set_field(row: str, column: str, value: str) -> str:
    fields = row.split(",")
    fields[COLUMNS.index(column)] = value
    return ",".join(fields)


def bad_bytes(index: int) -> bytes:
    """Data row `index` with a symbol holding bytes that are not UTF-8 (Latin-1 'é' and 0xFF)."""
    rows = [row.encode() for row in ROWS]
    fields = rows[index].split(b",")
    fields[COLUMNS.index("TckrSymb")] += b"\xe9\xff"
    rows[index] = b",".join(fields)
    return HEADER.encode() + b"".join(rows)


def bomb(member: str, size: int, declared: int | None = None) -> bytes:
    """A zip whose one member (a valid CSV) inflates to `size` bytes; `declared` lies about that size."""
    body = (HEADER + ROWS[0] * (size // len(ROWS[0]) + 1)).encode()[:size]
    archive = make_zip(member, body)
    if declared is None:
        return archive
    patched = bytearray(archive)
    struct.pack_into("<I", patched, 22, declared)  # local file header: uncompressed size
    central = patched.rindex(b"PK\x01\x02")
    struct.pack_into("<I", patched, central + 24, declared)  # central directory: uncompressed size
    return bytes(patched)


def run_and_capture(run_tasks):
    with luigi_failures() as failed:
        result = run_tasks(BhavcopyETL(date=DAY))
    return result.status, [(family, str(exc)) for family, exc in failed]


def assert_refused_by(root: Path, run_tasks, stage: str, problem: str) -> str:
    """The run fails in `stage` alone, naming date, file and problem; that stage and later ones wrote nothing."""
    status, failed = run_and_capture(run_tasks)
    assert status == LuigiStatusCode.FAILED
    assert [family for family, _ in failed] == [stage]
    message = failed[0][1]
    assert message.startswith("2025-06-18 "), message
    assert MEMBER in message, f"the file is not named: {message}"  # NSE's member name, or its URL
    assert problem in message, message
    done = STAGES[: STAGES.index(stage)]
    assert done_stages(root) == done
    assert visible_files(root) == expected_files(root, done)
    assert hidden_temps(root) == []
    assert clickhouse_rows() is None
    return message


BAD_FILES = {
    # id: (CSV member bytes, stage that refuses it, problem named)
    "empty-csv": (b"", "DownloadBhavcopy", "empty file"),
    "bom-only-csv": (b"\xef\xbb\xbf", "DownloadBhavcopy", "empty file"),
    "header-only": (HEADER.encode(), "DownloadBhavcopy", "header only"),
    "header-and-blank-lines": ((HEADER + "\n\n").encode(), "DownloadBhavcopy", "header only"),
    "schema-drift": (add_column(TEXT, "NewCol", "1").encode(), "DownloadBhavcopy",
                     "schema drift: unknown column(s) 'NewCol'"),
    "missing-column": (drop_column(TEXT, "PrvsClsgPric").encode(), "DownloadBhavcopy",
                       "required column(s) PrvsClsgPric missing"),
    "not-utf8-first-row": (bad_bytes(0), "DownloadBhavcopy", "not UTF-8"),
    "not-utf8-later-row": (bad_bytes(1500), "ParseBhavcopy", "not UTF-8"),
    "wrong-date-later-row": (with_row(2000, lambda row: row.replace("2025-06-18", "2025-06-17")).encode(),
                             "ParseBhavcopy", "wrong trade date inside the file: 2025-06-17, 2025-06-18"),
    "number-that-does-not-parse": (with_row(10, lambda row: set_field(row, "TtlTradgVol", "12x")).encode(),
                                   "ParseBhavcopy", "cannot read as udiff CSV"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_csv_refused(data_dir, nse_server, run_tasks, case):
    member_bytes, stage, problem = BAD_FILES[case]
    nse_server.put(FILE, make_zip(MEMBER, member_bytes))
    assert_refused_by(data_dir, run_tasks, stage, problem)
    if stage != "DownloadBhavcopy":  # the raw file is kept exactly as served, for the operator to inspect
        assert layout.raw_path(data_dir, "cm", DAY).read_bytes() == nse_server.files[f"/content/cm/{FILE}"]


@pytest.mark.parametrize("member", [
    "../x.csv",
    "../../../../../../../../../tmp/escaped-{token}.csv",
    "/tmp/escaped-{token}.csv",
    "..\\x.csv",
    "sub/../../x.csv",
    f"sub/{MEMBER}",
    "cm18JUN2025bhav.csv",  # NSE's legacy name for the day, inside the UDiFF route's zip
    "BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv",  # another day's name
    MEMBER.upper(),
], ids=["dotdot", "deep-dotdot", "absolute", "backslash", "sub-dotdot", "in-folder", "legacy-name", "other-day",
        "upper-case"])
def test_member_name_refused_nothing_outside(tmp_path, data_dir, nse_server, run_tasks, member):
    name = member.format(token=uuid.uuid4().hex)
    nse_server.put(FILE, make_zip(name, TEXT))  # the right content, under a wrong name
    before = tree(tmp_path)

    message = assert_refused_by(data_dir, run_tasks, "DownloadBhavcopy", f"zip member {name!r} is not NSE's name")
    assert f"({MEMBER!r})" in message  # and says which name was expected

    created = {p for p in tree(tmp_path) - before if p != "data" and not p.startswith("data/")}
    assert created == set(), "written outside DATA_DIR"
    assert not (tmp_path / "x.csv").exists() and not (Path("/tmp") / Path(name).name).exists()
    assert not data_dir.exists() or visible_files(data_dir) == set()


@pytest.mark.parametrize("declared", [None, 400_000], ids=["honest-header", "lying-header"])
def test_zip_bomb_capped(data_dir, nse_server, run_tasks, luigi_config, declared):
    luigi_config("nse", "max_member_mb", "1")
    archive = bomb(MEMBER, 20 * 1024 * 1024, declared)
    assert len(archive) < 200_000  # 20 MB of CSV in a small zip
    nse_server.put(FILE, archive)

    problem = "over the 1048576-byte cap" if declared is None else "corrupt or truncated"
    assert_refused_by(data_dir, run_tasks, "DownloadBhavcopy", problem)

    nse_server.put(FILE, (DATA / FILE).read_bytes())  # NSE's real file: 517 kB unzipped, under the cap
    assert run_and_capture(run_tasks) == (LuigiStatusCode.SUCCESS, [])
    assert_day_complete(data_dir)


def test_duplicates_to_rejects_nothing_lost(data_dir, nse_server, run_tasks):
    """Documented rule: an exact copy keeps the first row; rows sharing (symbol, series) but
    differing are all rejected. Lake + rejects = the source's rows."""
    exact = ROWS[5]
    close = float(ROWS[10].split(",")[COLUMNS.index("ClsPric")])
    conflicting = set_field(ROWS[10], "ClsPric", f"{close + 1:.2f}")  # same key, another close
    text = HEADER + "".join(ROWS) + exact + conflicting
    nse_server.put(FILE, make_zip(MEMBER, text))
    source = len(ROWS) + 2

    assert run_and_capture(run_tasks) == (LuigiStatusCode.SUCCESS, [])
    rejects = read_stage(layout.rejects_path(data_dir, "cm", DAY)).to_pylist()
    reasons = sorted(row["reason"] for row in rejects)
    assert reasons == ["conflicting duplicate (symbol, series)"] * 2 + ["duplicate row"]
    key = [COLUMNS.index("TckrSymb"), COLUMNS.index("SctySrs")]
    assert {(row["symbol"], row["series"]) for row in rejects} == {
        tuple(ROWS[i].split(",")[k] for k in key) for i in (5, 10)}
    lake = lake_rows(data_dir)[DAY.isoformat()]
    assert lake + len(rejects) == source == SOURCE_ROWS + 2
    assert lake == SOURCE_ROWS - 1  # the conflicting key's original row went to rejects too
    assert clickhouse_rows() == lake
