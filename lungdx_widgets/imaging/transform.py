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


@dataclass(frozen=True)
class Geometry:
    """Centre-crop + resize: original (rows, cols) → square model input of ``size``."""

    rows: int
    cols: int
    size: int

    @property
    def crop(self) -> int:
        return min(self.rows, self.cols)

    @property
    def offset(self) -> tuple[int, int]:
        """(top, left) of the crop in original pixels."""
        return (self.rows - self.crop) // 2, (self.cols - self.crop) // 2

    @property
    def scale(self) -> float:
        """Original pixels per model-input pixel."""
        return self.crop / self.size

    def to_original(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """Box in model-input pixels → box in original pixels."""
        top, left = self.offset
        s = self.scale
        return x * s + left, y * s + top, w * s, h * s

    def to_model(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        """Box in original pixels → box in model-input pixels (inverse of :meth:`to_original`)."""
        top, left = self.offset
        s = self.scale
        return (x - left) / s, (y - top) / s, w / s, h / s

    def map_to_original(self, heatmap: np.ndarray) -> np.ndarray:
        """A map over the model input (any square resolution) → (rows, cols); zero outside the crop."""
        t = torch.as_tensor(np.asarray(heatmap, dtype=np.float32))[None, None]
        up = F.interpolate(t, size=(self.crop, self.crop), mode="bilinear", align_corners=False)[0, 0].numpy()
        out = np.zeros((self.rows, self.cols), dtype=np.float32)
        top, left = self.offset
        out[top:top + self.crop, left:left + self.crop] = up
        return out


def to_model_input(pixels: np.ndarray, size: int = 224) -> tuple[np.ndarray, Geometry]:
    """[0,1] 'bones bright' pixels (rows, cols) → (1, size, size) float32 in [-1024, 1024] + geometry."""
    img = np.asarray(pixels, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {img.shape}")
    geo = Geometry(int(img.shape[0]), int(img.shape[1]), int(size))
    top, left = geo.offset
    crop = img[top:top + geo.crop, left:left + geo.crop]
    t = torch.from_numpy(np.ascontiguousarray(crop))[None, None]
    resized = F.interpolate(t, size=(size, size), mode="area")[0]
    return (resized.numpy() * 2048.0 - 1024.0).astype(np.float32), geo
