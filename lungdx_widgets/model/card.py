"""Model card (Markdown) generated from an evaluation result and the checkpoint's JSON sidecar."""

from __future__ import annotations

from pathlib import Path

from .weights import read_sidecar


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
    sets = recipe.get("datasets") or [[recipe.get("images_dir"), recipe.get("labels_csv"), recipe.get("boxes_csv")]]
    folders = (f"--images {' '.join(str(d[0]) for d in sets)} --labels {' '.join(str(d[1]) for d in sets)} "
               f"--boxes {' '.join(str(d[2]) for d in sets)}")
    cmd = (f"lungdx train {folders} "
           f"--out {recipe.get('out')} --arch {recipe.get('arch')} --size {recipe.get('input_size')} --lr {recipe.get('lr')} "
           f"--weight-decay {recipe.get('weight_decay')} --epochs {recipe.get('epochs')} --seed {recipe.get('seed')} "
           f"--fold {recipe.get('fold')} --folds {recipe.get('n_folds')}"
           + (f" --time-budget {recipe.get('time_budget_s'):.0f}" if recipe.get("time_budget_s") else "")
           + ("" if recipe.get("hflip", False) else " --no-hflip")
           + (f" --box-oversample {recipe.get('box_oversample', 1.0)}")
           + ("" if recipe.get("flip_tta", False) else " --no-flip-tta")
           + (" --lung-prior" if recipe.get("lung_prior", False) else "")
           + ("" if recipe.get("lung_crop", False) else " --no-lung-crop")
           + (f" --source-power {recipe['source_power']}" if "source_power" in recipe else "")
           + "".join(f" --exclude-source '{x}'" for x in recipe.get("exclude_sources") or ()))
    note = (["A time budget makes the step count depend on machine load; the steps actually run are recorded above."]
            if recipe.get("time_budget_s") else [])
    return ["", "## Reproduce", "```", cmd, "```", *note]


_TB_CAVEAT = [
    "- **Tuberculosis is tied to its source.** Every TB-positive training film is from TBX11K (Chinese hospitals), "
    "and no TB-negative film of that source exists here. The image-level loss never sees TB (no source has both classes); "
    "the TB map is taught only where the radiologists' boxes are (and that it is low on films read as normal), so its "
    "AUROC below compares TBX11K films with other sources' films and is *not* a TB AUROC. Sensitivity on held-out TBX11K "
    "films and how often normal films of other sources are called TB are the honest numbers (see the guard section).",
]


def _input_line(result: dict, cfg: dict, side: dict) -> str:
    size = result["model"]["input_size"]
    if not cfg.get("lung_crop"):
        return f"- Input: largest centred square crop, {size}×{size} px, torchxrayvision scale [-1024, 1024]."
    return (f"- Input: the lung fields found by the lung segmenter (`{side.get('segmenter')}`) with a margin, resized to "
            f"{size}×{size} px and histogram-equalised (every pixel becomes its rank in the crop, so gamma, windowing and "
            "a site's look-up tables give the same input), torchxrayvision scale [-1024, 1024]. Borders, shoulders, "
            "collimation and burned-in markers outside the crop never reach the network.")


def _inference_line(cfg: dict, recipe: dict) -> str:
    if cfg.get("lung_crop"):
        return (f"- Inference: test-time left-right flip averaging {cfg.get('flip_tta', False)}; heatmaps and boxes are "
                "limited to the segmented lungs (widened by ~2% of the film); no fixed prior. Out-of-distribution guard: "
                f"Mahalanobis distance of the film's features from the training films' (Ledoit-Wolf), flagged above "
                f"{_f(cfg.get('ood_threshold'), 2)}, or when no lung fields are found.")
    return (f"- Inference: test-time left-right flip averaging {cfg.get('flip_tta', False)}; localisation maps weighted by an "
            f"anatomical lung-field prior {cfg.get('lung_prior', False)} (two Gaussians over the lung fields, fixed from anatomy "
            "before any localisation was measured; probabilities are not affected).")


def _verdict(ok: bool) -> str:
    return "met here" if ok else "NOT met here"


def _v2_targets(result: dict) -> list[str]:
    """Issue 14's targets read against this evaluation (never rounded up)."""
    labels, base = result["labels"], result.get("baseline", {}).get("labels", {})
    pn, nih = labels.get("Pneumonia", {}), "NIH ChestX-ray14"
    nih_auc = pn.get("by_source", {}).get(nih, {}).get("auroc")
    nih_base = base.get("Pneumonia", {}).get("by_source", {}).get(nih, {}).get("auroc")
    loc, cv = result.get("localization", {}), result.get("cross_validation") or {}
    hit = cv.get("pooled_hit_rate", loc.get("by_label", {}).get("Pneumonia", {}).get("hit_rate"))
    fixed = cv.get("pooled_fixed_point_hit_rate", loc.get("fixed_point_baseline", {}).get("hit_rate"))
    tb_hit = loc.get("by_label", {}).get("Tuberculosis", {}).get("hit_rate")
    tb = labels.get("Tuberculosis", {})
    seg = result.get("lung_segmentation", {})
    out = ["", "### Against the model-v2 targets (measured here on held-out patients; the reviewers' held-out "
           "patients and unseen sources are not available)",
           f"- Pneumonia AUROC ≥ 0.92 (all held-out films): {_f(pn.get('auroc'))} — {_verdict((pn.get('auroc') or 0) >= 0.92)}.",
           f"- NIH-only Pneumonia AUROC ≥ pixel baseline + 0.05: {_f(nih_auc)} vs {_f(nih_base)} — "
           f"{_verdict(nih_auc is not None and nih_base is not None and nih_auc >= nih_base + 0.05)}.",
           f"- Pointing game on pneumonia boxes ≥ 0.6 and above the fixed point: {_f(hit)} vs {_f(fixed)} — "
           f"{_verdict(hit is not None and hit >= 0.6 and (fixed is None or hit > fixed))}.",
           f"- Tuberculosis pointing game ≥ 0.7: {_f(tb_hit)} — {_verdict((tb_hit or 0) >= 0.7)}; sensitivity ≥ 0.85 on "
           f"held-out TB films: {_f(tb.get('sensitivity'))} — {_verdict((tb.get('sensitivity') or 0) >= 0.85)}."]
    if seg:
        out.append(f"- Lung segmentation mean Dice ≥ 0.92 on held-out masks: {_f(seg.get('dice'))} — "
                   f"{_verdict((seg.get('dice') or 0) >= 0.92)}.")
    return out


def _segmentation_section(result: dict, side: dict) -> list[str]:
    seg = result.get("lung_segmentation")
    if not seg:
        return []
    rows = [f"| {k} | {v['n']} | {_f(v['dice'])} |" for k, v in seg["by_source"].items()]
    return ["", "### Lung segmentation (masks of the evaluated CSV's films)",
            f"Mean Dice {_f(seg['dice'])} on {seg['n']} masks. The two mask sources draw the bases differently "
            "(V7 stops at the diaphragm dome).", "", "| mask source | masks | Dice |", "|---|---|---|", *rows]


def _guard_section(result: dict) -> list[str]:
    g = result.get("out_of_distribution")
    if not g:
        return []
    labels = list(result["labels"])
    head = "| source | films | flagged | normal films | " + " | ".join(f"normals shown {k}" for k in labels) + " |"
    rows = [head, "|" + "---|" * (4 + len(labels))]
    for src, e in g["by_source"].items():
        shown = e.get("normals_shown_positive", {})
        rows.append(f"| {src} | {e['n']} | {100 * e['flagged']:.0f}% | {e['n_normal']} | "
                    + " | ".join(f"{100 * shown[k]:.0f}%" if k in shown else "–" for k in labels) + " |")
    return ["", "### Out-of-distribution guard and normal films",
            f"Flagged: {100 * (g['flagged'] or 0):.1f}% of {g['n']} held-out films (threshold {_f(g['threshold'], 2)}, chosen "
            "so that about 5% of held-out in-distribution films are flagged). \"Normals shown X\" is the share of films "
            "read as normal that the dashboard would show as X *without* the warning — a confident wrong answer.", "", *rows]


def _loso_section(result: dict) -> list[str]:
    rows = result.get("leave_one_source_out") or []
    if not rows:
        return []
    out = ["", "### Leave one source out (a model trained without the source, scored on all its films)", "",
           "| left-out source | films | flagged | Pneumonia AUROC (n+/n−) | pixel baseline | normals shown Pneumonia | normals shown TB |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r["labels"].get("Pneumonia", {})
        shown = r.get("normals_shown_positive", {})
        out.append(f"| {r['source']} | {r['n_images']} | {100 * (r['ood_flagged'] or 0):.0f}% | {_f(p.get('auroc'))} "
                   f"({p.get('n_pos', 0)}/{p.get('n_neg', 0)}) | {_f(r['baseline_auroc'].get('Pneumonia'))} | "
                   f"{_pct(shown.get('Pneumonia'))} | {_pct(shown.get('Tuberculosis'))} |")
    return out


def _site_section(site: dict | None) -> list[str]:
    """What the learning loop does for a new site (recorded in the sidecar by the run that measured it)."""
    if not site:
        return []
    before, after = site["before"].get("Pneumonia", {}), site["after"].get("Pneumonia", {})
    return ["", "### Site adaptation (the learning loop, measured)", site.get("setup", ""), "",
            "| | Pneumonia AUROC (95% CI) | sens | spec | flagged by the guard |", "|---|---|---|---|---|",
            f"| before (never saw the site) | {_f(before.get('auroc'))} ({_ci(before.get('ci95'))}) | "
            f"{_f(before.get('sensitivity'), 2)} | {_f(before.get('specificity'), 2)} | {_pct(site['before'].get('flagged'))} |",
            f"| after {site.get('seconds')} s, {site.get('steps')} steps | {_f(after.get('auroc'))} ({_ci(after.get('ci95'))}) | "
            f"{_f(after.get('sensitivity'), 2)} | {_f(after.get('specificity'), 2)} | {_pct(site['after'].get('flagged'))} |"]


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


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
        _input_line(result, cfg, side),
        f"- Backbone initialisation: `{recipe.get('init', 'none')}` "
        "(torchxrayvision's pretrained files could not be downloaded on the offline training machine; "
        "`lungdx weights fetch NAME` + `lungdx train --init NAME` uses them where available).",
        f"- Labels assessed: {', '.join(lab for lab in result['model']['labels'] if lab not in cfg.get('withheld', []))}. "
        + (f"Trained but withheld (held-out AUROC within sources below 0.7, so shown as *not assessed*): "
           f"{', '.join(cfg['withheld'])}. " if cfg.get("withheld") else "")
        + "Every other label is reported as *not assessed*.",
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
        _inference_line(cfg, recipe),
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
    lines += _v2_targets(result) if cfg.get("lung_crop") else _targets(result)
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
    lines += (_segmentation_section(result, side) + _guard_section(result) + _loso_section(result)
              + _site_section(side.get("site_adaptation")))
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
        *(_TB_CAVEAT if "Tuberculosis" in result["model"]["labels"] else []),
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
