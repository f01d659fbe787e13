"""Shared fixtures: a DATA_DIR per test, a local NSE archive on 127.0.0.1, and a Luigi runner."""
import hashlib
import re

import luigi
import pytest
from luigi.configuration import get_config
from luigi.task_register import Register

from luigi_tasks import gates, handoff, local_archive, metrics, nse_access, run_calendar
from tests.nse_server import NSEServer
from tests.support import DATA


@pytest.fixture
def luigi_config():
    """Set luigi.cfg values for one test; they are restored afterwards."""
    config = get_config()
    saved = []

    def set_value(section, option, value):
        had = config.has_option(section, option)
        saved.append((section, option, config.get(section, option) if had else None, had))
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, option, str(value))

    yield set_value
    for section, option, value, had in reversed(saved):
        if had:
            config.set(section, option, value)
        else:
            config.remove_option(section, option)


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory):
    """One real MLflow store for the session: creating a sqlite store costs about 2 s."""
    return "sqlite:///" + str(tmp_path_factory.mktemp("mlflow") / "mlflow.db")


@pytest.fixture(autouse=True)
def fresh_tasks():
    """Luigi caches task instances per process, and a run keeps one HTTP session (with the main
    site's cookies) and one index of the local archive: none may leak from one test into the next."""
    Register.clear_instance_cache()
    nse_access._session.cache_clear()
    nse_access.web_site.cache_clear()
    run_calendar._holiday_list.cache_clear()
    nse_access._PROBES.clear()
    gates._UNKNOWN_LOGGED.clear()
    local_archive.index.cache_clear()
    handoff.clear()


@pytest.fixture(autouse=True)
def one_attempt(luigi_config):
    """luigi.cfg retries a failed stage for minutes; tests that want retries turn them on.

    Tests are about the equity bhavcopy unless they ask for other datasets (the fixtures hold
    F&O and delivery files for other dates)."""
    luigi_config("worker", "keep_alive", "false")
    luigi_config("BhavcopyETL", "datasets", '["cm"]')


@pytest.fixture(autouse=True)
def mlflow_store(mlflow_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    return mlflow_uri


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory):
    """One embedded ClickHouse folder for the session: chdb allows one folder per process."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(autouse=True)
def clickhouse_database(request, chdb_path, monkeypatch):
    """Every test loads the real embedded engine, into a database of its own."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]  # long parametrized names differ late
    name = re.sub(r"\W", "_", f"t_{request.node.name}", flags=re.ASCII)[:50] + f"_{digest}"
    monkeypatch.setenv("CHDB_PATH", str(chdb_path))
    monkeypatch.setenv("CLICKHOUSE_DATABASE", name)
    monkeypatch.delenv("CLICKHOUSE_HOST", raising=False)
    return name


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    root = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(root))
    return root


@pytest.fixture
def nse_server(monkeypatch, luigi_config):
    """NSE's archive, served from tests/data; retries are quick so fault tests stay fast."""
    with NSEServer.from_folder(DATA) as server:
        monkeypatch.setenv("NSE_BASE_URL", server.url)
        monkeypatch.setenv("NSE_WEB_URL", server.url)  # the reports API, on the same emulator
        luigi_config("nse", "api_min_interval", "0")
        luigi_config("nse", "backoff_factor", "0")
        luigi_config("nse", "connect_timeout", "2")
        luigi_config("nse", "read_timeout", "2")
        yield server


@pytest.fixture
def run_tasks():
    """Run tasks in-process on the local scheduler; returns Luigi's detailed result."""

    def run(*tasks):
        result = luigi.build(list(tasks), local_scheduler=True, detailed_summary=True, workers=1, log_level="WARNING")
        metrics.drain()  # as at the exit of a `luigi` command: queued MLflow runs are written
        return result

    return run
