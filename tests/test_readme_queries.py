"""The README's "Query it" snippets, run as a reader runs them: from the folder holding `data/`.

The pipeline builds that `data/` in a process of its own, as the quick start does (embedded
ClickHouse under `data/clickhouse`, database `nse`), from two real fixture days. Each snippet then
runs in a fresh interpreter (chdb allows one engine folder per process) and must print both days'
row counts, so a snippet that runs but reads nothing, or the wrong thing, fails too.
"""
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DAYS = {date(2022, 12, 1): 2339, date(2025, 6, 18): 2993}  # NSE's rows in the fixture files


def query_snippets() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Query it\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_has_a_snippet_per_engine():
    engines = [re.search(r"^import (\w+)", snippet, re.M)[1] for snippet in query_snippets()]
    assert engines == ["duckdb", "polars", "pandas", "pyarrow", "clickhouse_connect"]


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory):
    """A folder with `data/` as the quick start leaves it, for the two fixture days."""
    from tests.support import DATA
    from tests.nse_server import NSEServer

    folder = tmp_path_factory.mktemp("reader")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("LUIGI_", "NSE_", "MLFLOW_", "CLICKHOUSE_", "CHDB_"))}
    build = ("import datetime, luigi; from luigi_tasks.tasks import BhavcopyETL; "
             f"ok = luigi.build([BhavcopyETL(date=d, datasets=['cm']) for d in {sorted(DAYS)!r}], "
             "local_scheduler=True, log_level='WARNING'); raise SystemExit(0 if ok else 1)")
    with NSEServer.from_folder(DATA) as server:
        env.update(DATA_DIR=str(folder / "data"), NSE_BASE_URL=server.url, NSE_WEB_URL=server.url,
                   MLFLOW_ENABLED="false")
        run = subprocess.run([sys.executable, "-c", build], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return folder


@pytest.mark.parametrize("snippet", query_snippets(), ids=lambda s: re.search(r"^import (\w+)", s, re.M)[1])
def test_a_readme_query_reads_every_row_of_the_lake(reader_folder, snippet):
    run = subprocess.run([sys.executable, "-c", snippet], cwd=reader_folder, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    printed = run.stdout.replace(",", "").replace("_", "")
    for day, rows in DAYS.items():
        assert str(rows) in printed, f"{day}: {rows} rows not in the output:\n{run.stdout}"
