"""Diagnosis model: HAM-style attention over a torchxrayvision DenseNet (no widget imports here)."""

from .analyze import Analyzer, register_default_model
from .weights import LABELS, WeightsInvalid, WeightsMissing

__all__ = ["Analyzer", "LABELS", "WeightsInvalid", "WeightsMissing", "register_default_model"]
