"""The text stage's speed paths give the same answers as the plain ones they replace."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from cxlens.text import segment
from cxlens.text.stage import _distinct_scores

TEXTS = [
    "我的宽带一直连不上，已经三天了！！工单号 SF1234567890123，转人工",
    "客户：我的iPhone开不了机\n客服：您好，请问您的手机型号是？",
    "  my bill is wrong, I was charged twice for the 5G plan -- please refund  ",
    "退款还没到账？？？ 订单 2026081512345 已经取消了 😡😡",
    "ＡＢＣ全角字母和 full-width １２３ 以及 a+b#c&d_e%f.g-h 混在一起\r\n第二行",
    "",
    "🙂🙂",
    "快递快递快递 耳机破损 耳机破损",
]


def _plain_terms(text: str, limit: int = 20000) -> list[str]:
    # What terms() did before the block cache: filter jieba's words over the whole text.
    out = []
    for word in segment.segment(text[:limit]):
        word = word.lower()
        if len(word) < 2 or word in segment.STOPWORDS or not segment._TOKEN_OK.fullmatch(word):
            continue
        out.append(word)
    return out


def test_block_cached_terms_equal_plain_segmentation() -> None:
    for text in TEXTS * 2:  # the second pass is served from the cache
        for limit in (20000, 9):
            assert segment.terms(text, limit=limit) == _plain_terms(text, limit), text
    assert "耳机" in segment.terms(TEXTS[-1])


class _Counting:
    """A sentiment engine that records what it was asked to score."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def scores(self, texts: list[str], languages: list[str]) -> np.ndarray:
        self.seen.extend(zip(texts, languages, strict=True))
        return np.array([len(t) / 10 + (lang == "en") for t, lang in zip(texts, languages,
                                                                            strict=True)])


def test_distinct_scores_score_each_pair_once() -> None:
    engine = _Counting()
    texts = ["好的", "退款", "好的", "ok", "好的"]
    langs = ["zh", "zh", "zh", "en", "en"]
    got = _distinct_scores(engine, texts, langs)
    assert got == [0.2, 0.2, 0.2, 1.2, 1.2]
    assert len(engine.seen) == 4  # ("好的", "zh") once; ("好的", "en") is another pair
    assert _distinct_scores(engine, [], []) == []

    # Across chunks: pairs scored in an earlier call are taken from ``known``, not rescored.
    known: dict = {}
    engine = _Counting()
    assert _distinct_scores(engine, texts, langs, known) == got
    again = _distinct_scores(engine, ["退款", "新的", "ok"], ["zh", "zh", "en"], known)
    assert again == [0.2, 0.2, 1.2]
    assert engine.seen[4:] == [("新的", "zh")]


def test_name_free_lookup_is_exact() -> None:
    from cxlens.text import redact as pii

    names = ["王伟", "Mary Jones", "李 娜"]
    texts = [
        "王伟的手机是 +86 138-1234-5678，邮箱 wang@qq.com",
        "我叫李娜，身份证 11010519491231002X",
        "Hi, this is mary jones, call me on 415-555-0123",
        "<p>Thanks,<br>Mary Jones</p>",
        "MaryJones123 wrote: order 2026081512345",
        "快递还没到，运单 SF1234567890123",
        "Jonesy said the bill is wrong",
    ]
    for text in texts:
        for guess in (True, False):
            full = pii.find(text, names, guess_names=guess)
            if not pii.names_may_occur(text, names):
                assert full == pii.find(text, (), guess_names=guess), text
    assert pii.names_may_occur(texts[0], names) and not pii.names_may_occur(texts[5], names)
    assert not pii.names_may_occur(texts[0], [])


def test_name_check_reads_full_width_forms() -> None:
    from cxlens.text import redact as pii

    names = ["Mary Jones", "王伟"]
    for text in ("ｍａｒｙ　Ｊｏｎｅｓ called", "hi MARY jones", "王伟的电话"):
        assert pii.names_may_occur(text, names), text
        assert any(s.kind == "NAME" for s in pii.find(text, names)), text
    assert not pii.names_may_occur("Marty Jonas", names)


def _plain_keyword_matches(rules: Any, text: str) -> list[str]:
    # What KeywordRules did before: one alternation over every keyword, longest first.
    body = "|".join(
        rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])" if k.isascii() else re.escape(k)
        for k in sorted(rules._codes, key=len, reverse=True))
    return [m.group() for m in re.finditer(body, text)]


def test_keyword_matches_equal_one_big_alternation() -> None:
    from cxlens.text.intent import MAX_CHARS, KeywordRules, Taxonomy

    rules = KeywordRules(Taxonomy.load())
    tricky = [
        "i want a refund, refunds are slow; still waiting refund for my refund",  # whole words
        "prefund xrefund refund1 refund-please",  # boundaries on both sides
        "我要退款退货，快递还没到，物流一直不动，账单多扣费了，退款",  # overlapping Chinese keywords
        "cancel subscription and cancel my subscription, double charged twice",
        "ＲＥＦＵＮＤ 全角 refund",
    ]
    for text in TEXTS + tricky:
        lowered = text[:MAX_CHARS].lower()
        assert rules._keywords(lowered) == _plain_keyword_matches(rules, lowered), text
    assert rules._keywords("prefund xrefund") == []
    assert rules.predict(tricky[2]).intent != "other"


def test_keyword_index_covers_unusual_keywords(tmp_path: Any) -> None:
    from cxlens.text.intent import KeywordRules, Taxonomy

    body = "reasons:\n" + "".join(
        f"  - code: {code}\n    label: {{zh: {code}, en: {code}}}\n"
        f"    keywords: {{en: {en}, zh: {zh}}}\n"
        for code, en, zh in [
            ("billing", '["wi-fi", "#refund", "5g plan", "-fee", "bill"]', '["账单", "5g套餐"]'),
            ("delivery", '["fee", "plan b", "wi"]', '["快递", "递"]'),
        ])
    path = tmp_path / "tax.yaml"
    path.write_text(body, encoding="utf-8")
    rules = KeywordRules(Taxonomy.load(path))
    for text in ["my wi-fi bill has a -fee and a #refund for the 5g plan, plan b",
                 "wifi wi fi #refunds 5g plans 5g套餐快递递 账单", "x-fee fee-x -fee- bill", ""]:
        assert rules._keywords(text) == _plain_keyword_matches(rules, text), text


def test_name_matches_equal_the_compiled_alternation() -> None:
    # _name_matcher finds Han names and ASCII names in ASCII text with str.find; it must give
    # the spans of the regex it replaces, also for forms inside forms, case changes, names glued
    # to words, and text the fast paths leave to the regex (non-ASCII letters that re.I folds).
    import random

    from cxlens.text import redact as pii

    cases = [("王伟",), ("王伟", "王伟伟"), ("李明", "张晓明"), ("Mary Jones",), ("Bob Li", "Bo"),
             ("Anna", "Ann"), ("ab", "abab"), ("Kim",), ("Émile Zola",), ("王 伟", "Li Wei")]
    filler = ["", " ", "x", "_", "1", "我是", "，", "\x00", "Mr ", "k", "K", "ſ", "é", "-", "bob"]
    rng = random.Random(5)
    kinds = set()
    for names in cases:
        forms = sorted(pii._name_variants(names))
        pattern = pii._compiled_names(names)
        matcher = pii._name_matcher(names)
        assert pattern is not None and matcher is not None
        for _ in range(300):
            parts = [rng.choice([rng.choice(forms), rng.choice(forms).swapcase(),
                                 rng.choice(filler), rng.choice(filler)])
                     for _ in range(rng.randint(1, 8))]
            text = "".join(parts)
            expected = [m.span() for m in pattern.finditer(text)]
            assert list(matcher(text)) == expected, (names, text)
            kinds.add(bool(expected))
    assert kinds == {True, False}
    assert pii._name_matcher(("x",)) is None  # one-letter names are never redacted
