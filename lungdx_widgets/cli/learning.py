"""``lungdx snapshot create|show``, ``lungdx retrain --from-snapshot ID``, ``lungdx models list|register|activate|rollback|compare``.

Thin wrappers over :mod:`lungdx_widgets.learning`. ``retrain`` is separate from the model area's
``lungdx train`` (which trains from CSV files): it fine-tunes the active model on a frozen
snapshot, evaluates the result and registers it as a candidate. Heavy imports stay inside the
handlers so ``lungdx --help`` remains fast.
"""

from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from .common import actor as acting_user, add_db_argument, db_path


@contextmanager
def _store(args: argparse.Namespace):
    from ..store import open_store

    store = open_store(db_path(args))
    try:
        yield store
    finally:
        store.close()


def _eval_set(args: argparse.Namespace):
    from ..learning.evalsets import EvalSet

    if args.eval_labels is None:
        return EvalSet.shared()
    return EvalSet(args.eval_images or args.eval_labels.parent / "images", args.eval_labels, args.eval_boxes)


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


# -- handlers ---------------------------------------------------------------------------------

def _snapshot_create(args: argparse.Namespace) -> int:
    from ..config import get_settings
    from ..learning.snapshots import SharedSelection, create_snapshot

    shared = SharedSelection(get_settings().shared_data, args.shared_limit) if args.include_shared else None
    with _store(args) as store:
        snap = create_snapshot(store, acting_user(args), shared=shared, note=args.note)
    print(f"{snap.id}  {snap.counts['images']} images, {snap.counts['boxes']} boxes  {snap.path}")
    return 0


def _snapshot_show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        _print_json(asdict(store.get_snapshot(args.snapshot_id)))
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..learning.jobs import FineTuneOptions, evaluate_and_register, fine_tune

    options = FineTuneOptions(epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
                              freeze_backbone=args.freeze_backbone, time_budget_s=args.time_budget, seed=args.seed)
    with _store(args) as store, tqdm(desc=f"fine-tuning on {args.from_snapshot}", unit="step") as bar:
        def progress(event: dict) -> None:
            bar.total = event["total_steps"]
            bar.n = event["step"]
            if "loss" in event and isinstance(event["loss"], float):
                bar.set_postfix(loss=f"{event['loss']:.3f}")
            bar.refresh()

        actor = acting_user(args)
        run = fine_tune(store, args.from_snapshot, actor, options, progress=progress, xrv_init=args.xrv_init)
        bar.close()
        print(f"checkpoint {run.checkpoint}")
        if args.no_register:
            return 0
        model = evaluate_and_register(store, run.checkpoint, _eval_set(args), actor, snapshot_id=args.from_snapshot)
    print(f"registered candidate {model.version} (activate with `lungdx models activate {model.version}`)")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        models = store.list_models()
    if args.json:
        _print_json([asdict(m) for m in models])
        return 0
    if not models:
        print("no registered model versions (register one with `lungdx models register CHECKPOINT`)")
    for m in models:
        pneumonia = (m.metrics.get("labels") or {}).get("Pneumonia", {}).get("auroc")
        auc = "n/a" if pneumonia is None else f"{pneumonia:.3f}"
        print(f"{m.status:<9} {m.version:<40} snapshot={m.snapshot_id or '-':<18} Pneumonia AUROC={auc}  {m.created}")
    return 0


def _models_register(args: argparse.Namespace) -> int:
    from ..learning.jobs import evaluate_and_register

    with _store(args) as store:
        model = evaluate_and_register(store, args.checkpoint, _eval_set(args), acting_user(args), snapshot_id=args.snapshot)
    print(f"registered candidate {model.version}")
    return 0


def _models_activate(args: argparse.Namespace) -> int:
    from ..learning.activation import activate

    with _store(args) as store:
        result = activate(store, args.version, acting_user(args))
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(f"active: {result.model.version}" + (f" (was {result.previous.version})" if result.previous else ""))
    return 0


def _models_rollback(args: argparse.Namespace) -> int:
    from ..learning.activation import rollback

    with _store(args) as store:
        result = rollback(store, acting_user(args))
    print(f"active: {result.model.version} (rolled back from {result.previous.version if result.previous else 'none'})")
    return 0


def _models_compare(args: argparse.Namespace) -> int:
    from ..learning.compare import compare_versions, comparison_figure

    with _store(args) as store:
        result = compare_versions(store, args.a, args.b, _eval_set(args), n_boot=args.bootstrap, limit=args.limit)
    if args.html:
        comparison_figure(result).write_html(str(args.html), include_plotlyjs=True)
    if args.json:
        _print_json(result.as_dict())
        return 0
    print(f"{result.version_b} vs {result.version_a} on {result.n_images} images")
    for r in result.labels:
        if r.delta is None:
            print(f"  {r.label:<14} not comparable (n+={r.n_pos}, n-={r.n_neg})")
            continue
        lo, hi = r.delta_ci or (float("nan"), float("nan"))
        print(f"  {r.label:<14} AUROC {r.auroc_a:.3f} -> {r.auroc_b:.3f}  difference {r.delta:+.3f} "
              f"[{lo:+.3f}, {hi:+.3f}]" + ("  WORSE beyond CI" if r.b_worse_beyond_ci else ""))
    print(f"  ECE {_fmt(result.ece_a)} -> {_fmt(result.ece_b)}; pointing game {_fmt(result.hit_rate_a)} -> "
          f"{_fmt(result.hit_rate_b)} on {result.n_boxes} boxes")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# -- parsers ----------------------------------------------------------------------------------

def _common(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--user", default=None, help="acting store user (default: the logged-in user)")


def _eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--eval-labels", type=Path, default=None, metavar="CSV",
                   help="fixed evaluation set labels.csv (default: the shared public data)")
    p.add_argument("--eval-images", type=Path, default=None, metavar="DIR", help="its images (default: CSV folder/images)")
    p.add_argument("--eval-boxes", type=Path, default=None, metavar="CSV")


def _command(subparsers: argparse._SubParsersAction, name: str, help: str, func) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help)
    _common(p)
    p.set_defaults(func=func)
    return p


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands."""
    snap = sub.add_parser("snapshot", help="freeze reviewed annotations into a versioned training set")
    snap_sub = snap.add_subparsers(dest="snapshot_command", metavar="ACTION", required=True)
    p = _command(snap_sub, "create", "freeze accepted/edited annotations (+ optionally the shared data)", _snapshot_create)
    p.add_argument("--include-shared", action="store_true", help="add the shared public training images")
    p.add_argument("--shared-limit", type=int, default=None, metavar="N", help="only the first N shared images")
    p.add_argument("--note", default="")
    _command(snap_sub, "show", "print a snapshot's record (hash, counts, who/when)", _snapshot_show).add_argument("snapshot_id")

    p = _command(sub, "retrain", "fine-tune the active model on a snapshot, evaluate, register a candidate", _retrain)
    _eval_arguments(p)
    p.add_argument("--from-snapshot", required=True, metavar="ID")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--freeze-backbone", action="store_true")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS")
    p.add_argument("--no-register", action="store_true", help="train only (resume later)")
    p.add_argument("--xrv-init", default=None, metavar="NAME",
                   help="torchxrayvision weights (in weights/xrv) to start from when no project checkpoint exists")

    models = sub.add_parser("models", help="model registry: list, register, activate, rollback, compare")
    m_sub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    _command(m_sub, "list", "registered versions, newest first", _models_list).add_argument("--json", action="store_true")
    p = _command(m_sub, "register", "evaluate a checkpoint on the fixed set and register it as a candidate",
                 _models_register)
    _eval_arguments(p)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--snapshot", default=None, metavar="ID", help="snapshot it was trained on")
    _command(m_sub, "activate", "make an evaluated version the one clinicians see (analyst/admin)",
             _models_activate).add_argument("version")
    _command(m_sub, "rollback", "re-activate the previously active version", _models_rollback)
    p = _command(m_sub, "compare", "paired comparison of two versions on the same evaluation images", _models_compare)
    _eval_arguments(p)
    p.add_argument("a", metavar="A", help="reference version (e.g. the active one)")
    p.add_argument("b", metavar="B", help="version compared against A")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="every k-th image, N in all")
    p.add_argument("--json", action="store_true")
    p.add_argument("--html", type=Path, default=None, metavar="FILE", help="also write the plotly figure")
