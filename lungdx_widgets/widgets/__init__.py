"""widgets layer."""

from .viewer import ImageViewer  # noqa: E402  (viewer family: radiograph, heatmaps, box editor)
from .editor import AnnotationEditor  # noqa: E402
from .label_review import LabelReview  # noqa: E402

__all__ = ["AnnotationEditor", "ImageViewer", "LabelReview"]
