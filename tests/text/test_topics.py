"""Topics: top terms per reason and week; a new complaint wave is flagged as emerging."""

from __future__ import annotations

from datetime import datetime, timedelta

from cxlens.text.topics import ALL, build, week_of


def test_week_of() -> None:
    assert week_of(datetime(2026, 8, 13, 23)) == "2026-08-10"
    assert week_of(None) == "unknown"


def test_emerging_wave() -> None:
    start = datetime(2026, 8, 3)
    docs = []
    for week in range(5):
        for k in range(40):
            terms = ["快递", "没收到"] if k % 2 else ["退款", "到账"]
            if week == 4 and k < 15:
                terms = [*terms, "耳机", "破损"]  # the wave: one product, one fault
            docs.append((start + timedelta(days=7 * week, hours=k), "complaint", terms))
    rows = build(docs)
    last = [r for r in rows if r["period"] == "2026-08-31" and r["reason"] == "complaint"]
    emerging = {r["term"] for r in last if r["emerging"]}
    assert emerging == {"耳机", "破损"}
    wave = next(r for r in last if r["term"] == "耳机")
    assert wave["count"] == 15 and wave["docs"] == 40 and wave["lift"] > 3
    steady = next(r for r in last if r["term"] == "快递")
    assert not steady["emerging"] and 0.8 < steady["lift"] < 1.3
    assert any(r["reason"] == ALL for r in rows)
    first = [r for r in rows if r["period"] == "2026-08-03"]
    assert all(r["baseline_share"] is None and not r["emerging"] for r in first)
