"""The pipelined ingest (read-ahead thread, background writer) keeps every guarantee: order,
last-wins across write buffers, errors raised to the caller, all-or-nothing on failure."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from cxlens.connectors import REGISTRY
from cxlens.connectors.base import Batch, ReadOptions, quarantine_rows
from cxlens.connectors.readahead import ordered_map, read_ahead
from cxlens.errors import InputError
from cxlens.ingest import ingest


def test_read_ahead_keeps_order_and_everything() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_read_ahead_raises_the_readers_error_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InputError("broken.csv is not UTF-8 text")

    seen: list[int] = []
    with pytest.raises(InputError, match="not UTF-8"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == [1, 2]


def test_read_ahead_stops_and_closes_the_reader_when_the_consumer_stops() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    stream = read_ahead(endless(), depth=2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()  # what a `for` loop left by an exception does
    assert closed.wait(5)
    assert not any(t.name == "cxlens-read-ahead" for t in threading.enumerate())


def test_ordered_map_keeps_input_order_when_later_items_finish_first() -> None:
    import time

    def slow_first(x: int) -> int:
        time.sleep(0.02 if x % 3 == 0 else 0.0)  # item 0, 3, 6… finish after their successors
        return x * 10

    assert list(ordered_map(slow_first, iter(range(30)), workers=3)) == [x * 10 for x in range(30)]
    assert list(ordered_map(slow_first, iter(range(5)), workers=1)) == [0, 10, 20, 30, 40]


def test_ordered_map_raises_in_order_and_takes_at_most_workers_ahead() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for x in range(100):
            taken.append(x)
            yield x

    def fn(x: int) -> int:
        if x == 4:
            raise InputError("bad chunk 4")
        return x

    seen: list[int] = []
    with pytest.raises(InputError, match="bad chunk 4"):
        for item in ordered_map(fn, items(), workers=2):
            seen.append(item)
            assert len(taken) <= item + 3  # bounded: never more than 2 items beyond this one
    assert seen == [0, 1, 2, 3]
    assert len(taken) <= 6
    assert not any(t.name.startswith("cxlens-convert") for t in threading.enumerate())


def test_ordered_map_stopped_early_leaves_no_thread() -> None:
    stream = ordered_map(lambda x: x, iter(range(1000)), workers=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert not any(t.name.startswith("cxlens-convert") for t in threading.enumerate())


# -- the runner: many batches, several write buffers --------------------------------------------
def _calls(ids: list[str], talk: float) -> pa.Table:
    n = len(ids)
    return pa.table({
        "source": pa.array(["pbx"] * n), "source_id": pa.array(ids),
        "channel": pa.array(["phone"] * n), "direction": pa.array(["inbound"] * n),
        "talk_s": pa.array([talk] * n), "phone": pa.array(["+8613800138000"] * n),
    })


class _FakeConnector:
    """Yields interactions in many small batches; key ``k3`` repeats in a later batch."""

    name = "fake-many"
    description = "test"
    tables = ("interactions",)

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at

    def sniff(self, path: Path, head: bytes) -> bool:
        return False

    def read(self, path: Path, options: ReadOptions) -> Iterator[Batch]:
        for i in range(12):
            if i == self.fail_at:
                raise InputError(f"{path.name}: broken at batch {i}")
            ids = [f"k{i * 2}", f"k{i * 2 + 1}"] if i != 7 else ["k3", "k15"]  # k3 again
            bad = quarantine_rows(options.source, "interactions", [(f"x:{i}", "bad row", "raw")])
            yield Batch("interactions", _calls(ids, float(i)), bad, read=3)


def _interactions(ws) -> dict[str, float]:
    rows = ws.warehouse.table("interactions").to_pyarrow().to_pylist()
    return {r["source_id"]: r["talk_s"] for r in rows}


@pytest.mark.parametrize("write_rows", [1, 3, 1000])
def test_pipelined_writes_match_one_write(make_workspace, monkeypatch, tmp_path, write_rows):
    monkeypatch.setitem(REGISTRY, "fake-many", _FakeConnector())
    path = tmp_path / "calls.txt"
    path.write_text("x", encoding="utf-8")
    ws = make_workspace()
    result = ingest(ws, path, "fake-many", source="pbx", write_rows=write_rows)
    stored = _interactions(ws)
    # k3 of batch 7 replaced k3 of batch 1 (last wins), wherever the buffers were cut
    assert stored["k3"] == 7.0 and len(stored) == 23
    assert (result.read, result.stored, result.quarantined, result.duplicates) == (36, 23, 12, 1)
    ids = ws.warehouse.table("identifiers").to_pyarrow()
    assert sorted(ids.column("source_id").to_pylist()) == sorted(stored)


def test_pipelined_ingest_failing_midway_leaves_nothing(make_workspace, monkeypatch, tmp_path):
    monkeypatch.setitem(REGISTRY, "fake-many", _FakeConnector(fail_at=9))
    path = tmp_path / "calls.txt"
    path.write_text("x", encoding="utf-8")
    ws = make_workspace()
    before = ws.warehouse.counts()
    threads_before = set(threading.enumerate())
    with pytest.raises(InputError, match="broken at batch 9"):
        ingest(ws, path, "fake-many", source="pbx", write_rows=2)  # several writes done
    after = ws.warehouse.counts()
    assert after.pop("ingest_log") == before.pop("ingest_log") + 1  # the failure is logged
    assert after == before
    # this ingest's reader and writer threads are gone (other tests' threads are not ours)
    assert not [t for t in set(threading.enumerate()) - threads_before
                if t.name.startswith("cxlens-")]


def test_a_failing_write_is_raised_and_rolled_back(make_workspace, monkeypatch, tmp_path):
    import cxlens.load

    real = cxlens.load.write_records
    calls = {"n": 0}

    def flaky(ws, prepared, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 3:
            raise InputError("disk full")
        return real(ws, prepared, **kwargs)

    monkeypatch.setattr(cxlens.load, "write_records", flaky)
    monkeypatch.setitem(REGISTRY, "fake-many", _FakeConnector())
    path = tmp_path / "calls.txt"
    path.write_text("x", encoding="utf-8")
    ws = make_workspace()
    with pytest.raises(InputError, match="disk full"):
        ingest(ws, path, "fake-many", source="pbx", write_rows=2)
    assert ws.warehouse.counts()["interactions"] == 0
    assert ws.warehouse.counts()["quarantine"] == 0
