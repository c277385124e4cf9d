"""The synth lands identically on DuckDB and on PySpark (same counts, same aggregates)."""

from __future__ import annotations

import pytest

from cxlens import synth

TINY = dict(customers=60, days=7, seed=2, chunk_customers=30)


@pytest.mark.slow
@pytest.mark.spark
def test_duckdb_and_pyspark_hold_the_same_synth(make_workspace):
    config = synth.SynthConfig.checked(**TINY)
    results = {}
    for engine in ("duckdb", "pyspark"):
        ws = make_workspace(engine, name=engine)
        synth.generate(ws, config, workers=1)
        wh = ws.warehouse
        inter = wh.table("interactions")
        results[engine] = {
            "counts": {t: n for t, n in wh.counts().items() if t in synth_tables()},
            "wait": round(float(inter.wait_s.sum().execute()), 3),
            "abandoned": int(inter.abandoned.sum().execute()),
            "phones": int(wh.table("identifiers").filter(
                lambda t: t.id_type == "phone").id_value.nunique().execute()),
        }
    assert results["duckdb"] == results["pyspark"]
    assert results["duckdb"]["counts"]["interactions"] > 0


def synth_tables() -> set[str]:
    return {"parties", "orders", "web_events", "interactions", "messages", "surveys",
            "outreach", "cases", "agents", "identifiers"}
