"""local_archive.py: index a folder once, find a day's file under NSE's or the peers' names, check it."""
import io
import os
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from luigi_tasks import local_archive
from luigi_tasks.datasets import DATASETS
from luigi_tasks.errors import BhavcopyError
from tests.nse_server import member_text, zip_bytes

DATA = Path(__file__).parent / "data"
CM, FO, DELIVERY = DATASETS["cm"], DATASETS["fo"], DATASETS["delivery"]
DEC1, DEC2, JUN18 = date(2022, 12, 1), date(2022, 12, 2), date(2025, 6, 18)
CAP = 200 * 1024 * 1024
LEGACY_DEC1 = member_text(DATA / "cm01DEC2022bhav.csv.zip").encode()
LEGACY_DEC2 = member_text(DATA / "cm02DEC2022bhav.csv.zip").encode()
UDIFF_JUN18 = member_text(DATA / "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip").encode()
FULL_JUN18 = (DATA / "sec_bhavdata_full_18062025.csv").read_bytes()


def put(folder: Path, relative: str, body: bytes) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def fetch(dataset, day, *folders, offline=False):
    return local_archive.fetch(dataset, day, tuple(str(f) for f in folders), CAP, offline)


def redated(legacy: bytes, stamp: str, day: date) -> bytes:
    return legacy.replace(stamp.encode(), day.strftime("%d-%b-%Y").upper().encode())


def pandas_copy(csv_bytes: bytes, index_col: str) -> bytes:
    """What eod2 keeps: `pd.read_csv(file, index_col=...).to_csv(folder / file.name)`."""
    out = io.StringIO()
    pd.read_csv(io.BytesIO(csv_bytes), index_col=index_col).to_csv(out)
    return out.getvalue().encode()


# --- the index -------------------------------------------------------------------------------------

def test_index_holds_every_file_below_each_folder_by_lower_cased_name(tmp_path):
    first = put(tmp_path / "a", "2022/DEC/cm01DEC2022bhav.csv.zip", b"x")
    second = put(tmp_path / "b", "deep/er/cm01Dec2022bhav.csv", b"y")
    archive = local_archive.index((str(tmp_path / "a"), str(tmp_path / "b")))
    assert archive.files["cm01dec2022bhav.csv.zip"] == (str(first),)
    assert archive.paths(CM.archive_names(DEC1)) == [str(first), str(second)]  # NSE's zip first, then the CSV
    assert archive.paths(CM.archive_names(DEC2)) == []


def test_index_is_built_once_per_folder_list(tmp_path):
    put(tmp_path, "cm01DEC2022bhav.csv.zip", b"x")
    folders = (str(tmp_path),)
    assert local_archive.index(folders) is local_archive.index(folders)
    put(tmp_path, "cm02DEC2022bhav.csv.zip", b"x")  # a file added later is not seen by this process
    assert local_archive.index(folders).paths(CM.archive_names(DEC2)) == []
    assert local_archive.index.cache_info().misses == 1


def test_a_folder_that_is_not_there_is_named(tmp_path):
    with pytest.raises(ValueError, match=f"local_archive: {tmp_path / 'gone'} is not a folder"):
        local_archive.index((str(tmp_path / "gone"),))


def test_symlinked_folders_are_not_walked(tmp_path):
    put(tmp_path / "elsewhere", "cm01DEC2022bhav.csv.zip", b"x")
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "linked").symlink_to(tmp_path / "elsewhere")
    assert local_archive.index((str(tmp_path / "archive"),)).files == {}


# --- NSE's names and the peers' --------------------------------------------------------------------

def test_nse_zip_is_served_as_found_with_its_member(tmp_path):
    body = (DATA / "cm01DEC2022bhav.csv.zip").read_bytes()
    path = put(tmp_path, "2022/cm01DEC2022bhav.csv.zip", body)
    fetched = fetch(CM, DEC1, tmp_path)
    assert (fetched.route, fetched.url, fetched.member, fetched.body) == ("local", str(path), "cm01DEC2022bhav.csv", body)


def test_jugaad_data_bare_csv_with_a_title_case_month(tmp_path):
    path = put(tmp_path, "cm02Dec2022bhav.csv", LEGACY_DEC2)
    fetched = fetch(CM, DEC2, tmp_path)
    assert (fetched.url, fetched.member, fetched.body) == (str(path), "cm02Dec2022bhav.csv", LEGACY_DEC2)


def test_jugaad_data_delivery_name(tmp_path):
    path = put(tmp_path, "sec_bhavdata_full_18Jun2025bhav.csv", FULL_JUN18)
    assert fetch(DELIVERY, JUN18, tmp_path).url == str(path)


def test_nse_package_extracted_udiff_csv_as_eod2_downloads_it(tmp_path):
    path = put(tmp_path, "nseBhav/2025/BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv", UDIFF_JUN18)
    assert fetch(CM, JUN18, tmp_path).body == UDIFF_JUN18
    assert local_archive.find(CM, JUN18, local_archive.index((str(tmp_path),)), CAP)[0].path == str(path)


def test_fo_bare_udiff_csv(tmp_path):
    csv_bytes = member_text(DATA / "BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv.zip").encode()
    put(tmp_path, "BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv", csv_bytes)
    assert fetch(FO, date(2025, 2, 3), tmp_path).body == csv_bytes


def test_eod2_delivery_copy_keeps_nse_columns_and_values_so_it_is_read(tmp_path):
    rewritten = pandas_copy(FULL_JUN18, "SYMBOL")
    assert rewritten != FULL_JUN18  # numbers reformatted: ' 108.20' -> '108.2'
    put(tmp_path, "nseDelivery/2025/sec_bhavdata_full_18062025.csv", rewritten)
    assert fetch(DELIVERY, JUN18, tmp_path).body == rewritten
    assert DELIVERY.parse(rewritten, JUN18, "x").equals(DELIVERY.parse(FULL_JUN18, JUN18, "y"))


def test_eod2_bhavcopy_copy_is_refused_because_pandas_rewrote_it(tmp_path):
    rewritten = pandas_copy(UDIFF_JUN18, "ISIN")
    # the rewrite loses data: NSE's series NA (bonds) becomes an empty cell
    assert b",NA," in UDIFF_JUN18 and b",NA," not in rewritten
    path = put(tmp_path, "nseBhav/2025/BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv", rewritten)
    found, refused = local_archive.find(CM, JUN18, local_archive.index((str(tmp_path),)), CAP)
    assert found is None
    assert refused == [f"{path}: columns are not in NSE's udiff order: a tool rewrote this file (eod2's pandas "
                       f"copies put ISIN first and empty the series NA); import NSE's own file instead"]


# --- the checks a download meets ---------------------------------------------------------------------

def test_a_wrong_date_file_renamed_as_another_day_is_refused(tmp_path):
    path = put(tmp_path, "cm02Dec2022bhav.csv", LEGACY_DEC1)
    assert fetch(CM, DEC2, tmp_path) is None  # the network routes are tried next
    with pytest.raises(BhavcopyError) as raised:
        fetch(CM, DEC2, tmp_path, offline=True)
    assert str(raised.value) == (
        f"2022-12-02 cm: not in the local archive {tmp_path} and [nse] offline is set (looked for "
        f"{', '.join(CM.archive_names(DEC2))}; refused {path}: wrong trade date inside the file: 2022-12-01 "
        f"(expected 2022-12-02))")


def test_a_renamed_zip_fails_the_member_check(tmp_path):
    path = put(tmp_path, "cm02DEC2022bhav.csv.zip", (DATA / "cm01DEC2022bhav.csv.zip").read_bytes())
    _, refused = local_archive.find(CM, DEC2, local_archive.index((str(tmp_path),)), CAP)
    assert refused == [f"{path}: zip member 'cm01DEC2022bhav.csv' is not NSE's name for this day "
                       f"('cm02DEC2022bhav.csv')"]


@pytest.mark.parametrize("body, problem", [
    (b"", "empty file: no header line"),
    (b"<!DOCTYPE html><html>blocked</html>\n", "unknown header, not udiff or legacy"),
    (LEGACY_DEC2.split(b"\n", 1)[0] + b"\n", "header only"),
    (FULL_JUN18, "unknown header, not udiff or legacy"),  # jugaad-data >= 0.32 may save the delivery layout
])
def test_a_file_that_is_not_the_days_bhavcopy_is_refused(tmp_path, body, problem):
    put(tmp_path, "cm02Dec2022bhav.csv", body)
    found, refused = local_archive.find(CM, DEC2, local_archive.index((str(tmp_path),)), CAP)
    assert found is None and len(refused) == 1 and problem in refused[0]


def test_a_file_over_the_cap_is_refused_unread(tmp_path):
    path = put(tmp_path, "cm02Dec2022bhav.csv", LEGACY_DEC2)
    archive = local_archive.index((str(tmp_path),))
    with pytest.raises(BhavcopyError, match=f"{path}: {len(LEGACY_DEC2)} bytes, over the 1000-byte cap"):
        local_archive.read(archive, str(path), DEC2, 1000)


def test_a_symlink_leaving_the_archive_is_refused(tmp_path):
    outside = put(tmp_path / "outside", "secret.csv", LEGACY_DEC2)
    (tmp_path / "archive").mkdir()
    link = tmp_path / "archive" / "cm02DEC2022bhav.csv"
    link.symlink_to(outside)
    found, refused = local_archive.find(CM, DEC2, local_archive.index((str(tmp_path / "archive"),)), CAP)
    assert found is None
    assert refused == [f"{link}: a symlink to {outside}, outside the local archive {tmp_path / 'archive'}: refused"]


def test_a_symlink_within_the_archive_is_followed(tmp_path):
    target = put(tmp_path, "store/any-name.csv", LEGACY_DEC2)
    (tmp_path / "cm02DEC2022bhav.csv").symlink_to(target)
    assert fetch(CM, DEC2, tmp_path).body == LEGACY_DEC2


def test_unreadable_files_get_a_clear_error_and_a_fifo_never_blocks(tmp_path):
    dangling = tmp_path / "cm02DEC2022bhav.csv"
    dangling.symlink_to(tmp_path / "was-deleted.csv")
    fifo = tmp_path / "cm02Dec2022bhav.csv"
    os.mkfifo(tmp_path / "sub-fifo")
    fifo.symlink_to(tmp_path / "sub-fifo")
    _, refused = local_archive.find(CM, DEC2, local_archive.index((str(tmp_path),)), CAP)
    assert sorted(refused) == [f"{dangling}: cannot read the file: No such file or directory",
                               f"{fifo}: not a regular file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_a_file_without_read_permission(tmp_path):
    path = put(tmp_path, "cm02DEC2022bhav.csv", LEGACY_DEC2)
    path.chmod(0)
    _, refused = local_archive.find(CM, DEC2, local_archive.index((str(tmp_path),)), CAP)
    assert refused == [f"{path}: cannot read the file: Permission denied"]


# --- one day, several files --------------------------------------------------------------------------

def test_the_same_bytes_twice_and_a_zip_beside_its_csv_are_one_file(tmp_path):
    body = (DATA / "cm01DEC2022bhav.csv.zip").read_bytes()
    first = put(tmp_path / "a", "cm01DEC2022bhav.csv.zip", body)
    put(tmp_path / "b", "copy/cm01DEC2022bhav.csv.zip", body)
    put(tmp_path / "b", "cm01Dec2022bhav.csv", LEGACY_DEC1.replace(b"\n", b"\r\n"))  # jugaad-data on Windows
    fetched = fetch(CM, DEC1, tmp_path / "a", tmp_path / "b")
    assert (fetched.url, fetched.body) == (str(first), body)


def test_two_different_files_for_one_day_are_refused_naming_both(tmp_path):
    nse_zip = put(tmp_path, "nse/cm05DEC2022bhav.csv.zip",
                  zip_bytes({"cm05DEC2022bhav.csv": redated(LEGACY_DEC1, "01-DEC-2022", date(2022, 12, 5))}))
    other = put(tmp_path, "jugaad/cm05Dec2022bhav.csv", redated(LEGACY_DEC2, "02-DEC-2022", date(2022, 12, 5)))
    with pytest.raises(BhavcopyError) as raised:
        fetch(CM, date(2022, 12, 5), tmp_path)
    assert str(raised.value) == (f"2022-12-05 {nse_zip}: differs from {other}: two different cm files for this day "
                                 f"in the local archive; remove the wrong one")


def test_a_refused_file_beside_a_good_one_leaves_the_good_one(tmp_path):
    good = put(tmp_path, "cm02DEC2022bhav.csv.zip", (DATA / "cm02DEC2022bhav.csv.zip").read_bytes())
    put(tmp_path, "cm02Dec2022bhav.csv", LEGACY_DEC1)  # 1 December's rows under 2 December's name
    assert fetch(CM, DEC2, tmp_path, offline=True).url == str(good)


# --- offline ---------------------------------------------------------------------------------------

def test_offline_without_an_archive_fails_before_any_request():
    with pytest.raises(BhavcopyError, match="2022-12-01 cm: not in the local archive .none is set: "
                                            r"\[nse\] local_archive. and \[nse\] offline is set"):
        local_archive.fetch(CM, DEC1, (), CAP, True)
    assert local_archive.fetch(CM, DEC1, (), CAP, False) is None


def test_names_come_from_each_dataset_module():
    assert CM.archive_names(DEC1) == [
        "BhavCopy_NSE_CM_0_0_0_20221201_F_0000.csv.zip", "BhavCopy_NSE_CM_0_0_0_20221201_F_0000.csv",
        "cm01DEC2022bhav.csv.zip", "cm01DEC2022bhav.csv", "cm01Dec2022bhav.csv"]
    assert DELIVERY.archive_names(JUN18) == [
        "sec_bhavdata_full_18062025.csv", "sec_bhavdata_full_18Jun2025bhav.csv", "sec_bhavdata_full_18062025bhav.csv"]
    assert FO.archive_names(DEC1)[-1] == "fo01Dec2022bhav.csv"
