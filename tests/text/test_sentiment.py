"""Sentiment: the shipped Chinese weights, VADER for English, trajectories."""

from __future__ import annotations

import time

import pytest

from cxlens.errors import ConfigError
from cxlens.text import ngrams
from cxlens.text.sentiment import backend, label_of, score_texts, trajectory

ZH_POS = ["服务态度很好，问题很快就解决了，谢谢", "质量不错，物流也快，非常满意", "酒店干净，位置方便，推荐",
          "客服很耐心，给个好评"]
ZH_NEG = ["太差了，等了一个小时没人理", "质量很差，用了两天就坏了，再也不买了", "房间又脏又吵，非常失望",
          "垃圾服务，我要投诉"]
EN_POS = ["Thanks, that was really helpful!", "Great service, problem solved quickly."]
EN_NEG = ["This is terrible, I have waited for weeks.", "Worst support ever, I am very angry."]


def test_hand_cases() -> None:
    texts = ZH_POS + ZH_NEG + EN_POS + EN_NEG
    labels = [s.label for s in score_texts(texts)]
    expected = ["positive"] * 4 + ["negative"] * 4 + ["positive"] * 2 + ["negative"] * 2
    assert labels == expected


def test_scores_are_bounded_and_empty_is_neutral() -> None:
    out = score_texts(["", "🙂", "12345", "還不錯，挺好的", "a" * 100_000])
    assert all(-1 <= s.score <= 1 for s in out)
    assert out[0].label == "neutral" and out[0].score == 0


def test_trajectory() -> None:
    tr = trajectory([-0.8, -0.2, 0.6])
    assert tr is not None and tr.start == -0.8 and tr.end == 0.6 and tr.label == "neutral"
    assert trajectory([]) is None
    assert label_of(0.5) == "positive" and label_of(-0.5) == "negative"


def test_hashed_ngrams_respect_text_boundaries() -> None:
    one = ngrams.hashed_ngrams(["ab", "cd"], (1, 2, 3))
    two = ngrams.hashed_ngrams(["abcd"], (1, 2, 3, 4))
    assert one.n_texts == 2 and len(one.rows) == 6  # a b ab | c d cd: no "bc" across texts
    assert len(two.rows) == 4 + 3 + 2 + 1
    assert ngrams.hashed_ngrams([]).n_texts == 0


def test_speed_is_batch_friendly() -> None:
    texts = (ZH_POS + ZH_NEG) * 500
    t0 = time.perf_counter()
    score_texts(texts, ["zh"] * len(texts))
    assert len(texts) / (time.perf_counter() - t0) > 1000  # loose: CI machines are shared


def test_transformer_backend_says_what_to_install(tmp_path) -> None:
    with pytest.raises(ConfigError, match="install torch and transformers"):
        backend("transformer", str(tmp_path))
