"""status --by month/year, --json and --html over a 20-year lake: a screen of lines, and a page a
real browser renders with its gaps visible."""
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy
import pytest
from PIL import Image

from luigi_tasks import layout, stages, trading_calendar
from luigi_tasks.__main__ import main

REPO = Path(__file__).resolve().parent.parent
START, STOP = date(2005, 1, 1), date(2025, 1, 1)
RANGE = ["--start", START.isoformat(), "--stop", STOP.isoformat(), "--dataset", "cm"]
GAP = [d for d in trading_calendar.sessions(date(2013, 3, 1), date(2013, 4, 1))][:10]  # ten sessions of March 2013
CORRUPT = date(2019, 7, 1)


def synthetic_lake(root: Path, gaps=(), corrupt=None) -> int:
    """Every stage's file and seal for every session of 2005-2024, as status reads them (names,
    sizes, seals); the files themselves are one byte: status never reads them whole."""
    days = trading_calendar.sessions(START, STOP)
    for day in days:
        for output in stages.STAGES:
            if day in gaps and output.stage in ("WriteParquet", "LoadClickHouse"):
                continue
            path = output.path(root, "cm", day)
            path.parent.mkdir(parents=True, exist_ok=True)
            if output.sealed:
                path.write_bytes(b"xx" if day == corrupt and output.stage == "WriteParquet" else b"x")
                output.record(root, "cm", day).write_text(json.dumps(
                    {"bytes": 1, "sha256": "0" * 64, "rows": 2300, "route": "cm-legacy"}))
            else:
                path.write_text(json.dumps({"rows": 2300}))
    return len(days)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    whole, gappy = tmp_path_factory.mktemp("whole"), tmp_path_factory.mktemp("gappy")
    return {"whole": (whole, synthetic_lake(whole)), "gappy": (gappy, synthetic_lake(gappy, GAP, CORRUPT))}


def test_status_by_month_over_20_years_is_one_screen_with_the_gaps_on_their_own_lines(lakes, monkeypatch, capsys):
    root, sessions = lakes["gappy"]
    monkeypatch.setenv("DATA_DIR", str(root))
    assert main(["status", *RANGE, "--by", "month"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6  # four runs of whole months around the two bad ones, and the summary
    assert lines[0].startswith("2005-01..2013-02  cm")
    assert lines[1].startswith("2013-03           cm")
    assert "10 missing" in lines[1] and "11 done" not in lines[1]
    assert lines[2].startswith("2013-04..2019-06  cm")
    assert lines[3].startswith("2019-07           cm") and "1 corrupt" in lines[3]
    assert lines[4].startswith("2019-08..2024-12  cm")
    assert lines[-1] == (f"summary: {sessions} session-days in [2005-01-01, 2025-01-01): {sessions - 11} done, "
                         "10 missing, 1 corrupt; " + lines[-1].split("; ")[-1])

    assert main(["status", *RANGE, "--by", "year"]) == 1
    years = capsys.readouterr().out.splitlines()
    assert [line[:17].strip() for line in years[:-1]] == ["2005..2012", "2013", "2014..2018", "2019", "2020..2024"]


def test_status_json_gives_the_same_facts(lakes, monkeypatch, capsys):
    root, sessions = lakes["gappy"]
    monkeypatch.setenv("DATA_DIR", str(root))
    assert main(["status", *RANGE, "--by", "month", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    march = next(p for p in document["periods"] if p["period"] == "2013-03")
    assert march["counts"]["missing"] == 10 and march["sessions"] == len(trading_calendar.sessions(
        date(2013, 3, 1), date(2013, 4, 1)))
    assert sum(p["counts"]["done"] for p in document["periods"]) == sessions - 11
    assert main(["status", "--start", "2013-03-01", "--stop", "2013-03-08", "--dataset", "cm", "--json"]) == 1
    days = json.loads(capsys.readouterr().out)["days"]
    assert [d["state"] for d in days if d["day"] == GAP[0].isoformat()] == ["missing"]
    assert next(d for d in days if d["day"] == GAP[0].isoformat())["missing_stage"] == "WriteParquet"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("NSE_TEST_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed, and NSE_TEST_REQUIRE_CHROMIUM says it must be (.ci/run)")
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    return found


def render(page: Path, shot: Path) -> str:
    """Open the page in headless Chromium: a screenshot, and the DOM after its scripts ran."""
    common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--window-size=1400,1100", "--virtual-time-budget=10000", "--user-data-dir=" + str(shot.parent / "profile")]
    subprocess.run([*common, f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    return subprocess.run([*common, "--dump-dom", page.as_uri()], check=True, capture_output=True, text=True,
                          timeout=120).stdout


def red_pixels(shot: Path) -> int:
    pixels = numpy.asarray(Image.open(shot).convert("RGB")).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((red > 190) & (green < 40) & (blue < 40)).sum())  # "missing" is #d50000


def test_the_coverage_page_renders_in_chromium_with_the_missing_days_visible(lakes, tmp_path, monkeypatch):
    shots = {}
    for name in ("whole", "gappy"):
        root, _ = lakes[name]
        monkeypatch.setenv("DATA_DIR", str(root))
        page = tmp_path / f"{name}.html"
        main(["status", *RANGE, "--by", "month", "--html", str(page)])
        assert not re.search(r"<script[^>]+src=", page.read_text())  # self-contained: plotly.js is inlined
        shots[name] = tmp_path / f"{name}.png"
        dom = render(page, shots[name])
        assert 'class="main-svg"' in dom  # plotly drew the heat-map
        assert "heatmap" in dom
        assert "<td>2013-03</td><td>cm</td>" in dom
    assert Image.open(shots["gappy"]).size == (1400, 1100)
    # the ten missing sessions of March 2013 are red cells; the whole lake has only the legend's red
    assert red_pixels(shots["gappy"]) > red_pixels(shots["whole"]) + 20
    assert f"{GAP[0].isoformat()}  cm       missing  from WriteParquet" in (tmp_path / "gappy.html").read_text()  # the hover


def test_every_status_state_has_a_colour_and_a_cell():
    """Late, unknown and not-due days (the evening run's states) are drawn too, not only done and missing."""
    from luigi_tasks import coverage
    from luigi_tasks.status import STATES, DayStatus

    statuses = [DayStatus(date(2026, 12, 1 + i), "cm", state) for i, state in enumerate(STATES)]
    assert set(coverage.COLOURS) == set(STATES)
    page = coverage.page(statuses, "all states")
    assert all(f">{state}</span>" in page for state in STATES)
    rows = coverage.periods(statuses, "month")
    assert [(p.period, p.counts) for p in rows] == [("2026-12", dict.fromkeys(STATES, 1))]
