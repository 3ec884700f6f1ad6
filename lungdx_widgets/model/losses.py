"""HAM training objective; every term has its own weight so an ablation can switch it off (0).

* ``labels``: BCE of the LSE-pooled class logits (unknown labels masked out);
* ``abnormal``: BCE of "anything abnormal?" vs "No Finding";
* ``box``: MSE between class maps (and the abnormality map) and reference box masks, only on
  images that have boxes — the supervision that pulls evidence onto the lesion;
* ``inside``: class maps must lie inside the abnormality map (relu(cam_c - abn)²);
* ``cover``: the abnormality map must be covered by the union of class maps (relu(abn - max_c cam_c)²);
* ``negative_map``: on a film known negative for a label, that label's map is low everywhere —
  with the box loss, the only teacher of labels whose sources have a single class (tuberculosis);
* ``outside_lung``: class maps are low outside the lung fields (lung-crop models).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .network import HamOutput


@dataclass(frozen=True)
class LossWeights:
    labels: float = 1.0
    abnormal: float = 0.5
    box: float = 2.0
    inside: float = 0.1
    cover: float = 0.1
    negative_map: float = 0.0
    outside_lung: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _map_size(maps: torch.Tensor) -> tuple[int, int]:
    """(height, width) of a (..., H, W) map, as the pooling target size."""
    return int(maps.shape[-2]), int(maps.shape[-1])


def _masked_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    known = ~torch.isnan(targets)
    if not known.any():
        return logits.sum() * 0.0
    loss = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(targets), reduction="none",
                                              pos_weight=pos_weight)
    return (loss * known).sum() / known.sum()


def ham_loss(out: HamOutput, targets: torch.Tensor, abnormal: torch.Tensor, box_masks: torch.Tensor,
             has_box: torch.Tensor, weights: LossWeights = LossWeights(),
             pos_weight: torch.Tensor | None = None, negatives: torch.Tensor | None = None,
             lung_masks: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts. ``box_masks`` (B, C, S, S) at input resolution, in [0, 1];
    ``negatives`` (B, C) bool: known-negative labels; ``lung_masks`` (B, 1, S, S) in [0, 1]."""
    parts: dict[str, torch.Tensor] = {}
    if weights.labels:
        parts["labels"] = _masked_bce(out.logits, targets, pos_weight)
    if weights.abnormal:
        parts["abnormal"] = _masked_bce(out.abnormal_logit, abnormal)
    cam = torch.sigmoid(out.cams)
    abn = torch.sigmoid(out.abnormal_map)
    if weights.box and has_box.any():
        target = F.adaptive_avg_pool2d(box_masks.float(), _map_size(cam))
        per_map = ((cam - target) ** 2).mean(dim=(2, 3))                      # (B, C)
        union = target.amax(dim=1, keepdim=True)
        any_box = has_box.any(dim=1)
        abn_err = ((abn - union) ** 2).mean(dim=(1, 2, 3))[any_box]
        parts["box"] = (per_map[has_box].sum() + abn_err.sum()) / (has_box.sum() + any_box.sum())
    if weights.negative_map and negatives is not None and negatives.any():
        parts["negative_map"] = (cam ** 2).mean(dim=(2, 3))[negatives].mean()
    if weights.outside_lung and lung_masks is not None:
        outside = 1.0 - F.adaptive_avg_pool2d(lung_masks.float(), _map_size(cam))
        parts["outside_lung"] = ((cam ** 2) * outside).mean()
    if weights.inside:
        parts["inside"] = (F.relu(cam - abn) ** 2).mean()
    if weights.cover:
        parts["cover"] = (F.relu(abn - cam.amax(dim=1, keepdim=True)) ** 2).mean()
    factor = asdict(weights)
    total = sum(factor[k] * v for k, v in parts.items())
    if not parts:
        total = out.logits.sum() * 0.0
    return total, {k: float(v.detach()) for k, v in parts.items()}
