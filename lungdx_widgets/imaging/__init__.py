"""Imaging I/O: uploaded bytes → :class:`~lungdx_widgets.types.Radiograph`, or a clear refusal."""
