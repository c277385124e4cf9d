"""The intent model's sklearn parts: the SVM + LR blend and the wordllama sentence vectors."""

from __future__ import annotations

import numpy as np
import pytest

from cxlens.text.intent_blend import SvmLogisticBlend


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    labels = np.repeat(np.array(["a", "b", "c"]), 40)
    x = centres[np.repeat(np.arange(3), 40)] + rng.normal(scale=1.5, size=(120, 3))
    return x, labels


def _z(d: np.ndarray) -> np.ndarray:
    return (d - d.mean(axis=1, keepdims=True)) / d.std(axis=1, keepdims=True)


def test_blend_is_the_weighted_mix_of_standardised_scores_on_the_svm_scale() -> None:
    x, y = _data()
    blend = SvmLogisticBlend(c=1.0, lr_c=10.0, svm_weight=0.3).fit(x, y)
    svm = blend.svm_.decision_function(x)
    lr = blend.lr_.decision_function(x)
    got = blend.decision_function(x)
    # Same ranking as the mix of per-text standardised scores...
    mix = 0.3 * _z(svm) + 0.7 * _z(lr)
    assert np.array_equal(got.argmax(axis=1), mix.argmax(axis=1))
    # ...on the SVM's own per-text mean and spread (so the softmax temperature keeps its meaning).
    expected = svm.mean(axis=1, keepdims=True) + svm.std(axis=1, keepdims=True) * mix
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    assert np.mean(blend.predict(x) == y) > 0.8
    # The weights matter: all-SVM reproduces the SVM's ranking, all-LR the LR's.
    only_svm = SvmLogisticBlend(svm_weight=1.0).fit(x, y).decision_function(x)
    only_lr = SvmLogisticBlend(svm_weight=0.0).fit(x, y).decision_function(x)
    assert np.array_equal(only_svm.argmax(axis=1), svm.argmax(axis=1))
    assert np.array_equal(only_lr.argmax(axis=1), lr.argmax(axis=1))


def test_two_labels_or_weight_one_use_the_svm_alone() -> None:
    x, y = _data()
    keep = y != "c"
    blend = SvmLogisticBlend().fit(x[keep], y[keep])
    assert blend.lr_ is None
    np.testing.assert_allclose(blend.decision_function(x), blend.svm_.decision_function(x))
    assert set(blend.predict(x)) <= {"a", "b"}
    alone = SvmLogisticBlend(svm_weight=1.0).fit(x, y)
    assert alone.lr_ is None  # no logistic regression fitted only to be weighted 0
    np.testing.assert_allclose(alone.decision_function(x), alone.svm_.decision_function(x))


def test_pooled_embeddings_are_the_mean_and_max_of_the_token_vectors() -> None:
    from cxlens.text.intent_blend import pooled_embeddings, wordllama_table

    tokenizer, matrix = wordllama_table()
    assert matrix.shape == (32000, 256)  # the wheel's own weights, read without the hub
    ids = tokenizer.encode("my card was stolen", add_special_tokens=False).ids
    got = pooled_embeddings(["my card was stolen", "", "😀"])
    assert got.shape == (3, 512)
    np.testing.assert_allclose(got[0, :256], matrix[ids].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(got[0, 256:], matrix[ids].max(axis=0), rtol=1e-5)
    assert not got[1].any()  # no tokens: zeros
    assert got[2].any()  # emoji are byte tokens: still a vector


def test_pretrained_vectors_put_paraphrases_together() -> None:
    from cxlens.text.intent_blend import pooled_embeddings

    # No shared content word between the paraphrases: n-grams cannot see this, the vectors can.
    v = pooled_embeddings(["my card was stolen", "someone nicked my debit card",
                           "what is the exchange rate"])[:, :256]
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_sentence_embedding_block_is_standardised_and_weighted() -> None:
    from cxlens.text.intent_blend import SentenceEmbedding

    texts = ["my card was stolen", "refund please", "where is my card", "exchange rate today",
             "I was charged twice", "top up failed"]
    block = SentenceEmbedding(weight=2.0).fit(texts).transform(texts).toarray()
    assert block.shape == (6, 512)
    np.testing.assert_allclose(block.mean(axis=0), 0.0, atol=1e-5)
    # Unit variance per column, divided by sqrt(512), times the weight: each row's length ≈ 2.
    assert abs(np.sqrt((block**2).sum(axis=1)).mean() - 2.0) < 0.3
    doubled = SentenceEmbedding(weight=4.0).fit(texts).transform(texts).toarray()
    np.testing.assert_allclose(doubled, 2 * block, rtol=1e-4, atol=1e-6)


def test_chinese_text_gets_no_sentence_vectors() -> None:
    from cxlens.text.intent_blend import SentenceEmbedding, pooled_embeddings

    english = ["my card was stolen", "refund please", "where is my card", "top up failed"]
    texts = english + ["快递还没到", "退款 refund 还没到账"]
    fitted = SentenceEmbedding().fit(texts)
    # Standardised on the English rows only: the Chinese ones do not shift the mean.
    np.testing.assert_allclose(fitted.mean_, pooled_embeddings(english).mean(axis=0), rtol=1e-5)
    block = fitted.transform(texts).toarray()
    assert block[:4].any(axis=1).all()
    assert not block[4:].any()  # any Han character: the n-grams alone decide
    only_zh = SentenceEmbedding().fit(["快递还没到", "我要退款"]).transform(["包裹丢了"])
    assert only_zh.shape == (1, 512) and only_zh.nnz == 0


def test_missing_wordllama_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from cxlens.errors import ConfigError
    from cxlens.text import intent_blend

    monkeypatch.setattr(intent_blend, "_TABLE", {})
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="wordllama"):
        intent_blend.pooled_embeddings(["my card was stolen"])


def test_training_is_deterministic() -> None:
    from cxlens.text.intent import IntentModel

    texts = ["my card was stolen", "someone took my card", "refund please", "I want my money back",
             "where is my new card", "card has not arrived", "top up failed", "cannot add money"] * 3
    labels = ["stolen", "stolen", "refund", "refund", "arrival", "arrival", "top_up", "top_up"] * 3
    model = IntentModel.train(texts, labels)
    # liblinear's dual solver shuffles the examples: only a fixed seed makes refits identical.
    assert model.pipeline[-1].svm_.random_state == 0
    first = model.scores(texts)
    np.testing.assert_array_equal(first, IntentModel.train(texts, labels).scores(texts))
