"""The server owns one inference process: started with it, restarted when it dies, stopped with it.

Started from the server extension (so ``lungdx serve``, which becomes the server by ``exec``, owns
it without a second supervisor), on a Unix socket in a fresh 0700 folder with a random token. The
socket path and token go into the server's environment, which every kernel it starts inherits:
:func:`lungdx_widgets.services.shared_model_service` in a kernel then asks this process instead of
loading a model copy. A process that exits is started again (waiting longer after each quick death,
so a model that cannot load does not spin the CPU); kernels meanwhile get a clear message, not a hang.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tornado.ioloop import PeriodicCallback

from ..inference import ADDRESS_ENV, TOKEN_ENV

#: How often the supervisor looks at the process (milliseconds).
CHECK_INTERVAL_MS = 1000
#: Restart delays after a death: doubling from the first to the last while it keeps dying quickly.
RESTART_DELAY_S = (0.5, 30.0)
#: A process that ran this long before dying counts as healthy: the next restart is immediate again.
STABLE_AFTER_S = 60.0


def private_runtime_dir() -> Path:
    """A fresh folder only the server's user can enter (short: Unix socket paths stop at ~107 bytes)."""
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    path = Path(tempfile.mkdtemp(prefix="lungdx-m-", dir=base if os.path.isdir(base) else None))
    path.chmod(0o700)
    return path


class ModelProcess:
    """Start, watch and stop the inference process; ``log`` is the server's logger."""

    def __init__(self, log: Any, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.folder = private_runtime_dir()
        self.socket = str(self.folder / "model.sock")
        self.token = secrets.token_urlsafe(32)
        self._env = dict(os.environ if env is None else env, **{TOKEN_ENV: self.token})
        self._env.pop(ADDRESS_ENV, None)  # the process itself uses the model in-process
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._started_at = 0.0
        self._delay = RESTART_DELAY_S[0]
        self._next_start = 0.0
        self._watch: PeriodicCallback | None = None

    def announce(self, environ: Any = os.environ) -> None:
        """Tell kernels started from now on where the model is (they inherit ``environ``)."""
        environ[ADDRESS_ENV], environ[TOKEN_ENV] = self.socket, self.token

    def start(self) -> None:
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.proc = subprocess.Popen([sys.executable, "-m", "lungdx_widgets.inference.process", "--socket", self.socket],
                                     env=self._env, stdin=subprocess.DEVNULL)
        self._started_at = time.monotonic()
        self.log.info("LungDx: inference process %d on %s", self.proc.pid, self.socket)

    def check(self) -> None:
        """Restart the process if it exited (after the current back-off delay)."""
        if self.proc is None or self.proc.poll() is None:
            return
        now = time.monotonic()
        if not self._next_start:
            lived = now - self._started_at
            self._delay = RESTART_DELAY_S[0] if lived > STABLE_AFTER_S else min(self._delay * 2, RESTART_DELAY_S[1])
            self._next_start = now + self._delay
            self.log.warning("LungDx: inference process %d exited with %s after %.0f s; restarting in %.1f s",
                             self.proc.pid, self.proc.returncode, lived, self._delay)
        if now >= self._next_start:
            self._next_start = 0.0
            self.restarts += 1
            self.start()

    def watch(self) -> None:
        """Start the process and check it every second on the server's event loop."""
        self.start()
        self._watch = PeriodicCallback(self.check, CHECK_INTERVAL_MS)
        self._watch.start()
        atexit.register(self.stop)  # also when the extension's unload hook is never reached

    def stop(self, timeout: float = 10.0) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        shutil.rmtree(self.folder, ignore_errors=True)
