"""PACS connection settings: the ``[pacs]`` table of ``lungdx.toml`` < ``LUNGDX_PACS_*`` environment variables.

Credentials come only from here (the configuration file or the environment), never from a
notebook, a command-line argument or the audit log. ``repr`` hides the password.
"""

from __future__ import annotations

import os
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..config import read_config_file


@dataclass(frozen=True)
class PacsSettings:
    """Where the PACS is and how the workbench talks to it."""

    #: DICOMweb base URL (QIDO-RS/WADO-RS/STOW-RS), e.g. ``https://pacs.example/dicom-web``. Empty: no PACS.
    url: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    #: Issuer of Patient ID of this hospital's MRNs; a header with another issuer is never matched to a local patient.
    issuer: str = ""
    #: Modalities pulled (chest radiography).
    modalities: tuple[str, ...] = ("CR", "DX")
    #: ``lungdx serve`` polls the PACS every this many seconds (0: no polling).
    poll_seconds: int = 0
    #: Seconds per HTTP request; attempts per request (back-off 0.5 s, 1 s, 2 s, ...).
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    #: At most this many new instances per pull (a huge series is finished by the next pulls).
    max_instances: int = 500
    #: TLS: a CA bundle file to verify the PACS with (empty: the system's); ``verify_tls = false`` only for tests.
    ca_bundle: str = ""
    verify_tls: bool = True
    #: Also send the AI result (unsigned, marked preliminary) as soon as a pulled study is analysed.
    send_on_analysis: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.url)


def _coerce(f: Field[Any], value: Any) -> Any:
    """A TOML or environment value as the field's type (tuple, bool, int, float or str)."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if kind.startswith("tuple"):
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(v).strip().upper() for v in items if str(v).strip())
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)


def load_pacs_settings(env: dict[str, str] | None = None, config_file: Path | None = None) -> PacsSettings:
    """Defaults < ``[pacs]`` in ``lungdx.toml`` (or ``LUNGDX_CONFIG``) < ``LUNGDX_PACS_<FIELD>``."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = dict(read_config_file(env, config_file).get("pacs", {}))
    for f in fields(PacsSettings):
        key = f"LUNGDX_PACS_{f.name.upper()}"
        if env.get(key):
            values[f.name] = env[key]
    by_name = {f.name: f for f in fields(PacsSettings)}
    return replace(PacsSettings(), **{k: _coerce(by_name[k], v) for k, v in values.items() if k in by_name})
