"""Cleaning: timestamps to UTC, names, numbers, vocabularies, phones/e-mails, keep-last."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cxlens.clean import records as R
from cxlens.clean import values as V
from cxlens.clean import vocab
from cxlens.clean.dedupe import keep_last


def test_local_time_to_utc_with_zone_and_offsets():
    text = pa.array(["2024-03-01 09:00:00", "2024-03-01T09:00:00+00:00", "2024-03-01T01:00:00Z",
                     "1709254800", "1709254800000", None, "", "bad", "1890-01-01"])
    ts, bad = V.to_utc(text, "Asia/Shanghai")
    assert [str(t) if t else None for t in ts.to_pylist()] == [
        "2024-03-01 01:00:00", "2024-03-01 09:00:00", "2024-03-01 01:00:00",
        "2024-03-01 01:00:00", "2024-03-01 01:00:00", None, None, None, None]
    assert bad.to_pylist() == [False] * 7 + [True, True]


def test_zone_is_honoured_including_dst():
    ts, _ = V.to_utc(pa.array(["2024-07-01 12:00:00", "2024-01-01 12:00:00"]),
                     "America/New_York")
    assert [t.hour for t in ts.to_pylist()] == [16, 17]


def test_dates_before_1990_allowed_for_birth_dates():
    ts, bad = V.to_utc(pa.array(["1950-06-01"]), "UTC", earliest=V.MIN_DATE)
    assert ts.to_pylist() == [datetime(1950, 6, 1)] and not bad[0].as_py()


def test_names_fold_width_and_space_but_keep_script():
    names = V.clean_names(pa.array(["  張　三 ", "ＡＢＣ  Def", "张三", "", None]))
    assert names.to_pylist() == ["張 三", "ABC Def", "张三", None, None]


def test_numbers_flag_garbage():
    values, bad = V.to_float(pa.array(["1", " 2.5 ", "x", "", None, "-3", "1e3"]))
    assert values.to_pylist() == [1.0, 2.5, None, None, None, -3.0, 1000.0]
    assert bad.to_pylist() == [False, False, True, False, False, False, False]
    ints, bad = V.to_int(pa.array(["4", "4.5"]))
    assert ints.to_pylist() == [4, None] and bad.to_pylist() == [False, True]


def test_vocabularies_map_to_canonical():
    assert V.map_vocabulary(pa.array(["Voice", "WEB_WIDGET", "微信", "电话", None]),
                            vocab.CHANNEL_MAP).to_pylist() == ["phone", "chat", "social",
                                                               "phone", None]
    assert V.map_vocabulary(pa.array(["呼入", "OUTGOING", "Inbound"]),
                            vocab.DIRECTION_MAP).to_pylist() == ["inbound", "outbound", "inbound"]
    assert V.map_vocabulary(pa.array(["NORMAL_CLEARING", "17", "user_busy", "NO_ANSWER"]),
                            vocab.Q850).to_pylist() == ["abandoned", "busy", "busy", "no_answer"]


def test_clean_rows_normalises_identifiers_once_per_value():
    rows = pa.table({"source": ["s"] * 4, "source_id": ["1", "2", "3", "4"],
                     "phone": ["138-0013-8000", "+86 138 0013 8000", "not a phone", ""],
                     "email": [" A.B@Example.COM ", "x", None, "a@b.co"],
                     "channel": ["Chat", "voice", "sms", "call"]})
    out = R.clean_rows("interactions", rows, "CN")
    assert out.column("phone").to_pylist() == ["+8613800138000", "+8613800138000",
                                               "not a phone", None]
    assert out.column("email").to_pylist() == ["a.b@example.com", "x", None, "a@b.co"]
    assert out.column("channel").to_pylist() == ["chat", "phone", "sms", "phone"]


def test_validate_flags_impossible_survey_and_call_values():
    surveys = pa.table({"source_id": ["a", "b", "c", "d"], "csat": [5, 0, 6, None],
                        "nps": [10, 9, 3, 11]})
    checks = R.validate("surveys", surveys)
    assert checks.reason.to_pylist() == [None, "csat outside 1-5", "csat outside 1-5",
                                         "nps outside 0-10"]
    calls = pa.table({"source_id": ["a", "b"], "talk_s": [90_000.0, -1.0]})
    assert R.validate("interactions", calls).reason.to_pylist() == [
        "talk longer than 24 h", "negative talk_s"]


def test_keep_last_keeps_the_last_occurrence():
    rows = pa.table({"source_id": ["a", "b", "a", "c", "b"], "v": [1, 2, 3, 4, 5]})
    kept, dups = keep_last(rows)
    assert dups == 2
    assert dict(zip(kept.column("source_id").to_pylist(), kept.column("v").to_pylist(),
                    strict=True)) == {"a": 3, "b": 5, "c": 4}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(max_size=30) | st.none(), max_size=30))
def test_to_utc_never_raises(texts):
    ts, bad = V.to_utc(pa.array(texts, pa.string()), "Asia/Shanghai")
    assert len(ts) == len(bad) == len(texts)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.from_regex(r"(\+86|0086|86)?[ -]?1[0-9]{2}[ -]?\d{4}[ -]?\d{3,5}", fullmatch=True)
                | st.text(alphabet="0123456789+- ()", max_size=16), min_size=1, max_size=20))
def test_phone_fast_path_agrees_with_phonenumbers(values):
    from cxlens.clean import identifiers

    fast = identifiers.phone_fast_path(pa.array(values, pa.string()), "CN").to_pylist()
    for value, quick in zip(values, fast, strict=True):
        if quick is not None:
            assert quick == identifiers.normalize_phone(value, "CN")


def test_phone_fast_path_mixed_forms_each_found():
    """Each certain form is found whichever others the column holds (the search stops once
    every value has one)."""
    from cxlens.clean import identifiers

    values = ["+8613800138000", "13800138001", "008613800138002", "138-0013-8003", "x", None]
    assert identifiers.phone_fast_path(pa.array(values), "CN").to_pylist() == [
        "+8613800138000", "+8613800138001", "+8613800138002", "+8613800138003", None, None]
    assert identifiers.phone_fast_path(pa.array(values), "US").to_pylist() == [
        "+8613800138000", None, "+8613800138002", None, None, None]
    assert identifiers.phone_fast_path(pa.array(["008613800138002"]), "CN").to_pylist() == [
        "+8613800138002"]
