"""``lungdx analyze | train | evaluate | weights``: thin wrappers over :mod:`lungdx_widgets.model`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import get_settings
from ..errors import LungDxError
from .common import add_db_argument, db_path

if TYPE_CHECKING:
    from ..types import Radiograph

#: ``--dask`` without a scheduler address: a local cluster.
LOCAL_CLUSTER = "local"
#: Images per forward pass in ``lungdx analyze`` (throughput without holding many decoded images).
ANALYZE_BATCH = 16


def _findings_json(path: Path, findings, triage) -> dict:
    return {
        "file": str(path),
        "model_version": findings.model_version,
        "findings": {k: {"probability": r.probability, "threshold": r.threshold, "positive": r.positive}
                     for k, r in findings.results.items()},
        "boxes": [b.as_dict() for b in findings.boxes],
        "triage": None if triage is None else {"level": triage.level, "reasons": list(triage.reasons)},
        "timings": findings.timings,
        "warnings": list(findings.warnings),
        "out_of_distribution": bool(findings.out_of_distribution),
        "ood_score": findings.ood_score,
        "lung_fraction": None if findings.lung_mask is None else round(float(findings.lung_mask.mean()), 4),
    }


def _triage(findings, image_size):
    """Triage level when the triage module is available (it is optional for this command)."""
    try:
        from ..triage import assess
    except ImportError:
        return None
    return assess(findings, None, image_size=image_size)


def _load_all(paths: list[Path]) -> list[tuple[Path, Radiograph | LungDxError]]:
    """(path, Radiograph or the LungDxError that refused it), in order."""
    from ..imaging import load_image

    loaded: list[tuple[Path, Radiograph | LungDxError]] = []
    for path in paths:
        try:
            loaded.append((path, load_image(path, filename=path.name)))
        except LungDxError as exc:
            loaded.append((path, exc))
    return loaded


def _print_findings(path: Path, radiograph, findings, as_json: bool) -> None:
    findings.warnings.extend(radiograph.warnings)
    triage = _triage(findings, radiograph.size)
    if as_json:
        print(json.dumps(_findings_json(path, findings, triage)), flush=True)
        return
    assessed = ", ".join(f"{k} {r.probability:.2f}{'*' if r.positive else ''}"
                         for k, r in findings.results.items() if r.assessed)
    level = f" [{triage.level}]" if triage else ""
    print(f"{path}:{level} {assessed} ({len(findings.boxes)} boxes; * = at/above threshold)", flush=True)


def _analyze(args: argparse.Namespace) -> int:
    from ..services import ModelService, registry_resolver

    # without --model: the registry's active version, else the shipped checkpoint
    service = ModelService(args.model, resolver=registry_resolver(db_path(args)))
    if args.archive:
        return _analyze_archive(args, service.checkpoint())
    if args.since or args.dask or args.workers:
        print("lungdx: error: --since, --dask and --workers go with --archive", file=sys.stderr)
        return 2
    if not args.files:
        print("lungdx: error: analyze needs FILE arguments (or --archive)", file=sys.stderr)
        return 2
    if args.patient:
        return _analyze_into_store(args, service)
    analyzer = service.get()
    paths = [Path(f) for f in args.files]
    failures = 0
    for start in range(0, len(paths), ANALYZE_BATCH):  # batched forward; output stays in argument order
        loaded = _load_all(paths[start:start + ANALYZE_BATCH])
        good = [r for _, r in loaded if not isinstance(r, LungDxError)]
        results = iter(analyzer.analyze_batch(good, heatmaps=False))
        for path, radiograph in loaded:
            if isinstance(radiograph, LungDxError):
                print(f"lungdx: error: {path}: {radiograph}", file=sys.stderr)
                failures += 1
            else:
                _print_findings(path, radiograph, next(results), args.json)
    return 1 if failures else 0


def _analyze_into_store(args: argparse.Namespace, service) -> int:
    """``--patient``: file each image under the patient through the one ingest path, then analyse it."""
    from ..imaging.load import read_file
    from ..services import ingest
    from ..store import open_store
    from .common import actor as cli_actor

    failures = 0
    with open_store(db_path(args)) as store:
        store.get_patient(args.patient)
        for path in map(Path, args.files):
            try:
                result = ingest(store, args.patient, read_file(path), cli_actor(), filename=path.name,
                                source="cli", analyzer=service)
            except LungDxError as exc:
                print(f"lungdx: error: {path}: {exc}", file=sys.stderr)
                failures += 1
                continue
            if result.findings is None or result.triage is None:  # both set together when analysis ran
                print(f"{path}: study {result.study.id}: {result.message}", flush=True)
                failures += result.model_error is not None
            elif args.json:  # the stored triage (with the patient record), not a record-less one
                print(json.dumps(_findings_json(path, result.findings, result.triage)), flush=True)
            else:
                print(f"{path}: study {result.study.id} [{result.triage.level}] {result.message}", flush=True)
    return 1 if failures else 0


def _analyze_archive(args: argparse.Namespace, checkpoint: Path) -> int:
    """``--archive``: every stored study (acquired since ``--since``) lacking a result from this model
    version; on Dask with ``--dask``, else in this process through the same batch path as the demo set-up."""
    from tqdm import tqdm

    from ..archive import ArchiveReport, dask_client, run_archive, select_studies
    from ..model.weights import checkpoint_version
    from ..services import ModelService, analyze_pending
    from ..store import open_store
    from .common import actor as cli_actor

    with open_store(db_path(args)) as store, tqdm(unit="study", desc="analysing", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        if args.dask is None:
            t0 = time.perf_counter()
            studies = select_studies(store, checkpoint_version(checkpoint), args.since)
            done, failed = analyze_pending(store, ModelService(checkpoint), cli_actor(), studies=studies)
            progress(done + failed, len(studies))
            report = ArchiveReport(checkpoint_version(checkpoint), len(studies), done, failed,
                                   seconds=time.perf_counter() - t0)
        else:
            with dask_client(None if args.dask == LOCAL_CLUSTER else args.dask, args.workers) as client:
                print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr, flush=True)
                report = run_archive(store, checkpoint, cli_actor(), client, since=args.since, progress=progress)
    for error in report.errors:
        print(f"lungdx: error: {error}", file=sys.stderr)
    if args.json:
        print(json.dumps(dataclasses.asdict(report)))
    else:
        print(f"{report.done} of {report.selected} studies analysed with {report.model_version} in "
              f"{report.seconds:.1f} s ({report.failed} unreadable, {report.skipped} already done)")
    return 1 if report.failed else 0


def _datasets(args: argparse.Namespace, beside: Path) -> tuple[Path, Path, Path | None]:
    """One (images, labels, boxes) triple, merging several ``--images/--labels/--boxes`` folders
    into CSVs with absolute paths in a hidden folder ``beside`` the checkpoint."""
    if len(args.images) == 1 and len(args.labels) == 1:
        return args.images[0], args.labels[0], (args.boxes or [None])[0]
    from ..csvfiles import merge_datasets

    folder = Path(beside).parent / f".{Path(beside).stem}-data"
    labels, boxes = merge_datasets(args.images, args.labels, args.boxes or [], folder)
    return Path("/"), labels, boxes


def _segment(args: argparse.Namespace) -> int:
    """Lung masks for films: a JSON line (or text) per file, mask PNGs into ``--out``."""
    import numpy as np
    from PIL import Image

    from ..imaging import load_image
    from ..model.segment import LungSegmenter

    segmenter = LungSegmenter.load(args.model)
    failures = 0
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    for path in map(Path, args.files):
        try:
            lungs = segmenter.segment(load_image(path, filename=path.name).pixels)
        except LungDxError as exc:
            print(f"lungdx: error: {path}: {exc}", file=sys.stderr)
            failures += 1
            continue
        mask_file = None
        if args.out:
            mask_file = args.out / f"{path.stem}_lungs.png"
            Image.fromarray((lungs.mask * 255).astype(np.uint8)).save(mask_file)
        row = {"file": str(path), "lungs_found": lungs.found, "lung_fraction": round(lungs.area_fraction, 4),
               "regions": lungs.components,
               "mirror_disagreement": lungs.mirror_disagreement, "undecided": lungs.undecided, "box": lungs.box(), "crop": lungs.crop_region(),
               "mask": str(mask_file) if mask_file else None, "model_version": segmenter.version}
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            state = "lungs found" if lungs.found else "NO LUNGS FOUND (not a frontal chest radiograph?)"
            print(f"{path}: {state}; lung {lungs.area_fraction:.0%} of the film" + (f"; mask {mask_file}" if mask_file else ""))
    return 1 if failures else 0


#: ``lungdx train`` option (argparse dest) → the TrainConfig field it sets. These options have no default of
#: their own (argparse.SUPPRESS): an option not given leaves TrainConfig's default, so each default exists once.
TRAIN_OPTIONS = {"epochs": "epochs", "max_steps": "max_steps", "batch_size": "batch_size", "lr": "lr",
                 "weight_decay": "weight_decay", "seed": "seed", "size": "input_size", "arch": "arch",
                 "init": "init", "init_from": "init_from", "fold": "fold", "folds": "n_folds",
                 "time_budget": "time_budget_s", "limit": "limit", "box_oversample": "box_oversample",
                 "source_power": "source_power"}


def _train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..model.train import TrainConfig, train_model

    images, labels, boxes = _datasets(args, args.out)
    config = TrainConfig(images_dir=images, labels_csv=labels, boxes_csv=boxes, out=args.out,
                         **{field: getattr(args, dest) for dest, field in TRAIN_OPTIONS.items() if hasattr(args, dest)},
                         freeze_backbone=args.freeze_backbone,
                         hflip=not args.no_hflip,
                         flip_tta=not args.no_flip_tta, lung_prior=args.lung_prior,
                         lung_crop=not args.no_lung_crop, segmenter=args.segmenter,
                         exclude_sources=tuple(args.exclude_source or ()),
                         datasets=tuple((str(i), str(lab), str(b) if b else "") for i, lab, b in
                                        zip(args.images, args.labels, args.boxes or [None] * len(args.images))))
    bar = tqdm(total=None, unit="step", desc="training", file=sys.stderr)

    def progress(event: dict) -> None:
        bar.total = event["total_steps"]
        if event.get("epoch_end"):
            bar.set_postfix({k: (round(v, 3) if v is not None else None) for k, v in event["val_auroc"].items()})
        else:
            bar.update(event["step"] - bar.n)
            bar.set_postfix(loss=f"{event['loss']:.3f}")

    result = train_model(config, progress=progress)
    bar.close()
    print(json.dumps({"out": str(result.path), "steps": result.steps, "seconds": round(result.seconds, 1),
                      "labels": list(result.labels), "thresholds": result.thresholds,
                      "validation": result.validation, "stopped_early": result.stopped_early}, indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ..model.card import write_model_card
    from ..model.evaluate import cross_validation, evaluate_model, record_evaluation, summary_lines

    images, labels, boxes = _datasets(args, args.model)

    def run(model: Path) -> dict:
        return evaluate_model(model, images, labels, boxes, n_boot=args.bootstrap,
                              limit=args.limit, baseline=not args.no_baseline, masks_csv=args.masks)

    result = run(args.model)
    if args.loso:  # models trained without one source each, scored on that source's films
        from ..model.evaluate import leave_one_source_out
        result["leave_one_source_out"] = leave_one_source_out(args.loso, images, labels, boxes)
    if args.folds:  # same recipe on other patient folds: reported next to this split, never instead of it
        result["cross_validation"] = cross_validation([result] + [run(m) for m in args.folds])
    if args.model_card:  # the shipped card + sidecar metrics come from the same run
        record_evaluation(args.model, result)
        write_model_card(result, args.model_card)
    print(json.dumps(result, indent=2) if args.json else "\n".join(summary_lines(result)))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from ..model.evaluate import recalibrate_thresholds

    thresholds = recalibrate_thresholds(args.model, args.images, args.labels)
    print(json.dumps({"model": str(args.model), "thresholds": thresholds}, indent=2))
    print("the checkpoint changed (new SHA-256): re-run `lungdx evaluate --model-card` for its metrics",
          file=sys.stderr)
    return 0


def _weights(args: argparse.Namespace) -> int:
    from ..model import weights

    if args.weights_command == "fetch":
        print(weights.fetch_xrv(args.name))
        return 0
    for row in weights.list_weights():
        state = "present" if row["present"] else "absent "
        print(f"{state}  {row['kind']:<15} {row['name']:<34} {row['path']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands."""
    s = get_settings()
    default_model = s.weights / s.default_model
    data = s.shared_data

    p = sub.add_parser("analyze", help="analyse radiographs: one JSON object (or line) per file, or a stored archive")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    p.add_argument("--model", type=Path, default=None, help=f"checkpoint (default {default_model})")
    p.add_argument("--patient", metavar="ID", default=None,
                   help="also file each image under this patient and store the result (the upload's path)")
    p.add_argument("--archive", action="store_true",
                   help="analyse the stored studies lacking a result from this model version (resumes where it stopped)")
    p.add_argument("--since", metavar="DATE", default=None, help="with --archive: studies acquired on or after DATE")
    p.add_argument("--dask", nargs="?", const=LOCAL_CLUSTER, default=None, metavar="SCHEDULER",
                   help="with --archive: run on Dask, at SCHEDULER (tcp://host:8786) or a local cluster")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local cluster size for --dask without a scheduler (default: one per CPU core)")
    add_db_argument(p)
    p.set_defaults(func=_analyze)

    p = sub.add_parser("train", help="train a checkpoint (patient-grouped validation split, resumable)")
    p.add_argument("--images", type=Path, nargs="+", default=[data / "images"], metavar="DIR",
                   help="image folder(s); several folders take one --labels (and --boxes) each")
    p.add_argument("--labels", type=Path, nargs="+", default=[data / "labels.csv"], metavar="CSV")
    p.add_argument("--boxes", type=Path, nargs="*", default=None, metavar="CSV")
    p.add_argument("--out", type=Path, required=True, metavar="weights/NAME.pt")
    p.add_argument("--epochs", type=int, default=argparse.SUPPRESS)
    p.add_argument("--max-steps", type=int, default=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=argparse.SUPPRESS)
    p.add_argument("--lr", type=float, default=argparse.SUPPRESS)
    p.add_argument("--weight-decay", type=float, default=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=argparse.SUPPRESS)
    p.add_argument("--size", type=int, default=argparse.SUPPRESS, help="model input size in pixels")
    p.add_argument("--arch", default=argparse.SUPPRESS, help="network architecture (densenet121 or compact)")
    p.add_argument("--init", default=argparse.SUPPRESS, help="torchxrayvision weights name (from weights/xrv) or none")
    p.add_argument("--init-from", type=Path, default=argparse.SUPPRESS, help="project checkpoint to fine-tune")
    p.add_argument("--freeze-backbone", action="store_true")
    p.add_argument("--fold", type=int, default=argparse.SUPPRESS)
    p.add_argument("--folds", type=int, default=argparse.SUPPRESS)
    p.add_argument("--time-budget", type=float, default=argparse.SUPPRESS, metavar="SECONDS")
    p.add_argument("--limit", type=int, default=argparse.SUPPRESS, help="use only N images (smoke runs)")
    p.add_argument("--no-hflip", action="store_true", help="no left-right flips in augmentation")
    p.add_argument("--box-oversample", type=float, default=argparse.SUPPRESS, metavar="X",
                   help="sampling weight multiplier for images with reference boxes")
    p.add_argument("--no-flip-tta", action="store_true", help="checkpoint analyses without test-time flip averaging")
    p.add_argument("--lung-prior", action="store_true",
                   help="model v1: weight maps by the fixed two-Gaussian lung-field prior (v2 uses the segmented lungs)")
    p.add_argument("--no-lung-prior", action="store_true", help=argparse.SUPPRESS)  # v1 spelling; now the default
    p.add_argument("--no-lung-crop", action="store_true",
                   help="model v1: centred square crop without lung segmentation and histogram equalisation")
    p.add_argument("--segmenter", type=Path, default=None, help=f"lung segmenter (default weights/{s.segmenter})")
    p.add_argument("--exclude-source", action="append", metavar="SOURCE",
                   help="leave this source_dataset out entirely (leave-one-source-out runs); repeatable")
    p.add_argument("--source-power", type=float, default=argparse.SUPPRESS, metavar="P",
                   help="draw each source in proportion to its size ** P (1 = as is, 0 = sources equally)")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="AUROC with CIs, calibration, per-view/source, localisation, pixel baseline")
    p.add_argument("--images", type=Path, nargs="+", default=[data / "images"], metavar="DIR",
                   help="image folder(s); several folders take one --labels (and --boxes) each")
    p.add_argument("--labels", type=Path, nargs="+", default=[data / "labels.csv"], metavar="CSV")
    p.add_argument("--boxes", type=Path, nargs="*", default=None, metavar="CSV")
    p.add_argument("--model", type=Path, default=default_model)
    p.add_argument("--json", action="store_true")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--model-card", type=Path, default=None, metavar="MD",
                   help="write a model card here and the metrics into the checkpoint's JSON")
    p.add_argument("--folds", type=Path, nargs="*", default=[], metavar="PT",
                   help="checkpoints of the same recipe trained on other folds (cross-validation rows)")
    p.add_argument("--masks", type=Path, default=None, metavar="CSV",
                   help="lung masks (file,mask,source,license; paths relative to the CSV): adds lung_segmentation Dice")
    p.add_argument("--loso", type=Path, nargs="*", default=[], metavar="PT",
                   help="checkpoints trained with --exclude-source (leave-one-source-out rows)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("segment", help="lung masks: lungs found?, lung share of the film, mask PNGs")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="write FILE_lungs.png masks here")
    p.add_argument("--model", type=Path, default=None, help=f"segmenter checkpoint (default weights/{s.segmenter})")
    p.set_defaults(func=_segment)

    p = sub.add_parser("calibrate", help="re-derive a checkpoint's operating thresholds on its held-out patients")
    p.add_argument("--images", type=Path, default=data / "images", metavar="DIR")
    p.add_argument("--labels", type=Path, default=data / "labels.csv", metavar="CSV")
    p.add_argument("--model", type=Path, default=default_model)
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("weights", help="list or fetch model weights")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    f = wsub.add_parser("fetch", help="download torchxrayvision weights into weights/xrv (needs internet)")
    f.add_argument("name", help="e.g. densenet121-res224-all")
    f.set_defaults(func=_weights)
    wsub.add_parser("list", help="project checkpoints and torchxrayvision files").set_defaults(func=_weights)
