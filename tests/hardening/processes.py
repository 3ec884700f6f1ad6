"""Child processes for the hardening tests: real store work in another process, output read as it comes."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from lungdx_widgets.config import PROJECT_ROOT


class Worker:
    """``store_worker`` in its own process; its output lines arrive on a queue as they are printed."""

    def __init__(self, mode: str, db: Path, arg: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.hardening.store_worker", mode, str(db), arg],
                                     cwd=PROJECT_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(line.strip())

    def wait_for(self, prefix: str, count: int = 1, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while sum(line.startswith(prefix) for line in self.seen) < count:
            try:
                self.seen.append(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"worker did not print {count}x {prefix!r}: {self.proc.stderr.read()}") from None

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def finish(self, timeout: float = 60.0) -> list[str]:
        """Wait for a normal exit; all its output lines."""
        self.proc.wait(timeout=timeout)
        return self.drain()

    def kill(self) -> list[str]:
        """SIGKILL now; every CONFIRMED line it managed to print before dying."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        return [line.split(" ", 1)[1] for line in self.drain() if line.startswith("CONFIRMED ")]

    def drain(self) -> list[str]:
        """Everything printed so far (after an exit or a kill)."""
        time.sleep(0.2)  # let the pump drain the pipe
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.seen
