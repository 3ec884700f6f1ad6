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
from ..imaging.transform import Geometry, to_model_input
from ..types import Box, Findings, LabelResult, Radiograph
from .localize import boxes_from_map, lung_field_prior, maps_to_original, upsample
from .network import HamNet, NetConfig
from .registry import LABELS, Checkpoint, default_model_path, load_checkpoint

ABNORMAL = "abnormal"

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

    ``class_maps``/``abnormal_maps`` are the localisation maps (lung-field prior applied when the
    checkpoint asks for it); ``evidence_maps`` are the class maps as the network made them, to see
    where its evidence lies outside the lungs (shortcuts).
    """

    probabilities: np.ndarray   # (B, C)
    abnormal: np.ndarray        # (B,)
    class_maps: np.ndarray      # (B, C, h, w) in [0, 1]
    abnormal_maps: np.ndarray   # (B, h, w) in [0, 1]
    evidence_maps: np.ndarray   # (B, C, h, w) in [0, 1]


@torch.inference_mode()
def forward(model: HamNet, inputs: np.ndarray | torch.Tensor) -> RawOutput:
    """The network's outputs as a checkpoint defines them: with its test-time flip and lung-field
    prior when its config asks for them (training validates through this too, so thresholds are
    chosen on the probabilities the dashboard will show)."""
    config = model.config
    x = torch.as_tensor(inputs, dtype=torch.float32)
    n = x.shape[0]
    out = model(torch.cat([x, x.flip(-1)]) if config.flip_tta else x)
    probs, abnormal = torch.sigmoid(out.logits), torch.sigmoid(out.abnormal_logit)
    cams, abnormal_map = torch.sigmoid(out.cams), torch.sigmoid(out.abnormal_map)[:, 0]
    if config.flip_tta:
        probs, abnormal = (probs[:n] + probs[n:]) / 2, (abnormal[:n] + abnormal[n:]) / 2
        cams = (cams[:n] + cams[n:].flip(-1)) / 2
        abnormal_map = (abnormal_map[:n] + abnormal_map[n:].flip(-1)) / 2
    evidence, localisation, abnormal_map = cams.numpy(), cams.numpy(), abnormal_map.numpy()
    if config.lung_prior:
        prior = lung_field_prior(*evidence.shape[-2:])
        localisation, abnormal_map = evidence * prior, abnormal_map * prior
    return RawOutput(probs.numpy(), abnormal.numpy(), localisation, abnormal_map, evidence)


class ModelOutOfMemory(LungDxError):
    """The machine ran out of memory during an analysis (the study itself is unaffected)."""


def _is_out_of_memory(exc: RuntimeError) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc)


class Analyzer:
    """A loaded checkpoint ready to analyse radiographs. Decision support only."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.config = NetConfig.from_dict(checkpoint.config)
        self.model = HamNet(self.config)
        self.model.load_state_dict(checkpoint.state_dict)
        self.model.eval()

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
    def version(self) -> str:
        return self.checkpoint.version

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.checkpoint.thresholds)

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def predict(self, inputs: np.ndarray | torch.Tensor) -> RawOutput:
        """Batched forward on model inputs (B, 1, S, S) in [-1024, 1024]; see :func:`forward`."""
        return forward(self.model, inputs)

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

        ``heatmaps=False`` skips the original-size maps (the CLI prints none); boxes are still made.
        """
        t0 = time.perf_counter()
        prepared = [to_model_input(r.pixels, size=self.input_size) for r in radiographs]
        t1 = time.perf_counter()
        raw = self.predict(np.stack([p[0] for p in prepared])) if prepared else None
        t2 = time.perf_counter()
        shared = {"preprocess": (t1 - t0) / max(len(radiographs), 1), "forward": (t2 - t1) / max(len(radiographs), 1)}
        return [self._findings(raw, i, geo, shared, heatmaps) for i, (_, geo) in enumerate(prepared)]

    def _findings(self, raw: RawOutput, i: int, geo: Geometry, timings: dict[str, float], with_maps: bool) -> Findings:
        t0 = time.perf_counter()
        results: dict[str, LabelResult] = {}
        for j, label in enumerate(self.labels):
            results[label] = LabelResult(label, float(raw.probabilities[i, j]), self.checkpoint.thresholds.get(label))
        for label in LABELS:
            results.setdefault(label, LabelResult(label, None, None))
        heatmaps: dict[str, np.ndarray] = {}
        if with_maps:
            stacked = maps_to_original(np.concatenate([raw.class_maps[i], raw.abnormal_maps[i][None]]), geo)
            heatmaps = dict(zip((*self.labels, ABNORMAL), stacked))
        boxes = self._boxes(raw, i, geo, results)
        timings = dict(timings, maps=time.perf_counter() - t0)
        timings["total"] = sum(timings.values())
        return Findings(results=results, heatmaps=heatmaps, boxes=boxes, model_version=self.version, timings=timings)

    def _boxes(self, raw: RawOutput, i: int, geo: Geometry, results: dict[str, LabelResult]) -> list[Box]:
        """Proposed boxes for findings at or above their operating threshold."""
        boxes: list[Box] = []
        for j, label in enumerate(self.labels):
            if not results[label].positive:
                continue
            heat = upsample(raw.class_maps[i, j], self.input_size)
            top = float(heat.max())
            for x, y, w, h, region_peak in boxes_from_map(heat, split_midline=self.config.lung_prior):
                ox, oy, ow, oh = geo.to_original(x, y, w, h)
                # the hottest region carries the label's probability, weaker ones their share of it
                # (map values themselves are not probabilities, least of all after the lung-field prior)
                score = float(raw.probabilities[i, j]) * region_peak / top
                boxes.append(Box(label, ox, oy, ow, oh, score=round(score, 4), source="ai", status="proposed"))
        return boxes
