"""Benchmark the model's inference path (figures, not asserts; last line is JSON).

1. One 1024² DICOM: bare decode + lung segmentation + forward + CAM vs the full ``Analyzer.analyze``
   (heatmaps in original pixels limited to the lungs, boxes, out-of-distribution guard, results) —
   target ratio ≤ 1.3 and ≤ 250 ms on one core; ``segment_ms`` is the segmentation alone.
2. ``lungdx analyze`` over a folder of 64 images vs a raw batched forward on the same decoded
   images — target throughput ratio ≥ 0.9.
Both sides of each ratio run in this process, interleaved, so machine load affects them alike.
A checkpoint with test-time flip averaging defines its forward as the image plus its mirror image,
so the bare side forwards both too: the ratios measure what the product adds around the network.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lungdx_widgets.cli import main as cli_main
from lungdx_widgets.config import get_settings
from lungdx_widgets.imaging import load_image
from lungdx_widgets.imaging.transform import to_model_input
from lungdx_widgets.model import Analyzer

DICOM = "siim_6904_1517875201.dcm"
BATCH = 16


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def network_forward(analyzer: Analyzer, batch: np.ndarray) -> torch.Tensor:
    """The network alone on ``batch`` (and its mirror images when the checkpoint averages flips); class maps."""
    x = torch.from_numpy(batch)
    if analyzer.config.flip_tta:
        x = torch.cat([x, x.flip(-1)])
    with torch.inference_mode():
        return torch.sigmoid(analyzer.model(x).cams)


def model_inputs(analyzer: Analyzer, films: list[np.ndarray]) -> np.ndarray:
    """Segmentation + lung crop (v2 checkpoints) or the centred crop (v1): the network's inputs."""
    if analyzer.config.lung_crop:
        return np.stack([p.input for p in analyzer.prepare(films)])
    return np.stack([to_model_input(f, size=analyzer.input_size)[0] for f in films])


def bare_pipeline(analyzer: Analyzer, path: Path) -> None:
    """Decode, segment, crop, forward and class maps — nothing the product adds."""
    network_forward(analyzer, model_inputs(analyzer, [load_image(path).pixels]))


def segment_only(analyzer: Analyzer, pixels: np.ndarray) -> None:
    if analyzer.segmenter is not None:
        analyzer.segmenter.segment(pixels)


def raw_batched(analyzer: Analyzer, files: list[Path]) -> None:
    for i in range(0, len(files), BATCH):
        network_forward(analyzer, model_inputs(analyzer, [load_image(f).pixels for f in files[i:i + BATCH]]))


def cli_analyze(model: Path, files: list[Path]) -> None:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = cli_main(["analyze", "--json", "--model", str(model), *map(str, files)])
    assert code == 0 and out.getvalue().count("\n") == len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args()
    settings = get_settings()
    model = args.model or settings.weights / settings.default_model
    analyzer = Analyzer.load(model)
    dicom = settings.shared_data / "dicom" / DICOM

    bare_pipeline(analyzer, dicom), analyzer.analyze(load_image(dicom))  # warm-up
    bare, full, seg = [], [], []
    pixels = load_image(dicom).pixels
    for _ in range(args.repeats):
        bare.append(timed(lambda: bare_pipeline(analyzer, dicom)))
        full.append(timed(lambda: analyzer.analyze(load_image(dicom))))
        seg.append(timed(lambda: segment_only(analyzer, pixels)))
    bare_s, full_s, seg_s = statistics.median(bare), statistics.median(full), statistics.median(seg)
    print(f"1024² DICOM: segmentation {seg_s * 1000:.0f} ms; bare decode+segment+forward+CAM {bare_s * 1000:.0f} ms, "
          f"full analyze {full_s * 1000:.0f} ms (target ≤ 250), "
          f"ratio {full_s / bare_s:.2f} (target ≤ 1.3); median of {args.repeats}, torch threads {torch.get_num_threads()}, "
          f"test-time flip {analyzer.config.flip_tta}")

    with tempfile.TemporaryDirectory() as tmp:
        sources = sorted((settings.shared_data / "images").glob("*.png"))[:: 7][: args.images]
        files = [Path(shutil.copy(f, tmp)) for f in sources]
        cli_analyze(model, files[:2]), raw_batched(analyzer, files[:2])  # warm-up
        cli_t, raw_t = [], []
        for _ in range(max(2, args.repeats // 3)):
            cli_t.append(timed(lambda: cli_analyze(model, files)))
            raw_t.append(timed(lambda: raw_batched(analyzer, files)))
    cli_rate, raw_rate = len(files) / statistics.median(cli_t), len(files) / statistics.median(raw_t)
    print(f"{len(files)} images: lungdx analyze {cli_rate:.1f} img/s, raw batched forward {raw_rate:.1f} img/s, "
          f"ratio {cli_rate / raw_rate:.2f} (target ≥ 0.9)")
    print(json.dumps({"dicom_bare_ms": round(bare_s * 1000, 1), "dicom_full_ms": round(full_s * 1000, 1),
                      "segment_ms": round(seg_s * 1000, 1),
                      "analyze_ratio": round(full_s / bare_s, 3), "cli_img_per_s": round(cli_rate, 2),
                      "raw_img_per_s": round(raw_rate, 2), "throughput_ratio": round(cli_rate / raw_rate, 3),
                      "threads": torch.get_num_threads(), "flip_tta": analyzer.config.flip_tta,
                      "model": analyzer.version}))


if __name__ == "__main__":
    main()
