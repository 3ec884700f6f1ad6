"""Bad input through every door: only typed ``LungDxError``s escape and a refused file writes nothing.

Doors: the upload path (``attach_and_analyze``, what the dashboard's file picker calls, on a real
store), the image loader behind it, and the labels/boxes CSV readers of the model. Hypothesis
explores the space; a seeded byte fuzz of real radiographs runs a fixed number of mutants.
"""

from __future__ import annotations

import csv
import io
import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lungdx_widgets.errors import LungDxError
from lungdx_widgets.imaging.names import MAX_NAME_CHARS
from lungdx_widgets.imaging.sniff import DICOM_MAGIC, JPEG_MAGIC, PNG_MAGIC
from lungdx_widgets.csvfiles import LabelsFileError
from lungdx_widgets.model.data import read_records
from lungdx_widgets.widgets.upload import SharedAnalyzer, UploadPanel, attach_and_analyze

from .conftest import PATIENT, audit_rows, image_files, sha256_file
from .fuzzing import MUTATIONS, mutants

#: Fuzz sizes: bounded so the whole hardening suite stays within its CI budget on 2 cores.
HYPOTHESIS_EXAMPLES = 250
BYTE_FUZZ_MUTANTS = 800
FUZZ = settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

HOSTILE_NAMES = ["../../../../etc/passwd", "..", ".", "/", "a/../../b.png", "C:\\Windows\\system32\\x.dcm",
                 "x\x00.png", "\x00", "\udcff\udcfe.png", "\ud800.dcm", "..\\..\\boot.ini", "\n\r\t.png",
                 "<script>alert(1)</script>.png", "\u202egnp.exe", "x" * 5000, ""]


@pytest.fixture(scope="module")
def seeds(shared_data: Path) -> list[bytes]:
    """Real files of each format the upload accepts: small PNGs, a JPEG made from one, a real DICOM."""
    from PIL import Image

    pngs = [p.read_bytes() for p in sorted((shared_data / "lowres" / "images").glob("*.png"))[:3]]
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(pngs[0])).convert("L").save(jpeg, "JPEG", quality=80)
    dicom = (shared_data / "dicom" / "siim_6904_1517875201.dcm").read_bytes()
    return [*pngs, jpeg.getvalue(), dicom]


@pytest.fixture(scope="module")
def no_model(tmp_path_factory) -> SharedAnalyzer:
    """The upload path without the network (fuzzing the loader, not the model): weights that do not exist."""
    return SharedAnalyzer(tmp_path_factory.mktemp("no-weights") / "absent.pt")


def upload_all_or_nothing(store, image_store: Path, data: bytes, name, analyzer, confirm: bool = False):
    """Upload through the dashboard's path; check the all-or-nothing promise; the outcome or None."""
    studies = store.conn.execute("SELECT count(*) FROM studies").fetchone()[0]
    files, audits = image_files(image_store), audit_rows(store)
    try:
        outcome = attach_and_analyze(store, PATIENT, data, name, "doc", analyzer=analyzer,
                                     confirm_identity_mismatch=confirm)
    except LungDxError as exc:
        assert str(exc), "a refusal must say why"
        assert store.conn.execute("SELECT count(*) FROM studies").fetchone()[0] == studies
        assert image_files(image_store) == files, "a refused upload left a file behind"
        assert audit_rows(store) == audits
        return None
    study = outcome.study
    stored = store.study_image_path(study)
    assert stored.resolve().is_relative_to(image_store.resolve())
    assert sha256_file(stored) == study.sha256
    assert not [p for p in image_files(image_store) if p.name.startswith(".")], "temp file left behind"
    return outcome


def assert_neutral_name(stored: str) -> None:
    assert "/" not in stored and "\\" not in stored and not stored.startswith(".")
    assert all(ch.isprintable() for ch in stored), repr(stored)
    assert len(stored) <= MAX_NAME_CHARS
    stored.encode("utf-8")  # storable and printable anywhere (no lone surrogates)


# -- the upload door -----------------------------------------------------------------------------

@st.composite
def hostile_bytes(draw, seeds: list[bytes]) -> bytes:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=4096))
    if kind == 1:
        magic = draw(st.sampled_from([PNG_MAGIC, JPEG_MAGIC, b"\0" * 128 + DICOM_MAGIC]))
        return magic + draw(st.binary(max_size=4096))
    rng = random.Random(draw(st.integers(0, 2**32)))
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        if len(data) > 1:
            data = rng.choice(MUTATIONS)(rng, data, rng.choice(seeds))
    return bytes(data)


file_names = st.one_of(
    st.sampled_from(HOSTILE_NAMES),
    st.text(st.characters(blacklist_categories=()), max_size=300),  # includes NUL, controls, lone surrogates
    st.binary(max_size=64).map(lambda b: b.decode("utf-8", "surrogateescape")),  # a non-UTF-8 name from disk
    st.lists(st.sampled_from(["..", ".", "", "etc", "x.png", "\x00"]), max_size=6).map("/".join),
)


def test_upload_of_hostile_bytes_and_names_is_all_or_nothing(patient_store, image_store, seeds, no_model):
    @FUZZ
    @given(data=st.data())
    def run(data):
        payload = data.draw(hostile_bytes(seeds))
        name = data.draw(file_names)
        outcome = upload_all_or_nothing(patient_store, image_store, payload, name, no_model,
                                        confirm=data.draw(st.booleans()))
        if outcome is not None:
            assert_neutral_name(outcome.study.filename)
            assert outcome.model_error  # no weights: said so, study kept

    run()


def test_seeded_byte_fuzz_of_real_radiographs_through_the_upload(patient_store, image_store, seeds, no_model):
    accepted = 0
    for i, payload in enumerate(mutants(seeds, BYTE_FUZZ_MUTANTS)):
        outcome = upload_all_or_nothing(patient_store, image_store, payload, f"mutant-{i}.bin", no_model,
                                        confirm=i % 2 == 0)
        accepted += outcome is not None
    stored = patient_store.studies_for_patient(PATIENT)
    assert len(stored) == len({s.sha256 for s in stored})  # content-addressed: no duplicate rows
    assert patient_store.integrity_check() == "ok"
    # Mutations that keep a decodable image are accepted; the run must exercise both outcomes.
    assert 0 < accepted < BYTE_FUZZ_MUTANTS


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_upload_names_are_never_used_as_paths(patient_store, image_store, png_bytes, no_model, name, tmp_path):
    payload = png_bytes + name.encode("utf-8", "surrogatepass")  # distinct bytes per name: a new study each
    outcome = upload_all_or_nothing(patient_store, image_store, payload, name, no_model)
    assert outcome is not None
    assert_neutral_name(outcome.study.filename)
    sha = outcome.study.sha256
    assert outcome.study.image_path == f"{sha[:2]}/{sha}.png"  # the content hash, never the name
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(image_store)]
    assert {p.name for p in outside} <= {"hardening.db", "hardening.db-wal", "hardening.db-shm"}


def test_upload_panel_shows_hostile_names_as_text(patient_store, image_store, png_bytes, no_model):
    panel = UploadPanel(patient_store, "doc", analyzer=no_model)
    panel.patient_id = PATIENT
    assert panel.handle(b"<html>not an image</html>", "<script>alert(1)</script>.png") is None
    assert "<script>" not in panel.status.value and "Nothing was saved" in panel.status.value
    assert patient_store.studies_for_patient(PATIENT) == []
    for name in HOSTILE_NAMES:  # refused or saved, the message must travel to the browser (valid UTF-8)
        panel.handle(png_bytes + name.encode("utf-8", "surrogatepass"), name)
        panel.handle(b"junk", name)
        panel.status.value.encode("utf-8")
        assert "\x00" not in panel.status.value and "../" not in panel.status.value


# -- the labels/boxes CSV readers ----------------------------------------------------------------

LABEL_COLUMNS = ["file", "patient_id", "findings", "view", "source_dataset", "y_Pneumonia", "y_Nodule",
                 "y_No Finding", "label", "x", "y", "w", "h"]
cells = st.one_of(st.text(max_size=12), st.sampled_from(["", "0", "1", "nan", "inf", "-1", "1e309", "a|b",
                                                          "No Finding", "Pneumonia|Nodule"]),
                  st.floats(allow_nan=True).map(str))


@st.composite
def csv_text(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=512))  # not text at all
    header = draw(st.lists(st.sampled_from(LABEL_COLUMNS) | st.text(max_size=6), max_size=9))
    rows = draw(st.lists(st.lists(cells, max_size=10), max_size=6))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


def test_labels_and_boxes_csv_readers_raise_only_typed_errors(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csv-fuzz")
    labels, boxes = folder / "labels.csv", folder / "boxes.csv"

    @FUZZ
    @given(labels_text=csv_text(), boxes_text=csv_text())
    def run(labels_text: bytes, boxes_text: bytes):
        labels.write_bytes(labels_text)
        boxes.write_bytes(boxes_text)
        try:
            records = read_records(labels, boxes)
        except LabelsFileError as exc:
            assert "line" in str(exc) or "Cannot read" in str(exc)
            return
        for record in records:
            assert record.file.strip()
            assert all(v is None or math.isfinite(v) for v in record.labels.values())
            assert all(math.isfinite(c) for box in record.boxes for c in (box.x, box.y, box.w, box.h))

    run()


@pytest.mark.parametrize("labels_text, why", [
    ("patient_id,findings\nP1,Pneumonia\n", "missing column 'file'"),
    ("file,y_Pneumonia\na.png,yes\n", "line 2"),
    ("file,y_Pneumonia\na.png,nan\n", "not a finite number"),
    ("file,y_Pneumonia\n,1\n", "empty 'file'"),
])
def test_malformed_labels_csv_names_the_problem(tmp_path: Path, labels_text: str, why: str):
    path = tmp_path / "labels.csv"
    path.write_text(labels_text, encoding="utf-8")
    with pytest.raises(LabelsFileError, match=why):
        read_records(path)


def test_shared_labels_still_read(shared_data: Path):
    records = read_records(shared_data / "labels.csv", shared_data / "boxes.csv")
    assert len(records) > 500 and sum(len(r.boxes) for r in records) > 0
