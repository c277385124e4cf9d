"""`cxlens user ...`, `cxlens report` bad input, `cxlens serve` wiring — through the real CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cxlens.cli.main import app
from cxlens.errors import InputError, NotFoundError

runner = CliRunner()


def test_user_commands(make_workspace):
    ws = make_workspace("duckdb")
    path = str(ws.path)
    ws.close()
    r = runner.invoke(
        app,
        ["user", "add", "li.na", "--role", "analyst", "--password-stdin", "--workspace", path],
        input="a long password\n",
    )
    assert r.exit_code == 0, r.output
    assert "li.na (analyst) created" in r.output and "cxk_" not in r.output
    r = runner.invoke(
        app, ["user", "add", "router", "--role", "service", "--workspace", path, "--json"]
    )
    assert r.exit_code == 0, r.output
    key = json.loads(r.output)["api_key"]
    assert key.startswith("cxk_")
    r = runner.invoke(app, ["user", "list", "--workspace", path, "--json"])
    listed = {u["username"]: u for u in json.loads(r.output)}
    assert listed["li.na"]["has_password"] and not listed["li.na"]["has_api_key"]
    assert listed["router"]["role"] == "service" and key not in r.output
    r = runner.invoke(app, ["user", "key", "li.na", "--workspace", path, "--json"])
    assert json.loads(r.output)["api_key"].startswith("cxk_")
    r = runner.invoke(app, ["user", "disable", "router", "--workspace", path])
    assert r.exit_code == 0 and "disabled" in r.output


@pytest.mark.parametrize(
    ("args", "stdin", "error", "text"),
    [
        (
            ["user", "add", "x", "--role", "boss", "--password-stdin"],
            "long enough pw\n",
            InputError,
            "unknown role",
        ),
        (
            ["user", "add", "x", "--role", "admin", "--password-stdin"],
            "short\n",
            InputError,
            "too short",
        ),
        (
            ["user", "add", "x", "--role", "admin", "--password-stdin"],
            "",
            InputError,
            "no password on stdin",
        ),
        (["user", "key", "ghost"], "", NotFoundError, "no user"),
        (["report", "--period", "2026-13"], "", InputError, "YYYY-MM"),
        (["report", "--period", "2026-10", "--out", "r.pdf"], "", InputError, "HTML"),
        (["report", "--period", "2026-10"], "", InputError, "no contacts"),
        (["report", "--period", "2026-10", "--lang", "fr"], "", InputError, "unknown language"),
    ],
)
def test_bad_input_is_a_cxlens_error(make_workspace, args, stdin, error, text, tmp_path):
    ws = make_workspace("duckdb")
    path = str(ws.path)
    ws.close()
    extra = [] if "--out" in args or args[0] != "report" else ["--out", str(tmp_path / "r.html")]
    r = runner.invoke(app, [*args, *extra, "--workspace", path], input=stdin)
    assert r.exit_code != 0
    assert isinstance(r.exception, error), r.output
    assert text in str(r.exception)


def test_serve_refuses_a_missing_workspace(tmp_path):
    from cxlens.errors import WorkspaceError

    r = runner.invoke(app, ["serve", "--workspace", str(tmp_path / "nope")])
    assert isinstance(r.exception, WorkspaceError) and "does not exist" in str(r.exception)
