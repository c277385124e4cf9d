"""The synth writes every canonical table through store_records, with truth beside it."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from cxlens import synth
from cxlens.errors import InputError
from cxlens.schema import PERSONAL_TABLES

SMALL = dict(customers=300, days=21, seed=3, chunk_customers=150)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import cxlens
    from cxlens.config import load_settings

    ws = cxlens.init(tmp_path_factory.mktemp("synth") / "ws", load_settings(None, environ={}))
    config = synth.SynthConfig.checked(**SMALL)
    summary = synth.generate(ws, config)
    yield ws, config, summary
    ws.close()


def test_generate_fills_every_table_and_truth(built):
    ws, _, summary = built
    counts = ws.warehouse.counts()
    for table in ("parties", "orders", "web_events", "interactions", "messages", "surveys",
                  "outreach", "cases", "agents", "identifiers"):
        assert counts[table] > 0, table
    assert counts["interactions"] == summary["rows"]["interactions"]
    for name in ("persons", "records", "problems", "interactions", "messages", "agents"):
        assert (ws.truth_dir / f"{name}.parquet").exists(), name


def test_rerun_is_idempotent(built):
    ws, config, _ = built
    before = ws.warehouse.counts()
    synth.generate(ws, config)
    assert ws.warehouse.counts() == before


def test_truth_covers_every_personal_record(built):
    ws, _, _ = built
    truth = pq.read_table(ws.truth_dir / "records.parquet").to_pandas()
    keys = set(zip(truth.record_table, truth.source, truth.source_id, strict=True))
    assert len(keys) == len(truth)  # one true person per record
    for table in PERSONAL_TABLES:
        rows = ws.warehouse.table(table).select("source", "source_id").to_pandas()
        missing = [k for k in zip(rows.source, rows.source_id, strict=True)
                   if (table, *k) not in keys]
        assert not missing, (table, missing[:3])


@pytest.mark.parametrize("bad", [dict(customers=0), dict(customers=-5), dict(days=0),
                                 dict(start="2026-13-01"), dict(seed=-1), dict(customers="10"),
                                 dict(colour="red")])
def test_bad_config_raises_input_error(bad):
    with pytest.raises(InputError):
        synth.SynthConfig.checked(**{**SMALL, **bad})
