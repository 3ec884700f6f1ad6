"""The heatmap for a report picture, recomputed (the store keeps probabilities, not maps).

Only drawn when the loaded model is the one that produced the stored result; otherwise the
report says why there is no heatmap instead of showing another model's attention.
"""

from __future__ import annotations

import numpy as np

from ..errors import LungDxError
from ..labels import ABNORMAL
from .context import StudyContext



def recompute_heatmap(ctx: StudyContext, analyzer=None) -> tuple[np.ndarray | None, str]:
    """(image-sized heatmap or None, caption saying what it shows or why it is missing).

    ``analyzer`` defaults to the installed model (``Analyzer.load()``).
    """
    if ctx.prediction is None:
        return None, "no heatmap: the study has not been analysed"
    if analyzer is None:
        try:
            from ..model import Analyzer

            analyzer = Analyzer.load()
        except (ImportError, LungDxError) as exc:
            return None, f"no heatmap: {exc}"
    if analyzer.version != ctx.prediction.model_version:
        return None, (f"no heatmap: the result came from model {ctx.prediction.model_version}, "
                      f"but model {analyzer.version} is installed")
    findings = analyzer.analyze(ctx.radiograph)
    positive = [r for r in findings.results.values() if r.positive]
    label = max(positive, key=lambda r: r.probability).label if positive else ABNORMAL  # type: ignore[arg-type,return-value]
    heat = findings.heatmaps.get(label, findings.heatmaps.get(ABNORMAL))
    if heat is None:
        return None, "no heatmap: the model produced none"
    shown = label if label in findings.heatmaps else ABNORMAL
    return heat, f"AI heatmap for {shown} (blue→red = more attention, as in the viewer)"
