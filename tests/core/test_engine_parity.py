"""The same synth data written through `Warehouse` reads back identically on DuckDB and PySpark."""

from __future__ import annotations

import math

import pytest

from cxlens import synth

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]

CHECKED = ("parties", "identifiers", "interactions", "messages", "orders", "web_events",
           "surveys", "outreach", "agents", "cases")


def _profile(ws, name: str) -> dict[str, object]:
    table = ws.warehouse.table(name)
    metrics = {"rows": table.count(), "keys": table.source_id.nunique()}
    for column, dtype in table.schema().items():
        if dtype.is_numeric() and not dtype.is_boolean():
            metrics[f"sum_{column}"] = table[column].sum()
        elif dtype.is_timestamp():
            metrics[f"min_{column}"] = table[column].min()
            metrics[f"max_{column}"] = table[column].max()
        elif dtype.is_boolean():
            metrics[f"true_{column}"] = table[column].cast("int64").sum()
        elif column in {"channel", "queue", "id_type", "speaker", "language", "tier"}:
            metrics[f"distinct_{column}"] = table[column].nunique()
    row = table.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    return {k: (round(v, 6) if isinstance(v, float) and not math.isnan(v) else v)
            for k, v in row.items()}


def test_synth_reads_back_identically(make_workspace):
    config = synth.SynthConfig.checked(customers=120, days=10, seed=11)
    duck = make_workspace("duckdb", name="duck")
    spark = make_workspace("pyspark", name="spark")
    synth.generate(duck, config, workers=1)
    synth.generate(spark, config, workers=1)
    assert duck.warehouse.counts() == spark.warehouse.counts()
    for name in CHECKED:
        assert _profile(duck, name) == _profile(spark, name), name
    # and a cross-table Ibis expression evaluates the same way on both engines
    def calls_per_channel(ws):
        inter = ws.warehouse.table("interactions")
        expr = inter.group_by("channel").aggregate(n=inter.count(), talk=inter.talk_s.sum())
        return sorted(expr.to_pyarrow().to_pylist(), key=lambda r: r["channel"] or "")
    assert calls_per_channel(duck) == calls_per_channel(spark)
