"""Model registry tables: snapshots, candidates, one active model at a time."""

from __future__ import annotations


import pytest

from lungdx_widgets.store import Conflict, NotFound, ValidationError


def test_register_activate_retire(store, integrity_error):
    snap = store.add_snapshot("snap-1", "ab" * 32, {"Pneumonia": 12}, "/tmp/snap-1", actor="analyst")
    assert store.get_snapshot("snap-1") == snap and snap.counts == {"Pneumonia": 12}
    store.register_model("v1", "weights/v1.pt", "1" * 64, "analyst", snapshot_id="snap-1", metrics={"auroc": 0.8})
    store.register_model("v2", "weights/v2.pt", "2" * 64, "analyst")
    assert store.active_model() is None
    assert store.set_model_status("v1", "active", "admin").activated_at
    store.set_model_status("v2", "active", "admin")
    assert store.active_model().version == "v2"
    assert {m.version: m.status for m in store.list_models()} == {"v1": "retired", "v2": "active"}
    assert [m.version for m in store.list_models("retired")] == ["v1"]
    assert store.get_model("v1").metrics == {"auroc": 0.8}
    with pytest.raises(integrity_error):  # the schema itself allows one active model only
        store.conn.execute("UPDATE model_versions SET status = 'active' WHERE version = 'v1'")


def test_registry_errors(store):
    with pytest.raises(NotFound):
        store.register_model("v1", "p", "0" * 64, "analyst", snapshot_id="missing")
    store.register_model("v1", "p", "0" * 64, "analyst")
    with pytest.raises(Conflict):
        store.register_model("v1", "p", "0" * 64, "analyst")
    with pytest.raises(ValidationError):
        store.set_model_status("v1", "deployed", "admin")
    with pytest.raises(NotFound):
        store.get_snapshot("nope")
