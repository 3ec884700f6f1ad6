"""One place for every path, port and threshold.

Precedence (lowest to highest): built-in defaults < TOML config file < ``LUNGDX_*``
environment variables. The config file is ``$LUNGDX_CONFIG`` or ``<repo>/lungdx.toml``.
Everything else in the package reads :func:`get_settings` instead of keeping its own
constants, so a deployment changes behaviour in one file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Repository root (the folder holding ``pyproject.toml``); the package is installed editable.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def is_postgres_url(target: object) -> bool:
    """Whether a store target (``Settings.db``, ``--db``) names a PostgreSQL database rather than a SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


def _default_shared_data() -> Path:
    return (PROJECT_ROOT.parent / "shared" / "data" / "cxr").resolve()


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Paths are absolute after :func:`load_settings`."""

    db: Path = PROJECT_ROOT / "data" / "lungdx.db"
    #: The store on PostgreSQL: a ``postgresql://`` URL given as ``db`` (``LUNGDX_DB``, the TOML) lands
    #: here, since a URL is not a path; empty: the store is the SQLite file ``db``.
    db_url: str = ""
    #: Where uploaded/imported images are stored, content-addressed by SHA-256. None: an ``images`` folder next
    #: to the SQLite database (``data/images`` for the default one), so ``--db`` moves the images with it
    #: (:meth:`images_for`); on PostgreSQL ``data/images`` unless set (servers share one folder or mount).
    image_store: Path | None = None
    #: Demo images copied from the shared data at set-up time (never committed); None: ``demo`` next to the database.
    demo_dir: Path | None = None
    #: Read-only public chest radiographs (labels.csv, boxes.csv, images/, dicom/, lowres/).
    shared_data: Path = field(default_factory=_default_shared_data)
    #: Project checkpoints + model card; torchxrayvision's cache lives in ``weights/xrv``.
    weights: Path = PROJECT_ROOT / "weights"
    #: File name (inside ``weights``) of the checkpoint the dashboard uses when the registry is empty.
    default_model: str = "lungdx-demo.pt"
    #: File name (inside ``weights``) of the lung-segmentation checkpoint every analysis uses.
    segmenter: str = "lungdx-lungseg.pt"
    #: Frozen training sets (one read-only folder per snapshot id; never committed).
    snapshots: Path = PROJECT_ROOT / "data" / "snapshots"
    #: Fine-tuning runs: resumable work files and the candidate checkpoints they produce.
    model_runs: Path = PROJECT_ROOT / "weights" / "runs"
    host: str = "127.0.0.1"
    port: int = 8866
    #: Upload limit (bytes) for one file; also the Voila websocket message limit.
    max_upload_bytes: int = 64 * 1024 * 1024
    #: Largest image (pixels, rows*cols*frames) decoded at all. Chest films are at most ~4300 x 4300
    #: (18.5 Mpx); a bigger "film" is a decompression bomb or not a chest radiograph.
    max_pixels: int = 20_000_000
    #: Smallest accepted side in pixels.
    min_side: int = 64
    #: Secret keying de-identification (pseudonyms, date shifts, UID remapping) so exports stay
    #: consistent across runs; empty means a random secret per process (consistent within one run only).
    deid_secret: str = ""
    #: Session cookie lifetime in seconds (login expiry).
    session_seconds: int = 8 * 3600
    #: Failed logins for one account within ``login_window_seconds`` before further attempts are refused.
    login_max_failures: int = 5
    login_window_seconds: int = 300
    #: Idle kernels are culled after this many seconds.
    kernel_cull_seconds: int = 1800
    #: Kernels no page ever connected to (a dashboard GET without its websocket) are culled after
    #: this many quiet seconds; culling runs every 15 s.
    kernel_unconnected_seconds: int = 45
    #: Dashboards (kernels: ~0.15 GB each with the shared model, ~0.9 GB with their own) one clinician may
    #: hold; a new one replaces the oldest unconnected.
    kernels_per_user: int = 3
    #: Torch intra-op threads for inference. 1: several kernels share 2 cores, and oversubscribed
    #: threads made a forward ~35x slower under load (measured); raise it on a dedicated machine.
    torch_threads: int = 1
    #: 1: ``lungdx serve`` runs one inference process that every dashboard kernel asks (one model in
    #: memory per server, not one per clinician); 0: each kernel loads its own model, as before.
    shared_model: int = 1
    #: Longest wait (seconds) for the shared model to answer one analysis before the dashboard says so.
    model_service_timeout_seconds: int = 120
    #: How long Voila waits for a cell's output after its reply (nbclient's default 4 s drops outputs
    #: when many sessions start at once on few cores, and the clinician gets an empty dashboard).
    voila_iopub_timeout_seconds: int = 60
    #: Longest time Chromium may take to print one PDF report.
    pdf_timeout_seconds: int = 60

    @property
    def xrv_cache(self) -> Path:
        """torchxrayvision ``cache_dir``: pretrained files are looked up here, never downloaded implicitly."""
        return self.weights / "xrv"

    @property
    def store_target(self) -> str | Path:
        """What ``open_store()`` opens: the PostgreSQL URL if one is set, else the SQLite file."""
        return self.db_url or self.db


_PATH_FIELDS = {f.name for f in fields(Settings) if f.type in ("Path", Path, "Path | None")}
_INT_FIELDS = {f.name for f in fields(Settings) if f.type in ("int", int)}


def _beside_database(settings: Settings, db: Path | None, folder: str) -> Path:
    if db is None and settings.db_url:
        return PROJECT_ROOT / "data" / folder
    return (db or settings.db).parent / folder


def images_for(settings: Settings, db: Path | None = None) -> Path:
    """The image store of the SQLite database ``db`` (default ``settings.db``; None on PostgreSQL)."""
    return settings.image_store or _beside_database(settings, db, "images")


def demo_images_for(settings: Settings, db: Path | None = None) -> Path:
    """Where the demo set-up copies its shared films for the database ``db`` (as :func:`images_for`)."""
    return settings.demo_dir or _beside_database(settings, db, "demo")


def _coerce(name: str, value: Any) -> Any:
    """A TOML or environment value as its field's type (Path, int or str, chosen by the field's name)."""
    if name in _PATH_FIELDS:
        p = Path(str(value)).expanduser()
        return (p if p.is_absolute() else PROJECT_ROOT / p).resolve()
    if name in _INT_FIELDS:
        return int(value)
    return str(value)


def read_config_file(env: dict[str, str], config_file: Path | None = None) -> dict:
    """The TOML of ``config_file``, else ``LUNGDX_CONFIG``, else ``lungdx.toml`` ({} when there is none)."""
    cfg = config_file or Path(env.get("LUNGDX_CONFIG", PROJECT_ROOT / "lungdx.toml"))
    if not cfg.is_file():
        return {}
    with open(cfg, "rb") as fh:
        return tomllib.load(fh)


def load_settings(env: dict[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Build settings from defaults, the config file and ``LUNGDX_<FIELD>`` variables."""
    env = dict(os.environ if env is None else env)
    settings = Settings()
    data = read_config_file(env, config_file)
    overrides: dict[str, Any] = {k: v for k, v in data.items() if k in {f.name for f in fields(Settings)}}
    for f in fields(Settings):
        key = f"LUNGDX_{f.name.upper()}"
        if env.get(key):
            overrides[f.name] = env[key]
    db = str(overrides.get("db", ""))
    if is_postgres_url(db):
        overrides["db_url"] = overrides.pop("db")
    elif db.startswith("sqlite:///"):
        overrides["db"] = db.removeprefix("sqlite:///")
    return replace(settings, **{k: _coerce(k, v) for k, v in overrides.items()})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings (cached). Tests call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()
