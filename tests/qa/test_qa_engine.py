"""The inspector on hand-written conversations (zh and en), rule by rule."""

from __future__ import annotations

import pytest

from cxlens.qa.engine import CallContext, Inspector, Turn
from cxlens.qa.rules import RuleBook, load_rules


@pytest.fixture(scope="module")
def qa() -> Inspector:
    return Inspector(load_rules(), long_silence_s=8.0, negative_sentiment=-0.2)


def _turns(*pairs: tuple[str, str | None]) -> list[Turn]:
    return [Turn(i + 1, speaker, text) for i, (speaker, text) in enumerate(pairs)]  # type: ignore[arg-type]


def _by_rule(result):
    return {r.rule: r for r in result.results}


GOOD_ZH = _turns(
    ("agent", "您好，很高兴为您服务，我是小王。"),
    ("customer", "我的账单不对，多扣了钱。"),
    ("agent", "为了保护您的账户安全，请提供一下注册手机号。"),
    ("customer", "13800138000"),
    ("agent", "已经为您退回多扣的费用。"),
    ("agent", "请问还有其他可以帮您的吗？祝您生活愉快，再见！"),
)
GOOD_EN = _turns(
    ("agent", "Good morning, thank you for calling. How can I help?"),
    ("customer", "I was charged twice."),
    ("agent", "For security, can you confirm your date of birth?"),
    ("customer", "First of May 1990."),
    ("agent", "I've refunded the second charge."),
    ("agent", "Is there anything else I can help with? Have a nice day."),
)


@pytest.mark.parametrize("turns", [GOOD_ZH, GOOD_EN], ids=["zh", "en"])
def test_a_clean_call_passes_with_evidence(qa, turns) -> None:
    result = qa.inspect(turns, CallContext(channel="phone"))
    rules = _by_rule(result)
    assert result.score == 100.0 and result.passed is True
    assert rules["greeting"].evidence["seq"] == 1
    assert rules["verify_identity"].evidence["seq"] == 3
    assert rules["closing"].evidence["seq"] == 6
    assert rules["forbidden_phrase"].passed and rules["forbidden_phrase"].applicable
    assert not rules["empathy"].applicable  # customer was not negative
    assert not rules["long_silence"].applicable  # no audio metrics
    assert rules["script_order"].passed and rules["script_order"].evidence["steps"] == {
        "greeting": 1, "verify_identity": 3, "closing": 6}
    span = rules["greeting"].evidence
    assert turns[0].text.lower()[span["start"]:span["end"]] == span["text"]


def test_missing_greeting_and_closing(qa) -> None:
    turns = _turns(("agent", "请提供一下注册手机号，我帮您核实身份。"), ("customer", "好的"),
                   ("agent", "已经处理好了。"))
    rules = _by_rule(qa.inspect(turns, CallContext(channel="chat")))
    assert not rules["greeting"].passed and "first 1 agent turns" in rules["greeting"].evidence["reason"]
    assert not rules["closing"].passed
    assert rules["verify_identity"].passed


def test_greeting_late_in_the_call_does_not_count(qa) -> None:
    turns = _turns(("agent", "请提供手机号后四位。"), ("customer", "1234"), ("agent", "您好，已查到。"))
    assert not _by_rule(qa.inspect(turns, CallContext(channel="phone")))["greeting"].passed


def test_forbidden_phrase_is_critical(qa) -> None:
    turns = list(GOOD_ZH)
    turns.insert(4, Turn(5, "agent", "这个不归我管，你自己去问快递。"))
    turns = [Turn(i + 1, t.speaker, t.text) for i, t in enumerate(turns)]
    result = qa.inspect(turns, CallContext(channel="phone"))
    rule = _by_rule(result)["forbidden_phrase"]
    assert not rule.passed and rule.evidence["seq"] == 5 and rule.evidence["text"] == "不归我管"
    assert result.passed is False


def test_a_critical_rule_fails_the_call_whatever_the_score() -> None:
    book = RuleBook.model_validate({"pass_mark": 80, "rules": [
        {"id": "greeting", "kind": "required_phrase", "weight": 10, "phrases": {"en": ["hello"]}},
        {"id": "rude", "kind": "forbidden_phrase", "weight": 1, "critical": True,
         "phrases": {"en": ["shut up"]}}]})
    result = Inspector(book).inspect(_turns(("agent", "Hello. Shut up."), ("customer", "?")))
    assert result.score == pytest.approx(100 * 10 / 11, abs=0.1)  # the score alone would pass
    assert result.passed is False


def test_forbidden_phrase_said_by_the_customer_is_not_the_agents_fault(qa) -> None:
    turns = _turns(("agent", "Hello, thanks for calling."), ("customer", "That's not my problem!"),
                   ("agent", "I understand. Anything else? Goodbye."))
    assert _by_rule(qa.inspect(turns, CallContext(channel="phone")))["forbidden_phrase"].passed


@pytest.mark.parametrize(("customer", "agent", "passed"), [
    ("我真的很生气，第三次打电话了！", "非常抱歉给您带来不便。", True),
    ("我真的很生气，第三次打电话了！", "请提供手机号。", False),
    ("This is ridiculous! I'm really angry.", "I'm so sorry about this, let me fix it.", True),
    ("This is ridiculous! I'm really angry.", "Please hold.", False),
])
def test_empathy_when_the_customer_is_negative(qa, customer, agent, passed) -> None:
    turns = _turns(("agent", "您好 / hello"), ("customer", customer), ("agent", agent))
    rule = _by_rule(qa.inspect(turns, CallContext(channel="phone")))["empathy"]
    assert rule.applicable and rule.passed is passed
    assert rule.evidence["trigger_seq"] == 2


def test_empathy_must_come_after_the_complaint(qa) -> None:
    turns = _turns(("agent", "Hello, I'm sorry for the wait."), ("customer", "I'm furious."),
                   ("agent", "Your refund is done."))
    assert not _by_rule(qa.inspect(turns, CallContext(channel="phone")))["empathy"].passed


def test_empathy_triggered_by_the_text_stage_sentiment() -> None:
    qa = Inspector(load_rules(), empathy_trigger="sentiment")
    turns = _turns(("agent", "您好"), ("customer", "订单到哪了"), ("agent", "已发货。"))
    neutral = _by_rule(qa.inspect(turns, CallContext(channel="phone", sentiment=0.1)))["empathy"]
    negative = _by_rule(qa.inspect(turns, CallContext(channel="phone", sentiment=-0.7)))["empathy"]
    assert not neutral.applicable
    assert negative.applicable and not negative.passed
    assert negative.evidence["trigger_sentiment"] == -0.7


def test_a_complaint_late_in_the_call_does_not_trigger_empathy(qa) -> None:
    turns = _turns(("agent", "您好"), ("customer", "查一下订单"), ("agent", "请提供手机号"),
                   ("customer", "13800138000"), ("agent", "已发货"), ("customer", "算了，我要投诉"),
                   ("agent", "再见"))
    assert not _by_rule(qa.inspect(turns, CallContext(channel="phone")))["empathy"].applicable


def test_long_silence_from_the_audio_signal(qa) -> None:
    quiet = qa.inspect(GOOD_EN, CallContext(channel="phone", silence_s=3.0, silence_at_s=10.0))
    loud = qa.inspect(GOOD_EN, CallContext(channel="phone", silence_s=14.2, silence_at_s=31.5))
    assert _by_rule(quiet)["long_silence"].passed
    rule = _by_rule(loud)["long_silence"]
    assert not rule.passed and rule.evidence == {"seconds": 14.2, "limit_s": 8.0, "source": "audio",
                                                 "at_s": 31.5}
    assert loud.score == 90.0  # 10 of 100 applicable points lost
    # chats are not checked for silence
    assert not _by_rule(qa.inspect(GOOD_EN, CallContext(channel="chat", silence_s=30)))[
        "long_silence"].applicable


def test_script_order(qa) -> None:
    turns = _turns(("agent", "您好，很高兴为您服务。"), ("customer", "查账单"),
                   ("agent", "还有其他问题吗？"), ("customer", "没有"),
                   ("agent", "请提供身份证后四位核实身份。再见。"))
    rule = _by_rule(qa.inspect(turns, CallContext(channel="phone")))["script_order"]
    assert rule.applicable and not rule.passed
    assert rule.evidence["steps"]["verify_identity"] == 5 and rule.evidence["steps"]["closing"] == 3


def test_channel_scoping(qa) -> None:
    turns = _turns(("customer", "Where is my order?"), ("agent", "It ships tomorrow."))
    rules = _by_rule(qa.inspect(turns, CallContext(channel="social")))
    assert not rules["greeting"].applicable and not rules["verify_identity"].applicable
    assert rules["forbidden_phrase"].applicable
    email = _by_rule(qa.inspect(turns, CallContext(channel="email")))
    assert email["greeting"].applicable and not email["verify_identity"].applicable


def test_unknown_speaker_turns_count_for_both_parties(qa) -> None:
    """A mono transcript: no speaker labels, still inspected."""
    turns = _turns((None, "good morning thank you for calling"), (None, "i am very angry"),
                   (None, "i am sorry to hear that"), (None, "have a nice day goodbye"))
    rules = _by_rule(qa.inspect(turns, CallContext(channel="phone")))
    assert rules["greeting"].passed and rules["closing"].passed
    assert rules["empathy"].applicable and rules["empathy"].passed


def test_no_agent_turns_means_no_score(qa) -> None:
    result = qa.inspect(_turns(("system", "欢迎致电，查询订单请按1。")), CallContext(channel="ivr"))
    assert result.score is None and result.passed is None
    assert all(not r.applicable for r in result.results)


@pytest.mark.parametrize("text", ["", "😀😀😀", "ＨＥＬＬＯ，ｔｈａｎｋ ｙｏｕ ｆｏｒ ｃａｌｌｉｎｇ",
                                  "您好 hello 混合 mixed", "x" * 200_000])
def test_odd_text_never_raises(qa, text) -> None:
    result = qa.inspect(_turns(("agent", text), ("customer", text)), CallContext(channel="chat"))
    assert result.score is None or 0 <= result.score <= 100


def test_default_trigger_ignores_the_sentiment_score(qa) -> None:
    """docs/qa.md: the lexicon beat the text stage's sentiment_start on synth truth."""
    turns = _turns(("agent", "您好"), ("customer", "订单到哪了"), ("agent", "已发货。"))
    rule = _by_rule(qa.inspect(turns, CallContext(channel="phone", sentiment=-0.9)))["empathy"]
    assert not rule.applicable
    either = Inspector(load_rules(), empathy_trigger="either")
    angry = _turns(("agent", "您好"), ("customer", "气死我了"), ("agent", "已发货。"))
    assert _by_rule(either.inspect(angry, CallContext(channel="phone", sentiment=0.5)))[
        "empathy"].applicable


def test_a_text_seen_before_gives_the_same_results_under_every_rule() -> None:
    """Each distinct turn text is searched once per phrase pattern and the first match reused:
    two rules with the same phrases (one pattern) but different positions and character limits
    must still each get their own answer, on the first and on every later conversation."""
    book = RuleBook.model_validate({"rules": [
        {"id": "hello_start", "kind": "required_phrase", "weight": 1, "position": "start",
         "within_turns": 1, "within_chars": 4, "phrases": {"zh": ["您好"]}},
        {"id": "hello_any", "kind": "required_phrase", "weight": 1,
         "phrases": {"zh": ["您好"]}},
        {"id": "hello_end", "kind": "required_phrase", "weight": 1, "position": "end",
         "within_turns": 1, "within_chars": 2, "phrases": {"zh": ["您好"]}},
    ]})
    late = "请稍等，我查一下。您好，已查到。"  # the phrase sits 9 characters in
    convs = [_turns(("agent", late), ("customer", "嗯"), ("agent", "您好")),
             _turns(("agent", "您好，很高兴为您服务"), ("agent", late)),
             _turns(("agent", late))]
    qa = Inspector(book)
    for _ in range(2):  # the second round answers every search from what the first found
        for turns in convs:
            cached = _by_rule(qa.inspect(turns))
            fresh = _by_rule(Inspector(book).inspect(turns))
            assert {r: (v.passed, v.evidence) for r, v in cached.items()} == {
                r: (v.passed, v.evidence) for r, v in fresh.items()}
    first = _by_rule(qa.inspect(convs[0]))
    assert not first["hello_start"].passed and first["hello_any"].evidence["seq"] == 1
    assert first["hello_end"].passed
    assert len(qa._firsts) == 1  # one pattern shared by the three rules
