"""DICOMweb to the PACS through dicomweb-client, with one error vocabulary and retries with back-off.

Every failure becomes a :class:`PacsError` (a ``LungDxError``) whose message a clinician or an
operator can act on; transient ones (no answer, time-out, HTTP 429/5xx, a cut-off multipart body)
are retried ``retries`` times with exponential back-off, the others (401/403/404) at once.
"""

from __future__ import annotations

import functools
import io
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from ..errors import LungDxError
from .settings import PacsSettings

T = TypeVar("T")


class PacsError(LungDxError):
    """Talking to the PACS failed; ``transient`` errors are worth another try."""

    transient = False


class PacsUnavailable(PacsError):
    """No answer (refused, unreachable, timed out)."""

    transient = True


class PacsAuthError(PacsError):
    """The PACS refused the credentials (HTTP 401/403)."""


class PacsNotFound(PacsError):
    """The PACS has no such resource (HTTP 404)."""


class PacsServerError(PacsError):
    """The PACS failed (HTTP 5xx or 429)."""

    transient = True


class PacsBadResponse(PacsError):
    """The answer could not be read (cut-off multipart, not DICOM)."""

    transient = True


@dataclass(frozen=True)
class InstanceRef:
    """One instance found by QIDO-RS, with the header fields the pull needs before retrieving it."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    modality: str
    patient_id: str


def _value(item: dict[str, Any], tag: str) -> str:
    values = item.get(tag, {}).get("Value") or [""]
    v = values[0]
    return str(v.get("Alphabetic", "") if isinstance(v, dict) else v)


def check_complete_multipart(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A multipart answer must end with its closing boundary; a cut-off one is refused (and retried)."""
    ctype = response.headers.get("content-type", "")
    if response.ok and ctype.lower().startswith("multipart/related"):
        match = re.search(r'boundary="?([^";]+)"?', ctype, re.I)
        if match and not response.content.rstrip(b"\r\n").endswith(b"--" + match.group(1).encode() + b"--"):
            raise PacsBadResponse("The PACS's answer was cut off (its multipart message ends before the last part).")
    return response


def classify(exc: BaseException, what: str, url: str) -> PacsError:
    """The PacsError (with a message) for an exception raised while doing ``what``."""
    if isinstance(exc, PacsError):
        return exc
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        code = exc.response.status_code
        if code in (401, 403):
            return PacsAuthError(f"The PACS refused the credentials while {what} (HTTP {code}): "
                                 "check LUNGDX_PACS_USERNAME / LUNGDX_PACS_PASSWORD.")
        if code == 404:
            return PacsNotFound(f"The PACS has no such resource while {what} (HTTP 404): "
                                "it may have been deleted, or the PACS URL is wrong.")
        if code == 429 or code >= 500:
            return PacsServerError(f"The PACS failed while {what} (HTTP {code}).")
        return PacsError(f"The PACS answered HTTP {code} while {what}.")
    if isinstance(exc, requests.Timeout):
        return PacsUnavailable(f"The PACS at {url} did not answer in time while {what}.")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return PacsBadResponse(f"The PACS's answer was cut off while {what}.")
    if isinstance(exc, requests.ConnectionError):
        return PacsUnavailable(f"The PACS at {url} does not answer while {what} (is it running? is the URL right?).")
    if isinstance(exc, (ValueError, IndexError, KeyError, StopIteration, EOFError,
                        pydicom.errors.InvalidDicomError)):
        return PacsBadResponse(f"The PACS's answer could not be read while {what} "
                               f"({type(exc).__name__}: {str(exc)[:120] or 'incomplete multipart message'}).")
    return PacsError(f"Talking to the PACS failed while {what} ({type(exc).__name__}).")


class _TimeoutSession(requests.Session):
    """A session whose every request is bounded: requests has no session-wide time-out."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class PacsClient:
    """QIDO-RS search, WADO-RS retrieve and STOW-RS store against one PACS."""

    def __init__(self, settings: PacsSettings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.configured:
            raise PacsError("No PACS is configured: set LUNGDX_PACS_URL (or [pacs] url in lungdx.toml).")
        self.settings = settings
        self._sleep = sleep
        session = _TimeoutSession(settings.timeout)
        if settings.username:
            session.auth = (settings.username, settings.password)
        session.verify = settings.ca_bundle or settings.verify_tls
        session.hooks["response"].append(check_complete_multipart)
        self._session = session
        self._client = DICOMwebClient(url=settings.url.rstrip("/"), session=session, chunk_size=1 << 20)
        self._client.set_http_retry_params(retry=False)  # one retry policy: ours (call), for every kind of fault

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn``; transient failures are retried with back-off, then raised as :class:`PacsError`."""
        attempts = max(1, self.settings.retries)
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - every failure is classified into one message
                error = classify(exc, what, self.settings.url)
                if not error.transient or attempt == attempts:
                    if attempt > 1:
                        error.args = (f"{error.args[0]} (after {attempt} attempts)",)
                    raise error from exc
                self._sleep(self.settings.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def find_instances(self, *, since: str | None = None, modalities: Sequence[str] | None = None,
                       limit: int = 10_000) -> list[InstanceRef]:
        """Instances of the wanted modalities (StudyDate ≥ ``since``, YYYYMMDD), oldest study first."""
        found: dict[str, InstanceRef] = {}
        for modality in modalities or self.settings.modalities:
            filters: dict[str, Any] = {"Modality": modality}
            if since:
                filters["StudyDate"] = f"{since.replace('-', '')}-"
            items = self.call(f"searching {modality} instances", functools.partial(
                self._client.search_for_instances, search_filters=filters, limit=limit, fields=["StudyDate"]))
            for item in items:
                ref = InstanceRef(study_uid=_value(item, "0020000D"), series_uid=_value(item, "0020000E"),
                                  sop_uid=_value(item, "00080018"), sop_class_uid=_value(item, "00080016"),
                                  modality=_value(item, "00080060"), patient_id=_value(item, "00100020"))
                if ref.sop_uid:
                    found[ref.sop_uid] = ref
        return list(found.values())

    def retrieve(self, ref: InstanceRef) -> bytes:
        """The instance as a DICOM file (its stored transfer syntax), retrieved with WADO-RS."""
        def fetch() -> bytes:
            ds = self._client.retrieve_instance(ref.study_uid, ref.series_uid, ref.sop_uid,
                                                media_types=(("application/dicom", "*"),))
            if getattr(ds, "SOPInstanceUID", None) != ref.sop_uid:
                raise PacsBadResponse(f"The PACS sent another instance than {ref.sop_uid}.")
            buf = io.BytesIO()
            ds.save_as(buf, enforce_file_format=True)
            return buf.getvalue()
        return self.call(f"retrieving instance {ref.sop_uid}", fetch)

    def store(self, datasets: Sequence[Dataset], study_uid: str) -> Dataset:
        """STOW-RS the datasets into their study; raises if the PACS refused any of them."""
        def send() -> Dataset:
            answer = self._client.store_instances(list(datasets), study_instance_uid=study_uid)
            failed = getattr(answer, "FailedSOPSequence", None)
            if failed:
                raise PacsError(f"The PACS refused {len(failed)} of {len(datasets)} instances.")
            return answer
        return self.call(f"sending {len(datasets)} instances", send)

    def retrieve_dataset(self, study_uid: str, series_uid: str, sop_uid: str) -> Dataset:
        """One stored instance as a pydicom Dataset (what a PACS viewer would load)."""
        return self.call(f"retrieving instance {sop_uid}",
                         lambda: self._client.retrieve_instance(study_uid, series_uid, sop_uid,
                                                                media_types=(("application/dicom", "*"),)))
