"""The systemd units in systemd/ as shipped: verify cleanly, fire at the right times.

Needs `systemd-analyze` (systemd >= 252 for time zones in calendar specs); every
test that needs it is skipped, with the reason, when it is absent.  Nothing of
the project has to be installed: the units start programs through /usr/bin/env,
so `verify` does not look for /opt/nse-bhavcopy-luigi.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parent.parent / "systemd"
SERVICES = ("luigid.service", "bhavcopy-etl.service", "mlflow-writer.service")
TIMER = "bhavcopy-etl.timer"
UNITS = (*SERVICES, TIMER)

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or (
    "/usr/bin/systemd-analyze" if os.access("/usr/bin/systemd-analyze", os.X_OK) else None
)
needs_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")

# The two weekday runs, 18:00 and 21:00 in India (UTC+05:30, no DST).
EXPECTED_UTC = {"18:00:00": "12:30:00", "21:00:00": "15:30:00"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri")
ITERATIONS = 10  # two full weeks


# --------------------------------------------------------------------------- helpers


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}}; keys may repeat, as systemd allows."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: setting outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def analyze(*args: str, tz: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}  # default log level
    env["SYSTEMD_PAGER"] = "cat"
    env["SYSTEMD_COLORS"] = "0"
    if tz is not None:
        env["TZ"] = tz
    return subprocess.run(
        [SYSTEMD_ANALYZE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def verify(*paths: Path, cwd: Path) -> subprocess.CompletedProcess:
    return analyze("verify", *map(str, paths), cwd=cwd)


def our_lines(stderr: str, names) -> list[str]:
    return [line for line in stderr.splitlines() if any(name in line for name in names)]


_STAMP = re.compile(r"(?P<dow>[A-Z][a-z]{2}) (?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2}) UTC$")


def utc_elapses(output: str) -> list[tuple[str, str, str]]:
    """(weekday, date, time) in UTC of every iteration `systemd-analyze calendar` printed.

    When the local zone is not UTC each iteration is followed by a "(in UTC): ..."
    line; when it is UTC (TZ=UTC) the "Next elapse:" / "Iter. #n:" lines are already UTC.
    """
    lines = [line.strip() for line in output.splitlines()]
    in_utc = [line for line in lines if line.startswith("(in UTC):")]
    if not in_utc:
        in_utc = [line for line in lines if line.startswith(("Next elapse:", "Iter. #"))]
    found = []
    for line in in_utc:
        m = _STAMP.search(line)
        assert m, f"unexpected calendar output line: {line!r}\n{output}"
        found.append((m["dow"], m["date"], m["time"]))
    return found


# --------------------------------------------------------------------------- (a) verify as shipped


@needs_analyze
def test_shipped_units_verify_cleanly(tmp_path):
    paths = [UNIT_DIR / name for name in UNITS]
    for p in paths:
        assert p.is_file(), f"missing unit file {p}"
    # Run from an empty directory so nothing in the checkout can help.
    result = verify(*paths, cwd=tmp_path)
    ours = our_lines(result.stderr + result.stdout, UNITS)
    assert result.returncode == 0, f"verify failed ({result.returncode}):\n{result.stderr}"
    assert not ours, "systemd-analyze verify complained about our units:\n" + "\n".join(ours)


@needs_analyze
@pytest.mark.parametrize("name", UNITS)
def test_each_unit_verifies_on_its_own(tmp_path, name):
    """A copy alone in a fresh directory: the timer must not lean on anything but its service."""
    shutil.copy(UNIT_DIR / name, tmp_path / name)
    if name == TIMER:
        shutil.copy(UNIT_DIR / "bhavcopy-etl.service", tmp_path / "bhavcopy-etl.service")
    result = verify(tmp_path / name, cwd=tmp_path)
    ours = our_lines(result.stderr + result.stdout, UNITS)
    assert result.returncode == 0 and not ours, result.stderr


# --------------------------------------------------------------------------- (b) calendar


def on_calendar_specs() -> list[str]:
    return parse_unit(UNIT_DIR / TIMER)["Timer"]["OnCalendar"]


def test_timer_has_the_two_weekday_india_specs():
    specs = on_calendar_specs()
    assert len(specs) == 2, specs
    for spec in specs:
        assert spec.startswith("Mon..Fri "), spec
        assert spec.endswith(" Asia/Kolkata"), spec
    assert sorted(re.search(r"\d{2}:\d{2}:\d{2}", s).group() for s in specs) == sorted(EXPECTED_UTC)


@needs_analyze
@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])  # the answer must not depend on the machine zone
@pytest.mark.parametrize("spec", on_calendar_specs())
def test_calendar_next_elapses_are_weekday_evenings_in_india(spec, tz):
    result = analyze("calendar", f"--iterations={ITERATIONS}", spec, tz=tz)
    assert result.returncode == 0, result.stderr
    elapses = utc_elapses(result.stdout)
    assert len(elapses) == ITERATIONS, result.stdout

    local_time = re.search(r"\d{2}:\d{2}:\d{2}", spec).group()
    want_utc = EXPECTED_UTC[local_time]
    for dow, date, time in elapses:
        assert time == want_utc, f"{spec}: fires at {time} UTC, want {want_utc}\n{result.stdout}"
        assert dow in WEEKDAYS, f"{spec}: fires on {dow} {date}\n{result.stdout}"
        assert datetime.strptime(date, "%Y-%m-%d").strftime("%a") == dow

    # Consecutive: every weekday, none skipped (next day, or Fri -> Mon).
    dates = [datetime.strptime(d, "%Y-%m-%d") for _, d, _ in elapses]
    for before, after in zip(dates, dates[1:]):
        gap = (after - before).days
        assert gap == (3 if before.weekday() == 4 else 1), f"{before:%a %F} -> {after:%a %F}"

    # And the first one is indeed the next one from now.
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    first = datetime.strptime(f"{elapses[0][1]} {elapses[0][2]}", "%Y-%m-%d %H:%M:%S")
    assert now - timedelta(minutes=5) <= first <= now + timedelta(days=3, hours=1)


# --------------------------------------------------------------------------- (c) static properties


def test_timer_settings():
    timer = parse_unit(UNIT_DIR / TIMER)
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Timer"]["Unit"] == ["bhavcopy-etl.service"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_etl_service_settings():
    svc = parse_unit(UNIT_DIR / "bhavcopy-etl.service")
    s = svc["Service"]
    assert s["Type"] == ["oneshot"]
    assert s["WorkingDirectory"] == ["/opt/nse-bhavcopy-luigi"]
    assert "DATA_DIR=/var/lib/nse-bhavcopy" in s["Environment"]
    assert "TimeoutStartSec" in s
    unit = svc["Unit"]
    for dep in ("luigid.service", "network-online.target", "mlflow-writer.service"):
        assert any(dep in v.split() for v in unit["Wants"]), dep
        assert any(dep in v.split() for v in unit["After"]), dep


def test_luigid_service_settings():
    s = parse_unit(UNIT_DIR / "luigid.service")["Service"]
    assert s["Restart"] == ["on-failure"]
    (cmd,) = s["ExecStart"]
    argv = cmd.split()
    assert argv[argv.index("--address") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "8082"
    state = argv[argv.index("--state-path") + 1]
    # Persisted in the unit's StateDirectory (%S = /var/lib for system units).
    (state_dir,) = s["StateDirectory"]
    assert state == f"%S/{state_dir}/luigi-state.pickle"


def test_mlflow_writer_service_shares_the_runs_user_and_data():
    """The run connects to a 0600 socket in its DATA_DIR: same dynamic user, same state directory."""
    writer = parse_unit(UNIT_DIR / "mlflow-writer.service")["Service"]
    etl = parse_unit(UNIT_DIR / "bhavcopy-etl.service")["Service"]
    for key in ("DynamicUser", "User", "StateDirectory", "WorkingDirectory"):
        assert writer[key] == etl[key], key
    assert writer["User"] == ["nse-bhavcopy"] and writer["Restart"] == ["on-failure"]
    env = {value.split("=", 1)[0]: value.split("=", 1)[1] for value in writer["Environment"]}
    assert {k: env[k] for k in ("DATA_DIR", "LUIGI_CONFIG_PATH")} == \
           {k: v for value in etl["Environment"] for k, v in [value.split("=", 1)] if k in ("DATA_DIR", "LUIGI_CONFIG_PATH")}
    (cmd,) = writer["ExecStart"]
    assert cmd.split()[1:] == ["python", "-m", "luigi_tasks", "mlflow-writer"]
    assert "AF_UNIX" in writer["RestrictAddressFamilies"][0].split()


@pytest.mark.parametrize("name", SERVICES)
def test_exec_start_goes_through_env_with_the_venv_first(name):
    s = parse_unit(UNIT_DIR / name)["Service"]
    assert s["ExecStart"], name
    for cmd in s["ExecStart"]:
        assert cmd.startswith("/usr/bin/env "), cmd
    paths = [v.split("=", 1)[1] for v in s["Environment"] if v.startswith("PATH=")]
    assert paths and paths[-1].split(":")[0] == "/opt/nse-bhavcopy-luigi/.venv/bin", paths


def test_etl_command_line_is_a_valid_range_daily(tmp_path):
    """RangeDaily refuses to run with neither --start nor --stop; check the shipped flags really
    ask for the last 14 days, using a stand-in BhavcopyETL (the real one is not needed)."""
    pytest.importorskip("luigi")
    (cmd,) = parse_unit(UNIT_DIR / "bhavcopy-etl.service")["Service"]["ExecStart"]
    argv = cmd.split()
    assert argv[:2] == ["/usr/bin/env", "luigi"], argv
    args = argv[2:]
    assert args[args.index("--module") + 1] == "luigi_tasks"
    args[args.index("--module") + 1] = "fake_bhavcopy_tasks"
    # A Friday, 18:00 in India: the window is the 14 days ending that day.
    now = int(datetime(2025, 6, 20, 12, 30, tzinfo=timezone.utc).timestamp())
    args += ["--now", str(now)]

    (tmp_path / "fake_bhavcopy_tasks.py").write_text(textwrap.dedent("""
        import luigi
        import luigi.tools.range  # noqa: F401  (registers RangeDaily even without autoload_range)

        from luigi.task import MixinNaiveBulkComplete

        class BhavcopyETL(MixinNaiveBulkComplete, luigi.Task):  # bulk_complete via complete()
            date = luigi.DateParameter()

            def complete(self):
                return False
    """))
    probe = textwrap.dedent("""
        import sys
        from luigi.cmdline_parser import CmdlineParser
        with CmdlineParser.global_instance(sys.argv[1:]) as cp:
            task = cp.get_task_obj()
            for t in task.requires():
                print(t.date)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUIGI_")}
    env["PYTHONPATH"] = str(tmp_path)
    env["LUIGI_CONFIG_PATH"] = str(tmp_path / "none.cfg")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe, *args],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    dates = result.stdout.split()
    assert dates[0] == "2025-06-07" and dates[-1] == "2025-06-20" and len(dates) == 14, dates


# --------------------------------------------------------------------------- (d) the checks can fail


@needs_analyze
def test_bad_calendar_spec_is_rejected():
    result = analyze("calendar", "Mon..Fri *-*-* 25:00:00 Asia/Kolkata", tz="UTC")
    assert result.returncode != 0
    result = analyze("calendar", "Mon..Fri *-*-* 18:00:00 Asia/Nowhere", tz="UTC")
    assert result.returncode != 0


@needs_analyze
def test_verify_catches_broken_units(tmp_path):
    good = (UNIT_DIR / TIMER).read_text()
    assert good.count(" Asia/Kolkata") >= 2

    # Every OnCalendar bad: verify refuses the timer outright.
    shutil.copy(UNIT_DIR / "bhavcopy-etl.service", tmp_path / "bhavcopy-etl.service")
    all_bad = tmp_path / "all-bad.timer"
    all_bad.write_text(good.replace(" Asia/Kolkata", " Asia/Nowhere"))
    result = verify(all_bad, cwd=tmp_path)
    assert result.returncode != 0, result.stderr

    # One OnCalendar bad: verify only warns ("ignoring") and exits 0, which is why
    # test_shipped_units_verify_cleanly also looks at stderr.
    lines = good.splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("OnCalendar="))
    lines[last] = lines[last].replace(" Asia/Kolkata", " Asia/Nowhere")
    half_bad = tmp_path / "half-bad.timer"
    half_bad.write_text("\n".join(lines) + "\n")
    result = verify(half_bad, cwd=tmp_path)
    assert our_lines(result.stderr, ["half-bad.timer"]), result.stderr

    # A program that is not there (why ExecStart goes through /usr/bin/env).
    missing = tmp_path / "missing-binary.service"
    missing.write_text("[Service]\nType=oneshot\nExecStart=/opt/nse-bhavcopy-luigi/.venv/bin/luigi\n")
    if not Path("/opt/nse-bhavcopy-luigi/.venv/bin/luigi").exists():
        result = verify(missing, cwd=tmp_path)
        assert result.returncode != 0, result.stderr
