"""Audit trail: who did what to which record, when, and whether it worked.

Rows are only ever appended; triggers in the schema abort any UPDATE or DELETE.
"""

from __future__ import annotations

from .base import StoreBase, now_iso
from .records import AuditEvent


class AuditMixin(StoreBase):
    def audit(self, actor: str, action: str, obj: str, outcome: str = "ok", detail: str = "") -> None:
        """Append one audit row (inside the caller's transaction when there is one)."""
        with self.transaction():
            self._insert("audit_log", {"time": now_iso(), "actor": actor or "unknown", "action": action,
                                       "object": str(obj), "outcome": outcome, "detail": detail})

    def audit_events(self, limit: int = 100, actor: str | None = None,
                     action: str | None = None) -> list[AuditEvent]:
        """Newest first, optionally only one actor's or one action's."""
        where, params = [], []
        if actor is not None:
            where.append("actor = ?")
            params.append(actor)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        sql = "SELECT * FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._rows(sql + " ORDER BY id DESC LIMIT ?", (*params, int(limit)))
        return [AuditEvent(id=r["id"], time=r["time"], actor=r["actor"], action=r["action"],
                           obj=r["object"], outcome=r["outcome"], detail=r["detail"]) for r in rows]
