"""Record links as identity evidence: contacts logged under one CRM case are one customer, and
a survey or helpdesk case is the customer of the contact it names (``interaction_ref``)."""

from __future__ import annotations

import pyarrow as pa

from cxlens.identity import graph, incremental, stage
from cxlens.load import store_records


def _keys(ws) -> dict[str, str]:
    rows = ws.warehouse.table("identity_map").to_pyarrow().to_pylist()
    return {r["source_id"]: r["customer_key"] for r in rows}


def _calls(ws, rows: list[tuple[str, str, str | None, str | None]]) -> None:
    """(source, source_id, case_id, e-mail) interactions with no phone."""
    store_records(ws, "interactions", pa.table({
        "source": [r[0] for r in rows], "source_id": [r[1] for r in rows],
        "case_id": pa.array([r[2] for r in rows], pa.string()),
        "email": pa.array([r[3] for r in rows], pa.string())}))


def _configure(ws, **identity):
    ws.settings.identity.splink = False
    for key, value in identity.items():
        setattr(ws.settings.identity, key, value)
    return ws


def test_contacts_under_one_case_are_one_customer(make_workspace):
    ws = _configure(make_workspace())
    _calls(ws, [
        ("pbx", "k1", "CRM-100", None),  # a call opens the case
        ("chat", "w1", " CRM-100 ", None),  # a chat logged under it (written with spaces)
        ("email", "m1", "CRM-100", "ann@example.com"),  # the e-mail reply names the person
        ("email", "m2", None, "ann@example.com"),
        ("pbx", "k2", "CRM-200", None),  # another case: nothing links it
        ("pbx", "k3", "", None),  # no case number
        ("pbx", "k4", "000", None),  # junk case number
        ("pbx", "k5", "000", None),
    ])
    stage.full_run(ws)
    key = _keys(ws)
    assert key["k1"] == key["w1"] == key["m1"] == key["m2"]
    assert len({key["k1"], key["k2"], key["k3"], key["k4"], key["k5"]}) == 5
    kinds = graph.active_edges(ws.warehouse).kind.to_pyarrow().to_pylist()
    assert "case" in kinds
    # off: the case number links nothing (only the e-mail joins m1 and m2)
    ws.settings.identity.case_edges = False
    stage.full_run(ws)
    key = _keys(ws)
    assert key["m1"] == key["m2"] and len({key["k1"], key["w1"], key["m1"]}) == 3


def test_two_case_systems_never_collide(make_workspace):
    ws = _configure(make_workspace(), case_systems={"shop_chat": "shopdesk"})
    _calls(ws, [("pbx", "k1", "4242", None), ("chat", "w1", "4242", None),
                ("shop_chat", "s1", "4242", None), ("shop_chat", "s2", "4242", None)])
    stage.full_run(ws)
    key = _keys(ws)
    assert key["k1"] == key["w1"]  # one CRM ("crm"): the call and the chat share case 4242
    assert key["s1"] == key["s2"] != key["k1"]  # the shop's own case 4242 is another case


def _landline_customer(ws) -> None:
    """One identified customer (an account) whose record carries a landline."""
    store_records(ws, "parties", pa.table({
        "source": ["crm"], "source_id": ["P1"], "account": ["A-1"],
        "phone": ["021-5555-0101"]}))


def test_case_does_not_anchor_and_obeys_max_records(make_workspace):
    ws = _configure(make_workspace(), max_accounts_per_identifier=10)
    # a landline on a customer's account record and on two calls under one case: the case
    # group is not "identified", so the landline attaches it to the one anchored customer
    _landline_customer(ws)
    store_records(ws, "interactions", pa.table({
        "source": ["pbx", "pbx"], "source_id": ["k1", "k2"], "case_id": ["C-1", "C-1"],
        "phone": ["021-5555-0101", None]}))
    stage.full_run(ws)
    key = _keys(ws)
    assert key["P1"] == key["k1"] == key["k2"]
    # a "case number" on more records than max_records_per_value is a default, not a case
    ws.settings.identity.max_records_per_value = 1
    stage.full_run(ws)
    key = _keys(ws)
    assert key["k2"] not in (key["k1"], key["P1"])


def test_incremental_follows_case_edges(make_workspace):
    inc, full = (_configure(make_workspace(name=n)) for n in ("inc", "full"))
    for ws in (inc, full):
        _calls(ws, [("pbx", "k1", "CRM-1", "bo@example.com"), ("pbx", "k2", "CRM-2", None)])
        stage.run(ws, mode="full")
        _calls(ws, [("chat", "w1", "CRM-1", None), ("chat", "w2", "CRM-3", None)])
    summary = incremental.try_run(inc, required=True)
    assert summary is not None and summary["mode"] == "incremental"
    stage.run(full, mode="full")
    assert _keys(inc) == _keys(full)
    assert _keys(inc)["w1"] == _keys(inc)["k1"] and _keys(inc)["w2"] != _keys(inc)["k2"]


def _about(ws, table: str, rows: list[tuple[str, str, str | None, str | None]]) -> None:
    """(source, source_id, interaction_ref, e-mail) surveys or helpdesk cases."""
    store_records(ws, table, pa.table({
        "source": [r[0] for r in rows], "source_id": [r[1] for r in rows],
        "interaction_ref": pa.array([r[2] for r in rows], pa.string()),
        "email": pa.array([r[3] for r in rows], pa.string())}))


def test_survey_and_case_join_the_contact_they_name(make_workspace):
    ws = _configure(make_workspace())
    _calls(ws, [("pbx", "k1", None, "ann@example.com"), ("chat", "w1", None, None),
                ("pbx", "k2", None, None)])
    _about(ws, "surveys", [
        ("survey", "s1", "pbx:k1", None),  # rates Ann's call, carries nothing else
        ("survey", "s2", "chat:w1", "ann@example.com"),  # names an anonymous chat and Ann
        ("survey", "s3", "pbx:nope", None),  # names a contact we never saw
        ("survey", "s4", " ", None),  # names nothing
        ("survey", "s5", None, None)])
    _about(ws, "cases", [("helpdesk", "c1", "pbx:k2", None)])
    stage.full_run(ws)
    key = _keys(ws)
    assert key["k1"] == key["s1"] == key["s2"] == key["w1"]  # the chat is Ann's via s2
    assert key["c1"] == key["k2"] != key["k1"]
    assert len({key["s3"], key["s4"], key["s5"], key["k1"], key["k2"]}) == 5
    kinds = graph.active_edges(ws.warehouse).kind.to_pyarrow().to_pylist()
    assert "ref" in kinds
    # off: only the e-mail links (k1, s2); the survey about k1 and the case stand alone
    ws.settings.identity.ref_edges = False
    stage.full_run(ws)
    key = _keys(ws)
    assert key["k1"] == key["s2"] and len({key["k1"], key["s1"], key["w1"]}) == 3
    assert key["c1"] != key["k2"]


def test_ref_does_not_anchor(make_workspace):
    ws = _configure(make_workspace(), max_accounts_per_identifier=10)
    # a landline on a customer's account record and on an anonymous call that has a survey:
    # the survey names a contact, not a person, so the call is still unidentified and the
    # landline attaches it (and its survey) to the one anchored customer
    _landline_customer(ws)
    store_records(ws, "interactions", pa.table({
        "source": ["pbx"], "source_id": ["k1"], "phone": ["021-5555-0101"]}))
    _about(ws, "surveys", [("survey", "s1", "pbx:k1", None)])
    stage.full_run(ws)
    key = _keys(ws)
    assert key["P1"] == key["k1"] == key["s1"]


def test_incremental_follows_refs_without_falling_back(make_workspace):
    inc, full = (_configure(make_workspace(name=n)) for n in ("inc", "full"))
    for ws in (inc, full):
        _calls(ws, [("pbx", "k1", None, "bo@example.com"), ("pbx", "k2", None, None)])
        stage.run(ws, mode="full")
        # later: a survey about an old call, a case about a new chat
        _about(ws, "surveys", [("survey", "s1", "pbx:k1", None)])
        _calls(ws, [("chat", "w1", None, None)])
        _about(ws, "cases", [("helpdesk", "c1", "chat:w1", None)])
    summary = incremental.try_run(inc, required=True)
    assert summary is not None and summary["mode"] == "incremental"
    stage.run(full, mode="full")
    assert _keys(inc) == _keys(full)
    key = _keys(inc)
    assert key["s1"] == key["k1"] and key["c1"] == key["w1"] != key["k1"]
