"""The CLI's contract: one line on error, non-zero exit, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "cxlens.cli.main"]


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CXLENS_")}
    full_env.update(env or {})
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=full_env,
                          input=input, timeout=300)


def one_line_error(result) -> str:
    assert result.returncode != 0, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_help_is_fast_and_lists_commands():
    start = time.perf_counter()
    result = run("--help")
    assert result.returncode == 0
    assert "synth" in result.stdout and "demo" in result.stdout
    assert time.perf_counter() - start < 20


def test_import_does_not_load_heavy_libraries():
    code = "import cxlens, sys; print(sorted(m for m in ('pyspark','sklearn','jieba','splink','ibis','pandas') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"


def test_init_then_tables_json(tmp_path: Path):
    ws = tmp_path / "ws"
    assert run("init", "--workspace", str(ws)).returncode == 0
    result = run("tables", "--workspace", str(ws), "--json")
    counts = json.loads(result.stdout)
    assert counts["interactions"] == 0 and counts["quarantine"] == 0


def test_missing_workspace(tmp_path: Path):
    line = one_line_error(run("tables", "--workspace", str(tmp_path / "nope")))
    assert "does not exist" in line and "cxlens init" in line


def test_foreign_workspace_is_refused_and_untouched(tmp_path: Path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    assert "not a cxlens workspace" in one_line_error(run("tables", "-w", str(foreign)))
    assert "not empty" in one_line_error(run("init", "-w", str(foreign)))
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]


def test_unknown_settings_key(tmp_path: Path):
    ws = tmp_path / "ws"
    run("init", "-w", str(ws))
    settings = ws / "cxlens.toml"
    settings.write_text(settings.read_text() + "\n[extra]\nfoo = 1\n")
    assert "unknown settings key 'extra'" in one_line_error(run("tables", "-w", str(ws)))


def test_unknown_backend_url(tmp_path: Path):
    line = one_line_error(run("init", "-w", str(tmp_path / "ws"), "--backend", "oracle://db"))
    assert "unknown backend 'oracle'" in line
    assert not (tmp_path / "ws" / "cxlens.toml").exists()


def test_corrupt_warehouse_file(tmp_path: Path):
    ws = tmp_path / "ws"
    run("init", "-w", str(ws))
    (ws / "warehouse.duckdb").write_bytes(b"this is not a database" * 100)
    line = one_line_error(run("tables", "-w", str(ws)))
    assert "warehouse" in line


def test_locked_warehouse(tmp_path: Path):
    ws = tmp_path / "ws"
    run("init", "-w", str(ws))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(ws / 'warehouse.duckdb')!r})
        print('locked', flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_line_error(run("tables", "-w", str(ws)))
        assert "locked by another process" in line
    finally:
        holder.kill()


@pytest.mark.parametrize("args,needle", [
    (["--customers", "-5"], "customers"),
    (["--days", "0"], "days"),
    (["--start", "2026-13-45"], "start"),
])
def test_synth_rejects_bad_sizes(tmp_path: Path, args, needle):
    ws = tmp_path / "ws"
    line = one_line_error(run("synth", "-w", str(ws), *args))
    assert needle in line
    assert not (ws / "truth").exists()


def test_unknown_stage(tmp_path: Path):
    ws = tmp_path / "ws"
    run("init", "-w", str(ws))
    assert "unknown stage nope" in one_line_error(run("run", "nope", "-w", str(ws)))
