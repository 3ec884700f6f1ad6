"""Train and evaluate the lung segmenter on human lung masks (``masks.csv``: file,mask,source,license).

Patients are kept whole on one side of the split. Augmentations imitate what differs between
hospitals: framing (affine, crops with black collimation), blur, noise and down-up resampling;
contrast processing needs none, the input is histogram-equalised.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..csvfiles import csv_rows
from ..imaging.transform import equalize
from .data import acquisition_jitter, read_grayscale
from .weights import save_checkpoint
from .segment import SEG_KIND, SEG_SIZE, LungSegmenter, build_unet, dice


@dataclass(frozen=True)
class MaskRecord:
    file: str          # image path relative to the images folder
    mask: Path         # absolute mask path
    source: str        # "V7 Labs" / "radiologists" / the CSV's source text
    patient_id: str


def mask_source(text: str, mask_name: str) -> str:
    """Short name of who drew a mask (V7 and the radiologists draw the bases differently)."""
    if "_lung_v7" in mask_name or "V7" in text:
        return "V7 Labs"
    if "_lung_gb" in mask_name or "Blockchain" in text or "radiologist" in text.lower():
        return "radiologists"
    return text.split("(")[0].strip() or "unknown"


def read_masks(masks_csv: Path, labels_csv: Path | None = None) -> list[MaskRecord]:
    """Rows of ``masks_csv`` (mask paths relative to its folder); patients from ``labels_csv`` when given."""
    patients: dict[str, str] = {}
    if labels_csv is not None and Path(labels_csv).is_file():
        with csv_rows(labels_csv) as reader:
            patients = {r["file"]: (r.get("patient_id") or r["file"]) for r in reader}
    out = []
    with csv_rows(masks_csv) as reader:
        for row in reader:
            out.append(MaskRecord(row["file"], Path(masks_csv).parent / row["mask"],
                                  mask_source(row.get("source") or "", row["mask"]),
                                  patients.get(row["file"], row["file"])))
    return out


def split_patients(records: list[MaskRecord], val_fraction: float, seed: int) -> tuple[list, list]:
    """(train, validation) with whole patients on one side."""
    ids = sorted({r.patient_id for r in records})
    rng = np.random.default_rng(seed)
    rng.shuffle(ids)
    val_ids = set(ids[:int(round(len(ids) * val_fraction))])
    return [r for r in records if r.patient_id not in val_ids], [r for r in records if r.patient_id in val_ids]


def _load_pair(images_dir: Path, r: MaskRecord) -> tuple[np.ndarray, np.ndarray]:
    img = read_grayscale(Path(images_dir) / r.file)
    m = read_grayscale(r.mask) > 0.5
    if m.shape != img.shape:
        raise ValueError(f"mask {r.mask.name} is {m.shape}, image {r.file} is {img.shape}")
    return img, m


def _resized(a: np.ndarray, mode: str) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]
    return F.interpolate(t, size=(SEG_SIZE, SEG_SIZE), mode=mode)[0]


def augment_films(images: torch.Tensor, masks: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Acquisition and framing changes for (B,1,S,S) [0,1] films and masks; then equalised to [-1, 1]."""
    b, s = images.shape[0], images.shape[-1]
    rnd = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    flip = rnd(b) < 0.5
    images, masks = images.clone(), masks.clone()
    images[flip], masks[flip] = images[flip].flip(-1), masks[flip].flip(-1)
    angle = (rnd(b) - 0.5) * 2 * math.radians(10)
    sx, sy = 1.0 + (rnd(b) - 0.5) * 0.4, 1.0 + (rnd(b) - 0.5) * 0.4
    tx, ty = (rnd(b) - 0.5) * 0.2, (rnd(b) - 0.5) * 0.2
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos / sx, -sin / sx, tx], 1), torch.stack([sin / sy, cos / sy, ty], 1)], 1)
    grid = F.affine_grid(theta, [b, 2, s, s], align_corners=False)
    warped = F.grid_sample(torch.cat([images, masks], 1), grid, mode="bilinear", padding_mode="zeros",
                           align_corners=False)
    images, masks = warped[:, :1], (warped[:, 1:] > 0.5).float()
    images = acquisition_jitter(images.clamp(0, 1) ** torch.exp((rnd(b, 1, 1, 1) - 0.5) * 1.2), g)
    return equalize(images) * 2.0 - 1.0, masks


def _loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    soft_dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + soft_dice.mean()


def train_segmenter(images_dir: Path, masks_csv: Path, out: Path, *, labels_csv: Path | None = None,
                    steps: int = 1500, time_budget_s: float | None = None, batch_size: int = 16,
                    lr: float = 3e-3, seed: int = 0, val_fraction: float = 0.2, threads: int = 1,
                    log=print) -> dict:
    """Train on the training patients, measure Dice on the held-out ones, write the checkpoint."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    records = read_masks(masks_csv, labels_csv)
    train, val = split_patients(records, val_fraction, seed)
    pairs = [_load_pair(images_dir, r) for r in train]
    images = torch.stack([_resized(i, "area") for i, _ in pairs])
    masks = torch.stack([(_resized(m.astype(np.float32), "area") > 0.5).float() for _, m in pairs])
    net = build_unet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    start, step = time.monotonic(), 0
    while step < steps:
        elapsed = time.monotonic() - start
        if time_budget_s is not None and elapsed > time_budget_s:
            break
        progress = max(step / steps, elapsed / time_budget_s if time_budget_s else 0.0)
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        idx = torch.randint(len(images), (batch_size,), generator=g)
        x, y = augment_films(images[idx], masks[idx], g)
        net.train()
        loss = _loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log(f"step {step} loss {float(loss):.3f} ({time.monotonic() - start:.0f} s)")
    config = {"kind": SEG_KIND, "labels": ["lung"], "input_size": SEG_SIZE, "arch": "monai UNet 16-256, 1 res unit"}
    meta = {"recipe": {"steps": step, "batch_size": batch_size, "lr": lr, "seed": seed, "val_fraction": val_fraction,
                       "train_masks": len(train), "val_masks": len(val), "masks_csv": str(masks_csv),
                       "seconds": round(time.monotonic() - start, 1)}}
    ckpt = save_checkpoint(out, config, net.state_dict(), {}, meta)
    report = evaluate_segmenter(LungSegmenter(ckpt), images_dir, val)
    from .weights import update_sidecar
    update_sidecar(out, evaluation={"lung_segmentation": report})
    return report


def evaluate_segmenter(segmenter: LungSegmenter, images_dir: Path, records: list[MaskRecord]) -> dict:
    """``{"dice": mean, "n": count, "by_source": {source: {"dice", "n"}}}`` at the masks' own resolution."""
    scores: dict[str, list[float]] = defaultdict(list)
    for r in records:
        img, ref = _load_pair(images_dir, r)
        scores[r.source].append(dice(segmenter.segment(img).mask, ref))
    every = [d for v in scores.values() for d in v]
    return {"dice": round(float(np.mean(every)), 4) if every else None, "n": len(every),
            "by_source": {k: {"dice": round(float(np.mean(v)), 4), "n": len(v)} for k, v in sorted(scores.items())}}
