"""Resource limits: upload size cap, decompression bombs, and a model that cannot run.

Each refusal must be a clear message with nothing written; a model failure must leave the rest of
the dashboard (search, record, viewing studies) working.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from lungdx_widgets.config import PROJECT_ROOT, get_settings
from lungdx_widgets.errors import LungDxError
from lungdx_widgets.imaging import ImageTooLarge, load_image
from lungdx_widgets.widgets.upload import SharedAnalyzer, UploadPanel

from .conftest import PATIENT, audit_rows, image_files
from .fuzzing import png_header_only

#: Peak memory allowed while refusing a bomb (the decoded image would need gigabytes).
BOMB_RSS_LIMIT_MB = 400


@pytest.fixture
def upload_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    limit = 256 * 1024
    monkeypatch.setenv("LUNGDX_MAX_UPLOAD_BYTES", str(limit))
    get_settings.cache_clear()
    yield limit
    monkeypatch.delenv("LUNGDX_MAX_UPLOAD_BYTES", raising=False)  # only this variable: other fixtures' settings stay
    get_settings.cache_clear()


@pytest.fixture
def panel(patient_store, tmp_path: Path) -> UploadPanel:
    upload = UploadPanel(patient_store, "doc", analyzer=SharedAnalyzer(tmp_path / "absent.pt"))
    upload.patient_id = PATIENT
    return upload


def assert_refused_cleanly(panel: UploadPanel, store, image_store: Path, data: bytes, name: str, why: str) -> None:
    before = (audit_rows(store), image_files(image_store))
    assert panel.handle(data, name) is None
    assert why in panel.status.value and "Nothing was saved" in panel.status.value
    assert store.studies_for_patient(PATIENT) == []
    assert (audit_rows(store), image_files(image_store)) == before
    assert not panel.busy


def test_upload_above_the_size_cap_is_refused_with_a_clear_message(upload_cap, panel, patient_store, image_store,
                                                                   shared_dicoms):
    big = next(p for p in shared_dicoms if p.stat().st_size > upload_cap).read_bytes()
    assert_refused_cleanly(panel, patient_store, image_store, big, "big.dcm", "above the upload limit")
    with pytest.raises(ImageTooLarge, match="MiB"):
        load_image(big)


def test_file_above_the_cap_is_refused_before_it_is_read(upload_cap, shared_dicoms):
    big = next(p for p in shared_dicoms if p.stat().st_size > upload_cap)
    with pytest.raises(ImageTooLarge, match="upload limit"):
        load_image(big)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is rewritten to announce ``width`` x ``height``."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (64, 64), 128).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def _full_png_bomb(side: int) -> bytes:
    """A complete, valid PNG of ``side`` x ``side`` black pixels: tiny on disk, huge when decoded."""
    raw = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # filter byte + pixels
    stream = b"".join(raw.compress(row) for _ in range(side)) + raw.flush()
    header = png_header_only(side, side)
    ihdr_end = header.index(b"IDAT") - 4
    idat = struct.pack(">I", len(stream)) + b"IDAT" + stream + struct.pack(">I", zlib.crc32(b"IDAT" + stream))
    return header[:ihdr_end] + idat + header[-12:]


@pytest.mark.parametrize("bomb, name", [
    (png_header_only(60_000, 60_000), "header.png"),
    (png_header_only(2**31 - 1, 2**31 - 1, bit_depth=16), "huge16.png"),
    (_jpeg_claiming(65_000, 65_000), "huge.jpg"),
])
def test_decompression_bombs_are_refused_at_the_door(panel, patient_store, image_store, bomb, name):
    assert len(bomb) < 200_000
    assert_refused_cleanly(panel, patient_store, image_store, bomb, name, name)


def test_a_complete_png_bomb_is_refused_without_decoding_it(tmp_path: Path):
    """Measured in a fresh process: refusing a 100-megapixel PNG must not allocate it."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_full_png_bomb(10_000))
    assert bomb.stat().st_size < 1_000_000
    script = ("import sys\n"
              "from lungdx_widgets.imaging import load_image\n"
              "from lungdx_widgets.errors import LungDxError\n"
              "try:\n    load_image(sys.argv[1]); print('ACCEPTED')\n"
              "except LungDxError as exc:\n    print('REFUSED', type(exc).__name__, exc)\n"
              # VmHWM belongs to this program's memory map (ru_maxrss would include the parent's before exec)
              "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
              "print('PEAK_MB', int(hwm.split()[1]) // 1024)\n")
    out = subprocess.run([sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, timeout=120,
                         cwd=PROJECT_ROOT).stdout
    assert "REFUSED ImageTooLarge" in out, out
    peak = int(out.split("PEAK_MB")[1])
    assert peak < BOMB_RSS_LIMIT_MB, f"refusing the bomb peaked at {peak} MB"


def test_missing_weights_show_a_clear_message_and_the_rest_keeps_working(
        patient_store, image_store, png_bytes, tmp_path, monkeypatch):
    from lungdx_widgets.app import Dashboard

    monkeypatch.setenv("LUNGDX_WEIGHTS", str(tmp_path / "empty-weights"))
    get_settings.cache_clear()  # the image_store fixture restores the environment and settings afterwards
    dash = Dashboard(patient_store, "doc", analyzer=SharedAnalyzer(), warm_up_model=False)
    assert dash.open_patient(PATIENT)
    outcome = dash.upload.handle(png_bytes, "chest.png")
    assert outcome is not None and outcome.prediction is None
    assert "lungdx-demo.pt" in outcome.model_error and "empty-weights" in outcome.model_error
    assert "Study saved" in dash.upload.status.value and "AI analysis unavailable" in dash.upload.status.value
    assert "AI analysis unavailable" in dash.findings._message.value
    # The study is kept and everything else still works.
    assert [s.id for s in patient_store.studies_for_patient(PATIENT)] == [outcome.study.id]
    assert [p.patient_id for p in dash.search.search("Hardening")] == [PATIENT]
    views = audit_rows(patient_store)
    # opening the patient shows their latest study too: one audited view of each, nothing more
    assert dash.open_patient(PATIENT) and audit_rows(patient_store) == views + 2
    latest = [(e.action, e.obj) for e in patient_store.audit_events(2)]
    assert sorted(latest) == [("view", f"patient:{PATIENT}"), ("view", f"study:{outcome.study.id}")]
    assert "Ada Hardening" in dash.record._html.value
    assert dash.open_study(outcome.study.id)
    assert "not been analysed" in dash.findings._message.value


def test_running_out_of_memory_during_analysis_is_a_typed_error(shared_data: Path, shared_dicoms):
    """A real allocation failure: after a warm-up on a 64-pixel image the address space is capped just
    above what the loaded model uses, then a 1024-pixel radiograph (megabytes per heatmap) is analysed."""
    weights = get_settings().weights / get_settings().default_model
    if not weights.is_file():
        pytest.fail(f"the project checkpoint {weights} is part of the repository")
    small = sorted((shared_data / "lowres" / "images").glob("*.png"))[0]
    large = next(p for p in shared_dicoms if p.name.startswith("siim_6904_1517"))
    script = ("import resource, sys, psutil\n"
              "from lungdx_widgets.errors import LungDxError\n"
              "from lungdx_widgets.imaging import load_image\n"
              "from lungdx_widgets.model import Analyzer\n"
              "analyzer = Analyzer.load(); analyzer.analyze(load_image(sys.argv[1])); big = load_image(sys.argv[2])\n"
              "vms = psutil.Process().memory_info().vms\n"
              "resource.setrlimit(resource.RLIMIT_AS, (vms + 4 * 2**20, resource.RLIM_INFINITY))\n"
              "try:\n    analyzer.analyze(big); print('ANALYSED')\n"
              "except LungDxError as exc:\n    print('TYPED', type(exc).__name__, exc)\n")
    result = subprocess.run([sys.executable, "-c", script, str(small), str(large)], capture_output=True, text=True,
                            timeout=300, cwd=PROJECT_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert "TYPED ModelOutOfMemory" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "out of memory" in result.stdout


def test_upload_refusals_are_lungdx_errors():
    """The typed-error contract the panel relies on (anything else would be a crash in the kernel)."""
    assert issubclass(ImageTooLarge, LungDxError)
