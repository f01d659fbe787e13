"""PURPOSE text -> actions (purpose.py): NSE's own wordings, several actions in one text, texts not understood."""
import pytest

from luigi_tasks.purpose import parse_purpose


@pytest.mark.parametrize("text, expected", [
    ("BONUS 1:3", [("bonus", "BONUS 1:3", 1, 3, 0.75)]),
    ("BONUS 10:1", [("bonus", "BONUS 10:1", 10, 1, 1 / 11)]),
    ("BONUS 3:5", [("bonus", "BONUS 3:5", 3, 5, 5 / 8)]),  # AKG, ex 2020-12-07: 60.60 x 5/8 = 37.875
    ("FVSPLT FRM RS 10 TO RS 2", [("split", "FVSPLT FRM RS 10 TO RS 2", 2, 10, 0.2)]),
    ("FVSPLT FRM RS10 TO RE1", [("split", "FVSPLT FRM RS10 TO RE1", 1, 10, 0.1)]),
    ("FACE VALUE SPLIT (SUB-DIVISION) - FROM RS 10/- PER SHARE TO RS 2/- PER SHARE",
     [("split", "FACE VALUE SPLIT (SUB-DIVISION) - FROM RS 10/- PER SHARE TO RS 2/- PER SHARE", 2, 10, 0.2)]),
    ("CONSOLIDATION FRM RE 1 TO RS 10", [("consolidation", "CONSOLIDATION FRM RE 1 TO RS 10", 10, 1, 10.0)]),
    ("RIGHTS 1:4 @ PRM RS 6/-", [("rights", "RIGHTS 1:4 @ PRM RS 6/-", 1, 4, None)]),
    ("DEMERGER", [("demerger", "DEMERGER", None, None, None)]),
    ("AGM/DIV - RE 0.5 PER SH", [("meeting", "AGM", None, None, None), ("dividend", "DIV - RE 0.5 PER SH", None, None, None)]),
    ("DIV-RS0.40/SPLDIV-RS0.20", [("dividend", "DIV-RS0.40", None, None, None), ("dividend", "SPLDIV-RS0.20", None, None, None)]),
    ("  annual   general meeting ", [("meeting", "ANNUAL GENERAL MEETING", None, None, None)]),
    ("INTEREST PAYMENT", [("other", "INTEREST PAYMENT", None, None, None)]),
])
def test_nse_wordings(text, expected):
    found = [(a.kind, a.purpose, a.ratio_new, a.ratio_old, a.factor) for a in parse_purpose(text)]
    assert [row[:4] for row in found] == [row[:4] for row in expected]
    assert [row[4] for row in found] == [pytest.approx(row[4]) if row[4] else None for row in expected]
    assert all(action.understood for action in parse_purpose(text))


def test_dividend_amounts():
    assert [a.amount for a in parse_purpose("DIV-RS0.40/SPLDIV-RS0.20")] == [0.4, 0.2]
    assert [a.amount for a in parse_purpose("INTDIV - RS 4 PER SH")] == [4.0]


@pytest.mark.parametrize("text", ["SCHEME OF ARRANGEMENT", "BONUS", "FVSPLT", "RIGHTS ISSUE", "BONUS 0:1"])
def test_texts_not_understood_are_kept_as_other(text):
    (action,) = parse_purpose(text)
    assert (action.kind, action.factor, action.understood) == ("other", None, False)
    assert action.purpose == text
