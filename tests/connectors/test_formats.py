"""Each format ingests its vendor-documented sample with the expected canonical values."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxlens.connectors import REGISTRY
from cxlens.connectors.sniff import sniff
from cxlens.errors import CxlensError
from cxlens.ingest import ingest

FIX = Path(__file__).parent.parent / "fixtures" / "connectors"


def rows(ws, table):
    return {r["source_id"]: r for r in ws.warehouse.table(table).to_pyarrow().to_pylist()}


def test_registry_lists_every_documented_format():
    assert set(REGISTRY) == {"asterisk", "freeswitch", "amazon-connect", "genesys", "zendesk",
                             "chatwoot", "email", "mapped"}


def test_asterisk_master_csv(make_workspace):
    workspace = make_workspace()
    result = ingest(workspace, FIX / "asterisk_Master.csv", "asterisk", source="pbx")
    assert (result.read, result.stored, result.quarantined) == (5, 3, 2)
    assert result.quarantine_reasons == {"negative duration": 1, "wrong number of fields": 1}
    calls = rows(workspace, "interactions")
    answered = calls["1709254800.1"]
    # local Asia/Shanghai 09:00 → 01:00 UTC; billsec 300 = talk; 12 s ring before answer
    assert str(answered["started_at"]) == "2024-03-01 01:00:00"
    assert (answered["talk_s"], answered["wait_s"]) == (300.0, 12.0)
    assert (answered["queue"], answered["agent_id"], answered["direction"]) == (
        "support", "1001", "inbound")
    assert answered["phone"] == "+8613800138000"
    assert answered["contact_name"] == "Zhang San"
    missed = calls["1709255400.3"]
    assert missed["abandoned"] is True and missed["answered_at"] is None
    assert missed["disposition"] == "abandoned"
    assert calls["1709258400.4"]["direction"] == "outbound"


def test_freeswitch_default_template(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "freeswitch_Master.csv", "freeswitch")
    assert (result.read, result.stored) == (3, 3)
    calls = rows(ws, "interactions")
    first = calls["a1b2c3d4-0000-4000-8000-000000000001"]
    assert (first["disposition"], first["talk_s"], first["direction"]) == ("answered", 300.0,
                                                                           "inbound")
    cancelled = calls["a1b2c3d4-0000-4000-8000-000000000003"]
    assert cancelled["abandoned"] is True
    busy = calls["a1b2c3d4-0000-4000-8000-000000000004"]
    assert (busy["disposition"], busy["direction"], busy["agent_id"]) == ("busy", "outbound",
                                                                          "1001")


def test_amazon_connect_keeps_latest_update(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "amazon_connect_ctr.jsonl", "amazon-connect")
    assert (result.read, result.stored, result.duplicates) == (4, 3, 1)
    calls = rows(ws, "interactions")
    first = calls["c0a80001-0000-4000-8000-000000000001"]
    assert (first["wait_s"], first["talk_s"], first["hold_s"], first["acw_s"]) == (15, 300, 12, 30)
    assert (first["reason"], first["account"], first["agent_id"]) == ("billing", "AC1001",
                                                                      "wang.fang")
    abandoned = calls["c0a80001-0000-4000-8000-000000000002"]
    # the later CTR (LastUpdateTimestamp 01:11:02) wins even though it comes first in the file
    assert abandoned["abandoned"] is True and abandoned["wait_s"] == 55
    assert calls["c0a80001-0000-4000-8000-000000000003"]["channel"] == "chat"


def test_genesys_conversation_details(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "genesys_details.json", "genesys")
    assert (result.read, result.stored) == (2, 2)
    calls = rows(ws, "interactions")
    first = calls["2d1b0a3e-6a1c-4c1e-9a1f-000000000001"]
    assert (first["talk_s"], first["hold_s"], first["acw_s"], first["wait_s"]) == (
        300.0, 20.0, 60.0, 30.0)
    assert (first["agent_id"], first["queue"], first["phone"]) == ("u-wang", "Billing",
                                                                   "+8613800138000")
    assert calls["2d1b0a3e-6a1c-4c1e-9a1f-000000000002"]["abandoned"] is True


def test_zendesk_tickets_comments_and_csat(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "zendesk_tickets.json", "zendesk")
    assert result.tables == {"interactions": 2, "messages": 3, "surveys": 1}
    ticket = rows(ws, "interactions")["35436"]
    assert (ticket["channel"], ticket["resolved"], ticket["reason"]) == ("email", True, "billing")
    assert ticket["email"] == "zhangsan@example.com"  # side-loaded user, lower-cased
    speakers = [m["speaker"] for m in sorted(rows(ws, "messages").values(),
                                             key=lambda m: m["seq"])]
    assert speakers == ["customer", "agent", "system"]
    survey = next(iter(rows(ws, "surveys").values()))
    assert (survey["csat"], survey["interaction_ref"]) == (5, "zendesk:35436")


def test_chatwoot_events_merge_into_one_conversation(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "chatwoot_webhooks.jsonl", "chatwoot")
    assert (result.read, result.stored, result.quarantined, result.duplicates) == (5, 1, 1, 3)
    chat = rows(ws, "interactions")["42"]
    assert (chat["resolved"], chat["agent_id"], chat["reason"]) == (True, "3", "delivery")
    turns = sorted(rows(ws, "messages").values(), key=lambda m: m["seq"])
    assert [t["speaker"] for t in turns] == ["customer", "agent"]


def test_email_folder_threads_and_charsets(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "eml", "email")
    assert result.stored == 2
    mails = rows(ws, "interactions")
    reply = mails["reply-1@shop.example"]
    assert reply["thread_id"] == mails["root-1@example.com"]["thread_id"] == "root-1@example.com"
    assert reply["direction"] == "outbound" and reply["email"] == "zhangsan@example.com"
    assert reply["text"] == "您好，已为您处理。"  # GB2312 base64 body decoded
    assert mails["root-1@example.com"]["subject"] == "账单问题"  # RFC 2047 subject


def test_mbox_quarantines_message_without_date(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "support.mbox", "email")
    assert (result.read, result.stored, result.quarantined) == (3, 2, 1)
    assert result.quarantine_reasons == {"missing Date header": 1}


def test_mapped_crm_cleans_and_dedupes(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "crm.csv", "mapped", mapping=FIX / "crm.yaml")
    assert (result.read, result.stored, result.quarantined, result.duplicates) == (4, 2, 1, 1)
    parties = rows(ws, "parties")
    assert parties["C002"]["name"] == "LI Si"  # full-width folded, spaces collapsed
    assert parties["C001"]["phone"] == "+8613800138000"
    assert parties["C001"]["tier"] == "gold"
    assert str(parties["C001"]["created_at"]) == "2023-01-05 02:00:00"
    ids = ws.warehouse.table("identifiers").to_pyarrow().to_pylist()
    assert {(i["id_type"], i["id_value"]) for i in ids if i["source_id"] == "C001"} == {
        ("phone", "+8613800138000"), ("email", "zhangsan@example.com")}


def test_mapped_surveys_quarantine_impossible_scores(make_workspace):
    ws = make_workspace()
    result = ingest(ws, FIX / "surveys.csv", "mapped", mapping=FIX / "surveys.yaml")
    assert result.quarantine_reasons == {"csat outside 1-5": 1, "nps outside 0-10": 1}
    assert result.stored == 1


@pytest.mark.parametrize("name, expected", [
    ("asterisk_Master.csv", "asterisk"), ("freeswitch_Master.csv", "freeswitch"),
    ("amazon_connect_ctr.jsonl", "amazon-connect"), ("genesys_details.json", "genesys"),
    ("zendesk_tickets.json", "zendesk"), ("chatwoot_webhooks.jsonl", "chatwoot"),
    ("eml", "email"), ("support.mbox", "email"),
])
def test_auto_sniffs_each_format(name, expected):
    assert sniff(FIX / name) == expected


def test_auto_refuses_an_unknown_csv():
    with pytest.raises(CxlensError, match="cannot tell the format"):
        sniff(FIX / "crm.csv")


@pytest.mark.spark
@pytest.mark.slow
def test_ingest_on_pyspark_reconciles(make_workspace):
    ws = make_workspace("pyspark")
    result = ingest(ws, FIX / "surveys.csv", "mapped", mapping=FIX / "surveys.yaml")
    assert (result.read, result.stored, result.quarantined) == (3, 1, 2)
    assert ws.warehouse.counts()["surveys"] == 1
    assert ws.warehouse.counts()["quarantine"] == 2


def test_mapped_json_lines_with_nested_paths(make_workspace, tmp_path):
    ws = make_workspace()
    data = tmp_path / "orders.jsonl"
    data.write_text(
        '{"no": "O1", "at": "2024-03-01T09:00:00+08:00", "amt": 99.5, "buyer": {"mobile": "13800138000"}}\n'
        '{"no": "O2", "at": 1709254800, "amt": "12", "buyer": {"mobile": null}, "extra": [1]}\n'
        '{"no": "O3", "at": "2024-03-01 09:00:00", "amt": "twelve", "buyer": {}}\n'
        'not json\n', encoding="utf-8")
    mapping = tmp_path / "orders.yaml"
    mapping.write_text("table: orders\nsource: shop\nid: 'no'\ncolumns:\n  ordered_at: at\n"
                       "  amount: amt\n  phone: {column: buyer.mobile, optional: true}\n",
                       encoding="utf-8")
    result = ingest(ws, data, "mapped", mapping=mapping)
    assert (result.read, result.stored, result.quarantined) == (4, 2, 2)
    assert set(result.quarantine_reasons) == {"amount: not a number", "malformed record"}
    orders = rows(ws, "orders")
    assert orders["O1"]["phone"] == "+8613800138000" and orders["O1"]["amount"] == 99.5
    assert str(orders["O1"]["ordered_at"]) == str(orders["O2"]["ordered_at"]) == \
        "2024-03-01 01:00:00"
    kinds = {(i["id_type"], i["id_value"]) for i in
             ws.warehouse.table("identifiers").to_pyarrow().to_pylist()}
    assert ("order", "O1") in kinds  # order numbers customers quote are identifiers


def test_mapped_parquet_keeps_types(make_workspace, tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    ws = make_workspace()
    path = tmp_path / "web.parquet"
    pq.write_table(pa.table({
        "event": ["e1", "e2"], "sid": ["s", "s"],
        "when": pa.array([dt.datetime(2024, 3, 1, 9), dt.datetime(2024, 3, 1, 10)],
                         pa.timestamp("ms")),
        "dwell": [3.5, -1.0], "url": ["/a", "/b"]}), path)
    mapping = tmp_path / "web.yaml"
    mapping.write_text("table: web_events\nsource: web\nid: event\ncolumns:\n  session_id: sid\n"
                       "  ts: when\n  dwell_s: dwell\n  page: url\n", encoding="utf-8")
    result = ingest(ws, path, "mapped", mapping=mapping)
    assert (result.read, result.stored, result.quarantine_reasons) == (2, 1, {"negative dwell_s": 1})
    assert str(rows(ws, "web_events")["e1"]["ts"]) == "2024-03-01 01:00:00"


def test_email_threads_are_named_after_their_root_whatever_the_order():
    from cxlens.connectors.email import _threads

    infos = [{"message_id": "m3", "refs": ["root", "m2"], "sent": "3"},
             {"message_id": "m2", "refs": ["root"], "sent": "2"},
             {"message_id": "root", "refs": [], "sent": "1"},
             {"message_id": "alone", "refs": [], "sent": "1"}]
    assert _threads(infos) == {"m3": "root", "m2": "root", "root": "root", "alone": "alone"}
