"""The Jupyter kernel's event loop, for widgets that defer work (search debounce, uploads analysed off the loop)."""

from __future__ import annotations

import asyncio


def kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop of a Jupyter kernel; None elsewhere (tests, scripts), where calls happen at once.

    Checking for a kernel, not just a loop: another library's loop (e.g. a browser driver's) must
    never receive our timers.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
