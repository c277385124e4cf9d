"""The intent classifier's final step: a linear SVM blended with a logistic regression.

A module of its own because it subclasses sklearn's ``BaseEstimator`` (sklearn's pipeline needs
its tags), and sklearn must not load with :mod:`cxlens.text.intent`: ``cxlens --help`` stays fast.
:class:`~cxlens.text.intent.IntentModel` imports it only when it builds or loads a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC


class SvmLogisticBlend(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A linear SVM and a multinomial logistic regression on the same features, scores blended.

    Each model's scores are standardised per text (so neither scale dominates), mixed with
    ``svm_weight`` on the SVM, and put back on the SVM's own per-text scale so that the softmax
    temperature of :class:`IntentModel` keeps its meaning. The default weight 0.0 (the logistic
    regression's ranking on the SVM's scale) was best on a 10% hold-out of Banking77's train
    split with word-dropped copies; without them 0.3 was best (docs/text.md).
    """

    def __init__(self, c: float = 1.0, lr_c: float = 10.0, svm_weight: float = 0.0) -> None:
        self.c = c
        self.lr_c = lr_c
        self.svm_weight = svm_weight

    def fit(self, x: Any, y: Sequence[str]) -> SvmLogisticBlend:
        self.svm_ = LinearSVC(C=self.c).fit(x, y)
        self.classes_ = self.svm_.classes_
        # Two labels: the SVM alone (its single score column has nothing to blend with).
        self.lr_ = (LogisticRegression(C=self.lr_c, max_iter=300).fit(x, y)
                    if len(self.classes_) > 2 else None)
        return self

    def decision_function(self, x: Any) -> Any:
        svm = self.svm_.decision_function(x)
        if self.lr_ is None:
            return svm
        lr = self.lr_.decision_function(x)

        def standardised(d: Any) -> tuple[Any, Any, Any]:
            mean, sd = d.mean(axis=1, keepdims=True), d.std(axis=1, keepdims=True)
            sd[sd == 0] = 1.0
            return (d - mean) / sd, mean, sd

        z_svm, mean, sd = standardised(svm)
        z_lr, _, _ = standardised(lr)
        return mean + sd * (self.svm_weight * z_svm + (1 - self.svm_weight) * z_lr)

    def predict(self, x: Any) -> Any:
        decision = self.decision_function(x)
        if decision.ndim == 1:  # two labels: one score, > 0 = the second label
            return self.classes_[(decision > 0).astype(int)]
        return self.classes_[decision.argmax(axis=1)]
