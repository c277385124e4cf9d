"""A journey continues across two customer keys when their contacts are back to back on one line."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from journey_fixture import groups, store_contacts

from cxlens.journeys import stage
from cxlens.journeys.links import back_to_back_keys

T0 = datetime(2026, 10, 5, 9, 0)
LANDLINE = "0755-1234 5678"   # a family line: identity keeps its callers apart

# (source_id, customer key, channel, minutes after T0, reason, agent, phone, written form)
ROWS = [
    # an IVR leg and the call it was put through to, a minute later, under two keys
    ("b1", "k1", "ivr", 0.0, None, None, LANDLINE),
    ("b2", "k2", "phone", 3.0, "delivery", "a1", "+86 755 12345678"),
    # the same line five hours later under a third key: another caller, its own journey
    ("b3", "k3", "phone", 300.0, "delivery", "a2", LANDLINE),
    # an abandoned call from another number a minute after b2: no shared line, no link
    ("b4", "k4", "phone", 4.0, None, None, "13800138000"),
]


def _load(ws) -> None:
    store_contacts(ws, "pbx", [
        {"source_id": sid, "customer_key": key, "channel": channel,
         "started_at": T0 + timedelta(minutes=minutes), "reason": reason, "agent_id": agent,
         "phone": phone, "abandoned": sid == "b4"}
        for sid, key, channel, minutes, reason, agent, phone in ROWS])


EXPECTED = [{"b1", "b2"}, {"b3"}, {"b4"}]


def test_back_to_back_contacts_on_one_line_share_a_journey(make_workspace):
    ws = make_workspace("duckdb")
    _load(ws)
    stage.run(ws)
    assert groups(ws) == EXPECTED
    jc = ws.warehouse.table("journey_contacts").to_pandas().set_index("interaction_id")
    # each touch keeps the key identity gave it; the leg took the call's reason
    assert jc.loc["pbx:b1", "customer_key"] == "k1" and jc.loc["pbx:b2", "customer_key"] == "k2"
    assert jc.loc["pbx:b1", "reason"] == "delivery"
    j = ws.warehouse.table("journeys").to_pandas().set_index("journey_id")
    assert j.loc["j:pbx:b1", "channel_path"] == "ivr > phone"


def test_link_map_and_switch(make_workspace):
    ws = make_workspace("duckdb")
    _load(ws)
    from cxlens.journeys.build import linked_contacts

    wh = ws.warehouse
    contacts = linked_contacts(wh.table("interactions"), wh.table("identity_map"), ["ivr"])
    keys = back_to_back_keys(contacts, wh.table("interactions"), wh.table("identifiers"), 1800)
    assert sorted(map(tuple, keys.to_pandas()[["customer_key", "journey_key"]].values)) == [
        ("k1", "k1"), ("k2", "k1")]
    # a 2-minute bound still links the leg (b2 starts 1 minute after b1 ends); 0 turns it off
    assert len(back_to_back_keys(contacts, wh.table("interactions"), wh.table("identifiers"),
                                 120).to_pandas()) == 2
    from cxlens.journeys import build

    off = build.touches(wh.table("interactions"), wh.table("identity_map"),
                        window_s=7 * 86400.0, self_service_channels=["ivr"],
                        identifiers=wh.table("identifiers"), link_s=0)
    assert off.journey_id.nunique().to_pyarrow().as_py() == 4


def test_line_link_minutes_setting_turns_the_links_off(make_workspace):
    ws = make_workspace("duckdb")
    ws.settings.journeys.line_link_minutes = 0
    _load(ws)
    stage.run(ws)
    assert groups(ws) == [{"b1"}, {"b2"}, {"b3"}, {"b4"}]


def test_blocked_and_common_lines_never_link(make_workspace):
    ws = make_workspace("duckdb", name="blocked")
    ws.settings.identity.blocked_values = ["0755 12345678"]   # a switchboard, any written form
    _load(ws)
    stage.run(ws)
    assert groups(ws) == [{"b1"}, {"b2"}, {"b3"}, {"b4"}]
    common = make_workspace("duckdb", name="common")
    common.settings.identity.max_records_per_value = 2       # the landline is on 3 contacts
    _load(common)
    stage.run(common)
    assert groups(common) == [{"b1"}, {"b2"}, {"b3"}, {"b4"}]


@pytest.mark.slow
def test_key_links_on_pyspark(make_workspace):
    ws = make_workspace("pyspark")
    _load(ws)
    stage.run(ws)
    assert groups(ws) == EXPECTED
