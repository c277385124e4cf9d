"""The rule book: the built-in file loads; broken files fail with a message that says what."""

from __future__ import annotations

import pytest

from cxlens.errors import ConfigError
from cxlens.qa.rules import english_phrases, load_rules, matcher, normalise

MINIMAL = """
pass_mark: 70
rules:
  - id: greeting
    kind: required_phrase
    weight: 1
    phrases: {en: [hello], zh: [您好]}
"""


def test_builtin_rule_book_covers_the_five_synth_rule_ids() -> None:
    book = load_rules()
    ids = [r.id for r in book.rules]
    assert {"greeting", "verify_identity", "closing", "forbidden_phrase", "empathy"} <= set(ids)
    assert {"long_silence", "script_order"} <= set(ids)
    for rule in book.rules:
        if rule.kind in ("required_phrase", "forbidden_phrase", "empathy"):
            assert rule.phrases.en and rule.phrases.zh, f"{rule.id} needs zh and en phrases"
    assert 0 < book.pass_mark <= 100
    assert "thank you for calling" in english_phrases(book)


def test_user_rule_file(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    book = load_rules(path)
    assert book.pass_mark == 70 and [r.id for r in book.rules] == ["greeting"]


@pytest.mark.parametrize(("text", "message"), [
    (MINIMAL + MINIMAL.split("rules:")[1], "duplicate rule id greeting"),
    (MINIMAL.replace("weight: 1", "weight: 1\n    colour: red"), "Extra inputs"),
    (MINIMAL.replace("weight: 1", "weight: 0"), "greater than 0"),
    (MINIMAL.replace("kind: required_phrase", "kind: vibes"), "kind"),
    (MINIMAL.replace("phrases: {en: [hello], zh: [您好]}", "phrases: {}"), "lists no phrases"),
    (MINIMAL + "  - {id: order, kind: script_order, weight: 1, order: [greeting, closing]}\n",
     "unknown rule closing"),
    ("rules: [", "not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    ("pass_mark: 120\n" + MINIMAL.replace("pass_mark: 70\n", ""), "pass_mark"),
])
def test_broken_rule_files(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_rules(path)


def test_missing_rule_file() -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_rules("/nonexistent/rules.yaml")
    assert "rules_file" in (info.value.hint or "")


def test_matching_is_word_bounded_in_english_and_substring_in_chinese() -> None:
    pattern = matcher(("hi", "thank you", "您好"))
    assert pattern is not None
    assert pattern.search(normalise("Hi, how are you"))
    assert not pattern.search(normalise("this history"))  # "hi" inside words does not count
    assert pattern.search(normalise("THANK   YOU so much"))
    assert pattern.search(normalise("喂，您好呀"))
    assert pattern.search(normalise("ｔｈａｎｋ ｙｏｕ"))  # full-width letters
    assert pattern.search(normalise("I’m fine")) is None
