"""Fine-tuning jobs: from a frozen snapshot and the active model to an evaluated candidate.

Why a job and not just a call to ``train_model``: training takes minutes to hours on a CPU and
people interrupt it. A job's folder under ``Settings.model_runs`` is named after *what* is
trained (snapshot, base checkpoint SHA-256, options), so running the same job again resumes
from the trainer's resume file instead of starting over. The checkpoint is written atomically
by the trainer, and the registry is only touched after training *and* evaluation succeeded, so
an interrupted job leaves the registry exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import get_settings
from ..errors import LungDxError
from ..model.evaluate import evaluate_model
from ..model.weights import WeightsMissing, default_model_path, sha256_of, xrv_weights_file
from ..model.train import TrainConfig, TrainResult, train_model
from ..store.records import ModelVersion
from .evalsets import EvalSet
from ..policy import Permission
from .activation import active_model_path, register_candidate
from .snapshots import verify_snapshot

Progress = Callable[[dict], None]
JOB_FILE = "job.json"


class JobFailed(LungDxError):
    """Fine-tuning stopped with an error; the registry was not changed."""


@dataclass(frozen=True)
class FineTuneOptions:
    """The few knobs worth turning when fine-tuning (everything else comes from the base model)."""

    epochs: int = 3
    max_steps: int | None = None
    batch_size: int = 16
    lr: float = 3e-4
    freeze_backbone: bool = False
    time_budget_s: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class StartingPoint:
    """What a job starts from: a project checkpoint, or torchxrayvision weights when there is none."""

    path: Path  # the file whose SHA-256 names the run
    train_args: dict  # TrainConfig fields that select it


@dataclass(frozen=True)
class FineTuneRun:
    """A finished training run: the checkpoint and how it was made (not yet registered)."""

    checkpoint: Path
    snapshot_id: str
    base: Path
    result: TrainResult | None  # None when the run had already finished earlier
    run_dir: Path


def starting_point(store, xrv_init: str | None = None) -> StartingPoint:
    """The active registry version, else the shipped default model, else (when asked for and
    present in the weights cache) the torchxrayvision weights ``xrv_init``."""
    project = active_model_path(store) or default_model_path()
    if project.is_file():
        return StartingPoint(project, {"init_from": project})
    if xrv_init:
        local, _ = xrv_weights_file(xrv_init)
        if not local.is_file():
            raise WeightsMissing(local, f"no project checkpoint ({project.name}) either")
        return StartingPoint(local, {"init": xrv_init, "min_positives": 1})
    raise WeightsMissing(project, "fine-tuning starts from the active model or this default checkpoint")


def _run_dir(snapshot_id: str, base_sha: str, options: FineTuneOptions) -> Path:
    key = hashlib.sha256(json.dumps(asdict(options), sort_keys=True).encode()).hexdigest()[:8]
    return get_settings().model_runs / f"{snapshot_id}-from-{base_sha[:8]}-{key}"


def _write_job(run_dir: Path, **state: object) -> None:
    """Record the job's state next to its files (atomic replace: readable at any moment)."""
    path = run_dir / JOB_FILE
    current = json.loads(path.read_text()) if path.is_file() else {}
    current.update(state, updated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    tmp = path.with_name(JOB_FILE + ".tmp")
    tmp.write_text(json.dumps(current, indent=2, default=str))
    os.replace(tmp, path)


def read_job(run_dir: Path) -> dict:
    """The job's recorded state (``status``: running / interrupted / failed / done)."""
    path = Path(run_dir) / JOB_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def fine_tune(store, snapshot_id: str, actor: str, options: FineTuneOptions = FineTuneOptions(),
              progress: Progress | None = None, *, xrv_init: str | None = None) -> FineTuneRun:
    """Train a new checkpoint from the base model on a snapshot; resumes an interrupted run.

    Ctrl-C (``KeyboardInterrupt``) marks the job interrupted and re-raises; calling again with
    the same arguments continues from the last completed epoch. ``xrv_init`` names
    torchxrayvision weights to start from when no project checkpoint exists yet.
    """
    store.require(actor, Permission.ACTIVATE_MODEL)
    snapshot = store.get_snapshot(snapshot_id)
    verify_snapshot(snapshot)
    start = starting_point(store, xrv_init)
    base = start.path
    run_dir = _run_dir(snapshot_id, sha256_of(base), options)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = run_dir / f"ft-{snapshot_id}.pt"
    if read_job(run_dir).get("status") == "done" and checkpoint.is_file():
        return FineTuneRun(checkpoint, snapshot_id, base, None, run_dir)
    folder = Path(snapshot.path)
    config = TrainConfig(images_dir=folder / "images", labels_csv=folder / "labels.csv", boxes_csv=folder / "boxes.csv",
                         out=checkpoint, resume=True, **start.train_args, **asdict(options))
    _write_job(run_dir, status="running", snapshot=snapshot_id, base=str(base), actor=actor, options=asdict(options))
    store.audit(actor, "fine_tune_start", f"snapshot:{snapshot_id}", detail=f"base={base.name}; run={run_dir.name}")
    try:
        result = train_model(config, progress=progress)
    except KeyboardInterrupt:
        _write_job(run_dir, status="interrupted")
        store.audit(actor, "fine_tune", f"snapshot:{snapshot_id}", outcome="interrupted", detail=run_dir.name)
        raise
    except LungDxError as exc:
        _write_job(run_dir, status="failed", error=str(exc))
        store.audit(actor, "fine_tune", f"snapshot:{snapshot_id}", outcome="failed", detail=str(exc))
        raise JobFailed(f"Fine-tuning on {snapshot_id} failed: {exc}") from exc
    except Exception as exc:  # a bug or out of memory: record it, keep the registry untouched, re-raise
        _write_job(run_dir, status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    _write_job(run_dir, status="done", steps=result.steps, seconds=round(result.seconds, 1))
    store.audit(actor, "fine_tune", f"snapshot:{snapshot_id}", detail=f"{result.steps} steps -> {checkpoint.name}")
    return FineTuneRun(checkpoint, snapshot_id, base, result, run_dir)


def evaluate_and_register(store, checkpoint: Path, eval_set: EvalSet, actor: str, *,
                          snapshot_id: str | None = None) -> ModelVersion:
    """Evaluate a checkpoint on the fixed set, then (only then) register it as a candidate.

    Used for fine-tuned runs (``snapshot_id`` names their training set) and for the shipped
    model, so the first activation already has a reference to be compared with.
    """
    metrics = evaluate_model(checkpoint, eval_set.images_dir, eval_set.labels_csv, eval_set.boxes_csv)
    metrics["eval_set"] = {"labels_csv": str(eval_set.labels_csv), "fingerprint": eval_set.fingerprint()}
    return register_candidate(store, checkpoint, actor, snapshot_id=snapshot_id, metrics=metrics)
