"""Inference contract: real DICOMs in, findings in original pixels out; honest "not assessed"."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest

from lungdx_widgets.imaging import load_image
from lungdx_widgets.model import LABELS, Analyzer, WeightsInvalid, WeightsMissing
from lungdx_widgets.model.localize import HEATMAP_MAX_SIDE, map_shape
from lungdx_widgets.model.weights import xrv_densenet


@pytest.fixture(scope="module")
def demo() -> Analyzer:
    """The shipped checkpoint (weights/lungdx-demo.pt): its absence is a failure, not a skip."""
    return Analyzer.load()


def test_each_shared_dicom_gives_finite_findings_of_its_size(demo, shared_dicoms):
    assert len(shared_dicoms) == 4
    for path in shared_dicoms:
        radiograph = load_image(path)
        findings = demo.analyze(radiograph)
        for label in demo.labels:
            p = findings.results[label].probability
            if label in demo.config.withheld:  # trained, but too weak on held-out films to be shown
                assert p is None
            else:
                assert p is not None and np.isfinite(p) and 0.0 <= p <= 1.0
        assert set(findings.heatmaps) == set(demo.labels) | {"abnormal"}
        assert findings.image_size == radiograph.size
        for name, heat in findings.heatmaps.items():  # the whole film, at a bounded resolution
            assert heat.shape == map_shape(*radiograph.size), (path.name, name)
            assert max(heat.shape) == min(HEATMAP_MAX_SIDE, max(radiograph.size))
            assert np.isfinite(heat).all() and heat.min() >= 0.0 and heat.max() <= 1.0
        rows, cols = radiograph.size
        for box in findings.boxes:
            assert box.source == "ai" and box.status == "proposed"
            assert -1 <= box.x and box.x + box.w <= cols + 1 and -1 <= box.y and box.y + box.h <= rows + 1
        assert findings.model_version == demo.version
        assert findings.timings["total"] > 0


def test_batch_matches_single(demo, shared_dicoms):
    radiographs = [load_image(p) for p in shared_dicoms[:2]]
    batch = demo.analyze_batch(radiographs)
    for r, f in zip(radiographs, batch):
        single = demo.analyze(r)
        for label in demo.labels:
            assert f.results[label].probability == pytest.approx(single.results[label].probability, abs=1e-4)


def test_untrained_label_is_not_assessed(tiny_checkpoint, shared_dicoms):
    analyzer = Analyzer.load(tiny_checkpoint)
    assert analyzer.labels == ("Pneumonia",)
    findings = analyzer.analyze(load_image(shared_dicoms[0]))
    assert list(findings.results)[:1] == ["Pneumonia"] and set(findings.results) == set(LABELS)
    for label in ("Effusion", "Tuberculosis"):
        result = findings.results[label]
        assert result.probability is None and not result.assessed and result.positive is None
    assert "Effusion" not in findings.heatmaps


def test_demo_checkpoint_assesses_tuberculosis_and_withholds_weak_labels(demo):
    """Model v2 reports TB (taught by the TBX11K boxes); every trained label has an operating point."""
    assert "Tuberculosis" in demo.reported_labels
    assert set(demo.thresholds) == set(demo.labels)
    assert set(demo.config.withheld) <= set(demo.labels) and "Pneumonia" in demo.reported_labels


def test_missing_weights_names_file_and_folder(tmp_path):
    missing = tmp_path / "nowhere" / "model.pt"
    with pytest.raises(WeightsMissing) as err:
        Analyzer.load(missing)
    assert "'model.pt'" in str(err.value) and str(missing.parent) in str(err.value)


def test_missing_torchxrayvision_weights_say_where_to_put_them(tmp_path, monkeypatch):
    from lungdx_widgets.config import get_settings

    monkeypatch.setenv("LUNGDX_WEIGHTS", str(tmp_path))
    get_settings.cache_clear()
    try:
        with pytest.raises(WeightsMissing) as err:
            xrv_densenet("densenet121-res224-all")
        message = str(err.value)
        assert str(tmp_path / "xrv") in message and ".pt'" in message and "lungdx weights fetch" in message
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_tampered_or_foreign_checkpoint_is_refused(tiny_checkpoint, tmp_path):
    copy = tmp_path / "tiny.pt"
    shutil.copy(tiny_checkpoint, copy)
    shutil.copy(tiny_checkpoint.with_suffix(".json"), copy.with_suffix(".json"))
    with open(copy, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(WeightsInvalid, match="checksum"):
        Analyzer.load(copy)
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(pickle.dumps(object()))  # an arbitrary pickle must never be executed
    with pytest.raises(WeightsInvalid):
        Analyzer.load(foreign)


def test_cli_analyze_good_and_bad_file(tiny_checkpoint, shared_dicoms, tmp_path):
    bad = tmp_path / "notes.dcm"
    bad.write_bytes(b"this is not an image")
    proc = subprocess.run([sys.executable, "-m", "lungdx_widgets.cli", "analyze", "--json", "--model",
                           str(tiny_checkpoint), str(bad), str(shared_dicoms[0])],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    err_lines = proc.stderr.strip().splitlines()
    assert len(err_lines) == 1 and "notes.dcm" in err_lines[0]
    out_lines = proc.stdout.strip().splitlines()
    assert len(out_lines) == 1
    record = json.loads(out_lines[0])
    assert record["file"] == str(shared_dicoms[0])
    assert 0.0 <= record["findings"]["Pneumonia"]["probability"] <= 1.0
    assert record["findings"]["Tuberculosis"]["probability"] is None


def test_registered_default_model_is_used_and_named_when_missing(tiny_checkpoint, tmp_path):
    from lungdx_widgets.model import analyze

    chosen: list = [tiny_checkpoint]
    resolver = lambda: chosen[0]  # noqa: E731 - stands in for the registry's "active version"
    analyze.register_default_model(resolver)
    try:
        assert Analyzer.load().labels == ("Pneumonia",)
        chosen[0] = tmp_path / "gone.pt"
        with pytest.raises(WeightsMissing, match="gone.pt"):  # never a silent fallback to another model
            Analyzer.load()
    finally:
        analyze._default_model_resolvers.remove(resolver)


def test_hottest_box_of_a_label_carries_its_probability(demo, shared_dicoms):
    checked = 0
    for path in shared_dicoms:
        findings = demo.analyze(load_image(path))
        proposed = [b for b in findings.boxes if b.source == "ai"]
        assert all(findings.results[b.label].positive for b in proposed), "boxes only for findings over threshold"
        for label in {b.label for b in proposed}:
            scores = sorted((b.score for b in proposed if b.label == label), reverse=True)
            assert abs(scores[0] - findings.results[label].probability) < 1e-3
            assert all(0 < s <= scores[0] for s in scores)
            checked += 1
    assert checked, "no shared DICOM produced a proposal: the check above never ran"
