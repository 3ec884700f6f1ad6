"""The one conversion to torchxrayvision's input convention, and its exact inverse.

Model input: single channel, values in [-1024, 1024], the largest centred square crop of the
original, resized to ``size``×``size``. :class:`Geometry` maps model-input pixels back to
original pixels so heatmaps and boxes are drawn on the original image exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


#: (top, left, height, width) of a rectangle in original pixels.
Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class Geometry:
    """Crop + resize: a rectangle of the original (rows, cols) → square model input of ``size``.

    The rectangle is the largest centred square unless ``box`` names one (model v2 crops to the
    lung fields found by the segmenter); a non-square rectangle is resized anisotropically, so x and
    y have their own scales.
    """

    rows: int
    cols: int
    size: int
    box: Region | None = None

    @property
    def region(self) -> Region:
        """(top, left, height, width) of the crop in original pixels."""
        if self.box is not None:
            return self.box
        c = min(self.rows, self.cols)
        return (self.rows - c) // 2, (self.cols - c) // 2, c, c

    @property
    def crop(self) -> int:
        """Side of the crop (the larger side for a non-square lung crop)."""
        _, _, h, w = self.region
        return max(h, w)

    @property
    def offset(self) -> tuple[int, int]:
        """(top, left) of the crop in original pixels."""
        top, left, _, _ = self.region
        return top, left

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Original pixels per model-input pixel, along x and along y."""
        _, _, h, w = self.region
        return w / self.size, h / self.size

    @property
    def scale(self) -> float:
        """Original pixels per model-input pixel (the coarser axis)."""
        return max(self.scale_xy)

    def to_original(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """Box in model-input pixels → box in original pixels."""
        top, left = self.offset
        sx, sy = self.scale_xy
        return x * sx + left, y * sy + top, w * sx, h * sy

    def to_model(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """Box in original pixels → box in model-input pixels (inverse of :meth:`to_original`)."""
        top, left = self.offset
        sx, sy = self.scale_xy
        return (x - left) / sx, (y - top) / sy, w / sx, h / sy

    def map_to_original(self, heatmap: np.ndarray) -> np.ndarray:
        """A map over the model input (any square resolution) → (rows, cols); zero outside the crop."""
        top, left, h, w = self.region
        t = torch.as_tensor(np.asarray(heatmap, dtype=np.float32))[None, None]
        up = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
        out = np.zeros((self.rows, self.cols), dtype=np.float32)
        out[top:top + h, left:left + w] = up
        return out


def equalize(images: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of each image (..., H, W) → values in (0, 1]: each pixel becomes the
    share of its image's pixels at or below it.

    The result depends only on the order of the pixel values, so any monotone contrast processing
    of the film (gamma, windowing, a vendor's look-up table, equalisation itself) gives the same
    model input: the network cannot read how a site processes its films, only what is on them.
    """
    lead, (h, w) = images.shape[:-2], images.shape[-2:]
    flat = images.reshape(-1, h * w).float()
    ordered, _ = flat.sort(dim=1)
    cdf = torch.searchsorted(ordered.contiguous(), flat.contiguous(), right=True).float() / (h * w)
    return cdf.reshape(*lead, h, w)


def to_model_input(pixels: np.ndarray, size: int = 224, region: Region | None = None,
                   standardize: bool = False) -> tuple[np.ndarray, Geometry]:
    """[0,1] 'bones bright' pixels (rows, cols) → (1, size, size) float32 in [-1024, 1024] + geometry.

    ``region`` crops a rectangle (default: the largest centred square); ``standardize`` equalises the
    crop's histogram (:func:`equalize`) after resizing — model v2's intensity standardisation.
    """
    img = np.asarray(pixels, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {img.shape}")
    geo = Geometry(int(img.shape[0]), int(img.shape[1]), int(size), region)
    top, left, h, w = geo.region
    crop = img[top:top + h, left:left + w]
    t = torch.from_numpy(np.ascontiguousarray(crop))[None, None]
    resized = F.interpolate(t, size=(size, size), mode="area")[0]
    if standardize:
        resized = equalize(resized)
    return (resized.numpy() * 2048.0 - 1024.0).astype(np.float32), geo
