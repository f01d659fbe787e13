"""Atomic targets: a reader never sees half a file, and a failed or killed write leaves nothing visible."""
import pytest

from luigi_tasks.targets import AtomicLocalTarget


def test_temp_file_is_hidden_and_renamed_on_success(tmp_path):
    target = AtomicLocalTarget(str(tmp_path / "lake" / "day.parquet"))
    with target.temporary_path() as temp:
        assert temp.rsplit("/", 1)[1].startswith(".day.parquet.tmp-")
        open(temp, "w").write("data")
        assert not target.exists()
    assert target.exists() and (tmp_path / "lake" / "day.parquet").read_text() == "data"
    assert [p.name for p in (tmp_path / "lake").iterdir()] == ["day.parquet"]


def test_failed_write_leaves_no_target_and_no_temp(tmp_path):
    target = AtomicLocalTarget(str(tmp_path / "day.parquet"))
    with pytest.raises(RuntimeError):
        with target.temporary_path() as temp:
            open(temp, "w").write("half")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_temp_left_by_a_killed_run_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (tmp_path / f".day.parquet.tmp-{dead_pid}-0000000001").write_text("half of a killed write")
    (tmp_path / ".day.parquet.tmp-0000000003").write_text("an older name without a PID")
    (tmp_path / ".other.parquet.tmp-1-0000000002").write_text("another target's temp")
    with AtomicLocalTarget(str(tmp_path / "day.parquet")).temporary_path() as temp:
        open(temp, "w").write("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.parquet.tmp-1-0000000002", "day.parquet"]


def test_a_live_writers_temp_file_is_left_alone(tmp_path):
    """Two runs of one date at once: the other run's temp file is not ours to delete."""
    import subprocess
    import sys

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".day.parquet.tmp-{other.pid}-0000000001"
        live.write_text("being written by another run")
        with AtomicLocalTarget(str(tmp_path / "day.parquet")).temporary_path() as temp:
            open(temp, "w").write("whole")
        assert live.exists()
    finally:
        other.kill()
        other.wait()
