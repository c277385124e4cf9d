"""Stages that share no table run side by side (``Stage.beside``): same tables, same run records."""

from __future__ import annotations

import pytest

from cxlens import pipeline
from cxlens.warehouse import DuckDBStore

# when a row was written, and an arbitrary dense numbering: not what the tables say
UNCOMPARED = {"updated_at", "built_at", "customer_no"}


def _tables(ws, names):
    raw = ws.warehouse.store.raw
    out = {}
    for name in names:
        cols = [c for c in ws.warehouse.table(name).columns if c not in UNCOMPARED]
        select = ", ".join(f'"{c}"' for c in cols)
        rows = raw.execute(f'SELECT {select} FROM "{name}" ORDER BY ALL').fetchall()
        # DuckDB sums doubles in parallel, in no fixed order: 770.6 vs 770.5999999999999
        out[name] = sorted((tuple(round(v, 6) if isinstance(v, float) else v for v in row)
                            for row in rows), key=repr)
    return out


def test_a_beside_stage_names_the_stage_just_before_it():
    for before, stage in zip(pipeline.STAGES, pipeline.STAGES[1:], strict=False):
        assert stage.beside in (None, before.name)
    assert pipeline.STAGES[0].beside is None


@pytest.mark.slow
def test_profile_beside_kpis_gives_the_serial_result(make_workspace, monkeypatch):
    from cxlens import synth
    from cxlens.metrics.rollup import TABLES

    config = synth.SynthConfig.checked(customers=200, days=21, seed=5, chunk_customers=100)
    runs = {}
    for concurrent in (False, True):
        monkeypatch.setattr(DuckDBStore, "concurrent_connections", concurrent)
        ws = make_workspace("duckdb", name=f"ws-{concurrent}")
        synth.generate(ws, config, workers=1)
        said: list[str] = []
        results = pipeline.run(ws, ["identity", "journeys", "profile", "kpis"],
                               progress=lambda name, _, said=said: said.append(name))
        assert said == ["identity", "journeys", "profile", "kpis"]
        assert [r["status"] for r in results] == ["done"] * 4
        assert [r["stage"] for r in results] == said
        records = ws.warehouse.store.raw.execute(
            "SELECT stage, fingerprint FROM stage_runs ORDER BY stage").fetchall()
        runs[concurrent] = (records, _tables(ws, ["customer_360", "customer_timeline", *TABLES]))
        ws.close()
    assert runs[True][0] == runs[False][0]  # the same fingerprints: a later run skips the same
    assert runs[True][1] == runs[False][1]
