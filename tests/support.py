"""What tests and bench/ share besides the NSE emulator (tests/nse_server.py): the fixture files,
free ports and a real luigid on 127.0.0.1."""
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
