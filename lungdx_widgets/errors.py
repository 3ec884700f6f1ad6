"""Base of every error the product shows to a person.

Core functions raise subclasses with a message a clinician understands; the CLI prints
``str(error)`` on one line and exits non-zero; widgets show it in the panel. Anything that is
*not* a ``LungDxError`` is a bug.
"""


class LungDxError(Exception):
    """An expected failure with a human-readable message."""

    exit_code: int = 2
