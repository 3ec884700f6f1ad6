"""Model registry logic: candidates, activation, rollback, and which checkpoint is in use.

Why these rules: a model that reaches clinicians must be (1) exactly the file that was evaluated
(SHA-256 checked at registration and again at activation), (2) evaluated before it can be
activated, (3) activated only by an analyst or admin, with an audit row, and (4) replaceable by
the previous version in one step when something looks wrong. Storage is the store's
``model_versions`` table; this module holds the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import get_settings

from ..errors import LungDxError
from ..model.weights import load_checkpoint, sha256_of
from ..policy import Permission
from ..store.errors import PermissionDenied
from ..store.records import ModelVersion

#: Roles that may change which model the clinicians see.


class NotEvaluated(LungDxError):
    """Activation refused: the candidate has no evaluation metrics yet."""


class ChecksumMismatch(LungDxError):
    """The checkpoint on disk is not the file that was registered."""


class NothingToRollBack(LungDxError):
    """Rollback asked for, but no earlier version was ever active."""


@dataclass(frozen=True)
class Activation:
    """The newly active version and any warnings the person activating it should read."""

    model: ModelVersion
    previous: ModelVersion | None
    warnings: tuple[str, ...]


def register_candidate(store, checkpoint: Path, actor: str, *, snapshot_id: str | None = None,
                       metrics: dict | None = None) -> ModelVersion:
    """Record a trained checkpoint as a candidate.

    The version name is the one the loaded model reports (``Analyzer.version``), so every
    prediction it makes can be traced back to this registry row; loading also proves the file
    is a valid checkpoint whose SHA-256 matches its sidecar.
    """
    loaded = load_checkpoint(Path(checkpoint).resolve())
    return store.register_model(loaded.version, loaded.path, loaded.sha256, actor,
                                snapshot_id=snapshot_id, metrics=metrics or {})


def metric_regressions(candidate: dict, reference: dict) -> list[str]:
    """Labels where the candidate's AUROC interval lies wholly below the reference AUROC.

    Works on the stored ``evaluate`` metrics (``labels[label].auroc`` and ``ci95``), so it
    needs no images; the paired bootstrap in :mod:`.compare` is the sharper test when run.
    """
    out: list[str] = []
    if (candidate.get("eval_set") or {}).get("fingerprint") != (reference.get("eval_set") or {}).get("fingerprint"):
        return ["evaluated on a different set than the active model: compare them with `lungdx models compare`"]
    for label, cand in (candidate.get("labels") or {}).items():
        ref = (reference.get("labels") or {}).get(label) or {}
        ci = cand.get("ci95")
        if ref.get("auroc") is None or cand.get("auroc") is None or not ci:
            continue
        if ci[1] < ref["auroc"]:
            out.append(f"{label}: AUROC {cand['auroc']:.3f} (95% CI {ci[0]:.3f}-{ci[1]:.3f}) "
                       f"is below the active model's {ref['auroc']:.3f}")
    return out


def _require_activating_role(store, actor: str, obj: str) -> None:
    """Refusals are audited too: who tried to change the clinicians' model matters."""
    try:
        store.require(actor, Permission.ACTIVATE_MODEL)
    except PermissionDenied:
        store.audit(actor, "activate_model", obj, outcome="denied")
        raise


def _verify_file(model: ModelVersion) -> None:
    path = Path(model.path)
    if not path.is_file():
        raise ChecksumMismatch(f"Checkpoint of model {model.version} is missing: {path}")
    if sha256_of(path) != model.sha256:
        raise ChecksumMismatch(f"Checkpoint of model {model.version} changed since registration "
                               f"(SHA-256 mismatch at {path}); it will not be activated.")


def activate(store, version: str, actor: str, *, extra_warnings: tuple[str, ...] = ()) -> Activation:
    """Make ``version`` the model clinicians see; the previous active version is retired.

    ``extra_warnings`` carries e.g. :meth:`Comparison.regressions` from a paired comparison so
    they are written to the audit row together with the stored-metric warnings.
    """
    _require_activating_role(store, actor, f"model:{version}")
    model = store.get_model(version)
    if not model.metrics:
        raise NotEvaluated(f"Model {version} has not been evaluated; run the evaluation before activating it.")
    _verify_file(model)
    previous = store.active_model()
    warnings = tuple(metric_regressions(model.metrics, previous.metrics) if previous else ()) + extra_warnings
    if previous is not None and previous.version == version:
        return Activation(model, None, warnings)
    with store.transaction():
        active = store.set_model_status(version, "active", actor)
        if warnings:
            store.audit(actor, "activation_warning", f"model:{version}", outcome="warning", detail="; ".join(warnings))
    return Activation(active, previous, warnings)


def rollback(store, actor: str) -> Activation:
    """Re-activate the version that was active before the current one, in one step."""
    _require_activating_role(store, actor, "model:rollback")
    current = store.active_model()
    earlier = [m for m in store.list_models()
               if m.activated_at and (current is None or m.version != current.version)]
    if not earlier:
        raise NothingToRollBack("No earlier model version was ever active; nothing to roll back to.")
    target = max(earlier, key=lambda m: m.activated_at)
    _verify_file(target)
    with store.transaction():
        restored = store.set_model_status(target.version, "active", actor)
        store.audit(actor, "rollback_model", f"model:{target.version}",
                    detail=f"rolled back from {current.version if current else 'no active model'}")
    return Activation(restored, current, ())


def active_model_for_configured_db() -> Path | None:
    """``active_model_path`` of the database in ``Settings.db`` (None when it does not exist yet)."""
    from ..store import open_store

    db = get_settings().store_target
    if isinstance(db, Path) and not db.is_file():
        return None
    with open_store(db) as store:
        return active_model_path(store)


def follow_registry() -> None:
    """Make ``Analyzer.load()`` default to the registry's active version (the dashboard and CLI call this)."""
    from ..model import register_default_model

    register_default_model(active_model_for_configured_db)


def active_model_path(store) -> Path | None:
    """Checkpoint of the active registry version, or None when the registry has none.

    ``Analyzer.load()`` and the dashboard call this to honour the registry; a missing file is
    returned as is so the loader names it instead of silently falling back to another model.
    """
    active = store.active_model()
    return Path(active.path) if active is not None else None
