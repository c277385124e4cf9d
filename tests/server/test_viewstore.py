"""Aggregate views kept on disk per data state; audited reads do not drop cached pages."""

from __future__ import annotations

import json

import pytest

from cxlens.server.viewstore import ViewStore, state_of


def test_store_round_trip_and_states(tmp_path):
    store = ViewStore(tmp_path)
    assert store.get("overview:{}") == (False, None)  # no state chosen yet
    store.use_state("a" * 24)
    view = {"tiles": [{"kpi": "aht", "value": 245.5, "no_data": False}], "n": (1, 2)}
    back = store.put("overview:{}", view)
    assert back == {"tiles": view["tiles"], "n": [1, 2]}  # served as read back from disk
    assert store.get("overview:{}") == (True, back)
    assert store.get("journeys:{}") == (False, None)
    # a new state is a new folder; the old one goes when the new state's first view is written
    store.use_state("b" * 24)
    assert store.get("overview:{}") == (False, None)
    store.put("quality:{}", {"counts": {"interactions": 3}})
    assert [p.name for p in (tmp_path / ".cache" / "views").iterdir()] == ["b" * 24]


def test_store_ignores_torn_and_foreign_files(tmp_path):
    store = ViewStore(tmp_path)
    store.use_state("c" * 24)
    store.put("k:1", {"v": 1})
    (path,) = (tmp_path / ".cache" / "views" / ("c" * 24)).iterdir()
    path.write_text('{"key": "k:1", "val', encoding="utf-8")  # torn
    assert store.get("k:1") == (False, None)
    path.write_text(json.dumps({"key": "other", "value": 2}), encoding="utf-8")
    assert store.get("k:1") == (False, None)
    # a value JSON cannot hold is served from memory, not stored
    assert store.put("k:2", {"when": object})["when"] is object


def test_state_changes_with_counts_settings_and_version():
    base = state_of({"interactions": 3}, "{}", "0.1.0")
    assert base == state_of({"interactions": 3}, "{}", "0.1.0")
    assert base != state_of({"interactions": 4}, "{}", "0.1.0")
    assert base != state_of({"interactions": 3}, '{"tz": "UTC"}', "0.1.0")
    assert base != state_of({"interactions": 3}, "{}", "0.2.0")


def _boom(ws):
    raise AssertionError("computed again instead of read from disk")


def test_a_restarted_server_reads_views_from_disk(user_ws):
    from cxlens import audit
    from cxlens.server.gate import Gate

    path, _ = user_ws
    first = Gate(path)
    calls = []

    def view(ws):
        calls.append(1)
        return {"tiles": [{"kpi": "offered", "value": 0}]}

    assert first.cached("overview", {"lang": "en"}, view, persist=True) == view(None)
    calls.clear()
    with first.workspace() as ws:  # an audited read between the two server lives
        audit.record(ws, actor="t", action="profile.read", target="C0000000001")
    first.close()
    second = Gate(path)  # a restarted server: empty memory
    assert second.cached("overview", {"lang": "en"}, _boom, persist=True)["tiles"][0]["kpi"]
    # not persisted unless asked: computed again
    assert second.cached("contacts", {"kpi": "aht"}, lambda ws: {"rows": [1]}) == {"rows": [1]}
    second.close()
    # new data: the stored view is not served
    import cxlens

    ws = cxlens.open(path)
    ws.warehouse.append("agents", [{"source": "t", "source_id": "a1", "agent_id": "a1"}])
    ws.close()
    third = Gate(path)
    with pytest.raises(AssertionError, match="computed again"):
        third.cached("overview", {"lang": "en"}, _boom, persist=True)
    third.close()


def test_audited_reads_keep_the_memory_cache(user_ws):
    from cxlens import audit
    from cxlens.server.gate import Gate

    path, _ = user_ws
    gate = Gate(path)
    assert gate.cached("period", {}, lambda ws: "first") == "first"
    with gate.workspace() as ws:
        audit.record(ws, actor="t", action="login", target="t")
    gate.release()  # the idle release; the next request reopens and re-reads the counts
    assert gate.cached("period", {}, lambda ws: "second") == "first"
    gate.close()
