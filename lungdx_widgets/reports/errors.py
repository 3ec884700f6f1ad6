"""Why a report or export could not be produced, in words the person asking understands."""

from __future__ import annotations

from ..errors import LungDxError


class ReportError(LungDxError):
    """A report/export request that cannot be fulfilled (unknown study, no analysis, bad format)."""
