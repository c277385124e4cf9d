"""The SVM + logistic-regression blend behind IntentModel: its maths and its two-label case."""

from __future__ import annotations

import numpy as np

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


def test_two_labels_use_the_svm_alone() -> None:
    x, y = _data()
    keep = y != "c"
    blend = SvmLogisticBlend().fit(x[keep], y[keep])
    assert blend.lr_ is None
    np.testing.assert_allclose(blend.decision_function(x), blend.svm_.decision_function(x))
    assert set(blend.predict(x)) <= {"a", "b"}


def test_word_dropped_copies() -> None:
    from cxlens.text.intent import with_dropped_words

    texts = ["my card has not arrived yet", "refund please", "where is my new card"]
    labels = ["card_arrival", "refund", "card_arrival"]
    out, out_labels = with_dropped_words(texts, labels)
    assert out[:3] == texts and out_labels == labels + labels
    # Four words or more: the copy is the sentence less exactly one of its words.
    for original, copy in ((texts[0], out[3]), (texts[2], out[5])):
        words, kept = original.split(), copy.split()
        assert len(kept) == len(words) - 1
        assert any(words[:i] + words[i + 1 :] == kept for i in range(len(words)))
    assert out[4] == "refund please"  # too short to drop a word: kept as it is
    assert with_dropped_words(texts, labels) == (out, out_labels)  # same draw every time
