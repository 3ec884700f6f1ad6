"""Benchmark the PACS path against a real local Orthanc (figures, not asserts; last line is JSON).

N chest instances (the shared real DICOMs, each stored as many new instances with fresh UIDs and
patient IDs) arrive in Orthanc in bursts of ``--burst``; after each burst one ``pull`` files them.
Measured in this one run:
1. per study, "in PACS" (Orthanc acknowledged the upload) → "analysed, on the worklist" (p50/p95);
2. pull throughput (instances/s over the pulls) vs bare analysis throughput (decode + analyze of
   the same bytes, no PACS, no store) — target ratio ≥ 0.8;
3. STOW-RS of SR + burned-in boxes image per signed study (p50).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid


def variants(sources: list[bytes], n: int) -> list[bytes]:
    """n new instances of the real films: fresh Study/Series/SOP UIDs and a patient ID per instance."""
    out = []
    for i in range(n):
        ds = pydicom.dcmread(io.BytesIO(sources[i % len(sources)]))
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.PatientID = f"BENCH-{i:04d}"
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out.append(buf.getvalue())
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--burst", type=int, default=20, help="instances arriving together before a pull")
    ap.add_argument("--stow", type=int, default=20, help="signed studies sent back")
    ap.add_argument("--model", type=Path, default=None, help="checkpoint (default: the shipped one)")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="lungdx-bench-pacs-"))
    os.environ["LUNGDX_IMAGE_STORE"] = str(root / "images")
    from lungdx_widgets.config import get_settings

    get_settings.cache_clear()
    from lungdx_widgets.imaging import load_image
    from lungdx_widgets.pacs.client import PacsClient
    from lungdx_widgets.pacs.orthanc import OrthancServer
    from lungdx_widgets.pacs.pull import pull
    from lungdx_widgets.pacs.push import push_results
    from lungdx_widgets.pacs.settings import PacsSettings
    from lungdx_widgets.services import ModelService
    from lungdx_widgets.store import open_store

    dicoms = sorted((get_settings().shared_data / "dicom").glob("*.dcm"))
    sources = [p.read_bytes() for p in dicoms if "fake" not in p.name]  # the MONOCHROME1 copy is the same film
    data = variants(sources, args.instances)
    service = ModelService(args.model, resolver=lambda: None)
    model = service.get()

    with OrthancServer(root=root / "orthanc") as orthanc, open_store(root / "bench.db") as store:
        client = PacsClient(PacsSettings(url=orthanc.dicomweb_url, username=orthanc.username,
                                         password=orthanc.password, max_instances=10_000))
        arrived: dict[str, float] = {}
        done: dict[str, float] = {}
        pull_seconds = 0.0
        bare_seconds = 0.0
        for start in range(0, len(data), args.burst):
            burst = data[start:start + args.burst]
            for blob in burst:
                orthanc.upload(blob)
                sop = pydicom.dcmread(io.BytesIO(blob), stop_before_pixels=True).SOPInstanceUID
                arrived[sop] = time.time()
            t = time.perf_counter()
            report = pull(store, client, "bench", analyzer=service)
            pull_seconds += time.perf_counter() - t
            assert not report.refused, report.refused
            done.update({sop: at for sop, _r, _i, at in report.timings})
            t = time.perf_counter()  # the same bytes, bare: decode + analyse, interleaved with the pulls
            for blob in burst:
                model.analyze(load_image(blob))
            bare_seconds += time.perf_counter() - t
        latencies = [done[sop] - arrived[sop] for sop in arrived]
        assert len(done) == len(data), f"{len(done)} of {len(data)} filed"

        studies = [store.pacs_instance(sop).study_id for sop in list(done)[:args.stow]]
        stow = []
        for study_id in studies:
            store.sign_study(study_id, "bench", {}, comment="benchmark")
            t = time.perf_counter()
            push_results(store, client, study_id, "bench")
            stow.append(time.perf_counter() - t)

    pull_rate, bare_rate = len(data) / pull_seconds, len(data) / bare_seconds
    print(f"{len(data)} instances in bursts of {args.burst} ({len(sources)} real films, new UIDs), "
          f"model {model.version}, torch threads {get_settings().torch_threads}")
    print(f"in PACS -> analysed on the worklist: p50 {statistics.median(latencies):.2f} s, "
          f"p95 {pct(latencies, 0.95):.2f} s (includes waiting for the rest of the burst)")
    print(f"pull {pull_rate:.1f} instances/s vs bare decode+analyse {bare_rate:.1f}/s: ratio "
          f"{pull_rate / bare_rate:.2f} (target >= 0.8)")
    print(f"STOW-RS SR + boxes image: p50 {statistics.median(stow) * 1000:.0f} ms over {len(stow)} studies")
    print(json.dumps({"instances": len(data), "burst": args.burst,
                      "latency_p50_s": round(statistics.median(latencies), 3),
                      "latency_p95_s": round(pct(latencies, 0.95), 3),
                      "pull_per_s": round(pull_rate, 2), "bare_analysis_per_s": round(bare_rate, 2),
                      "pull_vs_bare": round(pull_rate / bare_rate, 3),
                      "stow_p50_ms": round(statistics.median(stow) * 1000, 1), "stow_n": len(stow)}))


if __name__ == "__main__":
    main()
