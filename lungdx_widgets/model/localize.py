"""Class maps → boxes and peak points, in model-input pixels (callers map them to the original)."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..imaging.transform import Geometry

#: Heatmaps are interpolated bilinearly up to this many pixels per side, then enlarged by nearest
#: neighbour to the original size: 4x cheaper than bilinear at 1024² (measured 4 ms vs 19 ms for 7
#: maps) and within 0.02 of it — the maps come from an 8×8 grid, there is no finer detail to keep.
HEATMAP_DETAIL = 256
#: Longest side of a heatmap in :class:`~lungdx_widgets.types.Findings` (a map covers the whole film
#: at this resolution; the viewer sends 256, reports draw at 1024 and stretch it smoothly).
HEATMAP_MAX_SIDE = 512


#: Lung fields of a frontal chest film, in fractions of the square model input: centre x of each
#: lung, centre y, and spreads. Fixed from anatomy before any localisation was measured (not fitted).
class _LungFields(TypedDict):
    x: tuple[float, ...]  # centre of each lung field (fraction of the width)
    y: float
    sx: float
    sy: float


LUNG_FIELDS: _LungFields = {"x": (0.3, 0.7), "y": 0.55, "sx": 0.13, "sy": 0.2}


def lung_field_prior(h: int, w: int) -> np.ndarray:
    """(h, w) weights in (0, 1] peaking over both lung fields, evaluated at cell centres.

    Multiplying a class map by it keeps the network's ranking inside the lungs but moves peaks off
    shoulders, collimation edges and burned-in markers, where this data's shortcuts live.
    """
    gy, gx = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    x, y = np.meshgrid(gx, gy)
    f = LUNG_FIELDS
    prior = np.zeros_like(x)
    for cx in f["x"]:
        prior += np.exp(-((x - cx) ** 2 / (2 * f["sx"] ** 2) + (y - f["y"]) ** 2 / (2 * f["sy"] ** 2)))
    return (prior / prior.max()).astype(np.float32)


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """(..., h, w) maps → (..., size, size), bilinear with cell centres aligned like the network's grid."""
    t = torch.as_tensor(np.asarray(maps, dtype=np.float32))
    lead = t.shape[:-2]
    t = t.reshape(-1, 1, *t.shape[-2:])
    up = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return up.reshape(*lead, size, size).numpy()


def map_shape(rows: int, cols: int, max_side: int = HEATMAP_MAX_SIDE) -> tuple[int, int]:
    """(rows, cols) of a heatmap over a ``rows``×``cols`` film: the film's shape, shrunk so no side
    exceeds ``max_side`` (the maps come from an 8×8 grid; a full-size 7700² map held 237 MB each)."""
    scale = min(1.0, max_side / max(rows, cols))
    return max(1, round(rows * scale)), max(1, round(cols * scale))


def maps_to_original(maps: np.ndarray, geometry: Geometry, detail: int = HEATMAP_DETAIL,
                     max_side: int = HEATMAP_MAX_SIDE) -> np.ndarray:
    """(K, h, w) maps over the model input → (K, r, c) covering the whole original image, zero outside
    the crop, at :func:`map_shape` (at most ``max_side`` a side: displays and reports enlarge them).

    Same placement as :meth:`Geometry.map_to_original` (which it approximates, see ``HEATMAP_DETAIL``),
    for all maps in one pass.
    """
    t = torch.as_tensor(np.asarray(maps, dtype=np.float32))[None]
    rows, cols = map_shape(geometry.rows, geometry.cols, max_side)
    sy, sx = rows / geometry.rows, cols / geometry.cols
    top, left, h, w = geometry.region
    top, left = round(top * sy), round(left * sx)
    h, w = max(1, min(rows - top, round(h * sy))), max(1, min(cols - left, round(w * sx)))
    if max(h, w) > detail:
        t = F.interpolate(t, size=(detail, detail), mode="bilinear", align_corners=False)
        up = F.interpolate(t, size=(h, w), mode="nearest")[0].numpy()
    else:
        up = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0].numpy()
    if (rows, cols) == (h, w):
        return up
    out = np.zeros((up.shape[0], rows, cols), dtype=np.float32)
    out[:, top:top + h, left:left + w] = up
    return out


def peak(heatmap: np.ndarray) -> tuple[float, float]:
    """(x, y) of the hottest pixel, at the pixel centre."""
    y, x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return float(x) + 0.5, float(y) + 0.5


def boxes_from_map(heatmap: np.ndarray, relative_threshold: float = 0.5, min_area_fraction: float = 0.01,
                   max_boxes: int = 3, split_midline: bool = False) -> list[tuple[float, float, float, float, float]]:
    """Connected regions above ``relative_threshold`` × peak → ``(x, y, w, h, region_peak)``, hottest first.

    ``split_midline`` keeps regions of the two halves apart (one pixel column): maps over both lung
    fields otherwise join across the mediastinum into one box spanning both lungs, which locates nothing.
    """
    top = float(heatmap.max())
    if top <= 0:
        return []
    above = heatmap >= relative_threshold * top
    if split_midline:
        above[:, heatmap.shape[1] // 2] = False
    labelled, n = ndimage.label(above)
    min_area = min_area_fraction * heatmap.size
    found = []
    for index, sl in enumerate(ndimage.find_objects(labelled), start=1):
        if sl is None:
            continue
        region = labelled[sl] == index
        if region.sum() < min_area:
            continue
        ys, xs = sl
        found.append((float(xs.start), float(ys.start), float(xs.stop - xs.start), float(ys.stop - ys.start),
                      float(heatmap[sl][region].max())))
    found.sort(key=lambda b: -b[4])
    return found[:max_boxes]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def inside(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    x, y = point
    return box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]
