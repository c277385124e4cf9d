"""Identifiers that name nobody normalise to nothing, under every id type (issue #4, bad input)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cxlens.clean.identifiers import extract, normalize_token, normalize_value

JUNK = ["", "000000", "unknown", "null", "+86", " +86 ", "+1", "+852", "#", "--", "00", "12"]
TYPES = ["phone", "email", "account", "device", "social", "wechat"]


@pytest.mark.parametrize("raw", JUNK)
def test_junk_normalises_to_nothing_under_every_type(raw):
    assert normalize_token(raw) is None
    assert [normalize_value(t, raw) for t in TYPES] == [None] * len(TYPES)


def test_real_short_and_long_identifiers_survive():
    assert normalize_value("account", " a1234 ") == "A1234"
    assert normalize_value("wechat", "wxid_0abc12") == "wxid_0abc12"
    assert normalize_value("device", "d00ab") == "d00ab"
    assert normalize_value("phone", "138-0013-8000") == "+8613800138000"
    assert normalize_value("account", "1234") == "1234"


def test_extract_drops_junk_rows_but_keeps_real_ones():
    data = pa.table({
        "source": ["crm"] * 4, "source_id": ["P1", "P2", "P3", "P4"],
        "account": ["+86", "unknown", "A77", "000000"],
        "wechat": ["+86", "null", "wxid_q1", ""],
    })
    out = extract("parties", data, "CN")
    assert sorted(zip(out.column("source_id").to_pylist(), out.column("id_value").to_pylist(),
                      strict=True)) == [("P3", "A77"), ("P3", "wxid_q1")]
