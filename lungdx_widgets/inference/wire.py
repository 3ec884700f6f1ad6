"""What travels between a kernel and the inference process: numpy's own formats, never pickle.

A request is the film's pixels as one ``.npy``; a reply is one ``.npz`` holding the findings as
JSON plus the maps. Heatmaps are coarse by nature (the network sees a few hundred pixels), so they
travel at most :data:`MAP_MAX_SIDE` pixels a side (same aspect as the film: the viewer and the
report stretch them over it); the lung mask travels at full size as packed bits (a tenth of a MB).
Loading uses ``allow_pickle=False``, so neither side can be made to run code by the other.
"""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from ..errors import LungDxError
from ..types import Box, Findings, LabelResult

#: Longest side of a heatmap on the wire (the viewer shows them at 256, reports at 1024 and smoothed).
MAP_MAX_SIDE = 512


class WireError(LungDxError):
    """A request or reply that is not what the other side sends (never shown as a finding)."""


def encode_pixels(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(pixels, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def decode_pixels(data: bytes, max_pixels: int) -> np.ndarray:
    """The film of a request; refuses what no decoder would have produced (wrong rank, dtype, size)."""
    try:
        pixels = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise WireError(f"unreadable film: {exc}") from None
    if pixels.ndim != 2 or pixels.dtype != np.float32 or not 0 < pixels.size <= max_pixels:
        raise WireError(f"a film must be a 2-D float32 array of at most {max_pixels} pixels, "
                        f"got {pixels.dtype} {pixels.shape}")
    return pixels


def bounded(heat: np.ndarray, max_side: int = MAP_MAX_SIDE) -> np.ndarray:
    """A heatmap shrunk (box filter: never above its own maximum) so no side exceeds ``max_side``."""
    rows, cols = heat.shape
    scale = max_side / max(rows, cols)
    if scale >= 1:
        return heat.astype(np.float32, copy=False)
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    return np.asarray(Image.fromarray(heat.astype(np.float32, copy=False), mode="F")
                      .resize(size, Image.Resampling.BOX))


def encode_findings(findings: Findings, max_side: int = MAP_MAX_SIDE) -> bytes:
    labels = list(findings.heatmaps)
    meta = {
        "results": [[r.label, r.probability, r.threshold] for r in findings.results.values()],
        "boxes": [b.as_dict() for b in findings.boxes],
        "model_version": findings.model_version, "timings": findings.timings, "warnings": findings.warnings,
        "out_of_distribution": findings.out_of_distribution, "ood_score": findings.ood_score,
        "heatmaps": labels,
        "lung_mask": None if findings.lung_mask is None else list(findings.lung_mask.shape),
        "image_size": None if findings.image_size is None else list(findings.image_size),
    }
    arrays: dict[str, np.ndarray] = {f"heat{i}": bounded(findings.heatmaps[label], max_side).astype(np.float16)
              for i, label in enumerate(labels)}
    if findings.lung_mask is not None:
        arrays["lung_mask"] = np.packbits(findings.lung_mask.astype(bool), axis=None)
    buf = io.BytesIO()
    # numeric arrays only (read() loads with allow_pickle=False too)
    np.savez(buf, allow_pickle=False, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def decode_findings(data: bytes) -> Findings:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes())
            heatmaps = {label: npz[f"heat{i}"].astype(np.float32) for i, label in enumerate(meta["heatmaps"])}
            mask = None
            if meta["lung_mask"] is not None:
                rows, cols = meta["lung_mask"]
                mask = np.unpackbits(npz["lung_mask"], count=rows * cols).reshape(rows, cols).astype(bool)
    except (ValueError, OSError, EOFError, KeyError) as exc:
        raise WireError(f"unreadable reply from the model service: {exc}") from None
    return Findings(results={label: LabelResult(label, p, t) for label, p, t in meta["results"]},
                    heatmaps=heatmaps, boxes=[Box.from_dict(b) for b in meta["boxes"]],
                    model_version=meta["model_version"], timings=meta["timings"], warnings=meta["warnings"],
                    out_of_distribution=meta["out_of_distribution"], ood_score=meta["ood_score"], lung_mask=mask,
                    image_size=tuple(meta["image_size"]) if meta.get("image_size") else None)
