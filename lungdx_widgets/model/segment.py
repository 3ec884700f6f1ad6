"""Lung segmentation: where the lung fields are, so the classifier reads lungs and not hospitals.

A small U-Net (MONAI's ``UNet``) trained here on the human lung masks of ``../shared/data/cxr2``
(V7 Labs and radiologist masks of the COVID-19 image collection). Every analysed film gets its
mask; it decides (a) the classifier's crop, (b) where heatmaps and boxes may lie, (c) whether the
image looks like a frontal chest film at all, and (d) the viewer's lung outline.

The input is the whole film resized to ``SEG_SIZE``² and histogram-equalised
(:func:`~lungdx_widgets.imaging.transform.equalize`), so a site's contrast processing does not move it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import ndimage

from ..config import get_settings
from ..imaging.transform import Region, equalize
from .weights import Checkpoint, WeightsInvalid, load_checkpoint

SEG_SIZE = 128
SEG_KIND = "lung-unet"
#: A lung mask covering less or more of the film than this is not a frontal chest film's
#: (the training masks span 0.13-0.55 of the image).
MIN_LUNG_FRACTION, MAX_LUNG_FRACTION = 0.04, 0.8
#: Margin around the lung fields kept in the classifier's crop, as fractions of the lung box:
#: (top, bottom, sides). The bottom margin is larger: V7 masks stop at the diaphragm dome, while
#: costophrenic angles (effusion) and retrocardiac bases lie below it.
CROP_MARGIN = (0.05, 0.12, 0.06)
#: Crop edges snap outward to this grid (cells of 1/CROP_GRID of the film): a mask edge moving by a
#: pixel or two (a burned-in marker, resampling) then leaves the classifier's input unchanged.
CROP_GRID = 40
#: The segmenter draws lung-shaped masks on anything (a photograph too), so plausibility also asks
#: how sure it is: the share of the mask that changes when the film is mirrored, and the band of
#: undecided pixels relative to the mask. On 41 shared chest films: mirror disagreement p95 0.10
#: (max 0.32), undecided p95 0.35 (max 0.64); on 11 scikit-image photographs: at least 0.38 / 0.65.
MAX_MIRROR_DISAGREEMENT, MAX_UNDECIDED = 0.35, 0.9


def build_unet() -> nn.Module:
    """MONAI's residual U-Net, five levels, 1.6 M parameters: fast enough for one CPU core."""
    from monai.networks.nets import UNet

    return UNet(spatial_dims=2, in_channels=1, out_channels=1, channels=(16, 32, 64, 128, 256),
                strides=(2, 2, 2, 2), num_res_units=1)


def seg_input(pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(rows, cols) [0,1] film → (1, 1, SEG_SIZE, SEG_SIZE) equalised network input in [-1, 1]."""
    t = torch.as_tensor(np.asarray(pixels, dtype=np.float32))[None, None]
    small = F.interpolate(t, size=(SEG_SIZE, SEG_SIZE), mode="area")
    return equalize(small) * 2.0 - 1.0


@dataclass(frozen=True)
class LungMask:
    """The lung fields of one film, in original pixels."""

    mask: np.ndarray            # (rows, cols) bool
    area_fraction: float        # share of the film covered by lung
    components: int             # connected lung regions kept (normally 2)
    mirror_disagreement: float = 0.0  # share of the mask that the mirrored film's mask does not repeat
    undecided: float = 0.0            # pixels with probability in (0.1, 0.9), relative to the mask

    @property
    def found(self) -> bool:
        """Plausible lung fields: enough (and not too much) of the film, in at most two regions,
        drawn with confidence (see :data:`MAX_MIRROR_DISAGREEMENT`)."""
        return (self.components >= 1 and MIN_LUNG_FRACTION <= self.area_fraction <= MAX_LUNG_FRACTION
                and self.mirror_disagreement <= MAX_MIRROR_DISAGREEMENT and self.undecided <= MAX_UNDECIDED)

    def box(self) -> Region | None:
        """(top, left, height, width) of the lungs, or None when there are none."""
        if not self.mask.any():
            return None
        rows, cols = np.nonzero(self.mask.any(axis=1))[0], np.nonzero(self.mask.any(axis=0))[0]
        return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)

    def crop_region(self) -> Region | None:
        """The classifier's crop: the lung box with :data:`CROP_MARGIN`, inside the film; None if not found."""
        box = self.box() if self.found else None
        if box is None:
            return None
        top, left, h, w = box
        rows, cols = self.mask.shape
        mt, mb, ms = CROP_MARGIN
        gy, gx = rows / CROP_GRID, cols / CROP_GRID
        y0 = max(0, int(np.floor((top - mt * h) / gy) * gy))
        y1 = min(rows, int(np.ceil(np.ceil((top + h + mb * h) / gy) * gy)))
        x0 = max(0, int(np.floor((left - ms * w) / gx) * gx))
        x1 = min(cols, int(np.ceil(np.ceil((left + w + ms * w) / gx) * gx)))
        return y0, x0, y1 - y0, x1 - x0


def clean_mask(probability: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, int]:
    """Binary mask of the (at most) two largest regions above ``threshold``, holes filled.

    Stray blobs (a burned-in letter, an arm) are dropped: lungs are two large regions.
    """
    above = probability >= threshold
    labelled, n = ndimage.label(above)
    if n == 0:
        return above, 0
    sizes = ndimage.sum(above, labelled, index=np.arange(1, n + 1))
    keep = [i + 1 for i in np.argsort(sizes)[::-1][:2] if sizes[i] >= 0.01 * above.size]
    mask = ndimage.binary_fill_holes(np.isin(labelled, keep))
    return mask, len(keep)


class LungSegmenter:
    """A loaded lung-segmentation checkpoint."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        if checkpoint.config.get("kind") != SEG_KIND:
            raise WeightsInvalid(f"{checkpoint.path} is not a lung-segmentation checkpoint")
        self.checkpoint = checkpoint
        self.net = build_unet()
        self.net.load_state_dict(checkpoint.state_dict)
        self.net.eval()

    @classmethod
    def load(cls, path: Path | str | None = None) -> "LungSegmenter":
        """``path``, else ``weights/<Settings.segmenter>``; raises ``WeightsMissing`` naming the file."""
        s = get_settings()
        return cls(load_checkpoint(Path(path) if path is not None else s.weights / s.segmenter))

    @property
    def version(self) -> str:
        return self.checkpoint.version

    @torch.inference_mode()
    def probabilities(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, S, S) equalised inputs → (B, S, S) lung probabilities of the film and of its mirror image
        (mirrored back)."""
        logits = self.net(torch.cat([batch, batch.flip(-1)]))
        n = batch.shape[0]
        return torch.sigmoid(logits[:n])[:, 0], torch.sigmoid(logits[n:]).flip(-1)[:, 0]

    def segment(self, pixels: np.ndarray) -> LungMask:
        return self.segment_batch([pixels])[0]

    def segment_batch(self, films: list[np.ndarray]) -> list[LungMask]:
        """One forward for several films; each mask comes back at its film's own size."""
        if not films:
            return []
        direct, mirrored = self.probabilities(torch.cat([seg_input(f) for f in films]))
        out = []
        for film, a, b in zip(films, direct, mirrored):
            prob = (a + b) / 2
            lung = max(float((prob > 0.5).sum()), 1.0)
            disagreement = float(((a > 0.5) != (b > 0.5)).sum()) / lung
            undecided = float(((prob > 0.1) & (prob < 0.9)).sum()) / lung
            rows, cols = np.asarray(film).shape[:2]
            full = F.interpolate(prob[None, None], size=(rows, cols), mode="bilinear", align_corners=False)[0, 0]
            mask, parts = clean_mask(full.numpy())
            out.append(LungMask(mask, float(mask.mean()), parts, round(disagreement, 4), round(undecided, 4)))
        return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Sørensen–Dice overlap of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(a, b).sum() / total)
