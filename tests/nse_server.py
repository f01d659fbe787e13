"""A local stand-in for NSE's archive host and main site: real files, NSE's URL layout, faults.

The layout is written out here from NSE's file names (not imported from the package), so a
wrong route in `luigi_tasks` fails the tests instead of agreeing with itself. The main site's
reports API is emulated too: `GET /` sets a cookie, `/api/reports` refuses requests without it
(403), and answers `?archives=[{"name":"CM - Bhavcopy(csv)",...}]&date=01-Dec-2022` with that
day's legacy zip, or a JSON "no data". With `legacy_archive_gone`, the archive's legacy path
answers 404 for every date, as users report NSE's does by 2026. `/api/holiday-master` (cookie
required too) answers `holiday_master` (JSON bytes; None: 404), or 503 while `holiday_outage`.
"""
import io
import json
import re
import sys
import threading
import time
import zipfile
from datetime import datetime
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

NOT_FOUND_HTML = b"<!DOCTYPE html><html><head><title>404</title></head><body>Not Found</body></html>" * 40


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    """A deflated zip holding these members, packed the way NSE packs its files."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def member_text(zip_path: Path) -> str:
    """The text of the one CSV member of an NSE zip."""
    with zipfile.ZipFile(zip_path) as archive:
        return archive.read(archive.namelist()[0]).decode("utf-8")


def nse_url_path(file_name: str) -> str:
    """Where NSE publishes a file of this name."""
    if m := re.fullmatch(r"cm(\d\d)([A-Z]{3})(\d{4})bhav\.csv\.zip", file_name):
        return f"/content/historical/EQUITIES/{m[3]}/{m[2]}/{file_name}"
    if m := re.fullmatch(r"fo(\d\d)([A-Z]{3})(\d{4})bhav\.csv\.zip", file_name):
        return f"/content/historical/DERIVATIVES/{m[3]}/{m[2]}/{file_name}"
    if file_name.startswith("BhavCopy_NSE_CM_"):
        return f"/content/cm/{file_name}"
    if file_name.startswith("BhavCopy_NSE_FO_"):
        return f"/content/fo/{file_name}"
    if file_name.startswith("sec_bhavdata_full_"):
        return f"/products/content/{file_name}"
    if re.fullmatch(r"PR\d{6}\.zip", file_name):  # PRDDMMYY.zip, two-digit year
        return f"/archives/equities/bhavcopy/pr/{file_name}"
    if re.fullmatch(r"ind_close_all_\d{8}\.csv", file_name):
        return f"/content/indices/{file_name}"
    raise ValueError(f"not an NSE file name: {file_name}")


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer (a timeout test, a killed run) is normal here, not news."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


@dataclass
class Fault:
    """What to answer instead of the file, for the first `times` requests (None: always)."""

    status: int = 200
    body: bytes | None = None
    content_type: str = "application/zip"
    times: int | None = None
    delay: float = 0.0
    cut_after: int | None = None  # send this many body bytes, then drop the connection
    headers: dict = field(default_factory=dict)


class NSEServer:
    def __init__(self, files: dict[str, bytes]):
        self.files = files  # url path -> body
        self.faults: dict[str, Fault] = {}
        self.requests: list[tuple[str, str]] = []  # (path, User-Agent)
        self.full_requests: list[str] = []  # path with query, and whether a cookie came with it
        self.legacy_archive_gone = False
        self.sets_cookie = True
        self.holiday_master: bytes | None = None
        self.holiday_outage = False
        self.lock = threading.Lock()
        handler = self._handler()
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @classmethod
    def from_folder(cls, folder: Path) -> "NSEServer":
        return cls({nse_url_path(p.name): p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()})

    def put(self, file_name: str, body: bytes) -> str:
        path = nse_url_path(file_name)
        self.files[path] = body
        return path

    def remove(self, file_name: str) -> None:
        self.files.pop(nse_url_path(file_name), None)

    def fault(self, file_name: str, fault: Fault) -> None:
        self.faults[nse_url_path(file_name)] = fault

    def paths_requested(self) -> list[str]:
        return [path for path, _ in self.requests]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                cookie = "nsit=" in self.headers.get("Cookie", "")
                with server.lock:
                    server.requests.append((path, self.headers.get("User-Agent", "")))
                    server.full_requests.append(f"GET {self.path}{'  [cookie]' if cookie else ''}")
                    fault = server.faults.get(path)
                    if fault is not None and fault.times is not None:
                        if fault.times <= 0:
                            fault = None
                        else:
                            fault.times -= 1
                if fault is not None:
                    return self._answer_fault(path, fault)
                if path == "/":
                    return self._home()
                if path == "/api/reports":
                    return self._reports(cookie)
                if path == "/api/holiday-master":
                    return self._holidays(cookie)
                if server.legacy_archive_gone and path.startswith("/content/historical/"):
                    return self._send(404, NOT_FOUND_HTML, "text/html")
                body = server.files.get(path)
                if body is None:
                    return self._send(404, NOT_FOUND_HTML, "text/html")
                return self._send(200, body, "application/zip" if path.endswith(".zip") else "text/csv")

            def _home(self):
                headers = {"Set-Cookie": "nsit=test-token; Path=/; HttpOnly"} if server.sets_cookie else {}
                self._send(200, b"<!DOCTYPE html><html><body>NSE</body></html>", "text/html", headers)

            def _reports(self, cookie):
                if not cookie:
                    return self._send(403, b'{"error":"Resource not accessible"}', "application/json")
                query = parse_qs(urlsplit(self.path).query)
                names = [a.get("name") for a in json.loads(query.get("archives", ["[]"])[0])]
                if names != ["CM - Bhavcopy(csv)"] or query.get("mode") != ["single"]:
                    return self._send(400, b'{"error":"bad request"}', "application/json")
                day = datetime.strptime(query["date"][0], "%d-%b-%Y")
                name = f"cm{day:%d}{day.strftime('%b').upper()}{day:%Y}bhav.csv.zip"
                body = server.files.get(nse_url_path(name))
                if body is None:
                    return self._send(200, b'{"data":[],"message":"No data found"}', "application/json")
                self._send(200, body, "application/zip",
                           {"Content-Disposition": f'attachment; filename="{name}"'})

            def _holidays(self, cookie):
                if not cookie:
                    return self._send(403, b'{"error":"Resource not accessible"}', "application/json")
                if parse_qs(urlsplit(self.path).query).get("type") != ["trading"]:
                    return self._send(400, b'{"error":"bad request"}', "application/json")
                if server.holiday_outage:
                    return self._send(503, b"Service Unavailable", "text/plain")
                if server.holiday_master is None:
                    return self._send(404, NOT_FOUND_HTML, "text/html")
                self._send(200, server.holiday_master, "application/json")

            def _answer_fault(self, path, fault):
                if fault.delay:
                    time.sleep(fault.delay)
                body = fault.body if fault.body is not None else server.files.get(path, b"")
                if fault.cut_after is not None:
                    self.send_response(fault.status)
                    self.send_header("Content-Type", fault.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: fault.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(fault.status, body, fault.content_type, fault.headers)

            def _send(self, status, body, content_type, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler
