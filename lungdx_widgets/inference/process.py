"""The inference process: the model loaded once, analyse requests answered on a private Unix socket.

A small Tornado app (Tornado already serves Jupyter): ``GET /model`` says which model answers now
(loading it if needed), ``POST /analyze`` takes a film (:mod:`.wire`) and returns its findings.
Requests that arrive while the network is busy wait and then run together as one batch (the
network is several times faster per film in a batch on CPU). The model follows the registry of
``LUNGDX_DB`` as every :class:`~lungdx_widgets.services.ModelService` does: an activation reaches
every open dashboard without a restart. The process exits when its parent (the server) is gone.

Run by the server: ``python -m lungdx_widgets.inference.process --socket PATH`` with the token in
:data:`~lungdx_widgets.inference.TOKEN_ENV` (not on the command line, which every local user can read).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from tornado import httpserver, ioloop, netutil, web

from ..config import get_settings
from ..errors import LungDxError
from ..services import ModelService
from ..types import Findings, Radiograph
from . import TOKEN_ENV, TOKEN_HEADER
from .wire import decode_pixels, encode_findings

log = logging.getLogger("lungdx.inference")
#: Films analysed in one forward at most (memory grows with it; 8 is where the CPU gain levels off).
MAX_BATCH = 8
_PARENT_CHECK_MS = 2000


@dataclass
class _Job:
    radiograph: Radiograph
    heatmaps: bool
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Batcher:
    """One worker thread runs the network; films queued meanwhile go into the next batch together."""

    def __init__(self, service: ModelService) -> None:
        self.service = service
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lungdx-infer")

    async def info(self) -> dict:
        analyzer = await asyncio.get_running_loop().run_in_executor(self.pool, self.service.get)
        return {"version": analyzer.version, "labels": list(analyzer.labels),
                "reported_labels": list(analyzer.reported_labels), "thresholds": analyzer.thresholds}

    async def analyze(self, radiograph: Radiograph, heatmaps: bool) -> Findings:
        job = _Job(radiograph, heatmaps)
        await self.queue.put(job)
        return await job.done

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            while len(jobs) < MAX_BATCH and not self.queue.empty():
                jobs.append(self.queue.get_nowait())
            try:
                results = await loop.run_in_executor(self.pool, self._analyze, jobs)
            except Exception as exc:  # noqa: BLE001 - every waiting request gets the error, the loop goes on
                for job in jobs:
                    job.done.set_exception(exc)
                continue
            for job, findings in zip(jobs, results):
                job.done.set_result(findings)

    def _analyze(self, jobs: list[_Job]) -> list[Findings]:
        analyzer = self.service.get()
        if len(jobs) == 1:  # analyze() turns running out of memory into a message the dashboard shows
            return [analyzer.analyze(jobs[0].radiograph)]
        try:
            return analyzer.analyze_batch([j.radiograph for j in jobs], heatmaps=any(j.heatmaps for j in jobs))
        except (MemoryError, RuntimeError):  # too big together: one at a time, each with its own message
            return [analyzer.analyze(j.radiograph) for j in jobs]


class _Handler(web.RequestHandler):
    def initialize(self, batcher: Batcher, token: str) -> None:
        self.batcher, self.token = batcher, token

    def prepare(self) -> None:
        if not hmac.compare_digest(self.request.headers.get(TOKEN_HEADER, ""), self.token):
            raise web.HTTPError(403)

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        message = str(exc) if isinstance(exc, LungDxError) else self._reason
        self.finish({"error": message, "kind": type(exc).__name__ if exc is not None else ""})

    def fail(self, exc: LungDxError) -> None:
        """A model that cannot run (weights missing, out of memory): 503 with the words for the clinician."""
        self.set_status(503)
        self.finish({"error": str(exc), "kind": type(exc).__name__})


class ModelHandler(_Handler):
    async def get(self) -> None:
        try:
            self.finish(await self.batcher.info())
        except LungDxError as exc:
            self.fail(exc)


class AnalyzeHandler(_Handler):
    async def post(self) -> None:
        try:
            pixels = decode_pixels(self.request.body, get_settings().max_pixels)
            radiograph = Radiograph(pixels=pixels, source_format="png", sha256="", bit_depth=8)
            findings = await self.batcher.analyze(radiograph, self.get_argument("heatmaps", "1") == "1")
        except LungDxError as exc:
            self.fail(exc)
            return
        self.set_header("Content-Type", "application/octet-stream")
        self.finish(encode_findings(findings))


class HealthHandler(_Handler):
    def get(self) -> None:
        self.finish({"ok": True, "pid": os.getpid(), "queued": self.batcher.queue.qsize()})


def make_app(batcher: Batcher, token: str) -> web.Application:
    kwargs = {"batcher": batcher, "token": token}
    return web.Application([("/health", HealthHandler, kwargs), ("/model", ModelHandler, kwargs),
                            ("/analyze", AnalyzeHandler, kwargs)])


def _exit_when_orphaned(parent: int) -> None:
    if os.getppid() != parent:
        log.warning("server %d is gone: inference process exits", parent)
        os._exit(0)


async def serve(socket_path: str, token: str, service: ModelService) -> None:
    batcher = Batcher(service)
    server = httpserver.HTTPServer(make_app(batcher, token), max_body_size=get_settings().max_pixels * 4 + 4096)
    server.add_socket(netutil.bind_unix_socket(socket_path, mode=0o600))
    parent = os.getppid()  # the process that started us; when it is gone, so are we
    ioloop.PeriodicCallback(lambda: _exit_when_orphaned(parent), _PARENT_CHECK_MS).start()
    print(json.dumps({"listening": socket_path, "pid": os.getpid()}), flush=True)
    await batcher.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="LungDx inference process (started by `lungdx serve`)")
    parser.add_argument("--socket", required=True, help="Unix socket path (its folder must be private)")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"{TOKEN_ENV} is not set: refusing to serve without a token", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="[lungdx-inference %(levelname)s] %(message)s")
    asyncio.run(serve(args.socket, token, ModelService()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
