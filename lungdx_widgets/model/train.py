"""Training: fixed seeds, patient-grouped split, balanced sampling, resumable, time-boxed.

``train_model(TrainConfig(...))`` is what ``lungdx train``, the notebook and the learning loop
all call. The schedule is fixed in advance (no early stopping on the validation split), so the
validation numbers recorded in the checkpoint are not tuned on that split.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_curve

from ..config import get_settings
from ..errors import LungDxError
from .data import (Prepared, acquisition_jitter, augment, balanced_weights, prepare, read_records, split_records,
                   supported_labels, to_network_units, two_class_rows, within_source_targets,
                   MIN_PER_CLASS_IN_SOURCE)
from .segment import LungSegmenter
from .analyze import forward
from .losses import LossWeights, ham_loss
from .metrics import auroc
from .network import DENSENET121, HamNet, NetConfig
from .weights import LABELS, load_checkpoint, save_checkpoint

#: Backbone layouts of torchxrayvision's DenseNet class. ``densenet121`` is the one its pretrained
#: weights fit; ``compact`` is a narrower DenseNet for CPU training from scratch.
ARCHITECTURES: dict[str, dict] = {
    "densenet121": {"growth_rate": 32, "block_config": DENSENET121, "num_init_features": 64},
    "compact": {"growth_rate": 16, "block_config": (4, 8, 12, 8), "num_init_features": 32},
}


class TrainingError(LungDxError):
    """Training cannot start with the given data or options."""


@dataclass
class TrainConfig:
    images_dir: Path
    labels_csv: Path
    out: Path
    boxes_csv: Path | None = None
    epochs: int = 20
    #: Stop after this many optimiser steps (tiny runs, tests); the LR schedule uses it too.
    max_steps: int | None = None
    #: Wall-clock budget in seconds: the LR schedule follows whichever of steps or time runs out
    #: first, so a time-boxed run still ends annealed (on a shared CPU, speed is not predictable).
    time_budget_s: float | None = None
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    input_size: int = 128
    arch: str = "densenet121"
    stride16: bool = True
    pool_margin: float = 0.125
    #: torchxrayvision pretrained weights name for the backbone, or "none" (from scratch).
    init: str = "none"
    #: Project checkpoint to start from (fine-tuning); overrides arch/input size/labels.
    init_from: Path | None = None
    freeze_backbone: bool = False
    labels: tuple[str, ...] | None = None
    min_positives: int = 20
    n_folds: int = 5
    fold: int = 0
    balanced: bool = True
    augment: bool = True
    #: Mirror half of each batch left-right (with the box masks); see :func:`augment`.
    hflip: bool = True
    #: Sampling weight multiplier for images with reference boxes: they are the only pixel-level
    #: supervision (~5% of images), so the box loss would otherwise see about one per batch.
    box_oversample: float = 3.0
    #: Each source is drawn in proportion to (its size) ** this (1 = as is; below 1 a 600-film
    #: single-label archive fills fewer batches); see :func:`balanced_weights`.
    source_power: float = 1.0
    #: Inference behaviour stored in the checkpoint (see :class:`NetConfig`).
    flip_tta: bool = True
    #: The old fixed two-Gaussian map prior (model v1); v2 limits maps to the segmented lungs instead.
    lung_prior: bool = False
    #: Model v2: read the segmented lung fields (crop + histogram equalisation), maps inside the lungs.
    lung_crop: bool = True
    #: Lung-segmentation checkpoint for the crop (default ``weights/<Settings.segmenter>``).
    segmenter: Path | None = None
    #: Image-level losses only from sources that hold both classes of a label (see
    #: :func:`~lungdx_widgets.model.data.within_source_targets`).
    within_source: bool = True
    #: Blur, down-up resampling, noise and burned-in markers (see :func:`acquisition_jitter`).
    acquisition: bool = True
    #: Fit the out-of-distribution guard (feature statistics of the training films) after training.
    ood_guard: bool = True
    #: Share of held-out in-distribution films the guard may flag (its threshold is their quantile).
    ood_flag_rate: float = 0.05
    #: Leave these sources out entirely (leave-one-source-out runs).
    exclude_sources: tuple[str, ...] = ()
    #: The folders a merged training set came from (``lungdx train --images A B --labels A.csv B.csv``),
    #: as ``[images, labels, boxes]`` triples: what the model card's "Reproduce" line names.
    datasets: tuple[tuple[str, str, str], ...] = ()
    loss: LossWeights = field(default_factory=lambda: LossWeights(negative_map=1.0, outside_lung=0.5))
    #: Use only N images, evenly spaced in file-name order (covers every source) — for smoke runs.
    limit: int | None = None
    resume: bool = True
    #: Torch threads for training. One: on a shared 2-core machine two threads spin-wait and burned
    #: ~10x the CPU per image here (measured at load 12); None = ``Settings.torch_threads``.
    threads: int | None = 1

    def recipe(self) -> dict:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


@dataclass
class TrainResult:
    path: Path
    steps: int
    seconds: float
    history: list[dict]
    validation: dict[str, dict]
    thresholds: dict[str, float]
    labels: tuple[str, ...]
    stopped_early: bool = False


def resume_path(out: Path) -> Path:
    return Path(out).with_suffix(".resume.pt")


def learning_rate(progress: float, base: float, warmup: float = 0.1) -> float:
    """Linear warm-up then cosine decay to 1% of ``base``; ``progress`` in [0, 1]."""
    if progress < warmup:
        return base * (0.1 + 0.9 * progress / warmup)
    return base * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min((progress - warmup) / (1 - warmup), 1.0))))


#: Below this many validation positives Youden's J is noise: the threshold then holds specificity instead.
MIN_POSITIVES_FOR_YOUDEN = 20
#: Specificity kept for sparsely validated labels (false alarms push studies up the worklist).
SPARSE_LABEL_SPECIFICITY = 0.9
THRESHOLD_POLICY = (f"Youden's J on the validation split for labels with ≥ {MIN_POSITIVES_FOR_YOUDEN} validation "
                    f"positives; otherwise the score that keeps {SPARSE_LABEL_SPECIFICITY:.0%} specificity on the "
                    "validation negatives")


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Operating point maximising sensitivity + specificity on the validation split."""
    if len(set(y.tolist())) < 2:
        return 0.5
    fpr, tpr, thr = roc_curve(y, p)
    best = int(np.argmax(tpr - fpr))
    return float(min(max(thr[best], 1e-4), 1.0))


def operating_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The label's operating point under :data:`THRESHOLD_POLICY`.

    With a handful of positives Youden's J picks thresholds near zero (seen: Effusion 0.05 on 8
    positives), flagging most films and flooding triage; negatives are plentiful, so a fixed
    specificity is the stable choice there.
    """
    y = np.asarray(y)
    if int((y == 1).sum()) >= MIN_POSITIVES_FOR_YOUDEN:
        return youden_threshold(y, p)
    negatives = np.asarray(p)[y == 0]
    if len(negatives) == 0:
        return 0.5
    return float(min(max(np.quantile(negatives, SPARSE_LABEL_SPECIFICITY), 1e-4), 1.0))


WITHIN_SOURCE_THRESHOLD_POLICY = (f"the score that keeps {SPARSE_LABEL_SPECIFICITY:.0%} specificity on the validation "
                                  "negatives of the sources that hold both classes of the label (on all validation "
                                  "negatives where no source does, e.g. tuberculosis): with held-out AUROCs of 0.7-0.85 a "
                                  "balanced operating point calls a third of normal films positive, so 'likely' is kept "
                                  "for scores that normal films rarely reach")


def within_source_thresholds(probs: np.ndarray, data: Prepared, labels: tuple[str, ...]) -> dict[str, float]:
    """Operating points under :data:`WITHIN_SOURCE_THRESHOLD_POLICY`.

    Pooled over sources, a positives-only archive that scores high moves the operating point, and
    normal films of the two-class sources are then called positive (seen: 34% of NIH normals).
    """
    out = {}
    for j, label in enumerate(labels):
        y = data.targets[:, j].numpy()
        rows = two_class_rows(y, [r.source for r in data.records])
        negatives = probs[(rows if rows.any() else np.ones(len(y), bool)) & (y == 0), j]
        out[label] = float(min(max(np.quantile(negatives, SPARSE_LABEL_SPECIFICITY), 1e-4), 1.0)) if len(negatives) else 0.5
    return out


#: A trained label is shown only if it separates held-out films at least this well (its AUROC within
#: the sources that hold both classes; pooled where none does): below it, "not assessed" is the
#: honest answer, not a number a clinician might act on.
MIN_REPORTED_AUROC = 0.7


def within_source_auroc(probs: np.ndarray, data: Prepared, j: int, min_each: int = MIN_PER_CLASS_IN_SOURCE) -> float | None:
    """Mean AUROC of label ``j`` inside each source with both classes (weighted by films); pooled if none has."""
    y = data.targets[:, j].numpy()
    sources = np.array([r.source for r in data.records])
    rows = two_class_rows(y, sources.tolist(), min_each)
    if rows.any():
        values, weights = [], []
        for source in sorted(set(sources[rows].tolist())):
            m = rows & (sources == source)
            score = auroc(y[m], probs[m, j])
            if score is not None:  # two_class_rows kept only sources with both classes: always set
                values.append(score)
                weights.append(int(m.sum()))
        return float(np.average(values, weights=weights))
    known = ~np.isnan(y)
    return auroc(y[known], probs[known, j])


#: Held-out films of each class a label needs before its AUROC may withhold it (tiny runs decide nothing).
MIN_FILMS_TO_WITHHOLD = 10


def withheld_labels(probs: np.ndarray, data: Prepared, labels: tuple[str, ...],
                    inherited: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Labels below :data:`MIN_REPORTED_AUROC` on the validation split (reported as not assessed).

    A label with fewer than :data:`MIN_FILMS_TO_WITHHOLD` validation films of a class keeps the
    decision ``inherited`` from the checkpoint a fine-tune started from (a small site set decides nothing).
    """
    out = []
    for j, label in enumerate(labels):
        y = data.targets[:, j].numpy() if len(data.records) else np.zeros(0)
        rows = two_class_rows(y, [r.source for r in data.records]) if len(data.records) else np.zeros(0, bool)
        used = y[rows] if rows.any() else y[~np.isnan(y)]
        if (used == 1).sum() < MIN_FILMS_TO_WITHHOLD or (used == 0).sum() < MIN_FILMS_TO_WITHHOLD:
            if label in inherited:
                out.append(label)
            continue
        score = within_source_auroc(probs, data, j)
        if score is None or score < MIN_REPORTED_AUROC:
            out.append(label)
    return tuple(out)


def validation_metrics(probs: np.ndarray, data: Prepared, labels: tuple[str, ...]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for j, label in enumerate(labels):
        y = data.targets[:, j].numpy()
        known = ~np.isnan(y)
        y, p = y[known], probs[known, j]
        n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
        out[label] = {"auroc": auroc(y, p), "n_pos": n_pos, "n_neg": n_neg, "threshold": operating_threshold(y, p)}
    return out


def predict_prepared(model: HamNet, data: Prepared, batch: int = 32) -> list:
    """:func:`forward` over prepared films in batches (the same crops and maps as serving)."""
    model.eval()
    outs = []
    for i in range(0, len(data.images), batch):
        grids = data.lung_grids[i:i + batch].numpy() if data.lung_grids is not None else None
        outs.append(forward(model, to_network_units(data.images[i:i + batch], data.standardize), grids))
    return outs


def _predict(model: HamNet, data: Prepared, batch: int = 32) -> np.ndarray:
    outs = [o.probabilities for o in predict_prepared(model, data, batch)]
    return np.concatenate(outs) if outs else np.zeros((0, len(model.config.labels)))


def fit_ood_guard(model: HamNet, train: Prepared, val: Prepared, flag_rate: float) -> tuple[HamNet, dict]:
    """Feature statistics of the training films (mean, Ledoit-Wolf precision) and the distance that
    flags ``flag_rate`` of the held-out in-distribution films; returns the guarded model and a report."""
    from dataclasses import replace as dc_replace

    from sklearn.covariance import LedoitWolf

    def embeddings(data: Prepared) -> np.ndarray:
        feats = []
        with torch.inference_mode():
            for i in range(0, len(data.images), 32):
                x = to_network_units(data.images[i:i + 32], data.standardize)
                out = model(torch.cat([x, x.flip(-1)]))
                n = x.shape[0]
                feats.append(((out.embedding[:n] + out.embedding[n:]) / 2).numpy())
        return np.concatenate(feats)

    model.eval()
    lw = LedoitWolf().fit(embeddings(train))
    model.ood_mean.copy_(torch.as_tensor(lw.location_, dtype=torch.float32))
    model.ood_precision.copy_(torch.as_tensor(lw.precision_, dtype=torch.float32))
    reference = val if len(val.images) else train
    distances = model.ood_distance(torch.as_tensor(embeddings(reference))).numpy()
    threshold = float(np.quantile(distances, 1.0 - flag_rate))
    model.config = dc_replace(model.config, ood_threshold=threshold)
    return model, {"threshold": threshold, "flag_rate_target": flag_rate, "n_reference": int(len(distances)),
                   "reference": "validation split" if len(val.images) else "training split",
                   "flagged_reference": float(np.mean(distances > threshold))}


def _build_model(cfg: TrainConfig, records) -> tuple[HamNet, NetConfig]:
    if cfg.init_from:
        base = load_checkpoint(Path(cfg.init_from))
        net_cfg = NetConfig.from_dict(base.config)
        model = HamNet(net_cfg)
        model.load_state_dict(base.state_dict)
        return model, net_cfg
    if cfg.arch not in ARCHITECTURES:
        raise TrainingError(f"unknown architecture '{cfg.arch}'; choose one of {', '.join(ARCHITECTURES)}")
    labels = cfg.labels or supported_labels(records, LABELS, cfg.min_positives)
    if not labels:
        raise TrainingError(f"no label has at least {cfg.min_positives} positive and negative images in {cfg.labels_csv}")
    xrv_name = None if cfg.init in ("", "none", None) else cfg.init
    if xrv_name and cfg.arch != "densenet121":
        raise TrainingError(f"torchxrayvision weights '{xrv_name}' fit only --arch densenet121, not '{cfg.arch}'")
    net_cfg = NetConfig(labels=tuple(labels), input_size=cfg.input_size, stride16=cfg.stride16,
                        pool_margin=cfg.pool_margin, flip_tta=cfg.flip_tta, lung_prior=cfg.lung_prior,
                        lung_crop=cfg.lung_crop, **ARCHITECTURES[cfg.arch])
    return HamNet(net_cfg, xrv_weights=xrv_name), net_cfg


@dataclass
class _Run:
    """One training run's state: what :func:`_setup` builds and the loop, validation and checkpoint steps share."""

    cfg: TrainConfig
    model: HamNet
    net_cfg: NetConfig
    train_recs: list
    val_recs: list
    train: Prepared
    val: Prepared
    segmenter: LungSegmenter | None
    bce_targets: torch.Tensor
    bce_abnormal: torch.Tensor
    taught: dict
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    weights: torch.Tensor
    steps_per_epoch: int
    total_steps: int
    state_file: Path
    step: int = 0
    history: list = field(default_factory=list)
    started: float = 0.0

    @property
    def labels(self) -> tuple[str, ...]:
        return self.net_cfg.labels

    def progress_fraction(self) -> float:
        """How far the run is: by steps, or by the time budget when that ends it sooner."""
        by_steps = self.step / self.total_steps
        by_time = (time.monotonic() - self.started) / self.cfg.time_budget_s if self.cfg.time_budget_s else 0.0
        return min(max(by_steps, by_time), 1.0)


def _setup(cfg: TrainConfig) -> _Run:
    """Records, split, prepared tensors, model, optimizer and sampler; resumed from ``cfg.out``'s state file if asked."""
    torch.set_num_threads(max(1, cfg.threads or get_settings().torch_threads))
    torch.manual_seed(cfg.seed)
    records = sorted(read_records(Path(cfg.labels_csv), cfg.boxes_csv), key=lambda r: r.file)
    if cfg.exclude_sources:
        records = [r for r in records if r.source not in set(cfg.exclude_sources)]
    if cfg.limit:
        records = records[::max(1, len(records) // cfg.limit)][:cfg.limit]
    model, net_cfg = _build_model(cfg, records)
    labels = net_cfg.labels
    train_recs, val_recs = split_records(records, cfg.fold, cfg.n_folds, cfg.seed)
    if not train_recs:
        raise TrainingError("the training split is empty; use more images or fewer folds")
    segmenter = LungSegmenter.load(cfg.segmenter) if net_cfg.lung_crop else None
    train = prepare(train_recs, Path(cfg.images_dir), labels, net_cfg.input_size, net_cfg, segmenter)
    val = prepare(val_recs, Path(cfg.images_dir), labels, net_cfg.input_size, net_cfg, segmenter)
    bce_targets, bce_abnormal, taught = (within_source_targets(train) if cfg.within_source
                                         else (train.targets, train.abnormal, {}))
    if cfg.freeze_backbone:
        for p in model.features.parameters():
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(train_recs) / cfg.batch_size))
    weights = torch.tensor(balanced_weights(train_recs, source_power=cfg.source_power) if cfg.balanced
                           else [1.0] * len(train_recs))
    weights = weights * torch.where(train.has_box.any(dim=1), cfg.box_oversample, 1.0)
    state_file = resume_path(cfg.out)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    run = _Run(cfg, model, net_cfg, train_recs, val_recs, train, val, segmenter, bce_targets, bce_abnormal, taught,
               optimizer, torch.Generator().manual_seed(cfg.seed), weights, steps_per_epoch,
               cfg.max_steps or cfg.epochs * steps_per_epoch, state_file)
    elapsed_before = 0.0
    if cfg.resume and state_file.is_file():
        state = torch.load(state_file, map_location="cpu", weights_only=True)
        if state.get("recipe") == cfg.recipe():
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            run.generator.set_state(state["generator"])
            run.step, run.history, elapsed_before = int(state["step"]), list(state["history"]), float(state["elapsed"])
    run.started = time.monotonic() - elapsed_before
    return run


def _train_epoch(run: _Run, progress: Callable[[dict], None] | None) -> tuple[dict[str, float], int]:
    """One pass of ``steps_per_epoch`` sampled batches (fewer when the run ends): (summed loss parts, batches)."""
    cfg, model, train, labels = run.cfg, run.model, run.train, run.labels
    model.train()
    if cfg.freeze_backbone:
        model.features.eval()
    running: dict[str, float] = {}
    n_batches = 0
    for _ in range(run.steps_per_epoch):
        if run.progress_fraction() >= 1.0:
            break
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(run.progress_fraction(), cfg.lr)
        idx = torch.multinomial(run.weights, cfg.batch_size, replacement=True, generator=run.generator)
        images = train.images[idx].float() / 255.0
        masks = train.box_masks[idx].float()
        if train.lung_grids is not None:
            masks = torch.cat([masks, train.lung_grids[idx, None].float()], 1)
        if cfg.augment:
            images, masks = augment(images, masks, run.generator, hflip=cfg.hflip)
        if cfg.acquisition:
            images = acquisition_jitter(images, run.generator)
        lungs = masks[:, len(labels):] if train.lung_grids is not None else None
        out = model(to_network_units(images, train.standardize))
        loss, parts = ham_loss(out, run.bce_targets[idx], run.bce_abnormal[idx], masks[:, :len(labels)],
                               train.has_box[idx], cfg.loss, negatives=train.targets[idx] == 0, lung_masks=lungs)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.step += 1
        n_batches += 1
        for k, v in dict(parts, total=float(loss.detach())).items():
            running[k] = running.get(k, 0.0) + v
        if progress:
            progress({"step": run.step, "total_steps": run.total_steps, "loss": float(loss.detach())})
    return running, n_batches


def _validate(run: _Run) -> tuple[np.ndarray, dict[str, dict]]:
    """Probabilities on the validation split and their per-label metrics ({} without a validation split)."""
    val_probs = _predict(run.model, run.val)
    return val_probs, (validation_metrics(val_probs, run.val, run.labels) if len(run.val_recs) else {})


def _save_resume_state(run: _Run) -> None:
    """Temp file + rename: an interrupt during the save never leaves a broken resume file."""
    partial = run.state_file.with_suffix(".partial")
    torch.save({"recipe": run.cfg.recipe(), "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(),
                "generator": run.generator.get_state(), "step": run.step, "history": run.history,
                "elapsed": time.monotonic() - run.started}, partial)
    os.replace(partial, run.state_file)


def _write_checkpoint(run: _Run, stopped_early: bool) -> TrainResult:
    """Thresholds (within-source for lung-crop models), the OOD guard, then the checkpoint and its sidecar."""
    cfg, labels = run.cfg, run.labels
    val_probs, metrics = _validate(run)
    thresholds = {label: metrics.get(label, {}).get("threshold", 0.5) for label in labels}
    ood_report = None
    model, net_cfg = run.model, run.net_cfg
    if net_cfg.lung_crop and len(run.val_recs):
        thresholds = within_source_thresholds(val_probs, run.val, labels)
    if cfg.ood_guard and net_cfg.lung_crop:
        model, ood_report = fit_ood_guard(model, run.train, run.val, cfg.ood_flag_rate)
        model.config = replace(model.config, withheld=withheld_labels(val_probs, run.val, labels, net_cfg.withheld))
        net_cfg = model.config
    meta = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "recipe": cfg.recipe(),
        "data": {"images_dir": str(cfg.images_dir), "labels_csv": str(cfg.labels_csv),
                 "boxes_csv": str(cfg.boxes_csv) if cfg.boxes_csv else None,
                 "n_train": len(run.train_recs), "n_val": len(run.val_recs)},
        "split": {"method": f"patient-grouped, stratified by source/view/Pneumonia; fold {cfg.fold} of {cfg.n_folds}, seed {cfg.seed}",
                  "train_patients": sorted({r.patient_id for r in run.train_recs}),
                  "val_patients": sorted({r.patient_id for r in run.val_recs})},
        "validation": metrics, "history": run.history, "steps": run.step, "stopped_early": stopped_early,
        "threshold_policy": WITHIN_SOURCE_THRESHOLD_POLICY if net_cfg.lung_crop else THRESHOLD_POLICY,
        "taught_by_sources": {(labels[int(k.split(":")[1])] if k.startswith("label:") else k): v
                              for k, v in run.taught.items()},
        "ood_guard": ood_report,
        "segmenter": run.segmenter.version if run.segmenter is not None else None,
    }
    save_checkpoint(Path(cfg.out), net_cfg.as_dict(), model.state_dict(), thresholds, meta)
    run.state_file.unlink(missing_ok=True)  # an interrupted run (exception, Ctrl-C) keeps it for resuming
    return TrainResult(Path(cfg.out), run.step, time.monotonic() - run.started, run.history, metrics, thresholds,
                       labels, stopped_early)


def train_model(config: TrainConfig, progress: Callable[[dict], None] | None = None) -> TrainResult:
    """Train (or resume) and write ``config.out`` + its JSON sidecar: setup → epochs (validate, save resume
    state after each) → checkpoint."""
    run = _setup(config)
    while run.progress_fraction() < 1.0:
        running, n_batches = _train_epoch(run, progress)
        _val_probs, metrics = _validate(run)
        run.history.append({"step": run.step, "loss": {k: v / max(n_batches, 1) for k, v in running.items()},
                            "val_auroc": {k: m["auroc"] for k, m in metrics.items()},
                            "seconds": time.monotonic() - run.started})
        if progress:
            progress({"step": run.step, "total_steps": run.total_steps, "epoch_end": True, **run.history[-1]})
        _save_resume_state(run)
    return _write_checkpoint(run, stopped_early=run.step < run.total_steps)  # the time budget ended it (annealed)
