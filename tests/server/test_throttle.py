"""The login throttle's policy and its store counters, without a server (fast)."""

from __future__ import annotations

import pytest

from lungdx_widgets.server.throttle import ThrottlePolicy
from lungdx_widgets.store import open_store
from lungdx_widgets.store.throttle import ThrottleLimit

from ..store.conftest import store, store_target  # noqa: F401 - the store counters on both engines

POLICY = ThrottlePolicy(max_failures=3, window_seconds=60)


def test_attempts_are_refused_once_counted_up_to_the_limit_until_the_window_passes(store):  # noqa: F811
    lim = [ThrottleLimit("pair:a|1.2.3.4", 3, 60)]
    claims = [store.claim_attempt(lim, now=1000 + i) for i in range(3)]
    assert all(c.retry_after == 0 and len(c.row_ids) == 1 for c in claims)
    refused = store.claim_attempt(lim, now=1003)
    assert refused.retry_after == pytest.approx(57) and refused.row_ids == ()
    assert store.claim_attempt([ThrottleLimit("pair:b|1.2.3.4", 3, 60)], now=1003).retry_after == 0  # other key
    assert store.claim_attempt(lim, now=1060.5).retry_after == 0  # the oldest left the window


def test_a_success_takes_back_its_own_count_and_clears_its_pair(store):  # noqa: F811
    limits = POLICY.limits("a", "1.2.3.4")
    first = store.claim_attempt(limits, now=1000)
    second = store.claim_attempt(limits, now=1001)
    store.release_attempt(second.row_ids, POLICY.cleared_on_success(limits))
    rows = dict(store.conn.execute("SELECT key, count(*) FROM login_throttle GROUP BY key").fetchall())
    # the pair is cleared; the address and account keep the earlier (failed) attempt only
    assert rows == {"ip:1.2.3.4": 1, "user:a": 1}
    assert set(first.row_ids) >= {r[0] for r in store.conn.execute("SELECT id FROM login_throttle")}


def test_counts_survive_reopening_the_database(store_target):  # noqa: F811
    lim = [ThrottleLimit("pair:a|x", 2, 300)]
    with open_store(store_target) as s:
        s.claim_attempt(lim, now=1000)
        s.claim_attempt(lim, now=1001)
    with open_store(store_target) as s:  # "a restart"
        assert s.claim_attempt(lim, now=1002).retry_after == pytest.approx(298)


def test_a_known_device_is_counted_apart_from_everyone_else():
    untrusted = {lim.key for lim in POLICY.limits("a", "1.2.3.4")}
    assert untrusted == {"pair:a|1.2.3.4", "ip:1.2.3.4", "user:a"}
    assert [lim.key for lim in POLICY.limits("a", "1.2.3.4", device="d1")] == ["device:a:d1"]
    by_key = {lim.key: lim for lim in POLICY.limits("a", "1.2.3.4")}
    # many addresses together: a slower account-wide limit (10x the attempts over 12x the window)
    assert (by_key["user:a"].attempts, by_key["user:a"].window_seconds) == (30, 720)
    assert by_key["ip:1.2.3.4"].attempts == 12


def test_an_admin_unlock_clears_one_account_and_is_audited(store):  # noqa: F811
    keys = ("pair:a|1.2.3.4", "device:a:d1", "user:a", "pair:ab|1.2.3.4", "user:ab", "ip:1.2.3.4")
    for key in keys:
        store.claim_attempt([ThrottleLimit(key, 1, 60)], now=1000)
    assert store.clear_throttle("a", actor="cli:root") == 3
    left = {r[0] for r in store.conn.execute("SELECT key FROM login_throttle")}
    assert left == {"pair:ab|1.2.3.4", "user:ab", "ip:1.2.3.4"}
    assert (store.audit_events(limit=1)[0].action, store.audit_events(limit=1)[0].obj) == ("unlock_login", "user:a")


def test_the_unlock_command_lets_a_locked_out_account_in_again(tmp_path):
    from lungdx_widgets.cli import main

    db = tmp_path / "u.db"
    policy = ThrottlePolicy(max_failures=1, window_seconds=300)
    with open_store(db) as s:
        s.claim_attempt(policy.limits("dr_x", "1.2.3.4"), now=1000)
        assert s.claim_attempt(policy.limits("dr_x", "1.2.3.4"), now=1001).retry_after > 0
    assert main(["users", "unlock", "Dr_X", "--db", str(db)]) == 0  # accounts are throttled case-insensitively
    with open_store(db) as s:
        assert s.claim_attempt(policy.limits("dr_x", "1.2.3.4"), now=1002).retry_after == 0


def test_a_logout_time_only_moves_forward(store):  # noqa: F811
    assert store.last_logout("dr_a") is None
    store.record_logout("dr_a", 1000.5)
    store.record_logout("dr_a", 900.0)  # a late, older logout (another server) does not revive sessions
    assert store.last_logout("dr_a") == 1000.5
    store.record_logout("dr_a", 1200.0)
    assert store.last_logout("dr_a") == 1200.0 and store.last_logout("dr_b") is None
