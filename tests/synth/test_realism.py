"""The synthetic centre behaves like a real one (checked on the streaming API, no warehouse)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pyarrow as pa
import pytest

from cxlens import synth
from cxlens.clean.identifiers import normalize_phone
from cxlens.synth.text import luhn_valid

CONFIG = dict(customers=800, days=35, seed=5, chunk_customers=400)


def _collect(config: synth.SynthConfig, workers: int = 1) -> dict[str, pa.Table]:
    parts: dict[str, list[pa.Table]] = {}
    for name, table in synth.iter_batches(config, workers):
        parts.setdefault(name, []).append(table)
    return {name: pa.concat_tables(tables) for name, tables in parts.items()}


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    tables = _collect(synth.SynthConfig.checked(**CONFIG))
    return {name: table.to_pandas() for name, table in tables.items()}


def test_same_seed_same_tables_different_seed_different():
    config = synth.SynthConfig.checked(customers=120, days=10, seed=9, chunk_customers=60)
    first, again = _collect(config), _collect(config)
    assert first.keys() == again.keys()
    for name in first:
        assert first[name].equals(again[name]), name
    other = _collect(synth.SynthConfig.checked(customers=120, days=10, seed=10,
                                               chunk_customers=60))
    assert not other["interactions"].equals(first["interactions"])


def test_parallel_workers_give_the_same_rows():
    config = synth.SynthConfig.checked(customers=120, days=10, seed=9, chunk_customers=40)
    serial, parallel = _collect(config, 1), _collect(config, 2)
    for name in serial:
        assert serial[name].equals(parallel[name]), name


def test_weekly_and_intraday_seasonality(data):
    inter = data["interactions"]
    local = inter.started_at + pd.Timedelta(hours=8)  # stored naive UTC, centre in UTC+8
    per_day = inter.groupby(local.dt.date).size()
    weekday = pd.Series(pd.to_datetime(per_day.index).weekday, index=per_day.index)
    assert per_day[weekday == 0].mean() > per_day[weekday == 6].mean()  # Monday > Sunday
    hours = local.dt.hour.value_counts()
    assert hours.get(10, 0) > 3 * hours.get(3, 0)
    assert hours.get(15, 0) > hours.get(12, 0) * 0.9  # afternoon peak


def test_repeat_contacts_lower_csat(data):
    surveys = data["surveys"].dropna(subset=["csat"])
    truth = data["truth:interactions"][["interaction_id", "problem_id"]]
    problems = data["truth:problems"][["problem_id", "assisted_contacts"]]
    joined = surveys.merge(truth, left_on="interaction_ref", right_on="interaction_id")
    joined = joined.merge(problems, on="problem_id")
    single = joined[joined.assisted_contacts == 1].csat.mean()
    multi = joined[joined.assisted_contacts > 1].csat.mean()
    assert multi < single - 0.3


def test_survey_response_is_biased_to_extremes(data):
    surveys = data["surveys"]
    rate = surveys.responded_at.notna().mean()
    assert 0.08 < rate < 0.25
    truth = data["truth:interactions"].set_index("interaction_id").csat_true
    sent = surveys.assign(true=surveys.interaction_ref.map(truth))
    by_true = sent.groupby("true").responded_at.apply(lambda s: s.notna().mean())
    assert by_true[1] > by_true[3] and by_true[5] > by_true[3]


def test_messy_phone_formats_present(data):
    phones = pd.concat([data["interactions"].phone, data["parties"].phone,
                        data["orders"].phone]).dropna()
    patterns = {
        "dashed": r"^1\d\d-\d{4}-\d{4}$", "plus86": r"^\+86 1\d{10}$", "0086": r"^00861\d{10}$",
        "plain": r"^1\d{10}$", "spaced": r"^\+86 1\d\d \d{4} \d{4}$",
        "landline": r"^0\d{2,3}-\d{7,8}$",
    }
    for label, pattern in patterns.items():
        assert phones.str.match(pattern).any(), label
    assert phones.str.startswith("0755").any()  # Shenzhen landlines
    # every written form normalises to a valid E.164 number
    sample = phones.drop_duplicates().head(400)
    assert all(normalize_phone(p) for p in sample)


def test_household_landlines_are_shared_by_different_persons(data):
    persons = data["truth:persons"].dropna(subset=["household_id"])
    per_line = persons.groupby("landline").person_id.nunique()
    assert (per_line >= 2).sum() >= 10
    assert per_line.max() <= 3
    # and the shared number really appears on records of different persons
    records = data["truth:records"]
    orders = data["orders"].merge(records[records.record_table == "orders"],
                                  on=["source", "source_id"])
    orders["e164"] = orders.phone.map(normalize_phone)
    shared = orders[orders.e164.isin(per_line[per_line >= 2].index)]
    assert shared.groupby("e164").person_id.nunique().max() >= 2


def test_planted_pii_is_in_the_text_and_valid(data):
    inter = data["interactions"].set_index("interaction_id")
    messages = data["messages"].groupby("interaction_id").text.apply("\n".join)
    truth = data["truth:interactions"]
    planted = truth[truth.pii != "[]"]
    assert len(planted) > 50
    kinds: set[str] = set()
    for iid, spans in zip(planted.interaction_id, planted.pii, strict=True):
        text = f"{inter.text.get(iid) or ''}\n{messages.get(iid, '')}"
        for span in json.loads(spans):
            kinds.add(span["type"])
            assert span["text"] in text, (iid, span)
            if span["type"] == "bank_card":
                assert luhn_valid(span["text"])
            if span["type"] == "id_card":
                assert _resident_id_valid(span["text"])
    assert {"phone", "id_card", "bank_card", "name"} <= kinds


def _resident_id_valid(number: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17]


def test_qa_violations_match_the_words(data):
    truth = data["truth:interactions"]
    messages = data["messages"]
    agent_text = messages[messages.speaker == "agent"].groupby("interaction_id").text.apply(
        " ".join)
    broke = truth[truth.qa_violations.str.contains("forbidden_phrase")]
    assert len(broke) > 0
    forbidden = ("这不是我们的问题", "不归我管", "你自己去问快递", "我也没办法", "not my problem",
                 "not our fault", "Not my department", "nothing I can do")
    for iid in broke.interaction_id:
        assert any(f in agent_text.get(iid, "") for f in forbidden), iid
    clean = truth[(truth.qa_violations == "[]") & (truth.channel.isin(["phone", "chat"]))]
    assert len(clean) > 0


def test_text_follows_language_and_reason(data):
    inter = data["interactions"]
    assisted = inter[inter.channel.isin(["phone", "chat"]) & ~inter.abandoned]
    zh = assisted[assisted.language == "zh"].text
    en = assisted[assisted.language == "en"].text
    assert zh.str.contains(r"[\u4e00-\u9fff]").mean() > 0.99
    assert en.str.contains(r"[\u4e00-\u9fff]").mean() < 0.2  # Chinese names may appear
    truth = data["truth:interactions"].set_index("interaction_id")
    refunds = assisted[assisted.interaction_id.map(truth.reason) == "refund"]
    assert refunds.text.str.contains("退|refund|Refund|returned").mean() > 0.9


def test_most_records_link_through_shared_identifiers(data):
    """Identity needs evidence: most records share a normalised identifier with another
    record of the same person (name+city-only records are the small remainder)."""
    from cxlens.clean.identifiers import extract

    records = data["truth:records"]
    parts = []
    for table in ("parties", "interactions", "orders", "surveys", "outreach", "cases"):
        ids = extract(table, pa.Table.from_pandas(data[table], preserve_index=False), "CN")
        parts.append(ids.to_pandas())
    ids = pd.concat(parts).merge(records, on=["record_table", "source", "source_id"])
    per_value = ids.groupby(["id_type", "id_value"]).agg(
        persons=("person_id", "nunique"), records=("source_id", "size"))
    linking = per_value[per_value.records >= 2].reset_index()
    ids = ids.merge(linking, on=["id_type", "id_value"])
    linked = ids.drop_duplicates(["record_table", "source", "source_id"])
    with_ids = records[records.record_table.isin(["parties", "interactions", "orders"])]
    share = len(linked[linked.record_table.isin(["parties", "interactions", "orders"])]) / len(
        with_ids)
    assert share > 0.8
    # identifiers shared by several persons exist (household landlines), but are rare
    shared = per_value[per_value.persons > 1]
    assert 0 < len(shared) < 0.05 * len(per_value)


def test_churners_stop_ordering(data):
    persons = data["truth:persons"]
    churned = persons[persons.churned]
    assert 0.01 < len(churned) / len(persons) < 0.2
    orders = data["orders"].merge(data["truth:records"], on=["source", "source_id"])
    late = orders.merge(churned[["person_id", "churn_date"]], on="person_id")
    assert not (late.ordered_at >= late.churn_date).any()
