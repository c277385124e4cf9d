"""Identity graph: rules, components against networkx, stable keys, both engines."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import data  # noqa: E402

from cxlens.identity import graph, stage  # noqa: E402
from cxlens.load import store_records  # noqa: E402


def _configure(ws, **identity):
    ws.settings.identity.splink = False
    ws.settings.identity.blocked_values = ["400 820 8820"]
    for key, value in identity.items():
        setattr(ws.settings.identity, key, value)
    return ws


def _clusters(ws) -> dict[str, set[tuple[str, str, str]]]:
    rows = ws.warehouse.table("identity_map").to_pyarrow().to_pylist()
    out: dict[str, set[tuple[str, str, str]]] = {}
    for r in rows:
        out.setdefault(r["customer_key"], set()).add((r["record_table"], r["source"], r["source_id"]))
    return out


def _partition(ws) -> set[frozenset[tuple[str, str, str]]]:
    return {frozenset(v) for v in _clusters(ws).values()}


def _people(ws) -> dict[str, set[str]]:
    """customer_key -> true people in it."""
    truth = data.truth()
    return {k: {truth[r] for r in recs} for k, recs in _clusters(ws).items()}


@pytest.mark.slow
def test_fixture_resolves_people_on_both_engines(workspace):
    ws = _configure(workspace)
    data.load(ws)
    summary = stage.full_run(ws)
    assert summary["records"] == len(data.truth())
    people = _people(ws)
    # no cluster mixes two people (household, switchboard, agent phone, junk all held apart)
    assert all(len(p) == 1 for p in people.values()), people
    by_person = {}
    for key, p in people.items():
        by_person.setdefault(next(iter(p)), []).append(key)
    assert len(by_person["alice"]) == 1 and len(by_person["bob"]) == 1
    clusters = _clusters(ws)
    assert len(clusters[by_person["alice"][0]]) == 9  # CRM, billing, calls, mail, orders, web
    assert ("interactions", "chat", "w1") in clusters[by_person["bob"][0]]  # wechat ≡ handle
    # deterministic keys: numbered by each component's smallest record, identical on engines
    imap = {(r["record_table"], r["source"], r["source_id"]): (r["customer_key"], r["method"])
            for r in ws.warehouse.table("identity_map").to_pyarrow().to_pylist()}
    assert imap[("interactions", "chat", "w1")] == ("C0000000001", "identifier")
    assert imap[("parties", "crm", "P1")] == ("C0000000002", "identifier")
    assert imap[("parties", "crm", "P7")] == ("C0000000012", "singleton")


def test_rules_drop_junk_household_blocked_and_agent_values(make_workspace):
    ws = _configure(make_workspace())
    data.load(ws)
    stage.full_run(ws)
    edges = {r["edge"] for r in graph.active_edges(ws.warehouse).to_pyarrow().to_pylist()}
    assert "phone:+8613800138000" in edges
    assert "social:bob_wx" in edges
    assert "phone:+8675588880001" not in edges  # on 3 people's CRM records: household
    assert "phone:+864008208820" not in edges  # blocked switchboard
    assert "phone:+862160000000" not in edges  # an agent's phone
    nodes = ws.warehouse.table("identity_nodes")
    junk = nodes.filter(nodes.source_id.isin(["P6", "P7"])).select("node_id")
    e = graph.active_edges(ws.warehouse)
    # "", "000000", "unknown", "null", "+86" never become edges (whatever the column)
    assert e.semi_join(junk, "node_id").count().execute() == 0
    assert not any(x.endswith(":+86") for x in edges)


def test_absurdly_common_value_is_ignored(make_workspace):
    ws = _configure(make_workspace(), max_records_per_value=3)
    data.load(ws)
    stage.full_run(ws)
    edges = {r["edge"] for r in graph.active_edges(ws.warehouse).to_pyarrow().to_pylist()}
    assert "phone:+8613800138000" not in edges  # on 4 records > 3
    assert "account:A-1" not in edges
    assert "email:bob@example.com" in edges or "account:A-2" in edges


def _map(ws) -> dict[tuple[str, str, str], tuple[str, str]]:
    return {(r["record_table"], r["source"], r["source_id"]): (r["customer_key"], r["method"])
            for r in ws.warehouse.table("identity_map").to_pyarrow().to_pylist()}


@pytest.mark.slow
def test_engine_side_propagation_gives_the_same_map(workspace):
    """``components = "engine"`` (Ibis label propagation in the backend) = the SciPy labelling."""
    ws = _configure(workspace)
    data.load(ws)
    stage.full_run(ws)
    local = _map(ws)
    ws.settings.identity.components = "engine"
    stage.full_run(ws)
    assert _map(ws) == local
    assert ws.warehouse.table(graph.ROUND_SCRATCH).count().execute() == 0


def test_engine_side_propagation_stops_with_a_clear_error(make_workspace):
    from cxlens.errors import CxlensError

    ws = _configure(make_workspace(), components="engine", max_iterations=1)
    data.load(ws)
    with pytest.raises(CxlensError, match="did not converge in 1 rounds"):
        stage.full_run(ws)


@pytest.mark.parametrize("method", ["local", "engine"])
def test_components_match_networkx_on_random_graphs(make_workspace, method):
    import networkx as nx

    rng = random.Random(11)
    ws = _configure(make_workspace(), max_accounts_per_identifier=10_000, weak_types=[],
                    components=method)
    n = 400
    rows = {"source": [], "source_id": [], "phone": [], "email": []}
    for i in range(n):
        rows["source"].append("crm")
        rows["source_id"].append(f"r{i:04d}")
        rows["phone"].append(f"1380000{rng.randrange(600):04d}" if rng.random() < 0.6 else None)
        rows["email"].append(f"u{rng.randrange(500)}@x.com" if rng.random() < 0.5 else None)
    store_records(ws, "parties", pa.table(rows))
    stage.full_run(ws)
    g = nx.Graph()
    for i in range(n):
        g.add_node(f"r{i:04d}")
        for col in ("phone", "email"):
            if rows[col][i]:
                g.add_edge(f"r{i:04d}", f"{col}:{rows[col][i]}")
    expected = {frozenset(("parties", "crm", x) for x in comp if x.startswith("r"))
                for comp in nx.connected_components(g)}
    expected.discard(frozenset())
    assert _partition(ws) == expected


def test_keys_stay_stable_and_merges_and_splits_are_logged(make_workspace):
    ws = _configure(make_workspace())
    data.load(ws)
    stage.full_run(ws)
    before = _clusters(ws)
    key_of = {r: k for k, recs in before.items() for r in recs}
    alice, bob = key_of[("parties", "crm", "P1")], key_of[("parties", "crm", "P2")]
    # a record carrying Alice's device and Bob's WeChat merges them: the older key survives
    store_records(ws, "parties", pa.table({"source": ["crm"], "source_id": ["P9"],
                                           "device": ["dev-9"], "wechat": ["bob_wx"]}))
    summary = stage.full_run(ws)
    after = _clusters(ws)
    survivor = min(alice, bob)
    assert set(after) >= {k for k in before if k not in (alice, bob)} | {survivor}
    assert ("parties", "crm", "P9") in after[survivor]
    assert summary["merges"] == 1
    changes = ws.warehouse.table("identity_changes").to_pyarrow().to_pylist()
    assert [(c["old_key"], c["new_key"], c["change"]) for c in changes] == [
        (max(alice, bob), survivor, "merge")]
    # the bridge goes away again: the merged customer splits, the bigger part keeps the key
    store_records(ws, "parties", pa.table({"source": ["crm"], "source_id": ["P9"],
                                           "device": [None], "wechat": [None]},
                                          schema=pa.schema([("source", pa.string()),
                                                            ("source_id", pa.string()),
                                                            ("device", pa.string()),
                                                            ("wechat", pa.string())])))
    summary = stage.full_run(ws)
    final = _clusters(ws)
    assert summary["splits"] == 2  # Bob's records and the lone P9 leave the merged key
    assert final[survivor] == before[alice]
    changes = ws.warehouse.table("identity_changes").to_pyarrow().to_pylist()
    assert {c["change"] for c in changes} == {"merge", "split"}
    assert all(c["old_key"] == survivor for c in changes if c["change"] == "split")


def test_rerun_without_changes_keeps_every_key(make_workspace):
    ws = _configure(make_workspace())
    data.load(ws)
    stage.full_run(ws)
    first = ws.warehouse.table("identity_map").to_pyarrow().sort_by("source_id").to_pylist()
    summary = stage.full_run(ws)
    second = ws.warehouse.table("identity_map").to_pyarrow().sort_by("source_id").to_pylist()
    assert first == second  # updated_at included: unchanged rows keep their stamp
    assert "merges" not in summary and "splits" not in summary


def test_blocked_values_normalise_every_written_form():
    assert "+864008208820" in graph.blocked_values(["400-820-8820"], "CN", None)
    hashed = graph.blocked_values(["400-820-8820"], "CN", lambda v: "h:" + v)
    assert "h:+864008208820" in hashed


def test_shared_landline_never_bridges_two_identified_customers(make_workspace):
    ws = _configure(make_workspace(), max_accounts_per_identifier=10)  # only the weak rule left
    store_records(ws, "parties", pa.table({
        "source": ["crm", "crm", "crm"], "source_id": ["X", "Y", "Z"],
        "account": ["A-7", "A-8", "A-7"], "phone": ["021-5555-0101", "021-5555-0101", None]}))
    store_records(ws, "interactions", pa.table({
        "source": ["pbx"], "source_id": ["k1"], "phone": ["13711112222"]}))
    store_records(ws, "orders", pa.table({
        "source": ["shop"], "source_id": ["o9"], "account": ["A-7"], "phone": ["13711112222"]}))
    stage.full_run(ws)
    key = {r[2]: k for k, recs in _clusters(ws).items() for r in recs}
    assert key["X"] != key["Y"]  # the landline touches two anchored customers: not merged
    assert key["X"] == key["Z"]  # same account
    assert key["k1"] == key["X"]  # a mobile on one anchored customer attaches the orphan call
    # the landline's memberships are the excluded ones; the active graph lacks them
    landline = graph.active_edges(ws.warehouse).filter(lambda t: t.edge.startswith("phone:+8621"))
    assert landline.count().execute() == 0
    dropped = ws.warehouse.table(graph.EXCLUDED).to_pyarrow().to_pylist()
    assert {(r["edge"], r["kind"]) for r in dropped} == {("phone:+862155550101", "phone")}
    assert len(dropped) == 2


@pytest.mark.slow
def test_personal_mobile_bridges_identified_records_but_not_two_accounts(make_workspace):
    ws = _configure(make_workspace())
    store_records(ws, "parties", pa.table({
        "source": ["crm", "crm", "crm"], "source_id": ["M1", "N1", "N2"],
        "wechat": ["wx_m", None, None], "account": [None, "A-11", "A-12"],
        "phone": ["137-2222-3333", "13644445555", "+86 136 4444 5555"]}))
    store_records(ws, "orders", pa.table({
        "source": ["shop"], "source_id": ["o7"], "account": ["A-9"], "phone": ["13722223333"]}))
    store_records(ws, "interactions", pa.table({
        "source": ["pbx", "pbx"], "source_id": ["k7", "k8"],
        "phone": ["+8613722223333", "13644445555"]}))
    stage.full_run(ws)
    key = {r[2]: k for k, recs in _clusters(ws).items() for r in recs}
    # a mainland mobile is one person's: the WeChat-identified CRM record and the account's
    # order are one customer, and the call joins them
    assert key["M1"] == key["o7"] == key["k7"]
    edges = ws.warehouse.table("identity_edges_all")
    kinds = edges.filter(edges.edge == "phone:+8613722223333").kind.to_pyarrow().to_pylist()
    assert kinds and set(kinds) == {"mobile"}
    # the same mobile quoted with two accounts is a shared phone (household rule): no merge
    assert key["N1"] != key["N2"] and key["k8"] not in (key["N1"], key["N2"])


def _weak_rule_by_hand(rows, weak):
    """The two passes of the weak-value rule with networkx, membership by membership."""
    import networkx as nx

    def smallest(members):
        g = nx.Graph()
        for node, edge, _ in members:
            g.add_edge(("n", node), ("v", edge))
        return {n: min(m for _, m in (x for x in comp if x[0] == "n"))
                for comp in nx.connected_components(g) for k, n in comp if k == "n"}

    strong = [r for r in rows if r[2] not in weak]
    first = smallest(strong)
    anchors = {first[n] for n, _, kind in strong if kind not in {*weak, *graph.NON_ANCHOR_KINDS}}
    seen: dict[str, set[int]] = {}
    for node, edge, kind in rows:
        if kind in weak and first.get(node, node) in anchors:
            seen.setdefault(edge, set()).add(first.get(node, node))
    excluded = [r for r in rows if r[2] in weak and len(seen.get(r[1], ())) > 1]
    final = smallest([r for r in rows if r not in excluded])
    return {n: lab for n, lab in final.items() if n != lab}, sorted(excluded)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_in_memory_weak_rule_matches_the_rule_written_out(seed):
    """graph.resolve_in_memory (arrays, SciPy) = the rule done by hand with networkx, on random
    memberships of strong, personal, non-anchor and weak kinds."""
    rng = random.Random(seed)
    # value counts per kind: sparse enough for many components, phones shared between them
    kinds = {"account": 250, "order": 200, "case": 150, "phone": 40, "mobile": 250}
    rows = sorted({(rng.randrange(1, 400), f"{kind}:{rng.randrange(n)}", kind)
                   for _ in range(450) for kind, n in [rng.choice(list(kinds.items()))]})
    edges = pa.table({"node_id": pa.array([r[0] for r in rows], pa.int64()),
                      "edge": [r[1] for r in rows], "kind": [r[2] for r in rows]})
    found = graph.resolve_in_memory(edges, ["phone"])
    labels, excluded = _weak_rule_by_hand(rows, {"phone"})
    assert excluded, "the random graph should exercise the shared-line rule"
    assert len(set(labels.values())) > 10
    assert dict(zip(found.labels.column("node_id").to_pylist(),
                    found.labels.column("label").to_pylist(), strict=True)) == labels
    assert sorted(tuple(r.values()) for r in found.excluded.to_pylist()) == excluded


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_in_memory_memberships_equal_the_rules_as_expressions(seed):
    """graph.memberships_in_memory (the stage's local path) gives exactly the rows of
    graph.memberships (Ibis) on random identifiers: agents' values, blocked, junk and null
    values, WeChat ids folded into social, mobiles, households (accounts quoted on several
    records, records quoting several), absurdly common values, duplicate rows."""
    import ibis

    rng = random.Random(seed)
    tables = ["parties", "interactions", "orders"]
    nodes = [(t, "src", f"r{i}") for t in tables for i in range(60)]
    values = {
        "phone": ["+8613800138000", "+8613900139000", "+862161234567", "+862160000000",
                  "+8675588880001", "+86", "12", "", None],
        "email": ["a@x.cn", "b@x.cn", "c@x.cn", "unknown@x.cn"],
        "account": ["A-1", "A-2", "A-3", "A-4", "0"],
        "wechat": ["wx_a", "wx_b"], "social": ["wx_a", "wx_c"], "device": ["d1", "d2", "d3"],
        "order": ["O-1", "O-2"], "case": ["crm:1001", "crm:1002"],
    }
    rows = []
    for _ in range(700):
        table, source, source_id = rng.choice(nodes)
        id_type = rng.choice(list(values))
        rows.append((table, source, source_id, id_type, rng.choice(values[id_type])))
    rows += rows[:40]  # duplicates
    rows += [("agents", "hr", "a1", "phone", "+862160000000"),
             ("interactions", "src", "missing", "phone", "+8613800138000")]  # no such record
    ids = ibis.memtable(pa.table({
        "record_table": [r[0] for r in rows], "source": [r[1] for r in rows],
        "source_id": [r[2] for r in rows], "id_type": [r[3] for r in rows],
        "id_value": pa.array([r[4] for r in rows], pa.string())}))
    node_t = ibis.memtable(pa.table({
        "record_table": [n[0] for n in nodes], "source": [n[1] for n in nodes],
        "source_id": [n[2] for n in nodes], "node_id": pa.array(range(1, len(nodes) + 1),
                                                                 pa.int64())}))
    for rules in (graph.EdgeRules(("+8613900139000",), 1, ("phone", "email"), 25),
                  graph.EdgeRules((), 2, ("phone",), 1000)):
        expected = graph.memberships(ids, node_t, rules).to_pyarrow()
        got = graph.memberships_in_memory(
            graph.located_identifiers(ids, node_t).to_pyarrow(),
            graph.agent_values(ids).to_pyarrow().column("id_value").combine_chunks(), rules)

        def rows_of(t):
            return sorted(zip(*(t.column(c).to_pylist() for c in ("node_id", "edge", "kind")),
                              strict=True))

        assert rows_of(got.table) == rows_of(expected)
        assert 0 < got.table.num_rows < len(rows)
        # value codes: one per distinct edge, dense
        edges = got.table.column("edge").to_pylist()
        assert len(set(zip(got.value_id.tolist(), edges, strict=True))) == len(set(edges))
        assert got.n_values == len(set(edges)) == int(got.value_id.max()) + 1


def test_in_memory_memberships_of_no_rows():
    located = pa.table({"node_id": pa.array([], pa.int64()), "id_type": pa.array([], pa.string()),
                        "id_value": pa.array([], pa.string())})
    got = graph.memberships_in_memory(located, [], graph.EdgeRules((), 1, ("phone",), 10))
    assert got.table.num_rows == 0 and got.n_values == 0
    found = graph.resolve_in_memory(got.table, ["phone"], (got.value_id, got.n_values))
    assert found.labels.num_rows == 0


def test_in_memory_resolution_of_no_memberships():
    edges = pa.table({"node_id": pa.array([], pa.int64()), "edge": pa.array([], pa.string()),
                      "kind": pa.array([], pa.string())})
    found = graph.resolve_in_memory(edges, ["phone"])
    assert found.labels.num_rows == 0 and found.excluded.num_rows == 0 and found.linked == 0


def test_a_failing_splink_worker_fails_the_stage(make_workspace, monkeypatch):
    """Splink runs on a worker thread: its error reaches the stage (nothing half-written is
    reported as a success), and the worker is waited for when the memberships fail first."""
    from cxlens.identity import fuzzy

    ws = _configure(make_workspace(), splink=True)
    rows = {"source": [], "source_id": [], "name": [], "phone": []}
    for i in range(30):
        rows["source"].append("crm")
        rows["source_id"].append(f"p{i:03d}")
        rows["name"].append(f"王{i % 7}")
        rows["phone"].append(f"1380000{i:04d}")
    store_records(ws, "parties", pa.table(rows))

    def boom(*_args, **_kwargs):
        raise RuntimeError("splink failed")

    monkeypatch.setattr(fuzzy, "train_and_predict", boom)
    with pytest.raises(RuntimeError, match="splink failed"):
        stage.full_run(ws)

    finished = []

    def slow(*_args, **_kwargs):
        import time

        time.sleep(0.5)
        finished.append(True)
        raise RuntimeError("splink failed too")

    def no_memberships(*_args, **_kwargs):
        raise ValueError("memberships failed")

    monkeypatch.setattr(fuzzy, "train_and_predict", slow)
    monkeypatch.setattr(graph, "memberships", no_memberships)
    monkeypatch.setattr(graph, "memberships_in_memory", no_memberships)
    with pytest.raises(ValueError, match="memberships failed"):
        stage.full_run(ws)
    assert finished == [True]  # waited for, not left running


def test_splink_node_ids_are_checked_against_identity_nodes(workspace, monkeypatch):
    """Splink starts on the parties numbered on their own (graph.table_nodes); ids that
    differ from identity_nodes stop the stage with a clear error instead of mislinking.
    Both engines: the only run of Splink on PySpark in the suite."""
    from cxlens.errors import CxlensError

    ws = _configure(workspace, splink=True)
    store_records(ws, "parties", pa.table({
        "source": ["crm"] * 30, "source_id": [f"p{i:03d}" for i in range(30)],
        "name": [f"王{i % 7}" for i in range(30)],
        "phone": [f"1380000{i % 20:04d}" for i in range(30)],
        "email": [f"u{i % 15}@x.com" for i in range(30)]}))
    store_records(ws, "orders", pa.table({  # a table numbered before the parties
        "source": ["shop"] * 3, "source_id": ["o1", "o2", "o3"],
        "phone": ["13800000001", None, "13800000002"]}))
    stage.full_run(ws)  # the ids agree: no error
    table_nodes = graph.table_nodes

    def shifted(wh, name):
        t = table_nodes(wh, name)
        return t.mutate(node_id=t.node_id + 1)

    monkeypatch.setattr(graph, "table_nodes", shifted)
    with pytest.raises(CxlensError, match="differ from identity_nodes"):
        stage.full_run(ws)


def test_splink_with_nothing_to_train_on_is_skipped_and_said(make_workspace):
    """Parties that share no e-mail or phone give Splink's EM no pairs: the stage resolves on
    the identifiers alone and says why in its summary (it used to fail with Splink's error)."""
    ws = _configure(make_workspace(), splink=True)
    store_records(ws, "parties", pa.table({
        "source": ["crm"] * 12, "source_id": [f"p{i:02d}" for i in range(12)],
        "name": [f"李{i}" for i in range(12)], "account": [f"A{i:06d}" for i in range(12)]}))
    summary = stage.full_run(ws)
    assert summary["fuzzy_skipped"] == "no parties share an e-mail or a phone to train on"
    assert summary["fuzzy_matches"] == 0 and summary["records"] == 12
    assert ws.warehouse.table("identity_matches").count().execute() == 0


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_in_memory_keys_equal_the_keys_as_expressions(make_workspace, seed):
    """keys.assign_in_memory (the stage's local path) gives exactly the keys, methods,
    stamps and logged changes of keys.assign (Ibis) on random components and a random old
    map: old keys claimed by several components (ties: the smaller label), components
    claiming several keys (merges), parts left behind (splits), records and components with
    no old key (fresh keys after the highest one), probabilistic matches."""
    from datetime import datetime

    import ibis
    import numpy as np

    from cxlens.identity import keys

    rng = random.Random(seed)
    ws = make_workspace()
    wh = ws.warehouse
    n = 300
    recs = [("parties" if i % 3 else "orders", "src", f"r{i:03d}") for i in range(1, n + 1)]
    wh.replace("identity_nodes", pa.table({
        "node_id": pa.array(range(1, n + 1), pa.int64()),
        "record_table": [r[0] for r in recs], "source": [r[1] for r in recs],
        "source_id": [r[2] for r in recs]}))
    label = np.arange(n + 1, dtype=np.int64)
    for node in range(1, n + 1):  # a component's label is its smallest node id
        if rng.random() < 0.7:
            label[node] = label[rng.randint(1, node)]
    old_keys = [keys.format_key(k) for k in rng.sample(range(1, 60), 12)]
    stamp = datetime(2026, 1, 2, 3, 4, 5)
    mapped = [i for i in range(n) if rng.random() < 0.8]
    wh.replace("identity_map", pa.table({
        "record_table": [recs[i][0] for i in mapped], "source": [recs[i][1] for i in mapped],
        "source_id": [recs[i][2] for i in mapped],
        "customer_key": [rng.choice(old_keys) for _ in mapped],
        "method": ["identifier"] * len(mapped),
        "updated_at": pa.array([stamp] * len(mapped), pa.timestamp("us"))}))
    fuzzy = np.array(sorted(rng.sample(range(1, n + 1), 20)), dtype=np.int64)
    now = datetime(2026, 11, 23, 9, 0, 0)

    moved = label != np.arange(n + 1)
    labels = ibis.memtable(pa.table({"node_id": np.flatnonzero(moved), "label": label[moved]}))
    keys_expr, changes = keys.assign(wh, labels, now,
                                     ibis.memtable(pa.table({"node_id": fuzzy})))
    expected = keys_expr.select("node_id", "customer_key", "method", "updated_at").to_pyarrow()
    expected_changes = changes.to_pyarrow()
    got, got_changes = keys.assign_in_memory(
        label, keys.old_keys(wh).to_pyarrow(), fuzzy, keys.highest_key_number(wh), now)

    def differ(a, b, columns):  # rows of one and not the other (a few, for the message)
        rows_a, rows_b = (Counter(zip(*(t.column(c).to_pylist() for c in columns), strict=True))
                          for t in (a, b))
        return sorted((rows_a - rows_b) + (rows_b - rows_a))[:4]

    assert not differ(got, expected, ["node_id", "customer_key", "method", "updated_at"])
    assert not differ(got_changes, expected_changes,
                      ["old_key", "new_key", "change", "records", "changed_at"])
    assert got.num_rows == n and got_changes.num_rows == expected_changes.num_rows
    kinds = {c for c in got_changes.column("change").to_pylist()}
    assert kinds == {"merge", "split"}  # the random map exercises both
    assert {k[:1] for k in got.column("customer_key").to_pylist()} == {"C"}
    assert max(got.column("customer_key").to_pylist()) > max(old_keys)  # fresh keys too


def test_in_memory_keys_leave_a_map_keying_a_record_twice_to_the_joins():
    from datetime import datetime

    import numpy as np

    from cxlens.identity import keys

    old = pa.table({"node_id": pa.array([1, 1], pa.int64()),
                    "customer_key": ["C0000000001", "C0000000002"],
                    "updated_at": pa.array([None, None], pa.timestamp("us"))})
    assert keys.assign_in_memory(np.arange(3), old, np.array([], np.int64), 2,
                                 datetime(2026, 1, 1)) is None


def test_full_run_rewriting_only_changed_rows_gives_the_map_of_a_full_rewrite(
        make_workspace, engine, monkeypatch):
    """A full run writes to identity_map only the rows keys.rows_to_write picks (new records,
    moved keys, changed methods); the map must be the one a rewrite of every row gives (here:
    every row picked, so the stage rewrites the map): same keys and methods, each row stamped
    by the run that last changed it. Both engines (PySpark deletes and appends its own way)."""
    import numpy as np

    from cxlens.identity import keys

    def run_twice(ws):
        data.load(ws)
        stamps = [stage.full_run(ws) and _latest_stamp(ws)]
        store_records(ws, "parties", pa.table({"source": ["crm"], "source_id": ["P9"],
                                               "device": ["dev-9"], "wechat": ["bob_wx"]}))
        # Carol's CRM record was a customer of its own: now it has a neighbour (same key)
        store_records(ws, "interactions", pa.table({
            "source": ["mail"], "source_id": ["m2"], "channel": ["email"],
            "email": ["carol@example.com"], "started_at": [data.T0],
            "direction": ["inbound"]}))
        summary = stage.full_run(ws)
        stamps.append(_latest_stamp(ws))
        rows = ws.warehouse.table("identity_map").to_pyarrow().to_pylist()
        return summary, sorted((r["record_table"], r["source"], r["source_id"], r["customer_key"],
                                r["method"], stamps.index(r["updated_at"])) for r in rows)

    only_changed = run_twice(_configure(make_workspace(engine, name="a")))
    write_all = keys.rows_to_write
    monkeypatch.setattr(keys, "rows_to_write",
                        lambda by_node, old: np.ones(len(write_all(by_node, old)), dtype=bool))
    every_row = run_twice(_configure(make_workspace(engine, name="b")))
    summary, rows = only_changed
    assert rows == every_row[1]
    assert summary["merges"] == every_row[0]["merges"] == 1
    assert {r[-1] for r in rows} == {0, 1}  # some rows kept the first run's stamp
    carol = next(r for r in rows if r[:3] == ("parties", "crm", "P3"))
    assert carol[4:] == ("identifier", 0)  # only the method moved: rewritten, old stamp
    assert len(rows) == len({r[:3] for r in rows})  # one row per record


def _latest_stamp(ws):
    return ws.warehouse.table("identity_map").updated_at.max().execute().to_pydatetime()
