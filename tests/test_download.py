"""download.check: what a served file must be before it is kept, on real NSE files."""
import zipfile
from datetime import date

import pytest

from luigi_tasks import download, local_archive
from luigi_tasks.datasets import DATASETS
from luigi_tasks.errors import BhavcopyError
from luigi_tasks.source import Fetched
from tests.nse_server import zip_bytes
from tests.support import DATA

DAY = date(2025, 6, 18)
MEMBER = "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv"
BODY = (DATA / f"{MEMBER}.zip").read_bytes()
URL = f"http://127.0.0.1/content/cm/{MEMBER}.zip"


def csv_text() -> str:
    with zipfile.ZipFile(DATA / f"{MEMBER}.zip") as archive:
        return archive.read(MEMBER).decode()


def test_nse_zip_is_checked_member_rows_and_sidecar():
    checked = download.check(DATASETS["cm"], DAY, Fetched("cm-udiff", URL, MEMBER, BODY), 10**8, prove=False)
    assert checked.member == MEMBER
    assert checked.rows == 2993
    assert {k: v for k, v in checked.sidecar.items() if k != "fetched_at"} == {
        "date": "2025-06-18", "dataset": "cm", "route": "cm-udiff", "url": URL, "member": MEMBER,
        "format": "udiff", "content": "zip"}


def test_a_local_csv_is_its_own_member_and_names_its_path():
    body = csv_text().encode()
    fetched = Fetched(local_archive.ROUTE, "/archive/cm/" + MEMBER, MEMBER, body)
    checked = download.check(DATASETS["cm"], DAY, fetched, 10**8, prove=False, copied_from=None)
    assert (checked.rows, checked.sidecar["content"], checked.sidecar["source_path"]) == (2993, "csv", fetched.url)


def test_a_zip_for_another_day_is_refused_naming_date_and_file():
    other = zip_bytes({"BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv": csv_text()})
    with pytest.raises(BhavcopyError) as refused:
        download.check(DATASETS["cm"], DAY, Fetched("cm-udiff", URL, MEMBER, other), 10**8, prove=False)
    assert str(refused.value).startswith(f"2025-06-18 {URL}")


def test_prove_parses_every_row_a_peek_would_pass():
    lines = csv_text().splitlines()
    bad = "\n".join(lines[:-1] + [lines[-1].replace("2025-06-18", "2025-06-19", 1)]) + "\n"  # a later row's date
    fetched = Fetched("cm-udiff", URL, MEMBER, zip_bytes({MEMBER: bad}))
    assert download.check(DATASETS["cm"], DAY, fetched, 10**8, prove=False).rows == 2993  # the peek passes it
    with pytest.raises(BhavcopyError) as refused:
        download.check(DATASETS["cm"], DAY, fetched, 10**8, prove=True)
    assert "2025-06-18" in str(refused.value) and MEMBER in str(refused.value)
