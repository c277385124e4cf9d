"""The intent classifier's sklearn parts: pretrained sentence vectors and the linear model.

* :class:`SentenceEmbedding` turns texts into pooled wordllama token vectors (a pretrained
  static embedding whose weights ship inside the ``wordllama`` wheel: nothing is downloaded).
* :class:`SvmLogisticBlend` is a linear SVM, optionally blended with a logistic regression.

A module of its own because these subclass sklearn's ``BaseEstimator`` (sklearn's pipeline needs
its tags), and sklearn must not load with :mod:`cxlens.text.intent`: ``cxlens --help`` stays fast.
:class:`~cxlens.text.intent.IntentModel` imports it only when it builds or loads a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
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
        # A fixed seed: liblinear's dual solver visits the examples in a random order, and the
        # same labels should give the same model (two fits differed by 0.04 points on test).
        self.svm_ = LinearSVC(C=self.c, random_state=0).fit(x, y)
        self.classes_ = self.svm_.classes_
        # Two labels: the SVM alone (its single score column has nothing to blend with); weight
        # 1.0 is the SVM alone too, without paying for a logistic regression it would not use.
        self.lr_ = (LogisticRegression(C=self.lr_c, max_iter=300).fit(x, y)
                    if len(self.classes_) > 2 and self.svm_weight < 1.0 else None)
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


# The pretrained token table (32,000 Llama-2 tokens x 256) that the wordllama wheel ships: loaded
# once per process and never pickled into a model file (it would add 32 MB to every model).
_TABLE: dict[str, Any] = {}
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
WORDLLAMA_WEIGHTS = "weights/l2_supercat_256.safetensors"


def wordllama_table() -> tuple[Any, Any]:
    """The wordllama tokenizer and its token-embedding matrix, read from the installed wheel.

    Read directly (``tokenizers`` + ``safetensors``) rather than through ``WordLlama.load``,
    which looks for the tokenizer in a folder the wheel does not have and then tries the hub.
    """
    if not _TABLE:
        import importlib.util
        from pathlib import Path

        import numpy as np

        from cxlens.errors import ConfigError

        spec = importlib.util.find_spec("wordllama")  # finds the folder without importing it
        folders = list(spec.submodule_search_locations or []) if spec else []
        root = Path(folders[0]) if folders else None
        if root is None or not (root / WORDLLAMA_WEIGHTS).is_file():
            raise ConfigError("the intent model needs the wordllama package's embedding weights",
                              "pip install 'wordllama>=0.4'")
        from safetensors import safe_open
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(root / WORDLLAMA_TOKENIZER))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        with safe_open(str(root / WORDLLAMA_WEIGHTS), framework="np") as handle:
            matrix = np.ascontiguousarray(handle.get_tensor("embedding.weight"), np.float32)
        _TABLE.update(tokenizer=tokenizer, matrix=matrix)
    return _TABLE["tokenizer"], _TABLE["matrix"]


def pooled_embeddings(texts: Sequence[str]) -> Any:
    """Per text, the mean and the max of its tokens' wordllama vectors (512 columns).

    The mean says what the sentence is about; the max keeps a strong single word ("stolen",
    "refund") that averaging over a long sentence would dilute. Text without tokens is zeros.
    """
    import numpy as np

    tokenizer, matrix = wordllama_table()
    width = matrix.shape[1]
    out = np.zeros((len(texts), 2 * width), np.float32)
    for i, encoding in enumerate(tokenizer.encode_batch(list(texts), add_special_tokens=False)):
        if encoding.ids:
            vectors = matrix[encoding.ids]
            out[i, :width] = vectors.mean(axis=0)
            out[i, width:] = vectors.max(axis=0)
    return out


class SentenceEmbedding(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Texts → their pooled wordllama vectors, standardised per column and scaled by ``weight``.

    Divided by the square root of the column count, a text's block has a length near ``weight``
    — comparable to a TF-IDF block (unit length) — so ``weight`` says how much the pretrained
    meaning counts against the n-grams in a linear model fitted on both.
    """

    def __init__(self, weight: float = 2.0) -> None:
        self.weight = weight

    def fit(self, texts: Sequence[str], y: Any = None) -> SentenceEmbedding:
        import numpy as np

        pooled = pooled_embeddings(texts)
        english = ~_has_han(texts)
        pooled = pooled[english] if english.any() else np.zeros_like(pooled[:1])
        self.mean_ = pooled.mean(axis=0)
        sd = pooled.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0) * np.sqrt(pooled.shape[1]) / self.weight
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        block = (pooled_embeddings(texts) - self.mean_) / self.scale_
        # wordllama learned English: its tokenizer cuts Chinese into single characters and
        # bytes, whose vectors carry little meaning. Chinese text gets a block of zeros and
        # is classified by its n-grams alone (a toy zh/en set went wrong with the vectors on).
        block[_has_han(texts)] = 0.0
        # Sparse so that FeatureUnion can stack it with the TF-IDF blocks.
        return sparse.csr_matrix(block)


def _has_han(texts: Sequence[str]) -> Any:
    import numpy as np

    return np.array([_HAN.search(t) is not None for t in texts], dtype=bool)
