"""Import sqlite-utils without pandas: every dashboard kernel starts 0.4 s sooner and ~30 MB smaller.

sqlite-utils imports pandas at import time whenever it is installed (dask's dashboard brings it), only to map
``pandas.Timestamp`` columns, which the store never writes. For that one import, ``sys.modules["pandas"] = None``
makes ``import pandas`` raise ImportError (the documented way to block an import); the entry is removed right
after, so code that needs pandas later (the archive's Dask path) imports it as usual. Measured in
``benchmarks/bench_dashboard.py`` (start-up) and ``tests/store/test_import_cost.py``.
"""

from __future__ import annotations

import sys

if "sqlite_utils" not in sys.modules and "pandas" not in sys.modules:
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["pandas"]
