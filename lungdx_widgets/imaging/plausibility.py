"""Does an accepted image look like a chest radiograph? Warnings, never refusals.

A colour photograph, pure noise or a smooth gradient can be valid PNG/JPEG files; the model
would still produce numbers for them. These checks put a visible warning on the
:class:`~lungdx_widgets.types.Radiograph` so nobody reads those numbers silently. Thresholds
were calibrated on the 713 shared chest PNGs and 4 DICOMs (none of them triggers a warning).
"""

from __future__ import annotations

import numpy as np

#: Mean (max - min) over RGB channels, as a fraction of full scale, above which an image is "in colour".
COLOUR_LIMIT = 0.04
#: Mean absolute neighbour difference / standard deviation above which the image is mostly noise.
NOISE_LIMIT = 0.5
#: Share of the variance explained by a plane (a linear ramp) above which the image is a gradient
#: (the highest among the shared chest PNGs is 0.87).
GRADIENT_LIMIT = 0.95
#: Standard deviation (of [0,1] pixels) below which the image is essentially uniform.
FLAT_LIMIT = 0.02
#: Side of the thumbnail the checks run on (fast, and insensitive to resolution).
CHECK_SIDE = 256

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's convert("L")


def colour_to_gray(rgb: np.ndarray, full_scale: float) -> tuple[np.ndarray, float]:
    """(rows, cols, 3) → ([0,1] float32 luma, colourfulness in [0,1])."""
    px = np.asarray(rgb, dtype=np.float32)[..., :3] / np.float32(full_scale)
    gray = np.clip(px @ _LUMA, 0.0, 1.0)
    colourfulness = float((px.max(axis=-1) - px.min(axis=-1)).mean())
    return np.ascontiguousarray(gray, dtype=np.float32), colourfulness


def colour_warning(colourfulness: float) -> tuple[str, ...]:
    if colourfulness <= COLOUR_LIMIT:
        return ()
    return ("This is a colour image (a photograph?), not a radiograph file; it was converted to grey. "
            "Check the findings with care.",)


def plausibility_warnings(pixels: np.ndarray) -> tuple[str, ...]:
    """Warnings for images that do not look like a chest radiograph (empty tuple when plausible)."""
    small = _thumbnail(np.asarray(pixels, dtype=np.float32))
    std = float(small.std())
    if std < FLAT_LIMIT:
        return ("The image is almost uniform (no visible anatomy); it does not look like a chest radiograph.",)
    roughness = float(np.abs(np.diff(small, axis=1)).mean() + np.abs(np.diff(small, axis=0)).mean()) / 2 / std
    if roughness > NOISE_LIMIT:
        return ("The image is mostly noise; it does not look like a chest radiograph.",)
    if _plane_fit_share(small) > GRADIENT_LIMIT:
        return ("The image is a smooth gradient without anatomy; it does not look like a chest radiograph.",)
    return ()


def _thumbnail(img: np.ndarray) -> np.ndarray:
    """Block-mean downsample so the longest side is at most :data:`CHECK_SIDE`."""
    factor = max(1, -(-max(img.shape) // CHECK_SIDE))
    rows, cols = (img.shape[0] // factor) * factor, (img.shape[1] // factor) * factor
    if factor == 1:
        return img
    return img[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor).mean(axis=(1, 3))


def _plane_fit_share(img: np.ndarray) -> float:
    """R² of the least-squares plane a·x + b·y + c through the image."""
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    design = np.stack([xx.ravel(), yy.ravel(), np.ones(img.size)], axis=1).astype(np.float64)
    values = img.ravel().astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - design @ coef
    total = float(((values - values.mean()) ** 2).sum())
    return 1.0 - float((residual ** 2).sum()) / total if total > 0 else 1.0
