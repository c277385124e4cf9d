"""Customer 360, lookups by any written identifier, erasure, pseudonymisation, the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "identity"))
import data  # noqa: E402

from cxlens import schema  # noqa: E402
from cxlens.errors import InputError, NotFoundError  # noqa: E402
from cxlens.forget import forget  # noqa: E402
from cxlens.identity import stage as identity_stage  # noqa: E402
from cxlens.profile import find_customer, lookup  # noqa: E402
from cxlens.profile import stage as profile_stage  # noqa: E402


def _ready(ws, secret: str = ""):
    ws.settings.identity.splink = False
    ws.settings.identity.blocked_values = ["400-820-8820"]
    ws.settings.security.secret = secret
    data.load(ws)
    identity_stage.run(ws, mode="full")
    profile_stage.run(ws)
    return ws


@pytest.fixture
def ready(make_workspace):
    return _ready(make_workspace())


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One resolved workspace for the tests that only read."""
    import cxlens
    from cxlens.config import load_settings

    ws = _ready(cxlens.init(tmp_path_factory.mktemp("shared") / "ws",
                            load_settings(None, environ={})))
    yield ws
    ws.close()


def test_any_written_form_finds_the_same_customer(shared):
    alice = find_customer(shared, "13800138000")
    for written in ["138-0013-8000", "+86 138 0013 8000", "008613800138000",
                    "ALICE@EXAMPLE.COM", " a-1 ", "O-1", "dev-9"]:
        assert find_customer(shared, written) == alice, written
    assert find_customer(shared, alice) == alice  # a customer key finds itself


def test_profile_has_value_contact_and_timeline(shared):
    ready = shared
    result = lookup(ready, "alice@example.com")
    p = result["profile"]
    assert p["name"] == "Alice Wang" and p["tier"] == "gold"
    assert p["orders"] == 2 and p["spend"] == pytest.approx(135.0)
    assert p["contacts"] == 3 and p["phone_90d"] == 2 and p["email_90d"] == 1
    assert p["preferred_channel"] == "phone"
    assert p["web_sessions"] == 1 and p["web_dwell_s"] == pytest.approx(75.0)
    kinds = [e["kind"] for e in result["timeline"]]
    assert kinds.count("interaction") == 3 and kinds.count("order") == 2
    assert "web_session" in kinds
    ats = [e["at"] for e in result["timeline"]]
    assert ats == sorted(ats, reverse=True)
    assert {i["type"] for i in result["identifiers"]} >= {"phone", "email", "account", "order"}
    # typed columns for fast filtering agree with the JSON
    c360 = ready.warehouse.table("customer_360")
    row = c360.filter(c360.customer_key == result["customer_key"]).to_pyarrow().to_pylist()[0]
    assert row["orders"] == 2 and row["tier"] == "gold" and row["contacts_90d"] == 3


def test_reads_are_audited_with_the_key_only(shared):
    ready = shared
    result = lookup(ready, "138-0013-8000", actor="tester")
    log = ready.warehouse.table("audit_log").to_pyarrow().to_pylist()
    assert log[-1]["action"] == "profile.read" and log[-1]["target"] == result["customer_key"]
    # event_id is a random hex uuid and may contain any digits, so only the written fields are checked
    written = json.dumps([{k: v for k, v in e.items() if k not in ("event_id", "at")} for e in log])
    assert "138" not in written and "8000" not in written


def test_unknown_and_shared_identifiers(shared):
    ready = shared
    with pytest.raises(NotFoundError, match="no customer matches"):
        find_customer(ready, "13312345678")
    with pytest.raises(NotFoundError):
        find_customer(ready, "unknown")  # junk normalises to nothing
    with pytest.raises(InputError, match="shared by"):
        find_customer(ready, "0755-8888-0001")  # household landline
    with pytest.raises(InputError):
        find_customer(ready, "   ")


def test_forget_leaves_no_row_and_is_idempotent(ready):
    wh = ready.warehouse
    key = find_customer(ready, "bob@example.com")
    imap = wh.table("identity_map")
    recs = imap.filter(imap.customer_key == key).to_pyarrow().to_pylist()
    before = wh.counts()
    result = forget(ready, "13900139000").as_dict()
    assert result["erased"] and result["customer_key"] == key
    after = wh.counts()
    for r in recs:
        t = wh.table(r["record_table"])
        assert t.filter((t.source == r["source"]) & (t.source_id == r["source_id"])).count().execute() == 0
    ids = wh.table("identifiers")
    assert ids.filter(ids.id_value.isin(["bob@example.com", "+8613900139000", "A-2", "bob_wx"])
                      ).count().execute() == 0
    for table in ("identity_map", "customer_360"):
        t = wh.table(table)
        assert t.filter(t.customer_key == key).count().execute() == 0
    assert before["parties"] - after["parties"] == 1
    assert before["interactions"] - after["interactions"] == 2  # the call and the chat
    # nothing of anyone else went
    assert find_customer(ready, "alice@example.com")
    log = wh.table("audit_log").to_pyarrow().to_pylist()[-1]
    assert log["action"] == "forget" and log["target"] == key
    assert "bob" not in json.dumps(log, default=str).lower()
    again = forget(ready, "13900139000").as_dict()
    assert again == {"erased": False, "customer_key": None, "rows": {}, "total": 0}


def test_pseudonymised_identifiers_still_find_people(make_workspace):
    ws = _ready(make_workspace(), secret="s3cret")
    ids = ws.warehouse.table("identifiers").to_pyarrow().to_pylist()
    assert ids and all(r["id_value"].startswith("h:") for r in ids)
    assert find_customer(ws, "138-0013-8000") == find_customer(ws, "ALICE@example.com")
    assert lookup(ws, "a-1")["profile"]["orders"] == 2
    assert forget(ws, "138-0013-8000").erased


def test_cli_profile_forget_and_errors(ready):
    from cxlens.cli.main import app

    runner = CliRunner()
    w = ["--workspace", str(ready.path)]
    ready.close()
    out = runner.invoke(app, ["profile", "138-0013-8000", *w, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["profile"]["name"] == "Alice Wang"
    out = runner.invoke(app, ["profile", "138-0013-8000", *w])
    assert out.exit_code == 0 and "Alice Wang" in out.stdout and "timeline" in out.stdout
    out = runner.invoke(app, ["profile", "13312345678", *w])
    assert out.exit_code != 0 and "no customer matches" in str(out.exception)
    out = runner.invoke(app, ["forget", "alice@example.com", *w])
    assert out.exit_code == 0 and "erased" in out.stdout
    out = runner.invoke(app, ["forget", "alice@example.com", *w])
    assert out.exit_code == 0 and "nothing to erase" in out.stdout


def test_profile_stage_on_empty_map(make_workspace):
    ws = make_workspace()
    assert profile_stage.run(ws)["customers"] == 0
    assert set(schema.DERIVED["customer_360"]) >= {"customer_key", "profile_json", "updated_at"}


@pytest.mark.spark
def test_profile_json_is_the_same_text_on_duckdb_and_spark(make_workspace):
    """``json_object`` (one CONCAT_WS) renders nulls, quotes, timestamps and numbers alike."""
    from datetime import datetime

    import ibis

    from cxlens.profile.build import json_object

    rows = {"k": ["a", "b"], "name": ['say "hi" \\ ok', None], "n": [3, None],
            "x": [1.5, None], "flag": [True, None], "at": [datetime(2026, 1, 2, 3, 4, 5), None]}
    texts = {}
    for engine in ("duckdb", "pyspark"):
        con = make_workspace(engine, name=engine).warehouse.con
        t = ibis.memtable(rows)
        expr = t.select("k", j=json_object(t, ["name", "n", "x", "flag", "at"])).order_by("k")
        texts[engine] = con.to_pyarrow(expr).column("j").to_pylist()
    assert texts["duckdb"] == texts["pyspark"]
    assert json.loads(texts["duckdb"][0]) == {"name": 'say "hi" \\ ok', "n": 3, "x": 1.5,
                                              "flag": True, "at": "2026-01-02T03:04:05"}
    assert json.loads(texts["duckdb"][1]) == dict.fromkeys(["name", "n", "x", "flag", "at"])
