"""Zip checks: one CSV member under NSE's name, bounded size, readable to the end."""
from datetime import date

import pytest

from luigi_tasks import rawfile
from luigi_tasks.errors import BhavcopyError

from tests.support import DATA
from tests.nse_server import zip_bytes

DAY = date(2025, 6, 18)
MEMBER = "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv"
BODY = (DATA / f"{MEMBER}.zip").read_bytes()


make_zip = zip_bytes


def test_reads_the_one_member_of_a_real_file():
    name, data = rawfile.read_member(BODY, DAY, "f.zip", MEMBER, 10**8)
    assert name == MEMBER
    assert data.startswith(b"TradDt,BizDt,") and len(data) == 517153


def test_truncated_zip_is_rejected_naming_date_and_file():
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 f\.zip: not a readable zip .*truncated") :
        rawfile.read_member(BODY[: len(BODY) // 2], DAY, "f.zip", MEMBER, 10**8)


def test_two_members_are_rejected():
    body = make_zip({MEMBER: b"a", "other.csv": b"b"})
    with pytest.raises(BhavcopyError, match="exactly one CSV member, found 2"):
        rawfile.read_member(body, DAY, "f.zip", MEMBER, 10**8)


@pytest.mark.parametrize("name", ["../x.csv", "/etc/passwd.csv", "cm18JUN2025bhav.csv"])
def test_member_name_other_than_nses_is_rejected(name):
    with pytest.raises(BhavcopyError, match="is not NSE's name for this day"):
        rawfile.read_member(make_zip({name: b"x"}), DAY, "f.zip", MEMBER, 10**8)


def test_zip_bomb_is_capped():
    bomb = make_zip({MEMBER: b"0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(BhavcopyError, match="over the 1048576-byte cap"):
        rawfile.read_member(bomb, DAY, "f.zip", MEMBER, 1024 * 1024)


def test_corrupt_member_data_is_rejected():
    body = bytearray(BODY)
    body[200:210] = b"\x00" * 10  # inside the compressed data: CRC or inflate fails
    with pytest.raises(BhavcopyError, match="corrupt or truncated"):
        rawfile.read_member(bytes(body), DAY, "f.zip", MEMBER, 10**8)


def encrypted(body: bytes) -> bytes:
    """The zip with its member marked encrypted (bit 0 of the flags), as a password-protected zip is."""
    data = bytearray(body)
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    return bytes(data)


def test_an_encrypted_zip_is_refused_naming_the_date():
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 f\.zip: zip member '.*' is encrypted \(password-protected\)"):
        rawfile.read_member(encrypted(BODY), DAY, "f.zip", MEMBER, 10**8)


def test_a_bare_csv_where_a_zip_belongs_is_named_so():
    csv_bytes = rawfile.read_member(BODY, DAY, "f.zip", MEMBER, 10**8)[1]
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 f\.zip: a bare CSV file \(517153 bytes\) where NSE serves a zip$"):
        rawfile.read_member(csv_bytes, DAY, "f.zip", MEMBER, 10**8)
