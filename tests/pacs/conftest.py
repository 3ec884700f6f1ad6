"""A real Orthanc (Debian's, with its DICOMweb plugin) per test, and DICOMs derived from the shared real files."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from lungdx_widgets.pacs.client import PacsClient
from lungdx_widgets.pacs.orthanc import OrthancServer
from lungdx_widgets.pacs.settings import PacsSettings
from lungdx_widgets.services import ModelService

from ..learning.conftest import tiny_checkpoint

LOCAL_PATIENT = "Covid0000"  # PatientID of the shared NIH DICOM


@pytest.fixture
def orthanc(tmp_path: Path):
    """A fresh Orthanc on a free port, authentication on; stopped (and its storage removed) after the test."""
    with OrthancServer(root=tmp_path / "orthanc") as server:
        yield server


@pytest.fixture
def pacs_settings(orthanc: OrthancServer) -> PacsSettings:
    return PacsSettings(url=orthanc.dicomweb_url, username=orthanc.username, password=orthanc.password,
                        retries=3, backoff=0.01, timeout=10)


@pytest.fixture
def client(pacs_settings: PacsSettings) -> PacsClient:
    return PacsClient(pacs_settings)


@pytest.fixture(scope="session")
def pacs_model(tmp_path_factory) -> ModelService:
    return ModelService(tiny_checkpoint(tmp_path_factory.mktemp("pacs-model") / "tiny.pt"))


@pytest.fixture
def clinic(store):
    store.add_patient(LOCAL_PATIENT, "Test Patient", actor="test")
    return store


@pytest.fixture(scope="session")
def nih_bytes(shared_dicoms) -> bytes:
    return next(p for p in shared_dicoms if p.name.startswith("nih_")).read_bytes()


def variant(data: bytes, **attributes: object) -> bytes:
    """The same real film as a new instance (fresh Study/Series/SOP UIDs) with header changes; None deletes."""
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for name, value in attributes.items():
        if value is None:
            if name in ds:
                delattr(ds, name)
        else:
            setattr(ds, name, value)
    if "SOPClassUID" in attributes:
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()

