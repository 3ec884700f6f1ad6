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
