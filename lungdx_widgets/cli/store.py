"""``lungdx patients search|add``, ``lungdx users add|list|disable``, ``lungdx backup``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict
from pathlib import Path

from ..i18n import LANGUAGES
from ..store.errors import ValidationError
from ..policy import ROLES
from .common import actor, add_db_argument, db_path


def _open(args: argparse.Namespace):
    from ..store.db import open_store

    return open_store(db_path(args))


def _search(args: argparse.Namespace) -> int:
    with _open(args) as store:
        patients = store.search_patients(args.query, limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps([asdict(p) for p in patients], indent=1))
    elif not patients:
        print(f"no patient matches '{args.query}'")
    for p in [] if args.json else patients:
        print(f"{p.patient_id:<14} {p.name:<32} {p.sex or '-':<2} {p.birth_date or '-'}")
    return 0


def _patients_add(args: argparse.Namespace) -> int:
    with _open(args) as store:
        p = store.add_patient(args.mrn, args.name, actor(args), sex=args.sex or "", birth_date=args.birth_date or "",
                              contact=args.contact or "")
    print(f"patient {p.patient_id} registered: {p.name}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (``--password-stdin``) or an interactive prompt: never from the command line."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise ValidationError("No terminal to ask for a password: pipe it in with --password-stdin.")
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValidationError("The two passwords differ; nothing was changed.")
    return first


def _users_add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    with _open(args) as store:
        user = store.add_user(args.name, password, args.role, display_name=args.display_name, actor=actor(args),
                              language=args.lang)
    print(f"user {user.username} added ({user.role})")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        users = store.list_users()
    if args.json:
        print(json.dumps([asdict(u) for u in users], indent=1))
        return 0
    for u in users:
        print(f"{u.username:<20} {u.role:<10} {'disabled' if u.disabled else 'enabled':<9} {u.display_name}")
    return 0


def _users_disable(args: argparse.Namespace) -> int:
    with _open(args) as store:
        user = store.set_user_disabled(args.name, not args.enable, actor=actor(args))
    print(f"user {user.username} {'disabled' if user.disabled else 'enabled'}")
    return 0


def _users_unlock(args: argparse.Namespace) -> int:
    """Forget the login throttle's counts for one account (the real user locked out by guessing)."""
    from ..server.throttle import account_key

    with _open(args) as store:
        removed = store.clear_throttle(account_key(args.name), actor=actor(args))
    print(f"user {args.name}: {removed} counted login attempts forgotten")
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    """Exit 1 and name the rows when the audit log's hash chain does not hold."""
    with _open(args) as store:
        result = store.verify_audit()
    for problem in result.problems:
        print(problem)
    print(f"{result.checked} audit rows checked: {'chain intact' if result.ok else f'{len(result.problems)} problems'}")
    return 0 if result.ok else 1


def _backup(args: argparse.Namespace) -> int:
    with _open(args) as store:
        dest = store.backup(args.dest, actor=actor(args))
    print(f"backup written to {dest}")
    return 0


def _migrate_store(args: argparse.Namespace) -> int:
    """Copy a SQLite store into PostgreSQL; print each table's counts and checksum (exit 1 on a mismatch)."""
    from ..store.migrate import copy_store

    report = copy_store(args.source, args.target, progress=lambda line: print(line, file=sys.stderr))
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands."""
    patients = sub.add_parser("patients", help="find patients").add_subparsers(dest="patients_command",
                                                                               metavar="ACTION", required=True)
    p = patients.add_parser("search", help="search patients by name words or MRN prefix")
    p.add_argument("query")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--offset", type=int, default=0)
    add_db_argument(p)
    p.set_defaults(func=_search)

    p = patients.add_parser("add", help="register a new patient (MRN and name; sex, birth date, contact optional)")
    p.add_argument("mrn", metavar="MRN")
    p.add_argument("name", metavar="NAME", help='"Family, Given"')
    p.add_argument("--sex", choices=("F", "M", "O"))
    p.add_argument("--birth-date", metavar="YYYY-MM-DD")
    p.add_argument("--contact")
    add_db_argument(p)
    p.set_defaults(func=_patients_add)

    users = sub.add_parser("users", help="manage logins").add_subparsers(dest="users_command", metavar="ACTION",
                                                                         required=True)
    p = users.add_parser("add", help="add a user (password is prompted, or read with --password-stdin)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--display-name", default=None)
    p.add_argument("--lang", default="", choices=("", *LANGUAGES),
                   help="interface language (default: the browser's Accept-Language)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add_db_argument(p)
    p.set_defaults(func=_users_add)
    p = users.add_parser("list", help="list users and roles")
    p.add_argument("--json", action="store_true")
    add_db_argument(p)
    p.set_defaults(func=_users_list)
    p = users.add_parser("disable", help="disable a login at once (or --enable it again)")
    p.add_argument("name")
    p.add_argument("--enable", action="store_true")
    add_db_argument(p)
    p.set_defaults(func=_users_disable)
    p = users.add_parser("unlock", help="clear the login throttle for a user locked out by wrong guesses")
    p.add_argument("name")
    add_db_argument(p)
    p.set_defaults(func=_users_unlock)

    audit = sub.add_parser("audit", help="check the audit log").add_subparsers(dest="audit_command", metavar="ACTION",
                                                                            required=True)
    p = audit.add_parser("verify", help="recompute the audit log's hash chain; exit 1 naming rows that do not fit")
    add_db_argument(p)
    p.set_defaults(func=_audit_verify)

    p = sub.add_parser("migrate-store", help="copy a SQLite store into an empty PostgreSQL database, verified "
                                             "(re-runnable: a finished copy reports 'already complete')")
    p.add_argument("--from", dest="source", required=True, metavar="SQLITE", help="path or sqlite:///path")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://user@host/database")
    p.set_defaults(func=_migrate_store)

    p = sub.add_parser("backup", help="copy the database safely while it is in use (SQLite online backup)")
    p.add_argument("dest", type=Path)
    add_db_argument(p)
    p.set_defaults(func=_backup)
