"""A real local PACS for tests, benchmarks and ``make demo-pacs``: Debian's Orthanc with its DICOMweb plugin.

The project writes the configuration itself (authentication on, DICOMweb on, DICOM port off, a
free local HTTP port, storage in a temporary folder) so nothing depends on ``/etc/orthanc`` or on
a system service; :class:`OrthancServer` is a context manager that stops the process and removes
its storage afterwards. Install the packages with ``make orthanc`` (``apt-get install orthanc
orthanc-dicomweb``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ..errors import LungDxError

ORTHANC_BINARIES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
DICOMWEB_PLUGINS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
                    "/usr/lib/orthanc/libOrthancDicomWeb.so")


class OrthancMissing(LungDxError):
    """Orthanc or its DICOMweb plugin is not installed."""


def _first_existing(paths: tuple[str, ...], what: str) -> str:
    for p in paths:
        if Path(p).exists():
            return p
    raise OrthancMissing(f"{what} not found ({', '.join(paths)}): run `make orthanc` "
                         "(apt-get install orthanc orthanc-dicomweb).")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OrthancServer:
    """One Orthanc process on ``127.0.0.1:port`` with one registered user; use as a context manager."""

    username: str = "lungdx"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    port: int = 0
    root: Path | None = None
    #: Own process group (tests: a Ctrl-C of the test run does not reach it); False: it stops with the terminal.
    own_session: bool = True
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _own_root: bool = field(default=False, init=False, repr=False)

    @property
    def pid(self) -> int:
        """The Orthanc process (0 when not running)."""
        return self._proc.pid if self._proc is not None else 0

    @property
    def url(self) -> str:
        """Base URL of Orthanc's REST API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    def config(self) -> dict:
        """The configuration this project runs Orthanc with (written to ``root/orthanc.json``)."""
        assert self.root is not None
        return {
            "Name": "LUNGDX-PACS",
            "StorageDirectory": str(self.root / "storage"),
            "IndexDirectory": str(self.root / "index"),
            "HttpPort": self.port,
            "HttpServerEnabled": True,
            "RemoteAccessAllowed": False,  # loopback only
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.username: self.password},
            "DicomServerEnabled": False,
            "Plugins": [_first_existing(DICOMWEB_PLUGINS, "Orthanc's DICOMweb plugin")],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False, "Ssl": False,
                         "Host": f"127.0.0.1:{self.port}"},
            "StableAge": 1,
            "HttpThreadsCount": 8,
            "ConcurrentJobs": 2,
            "SaveJobs": False,
        }

    def start(self, timeout: float = 30.0) -> "OrthancServer":
        """Write the configuration, start Orthanc and wait until its authenticated API answers."""
        binary = _first_existing(ORTHANC_BINARIES, "Orthanc")
        if self.root is None:
            self.root, self._own_root = Path(tempfile.mkdtemp(prefix="lungdx-orthanc-")), True
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        cfg = self.root / "orthanc.json"
        cfg.write_text(json.dumps(self.config(), indent=2))
        cfg.chmod(0o600)  # holds the password
        log = open(self.root / "orthanc.log", "ab")
        self._proc = subprocess.Popen([binary, str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                      cwd=self.root, start_new_session=self.own_session)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LungDxError(f"Orthanc exited at start-up (code {self._proc.returncode}); "
                                  f"see {self.root / 'orthanc.log'}.")
            try:
                if requests.get(f"{self.url}/system", auth=(self.username, self.password), timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise LungDxError(f"Orthanc did not answer on {self.url} within {timeout:.0f} s.")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove a temporary storage folder."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._proc = None
        if self._own_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "OrthancServer":
        return self.start() if self._proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test and demo helpers over Orthanc's own REST API -------------------------------
    def _api(self) -> requests.Session:
        s = requests.Session()
        s.auth = (self.username, self.password)
        return s

    def upload(self, data: bytes) -> dict:
        """Store one DICOM file (what a modality's C-STORE would do); returns Orthanc's answer."""
        r = self._api().post(f"{self.url}/instances", data=data, timeout=30)
        r.raise_for_status()
        return r.json()

    def instance_uids(self) -> list[str]:
        """SOP Instance UIDs of everything stored."""
        api = self._api()
        ids = api.get(f"{self.url}/instances", timeout=30).json()
        return sorted(api.get(f"{self.url}/instances/{i}", timeout=30).json()["MainDicomTags"]["SOPInstanceUID"]
                      for i in ids)

    def statistics(self) -> dict:
        return self._api().get(f"{self.url}/statistics", timeout=30).json()
