"""Arguments shared by sub-commands (one definition of ``--db``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import get_settings, is_postgres_url


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None,
                        help="SQLite file (a path or sqlite:///path) or postgresql://user@host/database URL "
                             "(default: LUNGDX_DB or data/lungdx.db)")


def db_path(args: argparse.Namespace) -> Path:
    """The store to open: a SQLite path, or (``--db``/``LUNGDX_DB`` a URL) the ``postgresql://`` URL as given.

    Typed ``Path`` for the callers that build on a SQLite file; :func:`open_store` takes either.
    """
    value = getattr(args, "db", None)
    if not value:
        return get_settings().store_target  # type: ignore[return-value]
    if is_postgres_url(value):
        return value  # type: ignore[no-any-return]
    return Path(str(value).removeprefix("sqlite:///"))


def actor(args: argparse.Namespace | None = None) -> str:
    """The one CLI identity: ``--user NAME`` where a command offers it, else ``cli:<OS login>``.

    The CLI is trusted: whoever can run it can open the database file, so ``--user`` is not
    authentication; it names the account whose role (:mod:`lungdx_widgets.policy`) a step is held
    to and that the audit log records. Without it the actor is the OS login, which no account can
    claim (account names cannot contain ':').
    """
    from ..session import cli_actor

    return getattr(args, "user", None) or cli_actor()
