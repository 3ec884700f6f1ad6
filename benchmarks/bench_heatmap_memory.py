"""Peak memory of one analysis of a large film (figures, not asserts; last line is JSON).

Issue 16: a 7700×7700 film once took a process from 1.1 to 3.0 GB because every heatmap was made
at full resolution. Heatmaps are now at most ``HEATMAP_MAX_SIDE`` pixels a side (they cover the
whole film and are enlarged only for display), so the peak is the film and the network, not the maps.
Each size runs in a fresh process (``ru_maxrss`` only grows): RSS after loading the model and the
film, the peak during the analysis, and the bytes the findings' heatmaps hold.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

SIDES = (4000, 7700)
FILM = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cxr" / "images"


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def one(side: int) -> dict:
    import hashlib

    import numpy as np
    from PIL import Image

    from lungdx_widgets.imaging import load_image
    from lungdx_widgets.model import Analyzer
    from lungdx_widgets.types import Radiograph

    analyzer = Analyzer.load()
    source = sorted(FILM.glob("*.png"))[0]
    small = load_image(source).pixels
    pixels = np.asarray(Image.fromarray(small, mode="F").resize((side, side), Image.Resampling.BILINEAR))
    film = Radiograph(pixels=pixels, source_format="png", sha256=hashlib.sha256(pixels.tobytes()).hexdigest(), bit_depth=8)
    before = _rss_mb()
    findings = analyzer.analyze(film)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    heat_bytes = sum(h.nbytes for h in findings.heatmaps.values())
    shapes = sorted({h.shape for h in findings.heatmaps.values()})
    return {"side": side, "rss_before_analysis_mb": round(before, 1), "peak_rss_mb": round(peak, 1),
            "heatmaps": len(findings.heatmaps), "heatmap_shape": [list(s) for s in shapes],
            "heatmap_mb": round(heat_bytes / 2**20, 1), "boxes": len(findings.boxes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, help="(internal) measure one size in this process")
    args = parser.parse_args()
    if args.side:
        print(json.dumps(one(args.side)))
        return
    rows = []
    for side in SIDES:
        out = subprocess.run([sys.executable, __file__, "--side", str(side)], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        row = json.loads(out)
        rows.append(row)
        print(f"{side}×{side}: RSS {row['rss_before_analysis_mb']} MB before, peak {row['peak_rss_mb']} MB; "
              f"{row['heatmaps']} heatmaps {row['heatmap_shape']} = {row['heatmap_mb']} MB")
    print(json.dumps({"bench": "heatmap_memory", "runs": rows}))


if __name__ == "__main__":
    main()
