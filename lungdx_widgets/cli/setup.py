"""``lungdx init`` and ``lungdx serve``: create the database, serve the dashboard."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import get_settings
from .common import add_db_argument, db_path


def _init(args: argparse.Namespace) -> int:
    from ..store.demo import create_demo_database
    from ..store.db import open_store

    path = db_path(args)
    if args.demo:
        summary = create_demo_database(path, n_patients=args.demo_patients, analyze=not args.no_analyze)
        print(f"demo database ready at {path}: {summary}")
    else:
        open_store(path).close()
        print(f"database ready at {path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..server.launch import serve

    _start_pacs_poller(db_path(args), args.pacs_poll)
    return serve(db=db_path(args), host=args.host, port=args.port)


def _start_pacs_poller(db: Path, seconds: int | None, stop_pid: int = 0):
    """Poll the PACS in a child process when an interval is set (``--pacs-poll`` or ``[pacs] poll_seconds``).

    A process, not a thread: ``serve`` becomes the server by exec. The child stops when the server does
    (it watches its parent) and is in the server's process group, so signals to the group reach it too.
    """
    import subprocess
    import sys

    from ..pacs.settings import load_pacs_settings

    settings = load_pacs_settings()
    interval = settings.poll_seconds if seconds is None else seconds
    if interval <= 0 or not settings.configured:
        return None
    print(f"polling the PACS at {settings.url} every {interval} s", flush=True)
    return subprocess.Popen([sys.executable, "-m", "lungdx_widgets.cli", "pacs", "poll", "--db", str(db),
                             "--interval", str(interval), "--stop-pid", str(stop_pid)])


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="create or upgrade the database (optionally with demo data)")
    add_db_argument(p)
    p.add_argument("--demo", action="store_true", help="add fictional demo patients with real radiographs")
    p.add_argument("--demo-patients", type=int, default=50, metavar="N", help="how many demo patients (default 50)")
    p.add_argument("--no-analyze", action="store_true", help="do not run the model on the demo studies")
    p.set_defaults(func=_init)

    s = get_settings()
    p = sub.add_parser("serve", help="serve the clinician dashboard (Voila) and JupyterLab behind login")
    add_db_argument(p)
    p.add_argument("--host", default=s.host)
    p.add_argument("--port", type=int, default=s.port)
    p.add_argument("--pacs-poll", type=int, default=None, metavar="SECONDS",
                   help="pull from the PACS every SECONDS (default: [pacs] poll_seconds; 0 = off)")
    p.set_defaults(func=_serve)
