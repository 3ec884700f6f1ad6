"""Clinicians get a message, the server log gets the traceback.

A widget callback that raises makes ipywidgets publish an ``error`` message on iopub whose
traceback names server paths, library versions and sometimes values (a patient id). For
clinicians' kernel websockets :func:`scrub` replaces such content with a short message; the
caller logs the original.
"""

from __future__ import annotations

import re
from typing import Any

#: What a clinician sees instead of a traceback.
CLIENT_MESSAGE = "Something went wrong in the dashboard; the details are in the server log."
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def scrub(msg_type: str, content: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """``(content for the client, text for the log)`` when ``content`` carries a traceback, else None.

    ``error`` (iopub) and error replies lose ``traceback`` and ``evalue``; ``stderr`` streams
    (warnings, tracebacks printed by libraries) are replaced by the same message.
    """
    if msg_type == "stream" and content.get("name") == "stderr":
        return {"name": "stderr", "text": CLIENT_MESSAGE + "\n"}, str(content.get("text", ""))
    if msg_type == "error" or (msg_type.endswith("_reply") and content.get("status") == "error"):
        original = "\n".join(_ANSI.sub("", str(line)) for line in content.get("traceback") or [])
        safe = {**content, "ename": "Error", "evalue": CLIENT_MESSAGE, "traceback": [CLIENT_MESSAGE]}
        return safe, original or f"{content.get('ename', '')}: {content.get('evalue', '')}"
    return None
