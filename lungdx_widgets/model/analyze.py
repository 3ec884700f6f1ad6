"""Inference: one radiograph in, :class:`~lungdx_widgets.types.Findings` out, in original pixels."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import get_settings
from ..errors import LungDxError
import torch.nn.functional as F
from scipy import ndimage

from ..types import Box, Findings, LabelResult, Radiograph
from .localize import boxes_from_map, lung_field_prior, maps_to_original, upsample
from .network import HamNet, NetConfig
from .preprocess import FilmInput, prepare_films
from .segment import LungSegmenter
from ..labels import ABNORMAL
from .weights import LABELS, Checkpoint, default_model_path, load_checkpoint

#: AI box proposals per finding: more than two per finding clutter the film without adding a place to look.
MAX_BOXES_PER_LABEL = 2


def widened(mask: np.ndarray, shape: tuple[int, int], detail: int = 256) -> np.ndarray:
    """A lung mask (original pixels) widened by ~2% of the film, as smooth [0, 1] heatmap weights of ``shape``.

    Worked at ``detail`` pixels and enlarged bilinearly: a dilation at full size costs ~20x more.
    """
    rows, cols = shape
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    small_size = (max(1, rows * detail // max(rows, cols)), max(1, cols * detail // max(rows, cols)))
    small = F.interpolate(t, size=small_size, mode="area")[0, 0].numpy() > 0.5
    grown = ndimage.binary_dilation(small, iterations=max(1, detail // 50)).astype(np.float32)
    return F.interpolate(torch.from_numpy(grown)[None, None], size=(rows, cols), mode="bilinear",
                         align_corners=False)[0, 0].numpy()


#: Callables asked, in order, for the checkpoint ``Analyzer.load()`` uses when given no path (the
#: learning loop registers "the registry's active version"); None from all → the shipped default.
_default_model_resolvers: list[Callable[[], Path | None]] = []


def register_default_model(resolver: Callable[[], Path | None]) -> None:
    """Let a higher layer (the model registry) choose the default checkpoint without the model importing it."""
    if resolver not in _default_model_resolvers:
        _default_model_resolvers.append(resolver)


def default_checkpoint() -> Path:
    for resolve in _default_model_resolvers:
        path = resolve()
        if path is not None:
            return Path(path)
    return default_model_path()


@dataclass
class RawOutput:
    """Network outputs for a batch, as numpy: probabilities and sigmoid maps at feature resolution.

    ``class_maps``/``abnormal_maps`` are the localisation maps (limited to the lung fields for a
    lung-crop checkpoint, or weighted by the old lung-field prior); ``evidence_maps`` are the class
    maps as the network made them, to see where its evidence lies outside the lungs (shortcuts).
    """

    probabilities: np.ndarray   # (B, C)
    abnormal: np.ndarray        # (B,)
    class_maps: np.ndarray      # (B, C, h, w) in [0, 1]
    abnormal_maps: np.ndarray   # (B, h, w) in [0, 1]
    evidence_maps: np.ndarray   # (B, C, h, w) in [0, 1]
    ood_scores: np.ndarray | None = None  # (B,) Mahalanobis distance from the training films, if guarded


def lung_cells(lung_grids: np.ndarray | torch.Tensor, h: int, w: int) -> np.ndarray:
    """(B, S, S) lung masks on the input grid → (B, h, w) share of each map cell that is lung."""
    t = torch.as_tensor(np.asarray(lung_grids, dtype=np.float32))[:, None]
    return F.adaptive_avg_pool2d(t, (h, w))[:, 0].numpy()


@torch.inference_mode()
def forward(model: HamNet, inputs: np.ndarray | torch.Tensor, lung_grids: np.ndarray | None = None) -> RawOutput:
    """The network's outputs as a checkpoint defines them: with its test-time flip, and its maps
    limited to the lungs (``lung_grids``, lung-crop checkpoints) or weighted by the old prior (training
    validates through this too, so thresholds are chosen on the probabilities the dashboard will show)."""
    config = model.config
    x = torch.as_tensor(inputs, dtype=torch.float32)
    n = x.shape[0]
    out = model(torch.cat([x, x.flip(-1)]) if config.flip_tta else x)
    probs, abnormal = torch.sigmoid(out.logits), torch.sigmoid(out.abnormal_logit)
    cams, abnormal_map = torch.sigmoid(out.cams), torch.sigmoid(out.abnormal_map)[:, 0]
    embedding = out.embedding
    if config.flip_tta:
        probs, abnormal = (probs[:n] + probs[n:]) / 2, (abnormal[:n] + abnormal[n:]) / 2
        cams = (cams[:n] + cams[n:].flip(-1)) / 2
        abnormal_map = (abnormal_map[:n] + abnormal_map[n:].flip(-1)) / 2
        embedding = (embedding[:n] + embedding[n:]) / 2 if embedding is not None else None
    ood = model.ood_distance(embedding).numpy() if config.ood_threshold > 0 and embedding is not None else None
    evidence, localisation, abnormal_maps = cams.numpy(), cams.numpy(), abnormal_map.numpy()
    if config.lung_crop and lung_grids is not None:
        weight = lung_cells(lung_grids, *evidence.shape[-2:])
        localisation, abnormal_maps = evidence * weight[:, None], abnormal_maps * weight
    elif config.lung_prior:
        prior = lung_field_prior(*evidence.shape[-2:])
        localisation, abnormal_maps = evidence * prior, abnormal_maps * prior
    return RawOutput(probs.numpy(), abnormal.numpy(), localisation, abnormal_maps, evidence, ood)


#: What the dashboard and the CLI say when the guard trips (one wording, used everywhere).
OOD_WARNING = ("This film differs from the films the model learned from; AI findings may be unreliable "
               "— read it yourself.")
NO_LUNGS_WARNING = ("No lung fields were found: this does not look like a frontal chest radiograph. "
                    "AI findings are not reliable for it.")


class ModelOutOfMemory(LungDxError):
    """The machine ran out of memory during an analysis (the study itself is unaffected)."""


def _is_out_of_memory(exc: RuntimeError) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc)


class Analyzer:
    """A loaded checkpoint ready to analyse radiographs. Decision support only."""

    def __init__(self, checkpoint: Checkpoint, segmenter: LungSegmenter | None = None) -> None:
        self.checkpoint = checkpoint
        self.config = NetConfig.from_dict(checkpoint.config)
        self.model = HamNet(self.config)
        self.model.load_state_dict(checkpoint.state_dict)
        self.model.eval()
        if self.config.lung_crop and segmenter is None:
            segmenter = LungSegmenter.load()
        self.segmenter = segmenter

    @classmethod
    def load(cls, path: Path | str | None = None) -> "Analyzer":
        """Load ``path`` (any project checkpoint), else the registered default (active registry
        version), else ``weights/<Settings.default_model>``.

        Raises :class:`WeightsMissing` naming the exact file and folder when it is absent.
        """
        torch.set_num_threads(max(1, get_settings().torch_threads))
        return cls(load_checkpoint(Path(path) if path is not None else default_checkpoint()))

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels this checkpoint was trained on (the others are reported as not assessed)."""
        return self.config.labels

    @property
    def reported_labels(self) -> tuple[str, ...]:
        """Labels shown with a probability (trained and not withheld for weak held-out results)."""
        return tuple(label for label in self.labels if label not in self.config.withheld)

    @property
    def version(self) -> str:
        return self.checkpoint.version

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.checkpoint.thresholds)

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def predict(self, inputs: np.ndarray | torch.Tensor, lung_grids: np.ndarray | None = None) -> RawOutput:
        """Batched forward on model inputs (B, 1, S, S) in [-1024, 1024]; see :func:`forward`."""
        return forward(self.model, inputs, lung_grids)

    def prepare(self, films: list[np.ndarray]) -> list[FilmInput]:
        """Segment, crop and standardise films as this checkpoint expects (:func:`prepare_films`)."""
        return prepare_films(films, self.config, self.segmenter)

    def analyze(self, radiograph: Radiograph) -> Findings:
        """One radiograph; running out of memory becomes :class:`ModelOutOfMemory`, a message the UI can show."""
        try:
            return self.analyze_batch([radiograph])[0]
        except (MemoryError, RuntimeError) as exc:  # torch's CPU allocator fails with a plain RuntimeError
            if isinstance(exc, RuntimeError) and not _is_out_of_memory(exc):
                raise
            raise ModelOutOfMemory("The server ran out of memory while analysing this image; "
                                   "try again when fewer sessions are open.") from exc

    def analyze_batch(self, radiographs: list[Radiograph], *, heatmaps: bool = True) -> list[Findings]:
        """Analyse several radiographs with one forward pass.

        ``heatmaps=False`` skips the maps (the CLI prints none); boxes are still made. Maps cover the
        whole film at :data:`~.localize.HEATMAP_MAX_SIDE` pixels a side at most; boxes are in original pixels.
        """
        t0 = time.perf_counter()
        prepared = self.prepare([r.pixels for r in radiographs])
        t1 = time.perf_counter()
        if not prepared:
            return []
        # a lung-crop checkpoint's films always carry their grid (prepare_films)
        grids = np.stack([p.lung_grid for p in prepared if p.lung_grid is not None]) if self.config.lung_crop else None
        raw = self.predict(np.stack([p.input for p in prepared]), grids)
        t2 = time.perf_counter()
        shared = {"preprocess": (t1 - t0) / max(len(radiographs), 1), "forward": (t2 - t1) / max(len(radiographs), 1)}
        return [self._findings(raw, i, film, shared, heatmaps) for i, film in enumerate(prepared)]

    def guard(self, raw: RawOutput, i: int, film: FilmInput) -> tuple[bool, float | None, list[str]]:
        """(out of distribution?, score, warnings) for film ``i``: no lungs, or features unlike training."""
        score = None if raw.ood_scores is None else float(raw.ood_scores[i])
        if not film.lungs_found:
            return True, score, [NO_LUNGS_WARNING]
        if score is not None and score > self.config.ood_threshold:
            return True, score, [OOD_WARNING]
        return False, score, []

    def _findings(self, raw: RawOutput, i: int, film: FilmInput, timings: dict[str, float], with_maps: bool) -> Findings:
        t0 = time.perf_counter()
        geo = film.geometry
        results: dict[str, LabelResult] = {}
        for j, label in enumerate(self.labels):
            if label not in self.config.withheld:
                results[label] = LabelResult(label, float(raw.probabilities[i, j]), self.checkpoint.thresholds.get(label))
        for label in LABELS:
            results.setdefault(label, LabelResult(label, None, None))
        heatmaps: dict[str, np.ndarray] = {}
        lung_mask = film.lungs.mask if film.lungs is not None and film.lungs.found else None
        if with_maps:
            stacked = maps_to_original(np.concatenate([raw.class_maps[i], raw.abnormal_maps[i][None]]), geo)
            if lung_mask is not None:
                stacked = stacked * widened(lung_mask, stacked.shape[-2:])
            heatmaps = dict(zip((*self.labels, ABNORMAL), stacked))
        boxes = self._boxes(raw, i, film, results)
        out_of_distribution, score, warnings = self.guard(raw, i, film)
        timings = dict(timings, maps=time.perf_counter() - t0)
        timings["total"] = sum(timings.values())
        return Findings(results=results, heatmaps=heatmaps, boxes=boxes, model_version=self.version, timings=timings,
                        warnings=warnings, out_of_distribution=out_of_distribution, ood_score=score,
                        lung_mask=lung_mask, image_size=(geo.rows, geo.cols))

    def _boxes(self, raw: RawOutput, i: int, film: FilmInput, results: dict[str, LabelResult]) -> list[Box]:
        """Proposed boxes (at most :data:`MAX_BOXES_PER_LABEL`, inside the lungs) for positive findings."""
        boxes: list[Box] = []
        geo = film.geometry
        split = self.config.lung_prior or self.config.lung_crop
        for j, label in enumerate(self.labels):
            if label not in results or not results[label].positive:
                continue
            heat = upsample(raw.class_maps[i, j], self.input_size)
            if film.lung_grid is not None:
                heat = heat * film.lung_grid
            top = float(heat.max())
            if top <= 0:
                continue
            for x, y, w, h, region_peak in boxes_from_map(heat, split_midline=split, max_boxes=MAX_BOXES_PER_LABEL):
                ox, oy, ow, oh = geo.to_original(x, y, w, h)
                # the hottest region carries the label's probability, weaker ones their share of it
                # (map values themselves are not probabilities, least of all after the lung-field prior)
                score = float(raw.probabilities[i, j]) * region_peak / top
                boxes.append(Box(label, ox, oy, ow, oh, score=round(score, 4), source="ai", status="proposed"))
        return boxes
