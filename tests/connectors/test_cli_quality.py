"""`cxlens ingest` / `cxlens quality` from the command line, and the quality report."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cxlens.cli.main import app
from cxlens.ingest import ingest
from cxlens.quality import report

FIX = Path(__file__).parent.parent / "fixtures" / "connectors"
runner = CliRunner()


def test_cli_ingest_json_dry_run_and_repeat(make_workspace):
    ws = make_workspace()
    path = str(ws.path)
    ws.close()
    dry = runner.invoke(app, ["ingest", str(FIX / "asterisk_Master.csv"), "--format", "auto",
                              "--dry-run", "--json", "-w", path])
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.stdout)
    assert (doc["status"], doc["format"], doc["read"], doc["quarantined"]) == (
        "dry run", "asterisk", 5, 2)
    tables = json.loads(runner.invoke(app, ["tables", "--json", "-w", path]).stdout)
    assert tables["interactions"] == 0  # a dry run writes nothing
    real = runner.invoke(app, ["ingest", str(FIX / "asterisk_Master.csv"), "-f", "asterisk",
                               "-w", path])
    assert real.exit_code == 0
    assert "stored" in real.stdout and "negative duration" in real.stdout
    again = runner.invoke(app, ["ingest", str(FIX / "asterisk_Master.csv"), "-f", "asterisk",
                                "-w", path])
    assert "already ingested" in again.stdout


def test_cli_quality_json(make_workspace):
    ws = make_workspace()
    ingest(ws, FIX / "crm.csv", "mapped", mapping=FIX / "crm.yaml")
    path = str(ws.path)
    ws.close()
    result = runner.invoke(app, ["quality", "--json", "-w", path])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["totals"]["read"] == 4 and doc["totals"]["unaccounted"] == 0
    text = runner.invoke(app, ["quality", "-w", path])
    assert text.exit_code == 0 and "Quarantine" in text.stdout


def test_report_counts_per_source_and_table(make_workspace):
    ws = make_workspace()
    ingest(ws, FIX / "crm.csv", "mapped", mapping=FIX / "crm.yaml")
    ingest(ws, FIX / "zendesk_tickets.json", "zendesk")
    doc = report(ws)
    crm = next(i for i in doc["ingests"] if i["source"] == "crm")
    assert (crm["read"], crm["stored"], crm["quarantined"], crm["duplicates"]) == (4, 2, 1, 1)
    parties = next(t for t in doc["tables"] if t["table"] == "parties")
    assert parties["rows"] == 2 and parties["duplicate_keys"] == 0
    assert parties["null_rates"]["phone"] == 0.0 and parties["null_rates"]["account"] == 1.0
    assert parties["time_from"] == "2023-01-05T02:00:00"
    tickets = next(t for t in doc["tables"] if t["table"] == "interactions")
    assert tickets["source"] == "zendesk" and tickets["rows"] == 2
    assert {q["reason"] for q in doc["quarantine"]} == {"created_at: unparseable time"}
    assert doc["totals"]["stored_rows_by_table"]["messages"] == 3
    assert json.dumps(doc)  # JSON-ready for the web UI


def test_cli_error_is_one_line(make_workspace, tmp_path):
    ws = make_workspace()
    path = str(ws.path)
    ws.close()
    bad = tmp_path / "gbk.csv"
    bad.write_bytes("客户编号,姓名\nC1,张三\n".encode("gbk"))
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "cxlens.cli.main", "ingest", str(bad), "-f",
                           "mapped", "--mapping", str(FIX / "crm.yaml"), "-w", path],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "--encoding gb18030" in proc.stderr
