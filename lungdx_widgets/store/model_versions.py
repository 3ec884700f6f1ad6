"""Tables behind the learning loop: label snapshots and model versions (the policy lives in ``learning/``).

The store only guarantees the invariants: at most one active model, activation timestamps, audit rows.
"""

from __future__ import annotations

import json
from typing import Any

from .base import StoreBase, now_iso, to_json
from .errors import Conflict, ValidationError
from .records import MODEL_STATUSES, ModelVersion, Snapshot


def _model(row: dict[str, Any]) -> ModelVersion:
    return ModelVersion(version=row["version"], path=row["path"], sha256=row["sha256"], snapshot_id=row["snapshot_id"],
                        metrics=json.loads(row["metrics_json"]), status=row["status"], created=row["created"],
                        created_by=row["created_by"], activated_at=row["activated_at"])


class RegistryMixin(StoreBase):
    def add_snapshot(self, snapshot_id: str, content_hash: str, counts: dict, path: str, actor: str) -> Snapshot:
        with self.transaction():
            if self._row("SELECT 1 FROM snapshots WHERE id = ?", (snapshot_id,)):
                raise Conflict(f"Snapshot '{snapshot_id}' already exists.")
            self._insert("snapshots", {"id": snapshot_id, "content_hash": content_hash, "counts_json": to_json(counts),
                                       "path": str(path), "created_by": actor, "created": now_iso()})
            self.audit(actor, "add_snapshot", f"snapshot:{snapshot_id}", detail=f"hash={content_hash}")
        return self.get_snapshot(snapshot_id)

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        r = self._require("SELECT * FROM snapshots WHERE id = ?", (snapshot_id,), f"Snapshot '{snapshot_id}'")
        return Snapshot(id=r["id"], content_hash=r["content_hash"], counts=json.loads(r["counts_json"]), path=r["path"],
                        created_by=r["created_by"], created=r["created"])

    def register_model(self, version: str, path: str, sha256: str, actor: str, snapshot_id: str | None = None,
                       metrics: dict | None = None) -> ModelVersion:
        """Add a model version as a candidate (activation is a separate, audited step)."""
        with self.transaction():
            if self._row("SELECT 1 FROM model_versions WHERE version = ?", (version,)):
                raise Conflict(f"Model version '{version}' is already registered.")
            if snapshot_id is not None:
                self.get_snapshot(snapshot_id)
            self._insert("model_versions", {"version": version, "path": str(path), "sha256": sha256,
                                            "snapshot_id": snapshot_id, "metrics_json": to_json(metrics or {}),
                                            "status": "candidate", "created": now_iso(), "created_by": actor})
            self.audit(actor, "register_model", f"model:{version}", detail=f"sha256={sha256}")
        return self.get_model(version)

    def get_model(self, version: str) -> ModelVersion:
        return _model(self._require("SELECT * FROM model_versions WHERE version = ?", (version,),
                                    f"Model version '{version}'"))

    def list_models(self, status: str | None = None) -> list[ModelVersion]:
        """Newest first."""
        sql = "SELECT * FROM model_versions" + (" WHERE status = ?" if status else "") + " ORDER BY created DESC, rowid DESC"
        return [_model(r) for r in self._rows(sql, (status,) if status else ())]

    def set_model_status(self, version: str, status: str, actor: str) -> ModelVersion:
        """Change a version's status; activating one retires the previously active one in the same transaction."""
        if status not in MODEL_STATUSES:
            raise ValidationError(f"Model status must be one of {', '.join(MODEL_STATUSES)}.")
        with self.transaction():
            before = self.get_model(version)
            if status == "active":
                previous = self.active_model()
                if previous and previous.version != version:
                    self.conn.execute("UPDATE model_versions SET status = 'retired' WHERE version = ?",
                                      (previous.version,))
                    self.audit(actor, "retire_model", f"model:{previous.version}", detail=f"replaced by {version}")
                self.conn.execute("UPDATE model_versions SET status = 'active', activated_at = ? WHERE version = ?",
                                  (now_iso(), version))
            else:
                self.conn.execute("UPDATE model_versions SET status = ? WHERE version = ?", (status, version))
            self.audit(actor, "set_model_status", f"model:{version}", detail=f"{before.status} -> {status}")
        return self.get_model(version)

    def active_model(self) -> ModelVersion | None:
        row = self._row("SELECT * FROM model_versions WHERE status = 'active'")
        return _model(row) if row else None
