"""Property tests: any record a format allows maps to one canonical row; any garbage maps to a
quarantine row (or a row), never to an exception — and nothing is ever lost."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cxlens.connectors import amazon_connect, asterisk, freeswitch
from cxlens.connectors.base import ReadOptions
from cxlens.connectors.jsonio import JsonRecord
from cxlens.connectors.mapped import Mapping, convert
from cxlens.connectors.records import batches_from_records

OPTIONS = ReadOptions(source="test")
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
FIX = Path(__file__).parent.parent / "fixtures" / "connectors"

phones = st.from_regex(r"1[3-9]\d{9}", fullmatch=True)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1))
durations = st.integers(min_value=0, max_value=86_000)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=5),
    max_leaves=20,
)


def _fmt(t: datetime | None) -> str:
    return "" if t is None else t.strftime("%Y-%m-%d %H:%M:%S")


@st.composite
def cdr_rows(draw):
    start = draw(times)
    duration = draw(durations)
    answered = draw(st.booleans())
    billsec = draw(st.integers(min_value=0, max_value=duration)) if answered else 0
    answer = start + timedelta(seconds=duration - billsec) if answered else None
    inbound = draw(st.booleans())
    phone = draw(phones)
    return [
        "", phone if inbound else "1001", "8001" if inbound else phone,
        "from-trunk" if inbound else "from-internal", f'"{draw(st.text(max_size=8))}" <{phone}>',
        "SIP/trunk-1", "SIP/1001-2", draw(st.sampled_from(["Queue", "Dial", "Playback"])),
        draw(st.text(max_size=10)), _fmt(start), _fmt(answer),
        _fmt(start + timedelta(seconds=duration)), str(duration), str(billsec),
        "ANSWERED" if answered else draw(st.sampled_from(["NO ANSWER", "BUSY", "FAILED"])),
        "DOCUMENTATION", draw(st.from_regex(r"\d{10}\.\d{1,5}", fullmatch=True)), "",
    ]


def _table(columns, rows) -> pa.Table:
    return pa.table({c: pa.array([r[i] for r in rows], pa.string())
                     for i, c in enumerate(columns)})


@FAST
@given(st.lists(cdr_rows(), min_size=1, max_size=20, unique_by=lambda r: r[16]))
def test_valid_asterisk_rows_all_map(rows):
    good, quarantine, dups = asterisk.convert(_table(asterisk.LAYOUTS[18], rows), OPTIONS)
    assert quarantine.num_rows == 0 and dups == 0
    assert good.num_rows == len(rows)
    assert good.column("started_at").null_count == 0


@FAST
@given(st.lists(st.lists(st.text(max_size=15), min_size=18, max_size=18), min_size=1,
                max_size=20))
def test_garbage_asterisk_rows_never_raise(rows):
    good, quarantine, dups = asterisk.convert(_table(asterisk.LAYOUTS[18], rows), OPTIONS)
    assert good.num_rows + quarantine.num_rows + dups == len(rows)


@FAST
@given(st.lists(st.lists(st.text(max_size=15), min_size=15, max_size=15), min_size=1,
                max_size=20))
def test_garbage_freeswitch_rows_never_raise(rows):
    good, quarantine, dups = freeswitch.convert(_table(freeswitch.COLUMNS, rows), OPTIONS)
    assert good.num_rows + quarantine.num_rows + dups == len(rows)


@st.composite
def ctrs(draw):
    start = draw(times)
    connected = draw(st.booleans())
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "ContactId": draw(st.uuids()).hex,
        "Channel": draw(st.sampled_from(["VOICE", "CHAT", "TASK"])),
        "InitiationMethod": draw(st.sampled_from(["INBOUND", "OUTBOUND", "TRANSFER", "API"])),
        "InitiationTimestamp": start.strftime(fmt),
        "DisconnectTimestamp": (start + timedelta(seconds=draw(durations))).strftime(fmt),
        "LastUpdateTimestamp": start.strftime(fmt),
        "CustomerEndpoint": {"Address": "+86" + draw(phones), "Type": "TELEPHONE_NUMBER"},
        "Queue": {"Name": draw(st.text(max_size=8)), "Duration": draw(durations),
                  "EnqueueTimestamp": start.strftime(fmt)},
        "Agent": {"Username": "a", "ConnectedToAgentTimestamp": start.strftime(fmt),
                  "AgentInteractionDuration": draw(durations)} if connected else None,
        "Attributes": draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8),
                                           max_size=3)),
    }


def _run(records) -> tuple[int, int, int, int]:
    items = [JsonRecord(f"x[{i}]", r, "", None, 0) for i, r in enumerate(records)]
    batches = list(batches_from_records(items, amazon_connect.to_rows, "interactions", OPTIONS))
    primary = [b for b in batches if b.primary]
    return (sum(b.read for b in primary), sum(b.rows.num_rows for b in primary),
            sum(b.quarantine.num_rows for b in primary), sum(b.duplicates for b in primary))


@FAST
@given(st.lists(ctrs(), min_size=1, max_size=15, unique_by=lambda r: r["ContactId"]))
def test_valid_ctrs_all_map(records):
    read, stored, quarantined, dups = _run(records)
    assert (read, stored, quarantined, dups) == (len(records), len(records), 0, 0)


@FAST
@given(st.lists(json_values, min_size=1, max_size=15))
def test_garbage_json_never_raises(records):
    read, stored, quarantined, dups = _run(records)
    assert read == len(records) == stored + quarantined + dups


MAPPING = Mapping.model_validate({
    "table": "surveys", "id": "id",
    "columns": {"csat": "csat", "nps": "nps", "responded_at": "at", "comment": "c",
                "phone": "p"},
})


_GARBAGE_ROW = {"id": "x", "csat": "1E100", "nps": "-1e19", "at": "", "c": None, "p": None}


@FAST
@example([_GARBAGE_ROW])  # found by hypothesis: a "whole" number outside int64 raised
@given(st.lists(st.fixed_dictionaries({k: st.text(max_size=12) | st.none()
                                       for k in ("id", "csat", "nps", "at", "c", "p")}),
                min_size=1, max_size=20))
def test_garbage_mapped_rows_never_raise(rows):
    raw = pa.table({k: pa.array([r[k] for r in rows], pa.string())
                    for k in ("id", "csat", "nps", "at", "c", "p")})
    locators = pa.array([str(i) for i in range(len(rows))], pa.string())
    batch = convert(raw, locators, MAPPING, OPTIONS)
    assert batch.rows.num_rows + batch.quarantine.num_rows + batch.duplicates == len(rows)


@FAST
@given(st.lists(st.tuples(st.from_regex(r"S\d{1,6}", fullmatch=True),
                          st.integers(1, 5), st.integers(0, 10), times), min_size=1,
                max_size=20, unique_by=lambda r: r[0]))
def test_valid_mapped_surveys_all_map(rows):
    raw = pa.table({
        "id": [r[0] for r in rows], "csat": [str(r[1]) for r in rows],
        "nps": [str(r[2]) for r in rows], "at": [_fmt(r[3]) for r in rows],
        "c": ["ok"] * len(rows), "p": ["13800138000"] * len(rows)})
    batch = convert(raw, pa.array([str(i) for i in range(len(rows))]), MAPPING, OPTIONS)
    assert batch.quarantine.num_rows == 0 and batch.rows.num_rows == len(rows)


@FAST
@given(st.lists(st.lists(st.text(alphabet=st.sampled_from(
    " \t\u3000\u00a0abAB01-_,|/\"<>:;@QueuefromtrunkinternalANSWEREDBUSYNO"), max_size=15),
    min_size=18, max_size=18), min_size=1, max_size=20) | st.lists(cdr_rows(), min_size=1,
                                                               max_size=20))
def test_asterisk_columns_built_clean_need_no_second_cleaning(rows):
    """convert() leaves the columns it builds clean out of clean_rows (asterisk._BUILT_CLEAN):
    cleaning them again changes nothing, garbage included (blanks, Unicode spaces)."""
    import pytest

    table = _table(asterisk.LAYOUTS[18], rows)
    fast = asterisk.convert(table, OPTIONS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asterisk, "_BUILT_CLEAN", frozenset())
        full = asterisk.convert(table, OPTIONS)
    assert fast[0].equals(full[0]) and fast[1].equals(full[1])
