"""Shared fixtures: one suite, several engines (DuckDB always; PySpark local[2])."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
FIXTURES = Path(__file__).parent / "fixtures"

ENGINES = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("pyspark", id="pyspark", marks=[pytest.mark.spark, pytest.mark.xdist_group("spark")]),
]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_workspace(tmp_path: Path):
    """Factory: a fresh workspace on the given engine."""
    import cxlens
    from cxlens.config import load_settings

    opened = []

    def _make(engine: str = "duckdb", name: str = "ws", **locale: str):
        settings = load_settings(None, environ={})
        if engine == "pyspark":
            settings.warehouse.backend = "pyspark://local[2]"
        for key, value in locale.items():
            setattr(settings.locale, key, value)
        ws = cxlens.init(tmp_path / name, settings)
        opened.append(ws)
        return ws

    yield _make
    for ws in opened:
        ws.close()


@pytest.fixture
def workspace(make_workspace, engine):
    return make_workspace(engine)
