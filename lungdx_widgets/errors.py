"""Base of every error the product shows to a person.

Core functions raise subclasses with a message a clinician understands; the CLI prints
``str(error)`` on one line and exits non-zero; widgets show it in the panel; a notebook cell shows
the sentence instead of a traceback (IPython's ``_render_traceback_``). Anything that is *not* a
``LungDxError`` is a bug.
"""


class LungDxError(Exception):
    """An expected failure with a human-readable message."""

    exit_code: int = 2

    def _render_traceback_(self) -> list[str]:
        """What IPython prints for it: the sentence (an analyst's notebook stops, and says why in words)."""
        return [f"{type(self).__name__}: {self}"]
