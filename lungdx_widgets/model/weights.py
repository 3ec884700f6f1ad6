"""Where weights live and how they are trusted.

Project checkpoints are plain state dicts (loaded with ``weights_only=True``) with a JSON
sidecar recording their SHA-256, labels, thresholds and metrics. torchxrayvision's pretrained
files are full pickles: they are only ever read from the configured cache
(``Settings.xrv_cache``), never from an upload, and never downloaded implicitly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import get_settings
from ..errors import LungDxError
from ..labels import FINDING_LABELS

#: The product's label universe (defined in :mod:`lungdx_widgets.labels`).
LABELS: tuple[str, ...] = FINDING_LABELS
CHECKPOINT_FORMAT = "lungdx-ham/1"


class WeightsMissing(LungDxError):
    """A weights file the user asked for is not where it should be."""

    def __init__(self, path: Path, hint: str = "") -> None:
        self.path = Path(path)
        super().__init__(f"model weights not found: put the file '{self.path.name}' into the folder "
                         f"'{self.path.parent}'" + (f" ({hint})" if hint else ""))


class WeightsInvalid(LungDxError):
    """A weights file exists but is not a usable project checkpoint (wrong format or checksum)."""


@dataclass
class Checkpoint:
    """A loaded project checkpoint: network config, weights and what we know about them."""

    path: Path
    sha256: str
    config: dict
    state_dict: dict
    thresholds: dict[str, float]
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return version_name(self.path, self.sha256)


def version_name(path: Path, sha256: str) -> str:
    """The model version stored with each prediction: file stem and the start of its SHA-256."""
    return f"{Path(path).stem}-{sha256[:8]}"


def checkpoint_version(path: Path) -> str:
    """The version a checkpoint file's predictions will carry, without loading its weights."""
    return version_name(path, sha256_of(Path(path)))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sidecar_path(path: Path) -> Path:
    """``weights/NAME.pt`` → ``weights/NAME.json`` (SHA-256, labels, thresholds, metrics)."""
    return Path(path).with_suffix(".json")


def default_model_path() -> Path:
    s = get_settings()
    return s.weights / s.default_model


def save_checkpoint(path: Path, config: dict, state_dict: dict, thresholds: dict[str, float],
                    meta: dict | None = None) -> Checkpoint:
    """Write the state dict + config atomically, then the JSON sidecar with its SHA-256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "config": config, "thresholds": dict(thresholds),
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    digest = sha256_of(path)
    side = dict(meta or {})
    side.update({"file": path.name, "sha256": digest, "format": CHECKPOINT_FORMAT,
                 "labels": list(config["labels"]), "thresholds": dict(thresholds), "config": config})
    existing = read_sidecar(path)
    for key in ("metrics", "evaluation"):  # keep evaluation results written earlier for the same file
        if key in existing and key not in side and existing.get("sha256") == digest:
            side[key] = existing[key]
    sidecar_path(path).write_text(json.dumps(side, indent=2, default=str) + "\n")
    return Checkpoint(path, digest, config, payload["state_dict"], dict(thresholds), side)


def read_sidecar(path: Path) -> dict:
    side = sidecar_path(path)
    return json.loads(side.read_text()) if side.is_file() else {}


def update_sidecar(path: Path, **entries: object) -> None:
    """Add e.g. ``evaluation=...`` to a checkpoint's JSON without touching the weights."""
    side = read_sidecar(path)
    side.update(entries)
    sidecar_path(path).write_text(json.dumps(side, indent=2, default=str) + "\n")


def load_checkpoint(path: Path | None = None) -> Checkpoint:
    """Load a project checkpoint safely (``weights_only=True``); verify the recorded SHA-256."""
    path = Path(path) if path is not None else default_model_path()
    if not path.is_file():
        raise WeightsMissing(path, "train one with `lungdx train` or copy the project's lungdx-demo.pt")
    digest = sha256_of(path)
    side = read_sidecar(path)
    if side.get("sha256") and side["sha256"] != digest:
        raise WeightsInvalid(f"checksum mismatch for {path}: the file differs from the one recorded in "
                             f"{sidecar_path(path).name}; re-copy it or retrain")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not our checkpoint"
        raise WeightsInvalid(f"{path} is not a LungDx checkpoint ({type(exc).__name__}); "
                             "only state-dict checkpoints written by `lungdx train` are accepted") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise WeightsInvalid(f"{path} is not a LungDx checkpoint (expected format {CHECKPOINT_FORMAT})")
    return Checkpoint(path, digest, payload["config"], payload["state_dict"],
                      {k: float(v) for k, v in payload["thresholds"].items()}, side)


# ---- torchxrayvision pretrained files -------------------------------------------------------

def xrv_weights_file(name: str) -> tuple[Path, str]:
    """(expected local file, download URL) of a torchxrayvision weights name."""
    import torchxrayvision as xrv

    if name not in xrv.models.model_urls:
        choices = ", ".join(k for k in xrv.models.model_urls if k.startswith("densenet"))
        raise WeightsInvalid(f"unknown torchxrayvision weights '{name}'; choose one of: {choices}")
    url = xrv.models.model_urls[name]["weights_url"]
    return get_settings().xrv_cache / os.path.basename(url), url


def xrv_densenet(name: str):
    """torchxrayvision DenseNet with pretrained ``name`` from the cache; never downloads."""
    import torchxrayvision as xrv

    local, url = xrv_weights_file(name)
    if not local.is_file():
        raise WeightsMissing(local, f"run `lungdx weights fetch {name}` where the internet is reachable, "
                                    f"or download {url}")
    return xrv.models.DenseNet(weights=name, cache_dir=str(local.parent))


def fetch_xrv(name: str) -> Path:
    """Download torchxrayvision weights into the cache (the only place that touches the network)."""
    import torchxrayvision as xrv

    local, url = xrv_weights_file(name)
    if local.is_file():
        return local
    try:
        with contextlib.redirect_stdout(sys.stderr):  # torchxrayvision prints progress; stdout stays for results
            xrv.models.get_weights(name, cache_dir=str(local.parent))
    except Exception as exc:  # noqa: BLE001 - offline machines fail in many ways
        local.unlink(missing_ok=True)
        raise WeightsMissing(local, f"download failed ({type(exc).__name__}); fetch {url} on a connected "
                                    "machine and copy it there") from None
    if not local.is_file():
        raise WeightsMissing(local, f"download of {url} produced no file")
    return local


def list_weights() -> list[dict]:
    """Project checkpoints in ``Settings.weights`` and the known torchxrayvision files (present or not)."""
    import torchxrayvision as xrv

    rows: list[dict] = []
    for pt in sorted(get_settings().weights.glob("*.pt")):
        side = read_sidecar(pt)
        rows.append({"kind": "project", "name": pt.name, "path": str(pt), "present": True,
                     "sha256": side.get("sha256"), "labels": side.get("labels")})
    for name in xrv.models.model_urls:
        if name.startswith("densenet"):
            local, _ = xrv_weights_file(name)
            rows.append({"kind": "torchxrayvision", "name": name, "path": str(local), "present": local.is_file()})
    return rows
