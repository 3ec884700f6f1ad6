"""Arguments shared by sub-commands (one definition of ``--db``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import get_settings


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help="SQLite database (default: LUNGDX_DB or data/lungdx.db)")


def db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else get_settings().db


def actor(args: argparse.Namespace | None = None) -> str:
    """The one CLI identity: ``--user NAME`` where a command offers it, else ``cli:<OS login>``.

    The CLI is trusted: whoever can run it can open the database file, so ``--user`` is not
    authentication; it names the account whose role (:mod:`lungdx_widgets.policy`) a step is held
    to and that the audit log records. Without it the actor is the OS login, which no account can
    claim (account names cannot contain ':').
    """
    from ..session import cli_actor

    return getattr(args, "user", None) or cli_actor()
