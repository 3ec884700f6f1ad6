"""Diagnosis model: HAM-style attention over a torchxrayvision DenseNet (no widget imports here)."""

from .analyze import Analyzer, ModelOutOfMemory
from .registry import LABELS, WeightsInvalid, WeightsMissing

__all__ = ["Analyzer", "LABELS", "ModelOutOfMemory", "WeightsInvalid", "WeightsMissing"]
