"""Case rules added for issue #5: a case keeps its journey across an interleaved case, and the
leg that leads to a contact under the open case continues it past the window."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from journey_fixture import groups, store_contacts

from cxlens.journeys import stage

T0 = datetime(2026, 10, 5, 9, 0)

# one customer, one reason (billing); (source_id, channel, hours after T0, reason, agent, case)
ROWS = [
    ("z1", "phone", 0.0, "billing", "a1", "K1"),      # problem 1 opens K1
    ("z2", "phone", 24.0, "billing", "a2", "K2"),     # problem 2, same reason, opens K2
    ("z3", "chat", 48.0, "billing", "a3", "K1"),      # problem 1 again: back to K1's journey
    # ten days later an IVR leg (no code, no case) put through to a call under K1: the leg
    # leads to the open case, so it does not start a journey of its own
    ("z5", "ivr", 288.0, None, None, None),
    ("z6", "phone", 288.05, "billing", "a1", "K1"),
    # an abandoned call 4 h before the call that opens K3: it belongs to K3, not to K1 before it
    ("z7", "phone", 400.0, None, None, None),
    ("z8", "phone", 404.0, "billing", "a2", "K3"),
]
EXPECTED = [{"z1", "z3", "z5", "z6"}, {"z2"}, {"z7", "z8"}]


def _load(ws) -> None:
    store_contacts(ws, "crm", [
        {"source_id": sid, "customer_key": "c9", "channel": channel,
         "started_at": T0 + timedelta(hours=hours), "reason": reason, "agent_id": agent,
         "case_id": case, "abandoned": sid == "z7"}
        for sid, channel, hours, reason, agent, case in ROWS])


def test_case_rejoins_its_journey_and_legs_follow_their_case(make_workspace):
    ws = make_workspace("duckdb")
    _load(ws)
    stage.run(ws)
    assert groups(ws) == EXPECTED
    jc = ws.warehouse.table("journey_contacts").to_pandas().set_index("interaction_id")
    assert jc.loc["crm:z3", "journey_id"] == "j:crm:z1"
    # the rejoined journey is not first-contact resolved: the customer came back under K1
    j = ws.warehouse.table("journeys").to_pandas().set_index("journey_id")
    assert j.loc["j:crm:z1", "contacts"] == 4 and not j.loc["j:crm:z1", "first_contact_resolved"]


def test_case_rules_off_without_case_split(make_workspace):
    ws = make_workspace("duckdb")
    ws.settings.journeys.split_by_case = False
    _load(ws)
    stage.run(ws)
    # reason and 7-day window only: z1..z3 chain, z5/z6 are 10 days later, z7/z8 chain with them
    assert groups(ws) == [{"z1", "z2", "z3"}, {"z5", "z6", "z7", "z8"}]


@pytest.mark.slow
def test_case_rejoin_on_pyspark(make_workspace):
    ws = make_workspace("pyspark")
    _load(ws)
    stage.run(ws)
    assert groups(ws) == EXPECTED
