"""What tests and bench/ share besides the NSE emulator (tests/nse_server.py): the fixture files,
free ports, a real luigid on 127.0.0.1 and a real resident MLflow writer."""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

DATA = Path(__file__).parent / "data"  # real NSE files, by NSE's own names


def free_port() -> int:
    """A port nothing listens on (for a server to start on, or for a client to find closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_luigid(tmp_path: Path):
    """A real luigid (scheduler and visualiser) on 127.0.0.1, its state and logs under tmp_path
    (`luigid-*`); yields (port, url) and stops it, by its process group, afterwards."""
    port = free_port()
    luigid_bin = shutil.which("luigid", path=os.path.dirname(sys.executable)) or "luigid"
    (tmp_path / "luigid-logs").mkdir(exist_ok=True)
    process = subprocess.Popen(
        [luigid_bin, "--address", "127.0.0.1", "--port", str(port), "--state-path", str(tmp_path / "luigid-state.pickle"),
         "--logdir", str(tmp_path / "luigid-logs")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/api/task_list?data={}", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"luigid exited with {process.returncode}")
                time.sleep(0.05)
        else:
            raise RuntimeError("luigid did not start")
        yield port, url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def luigid_api(url: str, method: str, **data) -> str:
    """The raw JSON text luigid answers (what the visualiser shows)."""
    query = urllib.parse.urlencode({"data": json.dumps(data)})
    with urllib.request.urlopen(f"{url}/api/{method}?{query}", timeout=5) as answer:
        return answer.read().decode()


@contextlib.contextmanager
def running_mlflow_writer(socket_path: Path, env: dict | None = None):
    """A real resident MLflow writer (`python -m luigi_tasks mlflow-writer`) on `socket_path`, once it
    listens; its stderr goes to `<socket_path>.log`. Yields the process; stops it by its PID afterwards."""
    log = Path(f"{socket_path}.log")
    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "luigi_tasks", "mlflow-writer", "--socket", str(socket_path)],
                                   cwd=Path(__file__).parent.parent, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while "listening on" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the resident MLflow writer did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            os.kill(process.pid, signal.SIGCONT)  # a test may have stopped it
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

