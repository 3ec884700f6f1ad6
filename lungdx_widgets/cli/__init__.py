"""``lungdx`` console script: parse arguments, call the core, print one-line errors.

Each area owns one module here exposing ``register(subparsers)``; sub-commands set
``func(args) -> int | None`` through ``set_defaults``. Keep the command modules thin.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import LungDxError

#: Command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = ("setup", "store", "imaging", "model", "reports", "learning", "pacs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lungdx",
        description="LungDx Workbench: chest X-ray decision support (research use only; a clinician decides).",
    )
    parser.add_argument("--version", action="version", version=f"lungdx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LungDxError as exc:
        print(f"lungdx: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lungdx: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
