"""Contact outcomes drawn per chunk (synth/outcomes.py) keep the documented rules."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from cxlens import synth


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict]]:
    config = synth.SynthConfig.checked(customers=1_000, days=30, seed=5)
    parts: dict[str, list[pa.Table]] = {}
    for name, table in synth.iter_batches(config):
        parts.setdefault(name, []).append(table)
    wanted = ("interactions", "surveys", "truth:interactions")
    return {name: pa.concat_tables(parts[name]).to_pylist() for name in wanted}


def test_qa_slips_follow_the_sentiment_rules(tables):
    handled = [r for r in tables["truth:interactions"] if r["csat_true"] is not None]
    assert len(handled) > 1_000
    slipped = {rule: [r for r in handled if rule in json.loads(r["qa_violations"])]
               for rule in ("empathy", "forbidden_phrase", "greeting")}
    assert all(slipped.values())  # every kind of slip occurs
    # empathy is owed only to a customer who starts negative; a forbidden phrase spoils the end
    assert all(r["sentiment_start"] < 0 for r in slipped["empathy"])
    assert all(r["sentiment_end"] <= 0 for r in slipped["forbidden_phrase"])
    # legs nobody answered (IVR, abandoned) have no CSAT, no slips and an unchanged mood
    legs = [r for r in tables["truth:interactions"] if r["csat_true"] is None]
    assert legs and all(r["qa_violations"] == "[]" and r["sentiment_start"] == r["sentiment_end"]
                        for r in legs)
    assert all(1 <= r["csat_true"] <= 5 for r in handled)


def test_wrap_up_codes_and_surveys_at_their_documented_rates(tables):
    handled = [r for r in tables["interactions"]
               if not r["abandoned"] and r["channel"] != "ivr"]
    coded = sum(r["reason"] is not None for r in handled) / len(handled)
    assert 0.89 < coded < 0.95  # 0.7 + 0.3 × 0.73 ≈ 0.92
    asked_from = [r for r in handled if r["channel"] != "social"]
    asked = len(tables["surveys"]) / len(asked_from)
    assert 0.66 < asked < 0.74  # 70 % of handled non-social contacts
    refs = {r["interaction_id"] for r in handled}
    assert all(s["interaction_ref"] in refs for s in tables["surveys"])
    answered = [s for s in tables["surveys"] if s["csat"] is not None]
    assert answered and all(0 <= s["nps"] <= 10 and 1 <= s["ces"] <= 7 for s in answered)
