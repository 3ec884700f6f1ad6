"""``lungdx pacs pull | push | stubs | orthanc``: the PACS over DICOMweb (settings: ``[pacs]`` / ``LUNGDX_PACS_*``).

Credentials are read from the configuration or the environment only; no option takes a password.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import actor, add_db_argument, db_path


def _client():
    from ..pacs.client import PacsClient
    from ..pacs.settings import load_pacs_settings

    return PacsClient(load_pacs_settings())


def _pull(args: argparse.Namespace) -> int:
    from ..pacs.pull import pull
    from ..services import ModelService, registry_resolver
    from ..store import open_store

    db = db_path(args)
    analyzer = None if args.no_analyze else ModelService(args.model, resolver=registry_resolver(db))
    modalities = [m.strip().upper() for m in args.modality.split(",") if m.strip()] if args.modality else None
    with open_store(db) as store:
        report = pull(store, _client(), actor(args), analyzer=analyzer, since=args.since, modalities=modalities)
    for sop, message in report.refused:
        print(f"lungdx: refused: {sop}: {message}", file=sys.stderr)
    for message in sorted(set(report.model_errors)):
        print(f"lungdx: warning: AI analysis unavailable: {message}", file=sys.stderr)
    print(f"PACS pull: {report.summary()}")
    return 1 if report.refused else 0


def _push(args: argparse.Namespace) -> int:
    from ..errors import LungDxError
    from ..pacs.push import push_pending, push_results
    from ..store import open_store

    client, failed = _client(), 0
    with open_store(db_path(args)) as store:
        if args.pending:
            results = push_pending(store, client, actor(args))
        else:
            results = []
            for study_id in args.study:
                try:
                    results.append(push_results(store, client, study_id, actor(args), preliminary=args.preliminary))
                except LungDxError as exc:
                    results.append(f"Study {study_id}: {exc}")
    for result in results:
        if isinstance(result, str):
            failed += 1
            print(f"lungdx: error: {result}", file=sys.stderr)
        else:
            print(result.message)
    return 1 if failed else 0


def _stubs(args: argparse.Namespace) -> int:
    from ..store import open_store

    with open_store(db_path(args)) as store:
        if args.reviewed:
            store.review_stub(args.reviewed, actor(args))
            print(f"patient {args.reviewed}: marked as reviewed")
            return 0
        for stub in store.pacs_stubs():
            issuer = f" issuer {stub.issuer}" if stub.issuer else ""
            print(f"{stub.patient_id}\tPatientID {stub.source_patient_id}{issuer}\tcreated {stub.created_at}")
    return 0


def _orthanc(args: argparse.Namespace) -> int:
    """A local Orthanc for the demo: loads DICOM files, prints the settings, runs until Ctrl-C."""
    from ..pacs.orthanc import OrthancServer

    with OrthancServer(port=args.port) as server:
        for path in args.load or []:
            for f in sorted(Path(path).glob("*.dcm")) if Path(path).is_dir() else [Path(path)]:
                server.upload(f.read_bytes())
        env = Path(args.env_file) if args.env_file else None
        lines = [f"LUNGDX_PACS_URL={server.dicomweb_url}", f"LUNGDX_PACS_USERNAME={server.username}",
                 f"LUNGDX_PACS_PASSWORD={server.password}"]
        if env is not None:
            env.write_text("".join(f"export {line}\n" for line in lines))
            env.chmod(0o600)
            print(f"Orthanc on {server.url} ({len(server.instance_uids())} instances); settings in {env}", flush=True)
        else:
            print("\n".join(lines), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _poll(args: argparse.Namespace) -> int:
    """Pull (and send sign-offs back) every ``--interval`` s until the parent process (the server) ends."""
    import os
    from dataclasses import replace

    from ..pacs.pull import PacsPoller
    from ..pacs.settings import load_pacs_settings
    from ..services import ModelService, registry_resolver

    db, parent = db_path(args), os.getppid()
    settings = replace(load_pacs_settings(), poll_seconds=args.interval)
    poller = PacsPoller(db, settings, ModelService(resolver=registry_resolver(db)))
    while os.getppid() == parent or not args.with_parent:
        print(_line(poller.poll_once()), flush=True)
        deadline = time.monotonic() + args.interval
        while time.monotonic() < deadline and (os.getppid() == parent or not args.with_parent):
            time.sleep(0.5)
    if args.stop_pid:  # the demo's Orthanc ends with the server, however the server ended
        import signal

        try:
            os.kill(args.stop_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return 0


def _line(result) -> str:
    return result if isinstance(result, str) else f"PACS pull: {result.summary()}"


def _demo(args: argparse.Namespace) -> int:
    """``make demo-pacs``: Orthanc with the shared DICOMs, and the dashboard polling it."""
    import os

    from ..config import get_settings
    from ..pacs.orthanc import OrthancServer
    from ..server.launch import serve
    from .setup import _start_pacs_poller

    dicoms = sorted((get_settings().shared_data / "dicom").glob("*.dcm"))
    with OrthancServer(root=db_path(args).parent / "pacs-demo", own_session=False) as server:
        for f in dicoms:
            server.upload(f.read_bytes())
        os.environ.update({"LUNGDX_PACS_URL": server.dicomweb_url, "LUNGDX_PACS_USERNAME": server.username,
                           "LUNGDX_PACS_PASSWORD": server.password})
        print(f"demo PACS (Orthanc) on {server.url} with {len(dicoms)} DICOM files; "
              f"upload more with: curl -u {server.username}:*** {server.url}/instances --data-binary @FILE.dcm",
              flush=True)
        _start_pacs_poller(db_path(args), args.poll, stop_pid=server.pid)
        return serve(db=db_path(args), host=args.host, port=args.port)  # exec: Orthanc stops with the terminal's Ctrl-C


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands."""
    pacs = sub.add_parser("pacs", help="pull studies from the PACS (DICOMweb) and send results back")
    psub = pacs.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)

    p = psub.add_parser("pull", help="file new chest instances from the PACS, analyse them, put them on the worklist")
    p.add_argument("--since", metavar="DATE", help="only studies on or after this StudyDate (YYYY-MM-DD)")
    p.add_argument("--modality", metavar="CR,DX", help="modalities to pull (default: the configured ones)")
    p.add_argument("--no-analyze", action="store_true", help="file only; the next pull analyses them")
    p.add_argument("--model", type=Path, default=None, help="checkpoint (default: the registry's active version)")
    add_db_argument(p)
    p.set_defaults(func=_pull)

    p = psub.add_parser("push", help="send the SR and the boxes image of signed studies to the PACS (STOW-RS)")
    p.add_argument("--study", type=int, action="append", default=[], metavar="ID")
    p.add_argument("--pending", action="store_true", help="every pulled study whose newest sign-off was not sent")
    p.add_argument("--preliminary", action="store_true", help="send an unsigned AI result, marked preliminary")
    add_db_argument(p)
    p.set_defaults(func=_push)

    p = psub.add_parser("stubs", help="patients created from PACS headers that a person must review")
    p.add_argument("--reviewed", metavar="ID", help="mark this stub patient as reviewed")
    add_db_argument(p)
    p.set_defaults(func=_stubs)

    p = psub.add_parser("orthanc", help="run a local Orthanc (demo PACS) until Ctrl-C")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--load", action="append", metavar="DIR_OR_FILE", help="DICOM files to store in it first")
    p.add_argument("--env-file", metavar="FILE", help="write the LUNGDX_PACS_* settings here (mode 600)")
    p.set_defaults(func=_orthanc)

    p = psub.add_parser("poll", help="pull every --interval seconds (what `lungdx serve --pacs-poll` runs)")
    p.add_argument("--interval", type=int, default=30, metavar="SECONDS")
    p.add_argument("--forever", dest="with_parent", action="store_false",
                   help="keep polling when the process that started it ends")
    p.add_argument("--stop-pid", type=int, default=0, help=argparse.SUPPRESS)  # demo: stop Orthanc with the server
    add_db_argument(p)
    p.set_defaults(func=_poll)

    from ..config import get_settings

    p = psub.add_parser("demo", help="demo with a PACS: Orthanc with the shared DICOMs, the dashboard polling it")
    add_db_argument(p)
    p.add_argument("--host", default=get_settings().host)
    p.add_argument("--port", type=int, default=get_settings().port)
    p.add_argument("--poll", type=int, default=10, metavar="SECONDS")
    p.set_defaults(func=_demo)
