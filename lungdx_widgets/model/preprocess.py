"""The one pre-processing step (MONAI Label's "pre"): film → lung mask → lung crop → network input.

Serving (:class:`~lungdx_widgets.model.analyze.Analyzer`), training, evaluation and the learning
loop all call :func:`prepare_films`, so the network sees the same crop and the same intensity
standardisation everywhere. Checkpoints from before model v2 (``NetConfig.lung_crop`` False) keep
their centred square crop without standardisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..imaging.transform import Geometry, to_model_input
from .network import NetConfig
from .segment import LungMask, LungSegmenter

#: Model-input pixels by which the lung mask is widened before it limits heatmaps and boxes: the
#: segmenter's edge is not exact, and pleural findings (effusion, pneumothorax) sit on it.
LUNG_DILATION = 3


@dataclass(frozen=True)
class FilmInput:
    """One film ready for the network, with what maps its outputs back."""

    input: np.ndarray              # (1, S, S) float32 in [-1024, 1024]
    geometry: Geometry             # model input ↔ original pixels
    lungs: LungMask | None         # None for checkpoints without the lung crop
    lung_grid: np.ndarray | None   # (S, S) float32 {0, 1}: widened lung mask on the model-input grid

    @property
    def lungs_found(self) -> bool:
        return self.lungs is None or self.lungs.found


def lung_grid(lungs: LungMask, geometry: Geometry) -> np.ndarray:
    """The lung mask cut to the model's crop and resized to its grid, widened by :data:`LUNG_DILATION`."""
    top, left, h, w = geometry.region
    crop = torch.from_numpy(lungs.mask[top:top + h, left:left + w].astype(np.float32))[None, None]
    grid = F.interpolate(crop, size=(geometry.size, geometry.size), mode="area")[0, 0].numpy() > 0.25
    return ndimage.binary_dilation(grid, iterations=LUNG_DILATION).astype(np.float32)


def prepare_films(films: list[np.ndarray], config: NetConfig, segmenter: LungSegmenter | None,
                  standardize: bool = True) -> list[FilmInput]:
    """Segment (one batch), crop and standardise each film as ``config`` asks (training passes
    ``standardize=False`` and equalises after its augmentations)."""
    if not config.lung_crop:
        return [FilmInput(*to_model_input(f, size=config.input_size), None, None) for f in films]
    if segmenter is None:
        raise ValueError("this checkpoint reads lung crops: a lung segmenter is needed")
    out = []
    for film, lungs in zip(films, segmenter.segment_batch(films)):
        model_in, geo = to_model_input(film, size=config.input_size, region=lungs.crop_region(),
                                        standardize=standardize)
        grid = lung_grid(lungs, geo) if lungs.found else np.ones((config.input_size,) * 2, np.float32)
        out.append(FilmInput(model_in, geo, lungs, grid))
    return out
