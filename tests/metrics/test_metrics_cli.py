"""`cxlens kpi`, `cxlens kpis` in-process (Typer runner) on the hand-made fixture."""

from __future__ import annotations

import json

import metrics_fixture
import pytest
from typer.testing import CliRunner

from cxlens.cli.main import app
from cxlens.errors import InputError, NotFoundError

runner = CliRunner()


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory):
    import cxlens
    from cxlens.config import load_settings

    ws = cxlens.init(tmp_path_factory.mktemp("cli") / "ws", load_settings(None, environ={}))
    metrics_fixture.load(ws, surveys=False)
    ws.close()
    return str(ws.path)


def test_kpi_json_with_slice_filter_and_previous(ws_path):
    result = runner.invoke(app, ["kpi", "offered", "--by", "channel", "--from", "2026-10-05",
                                 "--to", "2026-10-11", "--filter", "language=zh,en",
                                 "--workspace", ws_path, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    rows = {r["channel"]: r for r in doc["rows"]}
    assert rows["phone"]["value"] == 11 and rows["chat"]["value"] == 2
    assert rows["phone"]["previous"] == 1            # p19 in the week before
    assert doc["kpi"]["label_zh"] == "呼入量" and doc["status"] == "ok"


def test_kpi_table_and_no_data(ws_path):
    result = runner.invoke(app, ["kpi", "aht", "--grain", "day", "--from", "2026-10-05",
                                 "--to", "2026-10-05", "--workspace", ws_path])
    assert result.exit_code == 0 and "Average handle time" in result.output
    assert "2026-10-05" in result.output
    result = runner.invoke(app, ["kpi", "csat", "--workspace", ws_path, "--json"])
    doc = json.loads(result.output)
    assert doc["status"] == "no data" and doc["rows"][0]["value"] is None


def test_kpis_lists_definitions():
    result = runner.invoke(app, ["kpis", "--json"])
    doc = json.loads(result.output)
    assert len(doc["kpis"]) == 19 and "team" in doc["dimensions"]
    assert all(k["definition"] for k in doc["kpis"])
    assert "fcr_true" in runner.invoke(app, ["kpis"]).output


@pytest.mark.parametrize("args, error", [
    (["kpi", "speed"], NotFoundError),
    (["kpi", "aht", "--by", "colour"], NotFoundError),
    (["kpi", "aht", "--filter", "channel"], InputError),
    (["kpi", "aht", "--from", "yesterday"], InputError),
])
def test_bad_arguments_are_cxlens_errors(ws_path, args, error):
    result = runner.invoke(app, [*args, "--workspace", ws_path])
    assert result.exit_code != 0 and isinstance(result.exception, error)
