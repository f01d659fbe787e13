"""Atomic targets: a reader never sees half a file, and a failed or killed write leaves nothing visible."""
import pytest

import hashlib
import json

from luigi_tasks.targets import AtomicLocalTarget, SealedTarget


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


def dead_pid() -> int:
    import subprocess
    import sys

    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)


def test_a_folder_is_swept_of_dead_writers_temps_once_per_process(tmp_path):
    """A stage folder holds every day of history: listing it on every write grew a backfill's cost
    with the square of its days. The first write lists it and removes every dead writer's temp file,
    whichever day it was for; later writes of this process do not list it again."""
    import subprocess
    import sys

    (tmp_path / f".2025-06-17.arrow.tmp-{dead_pid()}-0000000001").write_text("killed before this run")
    with AtomicLocalTarget(str(tmp_path / "2025-06-18.arrow")).temporary_path() as temp:
        open(temp, "w").write("whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-06-18.arrow"]

    late = tmp_path / f".2025-06-19.arrow.tmp-{dead_pid()}-0000000002"
    late.write_text("killed while this run goes on")
    with AtomicLocalTarget(str(tmp_path / "2025-06-19.arrow")).temporary_path() as temp:
        open(temp, "w").write("whole")
    assert late.exists()  # the folder was not listed again

    next_run = ("import sys; from luigi_tasks.targets import AtomicLocalTarget\n"
                "with AtomicLocalTarget(sys.argv[1]).temporary_path() as temp:\n"
                "    open(temp, 'w').write('whole')\n")
    subprocess.run([sys.executable, "-c", next_run, str(tmp_path / "2025-06-20.arrow")], check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-06-18.arrow", "2025-06-19.arrow", "2025-06-20.arrow"]


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


def write_sealed(target: SealedTarget, data: bytes, before_replace=None) -> None:
    with target.replacing(rows=lambda temp: data.count(b"\n"), extra=lambda: {"route": "test"},
                          before_replace=before_replace) as temp:
        open(temp, "wb").write(data)


def test_a_sealed_file_records_its_bytes_sha256_and_rows(tmp_path):
    target = SealedTarget(str(tmp_path / "day.csv"))
    write_sealed(target, b"a\nb\n")
    seal = json.loads((tmp_path / ".day.csv.seal.json").read_text())
    assert {key: seal[key] for key in ("file", "bytes", "sha256", "rows", "route")} == {
        "file": "day.csv", "bytes": 4, "sha256": hashlib.sha256(b"a\nb\n").hexdigest(), "rows": 2, "route": "test"}
    assert target.exists() and target.problem() is None
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["day.csv"]


def test_a_file_written_from_its_bytes_has_the_seal_a_written_path_gets(tmp_path):
    by_path, by_bytes = SealedTarget(str(tmp_path / "a" / "day.csv")), SealedTarget(str(tmp_path / "b" / "day.csv"))
    write_sealed(by_path, b"a\nb\n")
    invalidated = []
    digest = by_bytes.replace_with(b"a\nb\n", rows=2, extra=lambda: {"route": "test"},
                                   before_replace=lambda: invalidated.append(True))
    assert digest == hashlib.sha256(b"a\nb\n").hexdigest() and invalidated == [True]
    assert (tmp_path / "b" / "day.csv").read_bytes() == b"a\nb\n"
    assert ({k: v for k, v in by_bytes.read_seal().items() if k != "written_at"}
            == {k: v for k, v in by_path.read_seal().items() if k != "written_at"})
    assert by_bytes.exists() and by_bytes.problem() is None


def test_a_file_written_from_bytes_whose_redo_fails_before_the_swap_keeps_the_old_one(tmp_path):
    target = SealedTarget(str(tmp_path / "day.csv"))
    target.replace_with(b"old\n", rows=1)

    def refuse():
        raise RuntimeError("a later stage could not be marked to redo")

    with pytest.raises(RuntimeError):
        target.replace_with(b"new\nfile\n", rows=2, before_replace=refuse)
    assert (tmp_path / "day.csv").read_bytes() == b"old\n" and target.exists() and target.read_seal()["rows"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".day.csv.seal.json", "day.csv"]  # no temp file left


def test_a_file_without_its_seal_or_of_another_size_is_not_done(tmp_path):
    target = SealedTarget(str(tmp_path / "day.csv"))
    write_sealed(target, b"a\nb\n")
    with open(target.path, "ab") as handle:
        handle.write(b"c\n")  # grown after it was sealed
    assert not target.exists()
    assert "6 bytes where its seal says 4" in target.problem(full=False)
    (tmp_path / ".day.csv.seal.json").unlink()
    assert not target.exists() and target.problem().startswith("no seal")


def test_a_file_changed_in_place_fails_only_the_full_check(tmp_path):
    target = SealedTarget(str(tmp_path / "day.csv"))
    write_sealed(target, b"a\nb\n")
    (tmp_path / "day.csv").write_bytes(b"a\nc\n")  # same size, other bytes
    assert target.exists() and target.problem(full=False) is None
    assert "SHA-256 differs" in target.problem()


def test_a_failed_rewrite_keeps_the_old_file_its_seal_and_the_later_stages(tmp_path):
    target = SealedTarget(str(tmp_path / "day.csv"))
    write_sealed(target, b"old\n")
    invalidated = []
    with pytest.raises(RuntimeError):
        with target.replacing(rows=lambda temp: 1, before_replace=lambda: invalidated.append(True)) as temp:
            open(temp, "wb").write(b"half")
            raise RuntimeError("the new file failed its checks")
    assert invalidated == []  # later stages are only invalidated once the new file is ready
    assert (tmp_path / "day.csv").read_bytes() == b"old\n" and target.exists()

    write_sealed(target, b"new\nfile\n", before_replace=lambda: invalidated.append(True))
    assert invalidated == [True] and target.exists() and target.read_seal()["rows"] == 2
