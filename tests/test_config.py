"""Settings read once stay live: each read sees the environment, luigi.cfg and the command line as
they are now, never as they were at the last read."""
import luigi
from luigi.cmdline_parser import CmdlineParser
from luigi.configuration import get_config

from luigi_tasks import config
from luigi_tasks.parameters import ParamsOnce


def test_an_env_var_set_or_removed_between_reads_is_seen(monkeypatch):
    monkeypatch.setenv("NSE_BASE_URL", "http://127.0.0.1:1/first")
    assert config.nse().base_url == "http://127.0.0.1:1/first"
    assert config.nse().base_url == "http://127.0.0.1:1/first"  # the kept read
    monkeypatch.setenv("NSE_BASE_URL", "http://127.0.0.1:1/second")
    assert config.nse().base_url == "http://127.0.0.1:1/second"
    monkeypatch.delenv("NSE_BASE_URL")
    assert config.nse().base_url == "https://nsearchives.nseindia.com"  # luigi.cfg's


def test_a_luigi_cfg_value_set_or_removed_between_reads_is_seen(luigi_config):
    assert config.calendar().grace_hours == 15.0
    luigi_config("calendar", "grace_hours", "2.5")
    assert config.calendar().grace_hours == 2.5
    luigi_config("batch", "days", "3")  # a section made after the last read of it
    assert config.batch().days == 3


def test_a_default_section_value_is_seen(monkeypatch):
    parser = get_config()
    assert config.retries().download == 3
    parser.read_string("[DEFAULT]\ndownload = 7\n")  # as a luigi.cfg with a [DEFAULT] section
    try:
        assert config.retries().download == 7
    finally:
        parser.remove_option("DEFAULT", "download")
    assert config.retries().download == 3


def test_a_value_naming_an_env_var_follows_it(luigi_config, monkeypatch):
    monkeypatch.setenv("TEST_READ_TIMEOUT", "4")
    luigi_config("nse", "read_timeout", "${TEST_READ_TIMEOUT}")
    assert config.nse().read_timeout == 4.0
    monkeypatch.setenv("TEST_READ_TIMEOUT", "6")
    assert config.nse().read_timeout == 6.0


def test_the_command_line_of_a_run_is_seen_and_gone_after_it():
    assert config.nse().connect_timeout == 10.0
    with CmdlineParser.global_instance(["BhavcopyETL", "--nse-connect-timeout", "3"]):
        assert config.nse().connect_timeout == 3.0
    assert config.nse().connect_timeout == 10.0


def test_a_value_passed_in_code_wins_and_is_not_kept(monkeypatch):
    monkeypatch.setenv("DATA_DIR", "/tmp/from-env")
    assert str(config.storage(data_dir="/tmp/from-code").root) == "/tmp/from-code"
    assert str(config.storage().root) == "/tmp/from-env"


def test_a_subclass_made_later_has_its_own_parameters():
    class Base(ParamsOnce, luigi.Task):
        day = luigi.Parameter()

    assert [name for name, _ in Base.get_params()] == ["day"]

    class Later(Base):
        dataset = luigi.Parameter(default="cm")

    assert [name for name, _ in Later.get_params()] == ["day", "dataset"]
    assert [name for name, _ in Base.get_params()] == ["day"]
    assert Later(day="2025-06-18").dataset == "cm"
