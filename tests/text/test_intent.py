"""Intent taxonomy validation, keyword rules, trainable model, low-confidence → other."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxlens import schema
from cxlens.errors import ConfigError, InputError
from cxlens.text.intent import (
    IntentClassifier,
    IntentModel,
    KeywordRules,
    Taxonomy,
    read_labels,
)


def test_shipped_taxonomy_covers_the_reason_codes() -> None:
    tax = Taxonomy.load()
    assert tax.top == list(schema.REASONS)
    assert tax.top_of("delivery.late") == "delivery"
    assert tax.label("refund", "zh") == "退款退货" and tax.label("refund") == "Refund"
    assert all(r.label_zh and r.label_en for r in tax.reasons.values())


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tax.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_duplicate_code_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, """
reasons:
  - code: billing
    label: {zh: 账单, en: Billing}
    children:
      - code: billing
        label: {zh: 账单, en: Billing}
""")
    with pytest.raises(ConfigError, match="duplicate reason code 'billing'"):
        Taxonomy.load(path)


def test_missing_label_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "reasons:\n  - code: refund\n    label: {zh: 退款}\n")
    with pytest.raises(ConfigError, match="'refund' is missing its zh or en label"):
        Taxonomy.load(path)
    with pytest.raises(ConfigError, match="not valid YAML"):
        Taxonomy.load(_write(tmp_path, "reasons: [\n"))


@pytest.mark.parametrize(("text", "intent"), [
    ("我的快递一直没收到", "delivery"),
    ("为什么多扣了我的话费", "billing"),
    ("I forgot my password and cannot log in", "account_access"),
    ("I want a refund for this", "refund"),
    ("我要投诉你们的服务态度", "complaint"),
    ("宽带连不上了", "technical"),
    ("please cancel my subscription", "cancellation"),
])
def test_keyword_rules(text: str, intent: str) -> None:
    assert KeywordRules(Taxonomy.load()).predict(text).intent == intent


def test_low_confidence_goes_to_other() -> None:
    clf = IntentClassifier(Taxonomy.load(), None, min_confidence=0.35)
    assert clf.predict(["今天天气不错"])[0].intent == "other"
    assert clf.predict([""])[0].intent == "other"
    strict = IntentClassifier(Taxonomy.load(), None, min_confidence=0.99)
    assert strict.predict(["快递没收到，还要退款"])[0].intent == "other"


def test_trained_model_roundtrip(tmp_path: Path) -> None:
    texts = ["where is my parcel", "parcel not delivered", "courier lost my package",
             "refund my money", "I want my money back", "please refund the order",
             "快递还没到", "包裹丢了", "退款什么时候到", "我要退钱"] * 3
    labels = ["delivery.late", "delivery.late", "delivery.damaged", "refund", "refund", "refund",
              "delivery.late", "delivery.damaged", "refund", "refund"] * 3
    model = IntentModel.train(texts, labels)
    path = model.save(tmp_path / "intent.joblib")
    clf = IntentClassifier(Taxonomy.load(), IntentModel.load(path), min_confidence=0.0)
    pred = clf.predict(["my parcel has not been delivered", "退款还没到账"])
    assert [p.intent for p in pred] == ["delivery", "refund"]
    assert pred[0].sub_intent == "delivery.late" and pred[0].method == "model"
    assert all(0 < p.confidence <= 1 for p in pred)
    # Nothing to read a reason in → other, whatever the model's intercepts say.
    empty = clf.predict(["", "😀😀", "？！…"])
    assert [(p.intent, p.confidence) for p in empty] == [("other", 0.0)] * 3


def test_read_labels_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,category\nhi,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs the columns text,label"):
        read_labels(bad)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("text,label\n快递,delivery\n".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_labels(gbk)
    with pytest.raises(InputError, match="at least two labels"):
        IntentModel.train(["a", "b"], ["x", "x"])
