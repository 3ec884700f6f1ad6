"""The dashboard kernel does not pay for pandas: sqlite-utils is imported with pandas hidden (store._without_pandas)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import lungdx_widgets.app, lungdx_widgets.store.db
assert "pandas" not in sys.modules, "pandas was imported at start-up"
from lungdx_widgets.store import open_store
with open_store(sys.argv[1]) as store:
    store.add_patient("MRN-1", "Harriet Quill")
    assert [p.patient_id for p in store.search_patients("quill")] == ["MRN-1"]
import pandas  # still importable for code that needs it (the archive's Dask path)
print("ok", pandas.DataFrame({"a": [1]}).shape)
"""


def test_the_store_and_dashboard_import_without_pandas_and_pandas_still_imports(tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "s.db")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok (1, 1)"
