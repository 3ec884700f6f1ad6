"""Audit trail: who did what to which record, when, and whether it worked.

Rows are only ever appended; triggers in the schema abort any UPDATE, DELETE or REPLACE. Each row
also extends a SHA-256 hash chain (``audit_chain``), so :meth:`AuditMixin.verify_audit`
(``lungdx audit verify``) finds rows changed, deleted or added around the store after someone
dropped the triggers. The chain has no secret: whoever can rewrite the file can rewrite the chain
too; it catches tampering that did not think of it, and mistakes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .base import StoreBase, now_iso, to_json
from .records import AuditEvent

#: The chain's value before the first row.
GENESIS = "0" * 64
_CHAINED = ("id", "time", "actor", "action", "object", "outcome", "detail")


def chain_hash(previous: str, row: dict[str, Any]) -> str:
    """The chain value after ``row`` (every column, in a fixed order, as JSON)."""
    return hashlib.sha256((previous + to_json([row[c] for c in _CHAINED])).encode()).hexdigest()


@dataclass(frozen=True)
class AuditVerification:
    checked: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditMixin(StoreBase):
    def audit(self, actor: str, action: str, obj: str, outcome: str = "ok", detail: str = "") -> None:
        """Append one audit row (inside the caller's transaction when there is one)."""
        row: dict[str, str | int] = {"time": now_iso(), "actor": actor or "unknown", "action": action, "object": str(obj),
               "outcome": outcome, "detail": detail}
        with self.transaction():  # the write lock: the chain's last value cannot change under us
            row["id"] = self._insert("audit_log", row)
            last = self.conn.execute("SELECT hash FROM audit_chain ORDER BY audit_id DESC LIMIT 1").fetchone()
            self._insert("audit_chain", {"audit_id": row["id"], "hash": chain_hash(last[0] if last else GENESIS, row)})

    def audit_listing(self, actor: str, action: str, patient_ids: list[str], detail: str = "") -> None:
        """One row for a list a person was shown (search results, the worklist): which patients it named."""
        shown = ",".join(dict.fromkeys(patient_ids))
        self.audit(actor, action, "patients", detail=f"{detail} shown={shown}".strip())

    def verify_audit(self) -> AuditVerification:
        """Recompute the hash chain over every audit row; name each row that does not fit."""
        rows = self._rows("SELECT a.*, c.hash FROM audit_log a LEFT JOIN audit_chain c ON c.audit_id = a.id "
                          "ORDER BY a.id")
        problems, previous = [], GENESIS
        for row in rows:
            if row["hash"] is None:
                problems.append(f"audit row {row['id']}: not in the chain (written around the store)")
                continue
            if chain_hash(previous, row) != row["hash"]:
                problems.append(f"audit row {row['id']}: changed, or a row before it was removed")
            previous = row["hash"]
        orphans = self.conn.execute("SELECT audit_id FROM audit_chain WHERE audit_id NOT IN "
                                    "(SELECT id FROM audit_log) ORDER BY audit_id").fetchall()
        problems += [f"audit row {r[0]}: deleted" for r in orphans]
        return AuditVerification(len(rows), problems)

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
