"""Imaging cost vs the model: load + convert a DICOM must take well under one forward pass.

Times, in the same process and run: ``load_image`` (bytes → Radiograph: header checks, decode,
modality/VOI LUT, inversion, plausibility check) followed by ``to_model_input`` for the shared
1024² JPEG-baseline CR, the 1024² uncompressed DX and the 1955×1841 JPEG 2000 CR; and, as the
baseline, one forward pass of torchxrayvision's DenseNet-121 (random weights: the cost is the
same) on a 1×1×224×224 input with ``Settings.torch_threads`` threads. Prints medians in ms and
the ratio imaging / forward and the machine's load average (a busy machine slows the threaded
forward more than the single-threaded decode); the last line is JSON. Target: ratio for the 1024² DICOM well under 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import torch
import torchxrayvision as xrv

from lungdx_widgets.config import get_settings
from lungdx_widgets.imaging import load_image
from lungdx_widgets.imaging.transform import to_model_input

FILES = {"cr_jpeg_1024": "siim_6904_1517875201.dcm", "dx_raw_1024": "nih_gcp_covid0000.dcm",
         "cr_j2k_1955x1841": "nema_wg04_RG1_J2KI.dcm"}


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (lazy imports, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    settings = get_settings()
    torch.set_num_threads(settings.torch_threads)

    model = xrv.models.DenseNet(weights=None).eval()
    batch = torch.zeros(1, 1, 224, 224)
    with torch.inference_mode():
        forward = median_ms(lambda: model(batch), args.repeats)

    results: dict[str, float] = {"forward_ms": round(forward, 2)}
    print(f"model forward (DenseNet-121, 224², {settings.torch_threads} threads): {forward:8.1f} ms")
    for key, name in FILES.items():
        data = (settings.shared_data / "dicom" / name).read_bytes()
        ms = median_ms(lambda data=data: to_model_input(load_image(data).pixels), args.repeats)
        results[f"{key}_ms"] = round(ms, 2)
        results[f"{key}_ratio"] = round(ms / forward, 3)
        print(f"load + convert {key:<18} {ms:8.1f} ms   = {ms / forward:5.2f} × forward")
    results["load_average_1min"] = round(os.getloadavg()[0], 2)  # contention makes both sides slower
    print(f"1-minute load average during the run: {results['load_average_1min']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
