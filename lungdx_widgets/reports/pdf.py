"""PDF of the HTML report, printed by headless Chromium when it is installed.

Cheap because the report is already print-styled HTML and Chromium is already the project's
browser (Debian package, used by the UI tests); no PDF library or its system fonts are added.
Without Chromium the HTML report is the product and this says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import ReportError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def html_to_pdf(html: str, out: Path, *, timeout_s: int = 60) -> Path:
    """Print ``html`` to ``out`` (A4, background colours kept); raises :class:`ReportError`.

    ``timeout_s``: the deployment's ``Settings.pdf_timeout_seconds``, passed by the caller.
    """
    browser = find_browser()
    if browser is None:
        raise ReportError("A PDF needs Chromium, which is not installed here; write the report as .html "
                          "and print it to PDF from a browser.")
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="lungdx-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        args = [browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer", f"--print-to-pdf={out}", page.as_uri()]
        if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox
            args.insert(1, "--no-sandbox")
        try:
            proc = subprocess.run(args, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"Chromium did not finish printing the PDF within {timeout_s} s.") from None
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        raise ReportError(f"Chromium could not print the PDF (exit {proc.returncode}).")
    return out
