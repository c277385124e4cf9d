"""The synth writes every canonical table as store_records does, with truth beside it."""

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
    truth_before = {p.name: p.read_bytes() for p in ws.truth_dir.glob("*.parquet")}
    synth.generate(ws, config, workers=1)
    assert ws.warehouse.counts() == before
    truth_after = {p.name: p.read_bytes() for p in ws.truth_dir.glob("*.parquet")}
    assert truth_after == truth_before  # byte-identical ground truth


@pytest.mark.parametrize("write_rows,group_rows", [(None, None), (50, 10**9)])
def test_generate_stores_what_store_records_stores(tmp_path, monkeypatch, write_rows,
                                                   group_rows):
    """Preparing the identifiers in the worker processes, writing rows as they come (many
    writes per table with the small threshold) and skipping the upsert DELETEs on a fresh
    workspace change nothing: every table, in stored order, is what store_records makes of
    the concatenated batches."""
    import pyarrow as pa

    from cxlens.synth import build

    if write_rows is not None:  # else the defaults
        monkeypatch.setattr(build, "WRITE_ROWS", write_rows)
        monkeypatch.setattr(build, "STORE_GROUP_ROWS", group_rows)

    import cxlens
    from cxlens.config import load_settings
    from cxlens.load import store_records

    config = synth.SynthConfig.checked(**SMALL)
    ours = cxlens.init(tmp_path / "ours", load_settings(None, environ={}))
    ref = cxlens.init(tmp_path / "ref", load_settings(None, environ={}))
    try:
        synth.generate(ours, config, workers=2)
        batches: dict[str, list[pa.Table]] = {}
        for name, table in synth.iter_batches(config):
            if not name.startswith("truth:"):
                batches.setdefault(name, []).append(table)
        assert len(batches["interactions"]) == config.chunks > 1
        for name, tables in batches.items():
            store_records(ref, name, pa.concat_tables(tables), ingest_id=f"synth-{config.seed}")
        for table in (*batches, "identifiers"):
            query = f'SELECT * FROM "{table}"'
            got = ours.warehouse.store.raw.execute(query).to_arrow_table()
            want = ref.warehouse.store.raw.execute(query).to_arrow_table()
            assert got.num_rows > 0, table
            assert got.equals(want), table
    finally:
        ours.close()
        ref.close()


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


def test_emit_files_without_emitters_is_a_clear_error(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "cxlens.synth.formats", None)
    with pytest.raises(InputError, match="emitters not available"):
        synth.emit_files(tmp_path, synth.SynthConfig.checked(customers=5, days=2))


def test_cli_rejects_negative_sizes_in_one_line(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "cxlens.cli.main", "synth", "--customers", "-3",
         "--workspace", str(tmp_path / "w")], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: customers must be positive, got -3 (pass --customers 1 or more)"]
    assert not (tmp_path / "w").exists()  # nothing half-written
