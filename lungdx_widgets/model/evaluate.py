"""Evaluation that is read against the shortcuts of this data.

Besides per-label AUROC (bootstrap 95% CI), sensitivity/specificity at the operating threshold
and calibration (ECE), it reports AUROC per view and per source, where heatmap peaks fall, the
pointing game and IoU on boxed images, and the same AUROCs for a model that cannot see lungs:
logistic regression on 32×32 pixels trained on the same training images.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from .analyze import Analyzer, RawOutput
from .data import Prepared, Record, prepare, read_records, to_network_units
from .metrics import auroc, bootstrap_ci, expected_calibration_error, stratified_auroc
from .localize import boxes_from_map, inside, iou, peak, upsample
from .weights import read_sidecar, save_checkpoint, update_sidecar

BASELINE_SIZE = 32
#: The label the project's targets are about (cross-validation rows, localisation baseline).
KEY_LABEL = "Pneumonia"
#: Width of the border band (fraction of the model input) where a heatmap peak counts as "on the border".
BORDER_BAND = 0.125


def label_report(y: np.ndarray, p: np.ndarray, records: list[Record], n_boot: int, threshold: float | None) -> dict:
    """Everything we say about one label's scores ``p`` against known targets ``y``."""
    rep = {"auroc": auroc(y, p), "ci95": bootstrap_ci(y, p, n_boot), "n_pos": int((y == 1).sum()),
           "n_neg": int((y == 0).sum()),
           "by_view": stratified_auroc(y, p, [r.view for r in records]),
           "by_source": stratified_auroc(y, p, [r.source for r in records])}
    if threshold is not None:
        pred = p >= threshold
        rep.update(threshold=threshold,
                   sensitivity=float(pred[y == 1].mean()) if rep["n_pos"] else None,
                   specificity=float((~pred[y == 0]).mean()) if rep["n_neg"] else None,
                   ece=expected_calibration_error(y, p))
    return rep


def infer(analyzer: Analyzer, data: Prepared, batch: int = 32) -> RawOutput:
    """Batched :func:`~lungdx_widgets.model.analyze.forward` over prepared films (serving's crops and maps)."""
    parts = []
    for i in range(0, len(data.images), batch):
        grids = data.lung_grids[i:i + batch].numpy() if data.lung_grids is not None else None
        parts.append(analyzer.predict(to_network_units(data.images[i:i + batch], data.standardize), grids))

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    ood = [p.ood_scores for p in parts if p.ood_scores is not None]  # the one optional output: kept if every batch has it
    return RawOutput(joined("probabilities"), joined("abnormal"), joined("class_maps"), joined("abnormal_maps"),
                     joined("evidence_maps"), np.concatenate(ood) if len(ood) == len(parts) else None)


def guard_flags(analyzer: Analyzer, raw: RawOutput, data: Prepared) -> np.ndarray:
    """(N,) bool: the out-of-distribution guard as the dashboard applies it (no lungs, or unlike training)."""
    flags = np.zeros(len(data.records), dtype=bool)
    if raw.ood_scores is not None:
        flags |= raw.ood_scores > analyzer.config.ood_threshold
    if data.lung_grids is not None:
        flags |= data.lung_grids.flatten(1).float().mean(1).numpy() >= 1.0  # no lungs: the whole grid was kept
    return flags


def guard_report(analyzer: Analyzer, raw: RawOutput, data: Prepared, labels: tuple[str, ...]) -> dict:
    """How often the guard flags films, per source, and what normal films are shown.

    ``normals_shown_positive`` is the share of films read as normal ("No Finding") that a label calls
    positive *without* the out-of-distribution warning — the confident wrong answers a clinician sees.
    """
    flags = guard_flags(analyzer, raw, data)
    reported = [(j, label) for j, label in enumerate(labels) if label not in analyzer.config.withheld]
    sources = [r.source for r in data.records]
    normal = data.abnormal.numpy() == 0
    by_source: dict[str, dict[str, Any]] = {}
    for src in sorted(set(sources)):
        m = np.array([x == src for x in sources])
        entry: dict[str, Any] = {"n": int(m.sum()), "flagged": float(flags[m].mean()), "n_normal": int((m & normal).sum())}
        if (m & normal).any():
            entry["normals_shown_positive"] = {
                label: float(((raw.probabilities[:, j] >= analyzer.thresholds.get(label, 0.5)) & ~flags)[m & normal].mean())
                for j, label in reported}
        by_source[src] = entry
    shown = {label: float(((raw.probabilities[:, j] >= analyzer.thresholds.get(label, 0.5)) & ~flags)[normal].mean())
             for j, label in reported} if normal.any() else {}
    return {"threshold": analyzer.config.ood_threshold or None, "flagged": float(flags.mean()) if len(flags) else None,
            "n": int(len(flags)), "n_normal": int(normal.sum()), "normals_shown_positive": shown, "by_source": by_source}


def localization_report(raw: RawOutput, data: Prepared, labels: tuple[str, ...], size: int,
                        maps: np.ndarray | None = None, split_midline: bool = False) -> dict:
    """Pointing game (peak inside a reference box) and best IoU of the proposed boxes, per reference box.

    ``maps`` defaults to the localisation maps the dashboard shows; pass ``raw.evidence_maps`` to
    score the network's own maps (without the lung-field prior).
    """
    maps = raw.class_maps if maps is None else maps
    hits: list[bool] = []
    ious: list[float] = []
    by_label: defaultdict[str, dict[str, float]] = defaultdict(lambda: {"hits": 0, "n_boxes": 0, "iou_sum": 0.0})
    for i, rec in enumerate(data.records):
        geo = data.geometries[i]
        for box in rec.boxes:
            if box.label not in labels:
                continue
            j = labels.index(box.label)
            heat = upsample(maps[i, j], size)
            ref = geo.to_model(box.x, box.y, box.w, box.h)
            hit = inside(peak(heat), ref)
            best = max((iou(b[:4], ref) for b in boxes_from_map(heat, split_midline=split_midline)), default=0.0)
            hits.append(hit)
            ious.append(best)
            entry = by_label[box.label]
            entry["hits"] += int(hit)
            entry["n_boxes"] += 1
            entry["iou_sum"] += best
    return {"hit_rate": float(np.mean(hits)) if hits else None, "mean_iou": float(np.mean(ious)) if ious else None,
            "n_boxes": len(hits),
            "by_label": {k: {"hit_rate": v["hits"] / v["n_boxes"], "mean_iou": v["iou_sum"] / v["n_boxes"],
                             "n_boxes": v["n_boxes"]} for k, v in by_label.items()}}


def _unit_boxes(data: Prepared, label: str) -> np.ndarray:
    """(N, 4) reference boxes of ``label`` as fractions of each image's model-input crop."""
    out = [np.array(geo.to_model(b.x, b.y, b.w, b.h)) / geo.size
           for rec, geo in zip(data.records, data.geometries) for b in rec.boxes if b.label == label]
    return np.array(out).reshape(-1, 4)


def fixed_point_baseline(train: Prepared, test: Prepared, label: str, grid: int = 50) -> dict | None:
    """Pointing game of a "model" that always points at one spot: the spot that hits most training boxes.

    The localisation counterpart of the pixel baseline: boxes are large and pneumonia favours the
    lower zones, so a fixed point already hits some; a heatmap has to beat this to show it looks.
    """
    train_boxes, test_boxes = _unit_boxes(train, label), _unit_boxes(test, label)
    if not len(train_boxes) or not len(test_boxes):
        return None
    centres = (np.arange(grid) + 0.5) / grid
    points = np.stack(np.meshgrid(centres, centres), -1).reshape(-1, 2)      # (G², 2) as (x, y)

    def hits(boxes: np.ndarray) -> np.ndarray:                                # (G², N)
        x, y = points[:, :1], points[:, 1:]
        return ((boxes[:, 0] <= x) & (x <= boxes[:, 0] + boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 1] + boxes[:, 3]))

    best = int(np.argmax(hits(train_boxes).sum(1)))
    return {"point": [round(float(v), 3) for v in points[best]], "hit_rate": float(hits(test_boxes)[best].mean()),
            "n_boxes": int(len(test_boxes)), "n_train_boxes": int(len(train_boxes))}


def peak_report(raw: RawOutput, data: Prepared, labels: tuple[str, ...]) -> dict:
    """Where each label's heatmap peaks fall on its positive images: border band share and a 3×3 grid."""
    out = {}
    for j, label in enumerate(labels):
        positive = (data.targets[:, j] == 1).numpy()
        maps = raw.evidence_maps[positive, j]
        if len(maps) == 0:
            continue
        h, w = maps.shape[1:]
        grid = np.zeros((3, 3), dtype=int)
        border = 0
        for m in maps:
            x, y = peak(m)
            fx, fy = x / w, y / h
            border += int(min(fx, fy, 1 - fx, 1 - fy) < BORDER_BAND)
            grid[min(int(fy * 3), 2), min(int(fx * 3), 2)] += 1
        out[label] = {"n": int(len(maps)), "border_fraction": border / len(maps), "grid_3x3": grid.tolist()}
    return out


def pixel_features(data: Prepared) -> np.ndarray:
    """32×32 area-downsampled model-input crops, flattened (what the shortcut baseline sees)."""
    small = F.adaptive_avg_pool2d(data.images.float() / 255.0, BASELINE_SIZE)
    return small.flatten(1).numpy()


def baseline_scores(train: Prepared, test: Prepared, labels: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Logistic regression on pixels per label, trained on the model's training images."""
    xtr, xte = pixel_features(train), pixel_features(test)
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    scores = {}
    for j, label in enumerate(labels):
        y = train.targets[:, j].numpy()
        known = ~np.isnan(y)
        if len(set(y[known].tolist())) < 2:
            continue
        clf = LogisticRegression(C=0.01, max_iter=3000)
        clf.fit((xtr[known] - mean) / std, y[known].astype(int))
        scores[label] = clf.predict_proba((xte - mean) / std)[:, 1]
    return scores


def _training_records(meta: dict, records: list[Record]) -> tuple[list[Record], Path | None, str]:
    """The checkpoint's training images: from the evaluated CSV when it holds them, else its recorded CSV."""
    train_patients = set(meta.get("split", {}).get("train_patients", []))
    in_eval = [r for r in records if r.patient_id in train_patients]
    if in_eval:
        return in_eval, None, "training patients of the evaluated CSV"
    sets = meta.get("recipe", {}).get("datasets") or []
    if sets:  # trained on several folders (``lungdx train --images A B``): merge them again, paths from the repo root
        import tempfile

        from ..config import PROJECT_ROOT
        from ..csvfiles import merge_datasets

        where = lambda p: Path(p) if Path(p).is_absolute() else PROJECT_ROOT / p  # noqa: E731
        if all(where(d[1]).is_file() for d in sets):
            with tempfile.TemporaryDirectory(prefix="lungdx-train-sets-") as folder:  # records hold absolute paths
                labels, boxes = merge_datasets([where(d[0]) for d in sets], [where(d[1]) for d in sets],
                                               [where(d[2]) if d[2] else None for d in sets], Path(folder))
                recs = [r for r in read_records(labels, boxes) if r.patient_id in train_patients]
            return recs, Path("/"), "training patients of " + " + ".join(str(d[1]) for d in sets)
    data = meta.get("data", {})
    csv, images = data.get("labels_csv"), data.get("images_dir")
    if csv and images and Path(csv).is_file():
        recs = [r for r in read_records(Path(csv), data.get("boxes_csv")) if r.patient_id in train_patients]
        return recs, Path(images), f"training patients of {csv}"
    return [], None, "no training data recorded"


def evaluate_model(model_path: Path | str | None, images_dir: Path | str, labels_csv: Path | str,
                   boxes_csv: Path | str | None = None, *, n_boot: int = 1000, limit: int | None = None,
                   baseline: bool = True, seed: int = 0, masks_csv: Path | str | None = None) -> dict:
    """The JSON of ``lungdx evaluate``; training patients of the checkpoint are never evaluated."""
    started = time.monotonic()
    analyzer = Analyzer.load(model_path)
    meta = read_sidecar(analyzer.checkpoint.path) or analyzer.checkpoint.meta
    labels, size = analyzer.labels, analyzer.input_size
    records = sorted(read_records(Path(labels_csv), Path(boxes_csv) if boxes_csv else None), key=lambda r: r.file)
    train_records, train_dir, baseline_source = _training_records(meta, records)
    train_patients = {r.patient_id for r in train_records}
    evaluated = [r for r in records if r.patient_id not in train_patients]
    if limit:
        evaluated = evaluated[::max(1, len(evaluated) // limit)][:limit]
    data = prepare(evaluated, Path(images_dir), labels, size, analyzer.config, analyzer.segmenter)
    raw = infer(analyzer, data)

    result: dict = {
        "model": {"path": str(analyzer.checkpoint.path), "version": analyzer.version,
                  "fold": meta.get("recipe", {}).get("fold"),
                  "sha256": analyzer.checkpoint.sha256, "labels": list(labels), "thresholds": analyzer.thresholds,
                  "input_size": size},
        "data": {"images_dir": str(images_dir), "labels_csv": str(labels_csv),
                 "boxes_csv": str(boxes_csv) if boxes_csv else None, "n_images": len(evaluated),
                 "n_patients": len({r.patient_id for r in evaluated}),
                 "excluded_training_images": len(records) - len([r for r in records if r.patient_id not in train_patients]),
                 "split": meta.get("split", {}).get("method")},
        "labels": {},
    }
    for j, label in enumerate(labels):
        y = data.targets[:, j].numpy()
        known = ~np.isnan(y)
        recs = [r for r, k in zip(evaluated, known) if k]
        result["labels"][label] = label_report(y[known], raw.probabilities[known, j], recs, n_boot,
                                               analyzer.thresholds.get(label))
    ab = data.abnormal.numpy()
    known = ~np.isnan(ab)
    result["abnormal"] = {"auroc": auroc(ab[known], raw.abnormal[known]), "n_pos": int((ab == 1).sum()),
                          "n_neg": int((ab == 0).sum())}
    result["out_of_distribution"] = guard_report(analyzer, raw, data, labels)
    if boxes_csv:
        # boxes as the dashboard proposes them (split at the midline when maps follow the lung fields)
        split = analyzer.config.lung_prior or analyzer.config.lung_crop
        result["localization"] = localization_report(raw, data, labels, size, split_midline=split)
        if split:  # what the lung limit / prior adds, measured on the same images
            result["localization_network_maps"] = localization_report(raw, data, labels, size, raw.evidence_maps)
    result["heatmap_peaks"] = peak_report(raw, data, labels)
    if masks_csv and analyzer.segmenter is not None:
        from .train_segment import evaluate_segmenter, read_masks
        result["lung_segmentation"] = evaluate_segmenter(analyzer.segmenter, Path(images_dir),
                                                         read_masks(Path(masks_csv), Path(labels_csv)))
    if baseline and train_records:
        # the baseline sees the model's own crop (lung crop for v2), before standardisation
        train = prepare(train_records, train_dir or Path(images_dir), labels, BASELINE_SIZE,
                        replace(analyzer.config, input_size=BASELINE_SIZE), analyzer.segmenter)
        scores = baseline_scores(train, data, labels)
        rep = {}
        for j, label in enumerate(labels):
            if label not in scores:
                continue
            y = data.targets[:, j].numpy()
            known = ~np.isnan(y)
            recs = [r for r, k in zip(evaluated, known) if k]
            rep[label] = label_report(y[known], scores[label][known], recs, n_boot, None)
        result["baseline"] = {"method": f"logistic regression on {BASELINE_SIZE}x{BASELINE_SIZE} pixels of the model input crop",
                              "trained_on": baseline_source, "n_train": len(train_records), "labels": rep}
        if boxes_csv and KEY_LABEL in labels:
            fixed = fixed_point_baseline(train, data, KEY_LABEL)
            if fixed:
                result["localization"]["fixed_point_baseline"] = dict(fixed, label=KEY_LABEL)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def recalibrate_thresholds(model_path: Path | str, images_dir: Path | str, labels_csv: Path | str) -> dict[str, float]:
    """Re-derive a checkpoint's operating thresholds on its own held-out patients under the current policy.

    Rewrites the checkpoint (new SHA-256, hence a new model version) with the same weights; the
    evaluation results recorded for the old file no longer apply and must be regenerated.
    """
    from .train import THRESHOLD_POLICY, WITHIN_SOURCE_THRESHOLD_POLICY, operating_threshold, within_source_thresholds

    analyzer = Analyzer.load(model_path)
    ckpt = analyzer.checkpoint
    meta = read_sidecar(ckpt.path) or ckpt.meta
    records = sorted(read_records(Path(labels_csv)), key=lambda r: r.file)
    train_patients = {r.patient_id for r in _training_records(meta, records)[0]}
    held_out = [r for r in records if r.patient_id not in train_patients]
    data = prepare(held_out, Path(images_dir), analyzer.labels, analyzer.input_size, analyzer.config, analyzer.segmenter)
    probs = infer(analyzer, data).probabilities
    if analyzer.config.lung_crop:  # model v2: the operating points of its training policy, on the site's films
        thresholds = within_source_thresholds(probs, data, analyzer.labels)
        policy = WITHIN_SOURCE_THRESHOLD_POLICY
    else:
        thresholds, policy = {}, THRESHOLD_POLICY
        for j, label in enumerate(analyzer.labels):
            y = data.targets[:, j].numpy()
            known = ~np.isnan(y)
            thresholds[label] = operating_threshold(y[known], probs[known, j])
    keep = {k: v for k, v in meta.items() if k not in ("file", "sha256", "format", "labels", "thresholds", "config",
                                                       "metrics", "evaluation")}
    save_checkpoint(ckpt.path, ckpt.config, ckpt.state_dict, thresholds, dict(keep, threshold_policy=policy))
    return thresholds


def cross_validation(results: list[dict], label: str = KEY_LABEL) -> dict:
    """One row per fold's held-out result (first = the evaluated checkpoint) and their means.

    The pointing game is ``label``'s own (its boxes only), pooled over folds box by box.
    """
    rows = []
    for i, r in enumerate(results):
        rep = r["labels"].get(label, {})
        loc = r.get("localization", {}).get("by_label", {}).get(label, {})
        rows.append({"fold": r["model"].get("fold", i), "model": r["model"]["version"], "n_images": r["data"]["n_images"],
                     "auroc": rep.get("auroc"), "ci95": rep.get("ci95"),
                     "baseline_auroc": r.get("baseline", {}).get("labels", {}).get(label, {}).get("auroc"),
                     "hit_rate": loc.get("hit_rate"), "n_boxes": loc.get("n_boxes", 0),
                     "fixed_point_hit_rate": r.get("localization", {}).get("fixed_point_baseline", {}).get("hit_rate")})

    def mean(key: str) -> float | None:
        values = [row[key] for row in rows if row[key] is not None]
        return float(np.mean(values)) if values else None

    boxes = sum(row["n_boxes"] or 0 for row in rows)
    pooled_hits = sum((row["hit_rate"] or 0) * (row["n_boxes"] or 0) for row in rows)
    fixed_hits = sum((row["fixed_point_hit_rate"] or 0) * (row["n_boxes"] or 0) for row in rows)
    has_fixed = all(row["fixed_point_hit_rate"] is not None for row in rows if row["n_boxes"])
    return {"label": label, "folds": rows, "mean_auroc": mean("auroc"), "mean_baseline_auroc": mean("baseline_auroc"),
            "mean_hit_rate": mean("hit_rate"), "pooled_hit_rate": pooled_hits / boxes if boxes else None,
            "pooled_fixed_point_hit_rate": fixed_hits / boxes if boxes and has_fixed else None,
            "pooled_n_boxes": boxes}


def leave_one_source_out(models: list[Path], images_dir: Path | str, labels_csv: Path | str,
                         boxes_csv: Path | str | None = None, n_boot: int = 0) -> list[dict]:
    """One row per checkpoint trained with ``--exclude-source``: how it reads the source it never saw.

    The film-level numbers of that source only (AUROC per label, against the pixel baseline trained
    on the same training films), the share the guard flags, and the normals shown positive unflagged.
    """
    rows = []
    for model in models:
        meta = read_sidecar(Path(model))
        excluded = list(meta.get("recipe", {}).get("exclude_sources") or [])
        if not excluded:
            raise ValueError(f"{model} was not trained with --exclude-source: it has no left-out source")
        r = evaluate_model(model, images_dir, labels_csv, boxes_csv, n_boot=n_boot)
        for source in excluded:
            guard = r["out_of_distribution"]["by_source"].get(source, {})
            labels = {k: v["by_source"][source] for k, v in r["labels"].items() if source in v["by_source"]}
            base = {k: v["by_source"][source]["auroc"] for k, v in r.get("baseline", {}).get("labels", {}).items()
                    if source in v["by_source"]}
            rows.append({"source": source, "model": r["model"]["version"], "n_images": guard.get("n", 0),
                         "labels": labels, "baseline_auroc": base, "ood_flagged": guard.get("flagged"),
                         "normals_shown_positive": guard.get("normals_shown_positive", {})})
    return rows


def summary_lines(result: dict) -> list[str]:
    """Short human-readable summary of :func:`evaluate_model`'s result."""
    lines = [f"model {result['model']['version']} on {result['data']['n_images']} images "
             f"({result['data']['n_patients']} patients; {result['data']['excluded_training_images']} training images excluded)"]
    base = result.get("baseline", {}).get("labels", {})
    for label, r in result["labels"].items():
        ci = r.get("ci95") or [float("nan")] * 2
        b = base.get(label, {}).get("auroc")
        lines.append(f"  {label:<14} AUROC {_fmt(r['auroc'])} [{ci[0]:.3f}-{ci[1]:.3f}] n+={r['n_pos']} n-={r['n_neg']}"
                     f"  sens {_fmt(r.get('sensitivity'))} spec {_fmt(r.get('specificity'))} ECE {_fmt(r.get('ece'))}"
                     f"  | pixel baseline {_fmt(b)}")
    loc = result.get("localization")
    if loc:
        lines.append(f"  localisation: pointing game {_fmt(loc['hit_rate'])}, mean IoU {_fmt(loc['mean_iou'])} on {loc['n_boxes']} boxes")
    return lines


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def record_evaluation(model_path: Path, result: dict) -> None:
    """Store the headline metrics in the checkpoint's JSON sidecar (labels, thresholds stay as trained)."""
    update_sidecar(Path(model_path), metrics={
        "labels": {k: {m: v.get(m) for m in ("auroc", "ci95", "n_pos", "n_neg", "sensitivity", "specificity", "ece")}
                   for k, v in result["labels"].items()},
        "baseline": {k: {"auroc": v["auroc"], "ci95": v["ci95"]} for k, v in result.get("baseline", {}).get("labels", {}).items()},
        "localization": {k: v for k, v in result.get("localization", {}).items() if k != "by_label"},
        "data": result["data"], "cross_validation": result.get("cross_validation")}, evaluation=result)
