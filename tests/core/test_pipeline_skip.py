"""A stage whose inputs and upstream stages did not change is skipped on the next run."""

from __future__ import annotations

import pytest

from cxlens import pipeline


@pytest.mark.slow
def test_a_rerun_skips_until_an_input_changes(make_workspace):
    from cxlens import synth

    ws = make_workspace("duckdb", name="ws-skip")
    synth.generate(ws, synth.SynthConfig.checked(customers=60, days=7, seed=3), workers=1)
    stages = ["identity", "journeys"]
    first = pipeline.run(ws, stages)
    assert [r["status"] for r in first] == ["done", "done"]
    again = pipeline.run(ws, stages)
    assert [r["status"] for r in again] == ["up to date", "up to date"]
    # one more interaction is new input for identity, and so for journeys after it
    row = ws.warehouse.table("interactions").limit(1).to_pyarrow().to_pylist()[0]
    row.update(source="test", source_id="skip-check-1")
    ws.warehouse.append("interactions", [row])
    changed = pipeline.run(ws, stages)
    assert [r["status"] for r in changed] == ["done", "done"]
    forced = pipeline.run(ws, ["journeys"], force=True)
    assert [r["status"] for r in forced] == ["done"]
