"""Model card (Markdown) generated from an evaluation result and the checkpoint's JSON sidecar."""

from __future__ import annotations

from pathlib import Path

from .registry import read_sidecar


def _f(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _ci(ci: list[float] | None) -> str:
    return "n/a" if not ci else f"{ci[0]:.3f}–{ci[1]:.3f}"


def _strata_table(result: dict, key: str) -> list[str]:
    base = result.get("baseline", {}).get("labels", {})
    rows = [f"| label | {key.split('_')[1]} | n+ | n− | model AUROC | pixel-baseline AUROC |", "|---|---|---|---|---|---|"]
    for label, rep in result["labels"].items():
        for group, g in rep[key].items():
            b = base.get(label, {}).get(key, {}).get(group, {}).get("auroc")
            rows.append(f"| {label} | {group} | {g['n_pos']} | {g['n_neg']} | {_f(g['auroc'])} | {_f(b)} |")
    return rows


def _targets(result: dict, label: str = "Pneumonia") -> list[str]:
    """The project's acceptance targets, read against this evaluation (met / not met, never rounded up)."""
    rep = result["labels"].get(label)
    if not rep:
        return []
    cv = result.get("cross_validation") or {}
    auroc = cv.get("mean_auroc", rep["auroc"])
    base = cv.get("mean_baseline_auroc", result.get("baseline", {}).get("labels", {}).get(label, {}).get("auroc"))
    own = result.get("localization", {}).get("by_label", {}).get(label, {})
    hit = cv.get("pooled_hit_rate", own.get("hit_rate"))
    n_boxes = cv.get("pooled_n_boxes", own.get("n_boxes"))
    fixed = cv.get("pooled_fixed_point_hit_rate",
                   result.get("localization", {}).get("fixed_point_baseline", {}).get("hit_rate"))
    verdict = lambda ok: "met here" if ok else "NOT met here"  # noqa: E731
    return ["", "### Against the project's targets (measured here; the reviewers' held-out patients are not available)",
            f"- {label} AUROC ≥ 0.90 and clearly above the pixel baseline: {_f(auroc)} vs baseline {_f(base)} — "
            f"{verdict(auroc is not None and auroc >= 0.90 and base is not None and auroc - base >= 0.03)}.",
            f"- Pointing game ≥ 0.6 on boxed {label.lower()} images: {_f(hit)} on {n_boxes} boxes "
            f"(a fixed point, the one that hits most training boxes: {_f(fixed)}) — "
            f"{verdict(hit is not None and hit >= 0.6)}."]


def _schedule(recipe: dict) -> str:
    length = f"{recipe.get('max_steps') or recipe.get('epochs')} {'steps' if recipe.get('max_steps') else 'epochs'}"
    if recipe.get("time_budget_s"):
        return f"warm-up + cosine schedule over {length} or {recipe['time_budget_s']:.0f} s, whichever ends first"
    return f"warm-up + cosine schedule over {length}"


def _reproduce(recipe: dict) -> list[str]:
    if not recipe:
        return []
    cmd = (f"lungdx train --images {recipe.get('images_dir')} --labels {recipe.get('labels_csv')} --boxes {recipe.get('boxes_csv')} "
           f"--out {recipe.get('out')} --arch {recipe.get('arch')} --size {recipe.get('input_size')} --lr {recipe.get('lr')} "
           f"--weight-decay {recipe.get('weight_decay')} --epochs {recipe.get('epochs')} --seed {recipe.get('seed')} "
           f"--fold {recipe.get('fold')} --folds {recipe.get('n_folds')}"
           + (f" --time-budget {recipe.get('time_budget_s'):.0f}" if recipe.get("time_budget_s") else "")
           + ("" if recipe.get("hflip", False) else " --no-hflip")
           + (f" --box-oversample {recipe.get('box_oversample', 1.0)}")
           + ("" if recipe.get("flip_tta", False) else " --no-flip-tta")
           + ("" if recipe.get("lung_prior", False) else " --no-lung-prior"))
    note = (["A time budget makes the step count depend on machine load; the steps actually run are recorded above."]
            if recipe.get("time_budget_s") else [])
    return ["", "## Reproduce", "```", cmd, "```", *note]


def render_model_card(result: dict, side: dict) -> str:
    recipe = side.get("recipe", {})
    data = side.get("data", {})
    cfg = side.get("config", {})
    lines = [
        f"# Model card — {Path(result['model']['path']).name}",
        "",
        "**Research use only. Not a medical device; not for clinical decisions. A clinician reads every image.**",
        "",
        "## Model",
        f"- Version `{result['model']['version']}`, SHA-256 `{result['model']['sha256']}`.",
        f"- HAM-style network (Ouyang et al., IEEE TMI 2021): torchxrayvision `DenseNet` backbone "
        f"(growth {cfg.get('growth_rate')}, blocks {cfg.get('block_config')}, stride16={cfg.get('stride16')}), "
        "foreground channel + position attention (residual scale initialised to 0), one class attention map per label "
        f"pooled by log-sum-exp (border band {cfg.get('pool_margin')} of the map excluded from pooling), abnormality map.",
        f"- Input: largest centred square crop, {result['model']['input_size']}×{result['model']['input_size']} px, "
        "torchxrayvision scale [-1024, 1024].",
        f"- Backbone initialisation: `{recipe.get('init', 'none')}` "
        "(torchxrayvision's pretrained files could not be downloaded on the offline training machine; "
        "`lungdx weights fetch NAME` + `lungdx train --init NAME` uses them where available).",
        f"- Labels assessed: {', '.join(result['model']['labels'])}. Every other label is reported as *not assessed*.",
        f"- Operating thresholds ({side.get('threshold_policy', 'Youden’s J on the validation split')}): "
        + ", ".join(f"{k} {v:.3f}" for k, v in result["model"]["thresholds"].items()) + ".",
        "",
        "## Training data and recipe",
        f"- Images: `{data.get('images_dir')}` with `{data.get('labels_csv')}` and boxes `{data.get('boxes_csv')}`; "
        f"{data.get('n_train')} training / {data.get('n_val')} validation images.",
        f"- Split: {side.get('split', {}).get('method')}.",
        f"- Recipe: {recipe.get('arch')} at {recipe.get('input_size')} px, AdamW lr {recipe.get('lr')}, batch {recipe.get('batch_size')}, "
        f"{side.get('steps')} steps ({_schedule(recipe)}; no early stopping, the last model is shipped), seed {recipe.get('seed')}, "
        f"augmentation {recipe.get('augment')} (affine, gamma/contrast, cut-outs; left-right flips {recipe.get('hflip', False)}), "
        f"source-internal view×label balanced sampling {recipe.get('balanced')}, images with reference boxes drawn "
        f"{recipe.get('box_oversample', 1.0)}× as often, loss weights {recipe.get('loss')}.",
        f"- Inference: test-time left-right flip averaging {cfg.get('flip_tta', False)}; localisation maps weighted by an "
        f"anatomical lung-field prior {cfg.get('lung_prior', False)} (two Gaussians over the lung fields, fixed from anatomy "
        "before any localisation was measured; probabilities are not affected).",
        "",
        "## Results on held-out patients",
        f"Evaluated on {result['data']['n_images']} images of {result['data']['n_patients']} patients not used for training "
        f"({result['data']['excluded_training_images']} training images excluded). "
        "These are validation patients of the same sources; the CI is a bootstrap over images.",
        "",
        "| label | n+ | n− | AUROC (95% CI) | pixel baseline AUROC (95% CI) | sens | spec | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = result.get("baseline", {}).get("labels", {})
    for label, r in result["labels"].items():
        b = base.get(label, {})
        lines.append(f"| {label} | {r['n_pos']} | {r['n_neg']} | {_f(r['auroc'])} ({_ci(r.get('ci95'))}) | "
                     f"{_f(b.get('auroc'))} ({_ci(b.get('ci95'))}) | {_f(r.get('sensitivity'), 2)} | "
                     f"{_f(r.get('specificity'), 2)} | {_f(r.get('ece'))} |")
    lines += ["", "Sensitivity/specificity use thresholds chosen on this same validation split (optimistic); "
              "AUROC and its CI do not depend on the threshold."]
    lines += _targets(result)
    if "baseline" in result:
        lines += ["", f"Pixel baseline: {result['baseline']['method']}, trained on {result['baseline']['n_train']} images "
                  f"({result['baseline']['trained_on']}). It cannot see lungs at this size: what it reaches is acquisition shortcut."]
    cv = result.get("cross_validation")
    if cv:
        lines += ["", f"### Cross-validation (same recipe, other patient-grouped folds; {cv['label']})", "",
                  "| fold | held-out images | AUROC (95% CI) | pixel baseline | pointing game (boxes) | fixed-point baseline |",
                  "|---|---|---|---|---|---|"]
        for row in cv["folds"]:
            lines.append(f"| {row['fold']} | {row['n_images']} | {_f(row['auroc'])} ({_ci(row['ci95'])}) | "
                         f"{_f(row['baseline_auroc'])} | {_f(row['hit_rate'])} ({row['n_boxes']}) | "
                         f"{_f(row.get('fixed_point_hit_rate'))} |")
        lines.append(f"| mean | | {_f(cv['mean_auroc'])} | {_f(cv['mean_baseline_auroc'])} | "
                     f"{_f(cv['pooled_hit_rate'])} pooled ({cv['pooled_n_boxes']}) | "
                     f"{_f(cv.get('pooled_fixed_point_hit_rate'))} pooled |")
    experiments = side.get("experiments") or []
    if experiments:
        lines += ["", "### Other recipes and ablations (same folds; not shipped)", "",
                  "| variant | steps | mean AUROC | pooled pointing game (boxes) | note |", "|---|---|---|---|---|"]
        for e in experiments:
            lines.append(f"| {e['variant']} | {e.get('steps')} | {_f(e.get('mean_auroc'))} | "
                         f"{_f(e.get('pooled_hit_rate'))} ({e.get('pooled_n_boxes')}) | {e.get('note', '')} |")
    lines += ["", "### By view", ""] + _strata_table(result, "by_view")
    lines += ["", "### By source", ""] + _strata_table(result, "by_source")
    loc = result.get("localization")
    if loc:
        lines += ["", "### Localisation (boxed validation images)",
                  f"- Pointing game (heatmap peak inside the reference box): {_f(loc['hit_rate'])} on {loc['n_boxes']} boxes; "
                  f"mean best IoU of proposed boxes {_f(loc['mean_iou'])}."]
        fixed = loc.get("fixed_point_baseline")
        if fixed:
            lines.append(f"- Fixed-point baseline ({fixed['label']}): always pointing at {fixed['point']} of the crop "
                         f"(the spot hitting most of {fixed['n_train_boxes']} training boxes) hits {_f(fixed['hit_rate'])} "
                         f"of {fixed['n_boxes']} boxes here.")
        net = result.get("localization_network_maps")
        if net:
            lines.append(f"- The network's own maps, without the lung-field prior: pointing game {_f(net['hit_rate'])} on "
                         f"{net['n_boxes']} boxes, mean IoU {_f(net['mean_iou'])}.")
    peaks = result.get("heatmap_peaks", {})
    if peaks:
        lines += ["", "### Where the network's heatmap peaks fall (positive images, before the lung-field prior)"]
        for label, p in peaks.items():
            lines.append(f"- {label}: {p['n']} images, {100 * p['border_fraction']:.0f}% of peaks in the outer band of the crop; "
                         f"3×3 grid (rows top→bottom) {p['grid_3x3']}.")
    lines += _reproduce(recipe)
    lines += [
        "",
        "## Known confounders and limitations",
        "- Source and label are entangled: every MHH Hannover and Actualmed positive image is a COVID-19 patient, "
        "NIH images carry text-mined report labels (~90% accurate; \"Pneumonia\" means the report mentions it). "
        "A model can rank images by source rather than lungs — compare per-source AUROC and the pixel baseline.",
        "- View (AP/PA) correlates with the label differently in each source; portable AP films carry burned-in markers.",
        "- Small validation split: wide confidence intervals; the held-out set of the project's reviewers is not available here.",
        "- Trained from scratch on a 2-core CPU in minutes: far weaker than published pretrained models.",
        "- Heatmaps are coarse (8×8 cells over the input) and show where the network's evidence is, not a segmentation; "
        "check the peak grid above — peaks that cluster in one place for every image point to a shortcut, not a lesion.",
        "- With the lung-field prior on, the heatmaps shown and the boxes proposed stay over the lung fields by construction: "
        "they cannot reveal evidence the network takes from outside the lungs (the peak grid and the \"network's own maps\" "
        "pointing game above are measured without the prior). The prior assumes a frontal film framed like the training "
        "images; on a rotated, off-centre or cropped film it can move a peak away from the lesion.",
        "",
        f"_Generated by `lungdx evaluate --model-card` from {result['data']['labels_csv']}._",
    ]
    return "\n".join(lines) + "\n"


def write_model_card(result: dict, path: Path | str) -> Path:
    path = Path(path)
    path.write_text(render_model_card(result, read_sidecar(Path(result["model"]["path"]))))
    return path
