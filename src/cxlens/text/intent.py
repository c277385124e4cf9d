"""Contact reasons (intents): the taxonomy, keyword rules and a trainable classifier.

* :class:`Taxonomy` reads ``taxonomy.yaml`` (or a workspace's own file): top-level codes are
  :data:`cxlens.schema.REASONS`, each with zh/en labels, keywords and sub-reasons. A duplicate code
  or a missing label is a :class:`~cxlens.errors.ConfigError` that names the node.
* :class:`KeywordRules` is the cold start: keyword hits per reason, confidence = the winner's share.
* :class:`IntentModel` is a linear model on word + character n-gram TF-IDF and pretrained
  sentence vectors (wordllama), trained from labelled examples (``cxlens train intent
  LABELS.csv``), saved in the workspace's models folder; the stage prefers it when present. Its
  confidence is a softmax over the decision scores.

Below ``settings.text.intent_min_confidence`` a prediction becomes ``other`` (for review).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cxlens import schema
from cxlens.errors import ConfigError, InputError, NotFoundError

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.yaml")
MODEL_FILE = "intent.joblib"
OTHER = "other"
MAX_CHARS = 4000  # a reason is stated early; a 1 MB e-mail must not cost a second
_WORDY = re.compile(r"[^\W_]")  # a letter, digit or Han character: something to read a reason in
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")  # the [a-z0-9] of a word boundary
_ASCII_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class Reason:
    """One node of the taxonomy."""

    code: str
    label_zh: str
    label_en: str
    keywords: list[str] = field(default_factory=list)
    parent: str | None = None


@dataclass
class Prediction:
    """An intent with its confidence; ``sub_intent`` is the finer code when one is known."""

    intent: str
    confidence: float
    sub_intent: str | None = None
    method: str = "rules"


class Taxonomy:
    """The hierarchical contact-reason taxonomy (see ``taxonomy.yaml``)."""

    def __init__(self, reasons: list[Reason]) -> None:
        self.reasons = {r.code: r for r in reasons}
        self.top = [r.code for r in reasons if r.parent is None]

    @classmethod
    def load(cls, path: Path | str | None = None) -> Taxonomy:
        """Read and validate a taxonomy file (the shipped one by default)."""
        import yaml

        source = Path(path) if path else TAXONOMY_FILE
        if not source.is_file():
            raise NotFoundError(f"taxonomy file {source} does not exist")
        try:
            doc = yaml.safe_load(source.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source} is not valid YAML: {str(exc).splitlines()[0]}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("reasons"), list):
            raise ConfigError(f"{source}: expected a mapping with a `reasons:` list")
        reasons: list[Reason] = []
        seen: set[str] = set()
        for node in doc["reasons"]:
            _walk(node, None, reasons, seen, source)
        return cls(reasons)

    def label(self, code: str, language: str = "en") -> str:
        reason = self.reasons.get(code)
        if reason is None:
            return code
        return reason.label_zh if language == "zh" else reason.label_en

    def top_of(self, code: str) -> str:
        """The top-level reason of a (sub-)reason code; unknown codes are returned unchanged."""
        reason = self.reasons.get(code)
        while reason is not None and reason.parent is not None:
            reason = self.reasons.get(reason.parent)
        return reason.code if reason is not None else code


def _walk(node: Any, parent: str | None, out: list[Reason], seen: set[str], source: Path) -> None:
    if not isinstance(node, dict) or not node.get("code"):
        raise ConfigError(f"{source}: a reason without a `code` (under {parent or 'reasons'})")
    code = str(node["code"])
    if code in seen:
        raise ConfigError(f"{source}: duplicate reason code {code!r}", "every code must be unique")
    seen.add(code)
    label = node.get("label")
    if not isinstance(label, dict) or not label.get("zh") or not label.get("en"):
        raise ConfigError(
            f"{source}: reason {code!r} is missing its zh or en label",
            "give every reason `label: {zh: ..., en: ...}`",
        )
    keywords = node.get("keywords") or {}
    if isinstance(keywords, dict):
        words = [str(w) for lang in keywords.values() for w in (lang or [])]
    else:
        words = [str(w) for w in keywords]
    out.append(Reason(code, str(label["zh"]), str(label["en"]), words, parent))
    for child in node.get("children") or []:
        _walk(child, code, out, seen, source)


class KeywordRules:
    """Cold-start intents: keyword hits per top-level reason, refined to a sub-reason."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        # Keywords are matched like one alternation over every keyword, longest first, scanned
        # once per text; each keyword maps to the codes that list it.
        self._codes: dict[str, list[str]] = {}
        for code, reason in taxonomy.reasons.items():
            for k in reason.keywords:
                self._codes.setdefault(k.lower(), []).append(code)
        self._alts = sorted(self._codes, key=len, reverse=True)
        # Candidates for a text: Chinese keywords by their first character; ASCII keywords by
        # their first word, which a whole-word match must find as a word of the text.
        self._by_first: dict[str, list[str]] = defaultdict(list)
        self._by_word: dict[str, list[str]] = defaultdict(list)
        for k in self._alts:
            head = _ASCII_WORD.match(k) if k.isascii() else None
            if head is not None:
                self._by_word[head.group()].append(k)
            else:
                self._by_first[k[:1]].append(k)
        self._firsts = frozenset(c for c in self._by_first if c)
        self._words = frozenset(self._by_word)
        self._order = {c: i for i, c in enumerate(taxonomy.top)}

    def _keywords(self, text: str) -> list[str]:
        """The keyword matches of ``text`` (lower-cased), in order: what one alternation of all
        keywords, longest first, finds (``re.finditer``; whole words for ASCII keywords). That
        regex was 40% of the stage: only keywords that occur in the text as substrings can
        match, so their occurrences are listed with ``str.find`` and taken left to right, the
        longest first where several start at one place, skipping overlaps."""
        if "" in self._codes:  # an empty keyword matches between every two characters
            return [m.group() for m in _alternation(tuple(self._alts)).finditer(text)]
        candidates = [k for c in self._firsts.intersection(text) for k in self._by_first[c]]
        if self._words:
            words = self._words.intersection(_ASCII_WORD.findall(text))
            candidates.extend(k for w in words for k in self._by_word[w])
        found = []
        for k in candidates:
            at = text.find(k)
            while at >= 0:
                found.append((at, -len(k), k))
                at = text.find(k, at + 1)
        if not found:
            return []
        found.sort()
        out, pos, n = [], 0, len(text)
        for at, minus, k in found:
            if at < pos:
                continue
            end = at - minus
            if k.isascii() and ((at and text[at - 1] in _ALNUM)
                                or (end < n and text[end] in _ALNUM)):
                continue
            out.append(k)
            pos = end
        return out

    def predict(self, text: str | None) -> Prediction:
        if not text or not self._codes:
            return Prediction(OTHER, 0.0)
        counts: dict[str, int] = {}
        for keyword in self._keywords(text[:MAX_CHARS].lower()):
            for code in self._codes[keyword]:
                counts[code] = counts.get(code, 0) + 1
        hits = {c: n for c, n in counts.items() if self.taxonomy.reasons[c].parent is None}
        if not hits:
            return Prediction(OTHER, 0.0)
        best = max(hits, key=lambda c: (hits[c], -self._order[c]))
        confidence = hits[best] / (sum(hits.values()) + 0.5)
        subs = {c: n for c, n in counts.items() if self.taxonomy.reasons[c].parent == best}
        sub = max(subs, key=lambda c: subs[c]) if subs else None
        return Prediction(best, round(confidence, 4), sub, "rules")

    def predict_many(self, texts: Sequence[str | None]) -> list[Prediction]:
        return [self.predict(t) for t in texts]


@lru_cache(maxsize=1)
def _alternation(keywords: tuple[str, ...]) -> re.Pattern[str]:
    # ASCII keywords are whole words; Chinese ones match anywhere.
    return re.compile("|".join(
        rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])" if k.isascii() else re.escape(k)
        for k in keywords))


class IntentModel:
    """A linear SVM over labelled examples on three feature blocks: word 1–3 and char_wb 1–5
    gram TF-IDF, and the text's pooled wordllama token vectors
    (:class:`~cxlens.text.intent_blend.SentenceEmbedding`, weight 2). The pretrained vectors
    know that "nicked" and "stolen" mean the same; the n-grams know the exact wording.

    >>> model = IntentModel.train(["my card never arrived", "refund please"] * 5,
    ...                           ["delivery", "refund"] * 5)          # doctest: +SKIP
    >>> model.predict(["where is my card"])[0].intent                # doctest: +SKIP
    'delivery'
    """

    def __init__(self, pipeline: Any, labels: list[str], temperature: float = 3.0) -> None:
        self.pipeline = pipeline
        self.labels = labels
        self.temperature = temperature

    @staticmethod
    def build(c: float = 0.5, embedding_weight: float = 2.0, svm_weight: float = 1.0) -> Any:
        """The untrained pipeline. Defaults chosen on a 20% hold-out of Banking77's train split
        (docs/text.md): SVM C 0.5, embedding weight 2, the SVM alone (``svm_weight`` 1.0)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion, make_pipeline

        from cxlens.text.intent_blend import SentenceEmbedding, SvmLogisticBlend

        features = FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, lowercase=True,
                                     token_pattern=r"(?u)\b\w+\b")),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True,
                                     lowercase=True, min_df=2)),
            ("meaning", SentenceEmbedding(embedding_weight)),
        ])
        return make_pipeline(features, SvmLogisticBlend(c, svm_weight=svm_weight))

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], c: float = 0.5) -> IntentModel:
        """Fit on labelled examples (needs at least two labels)."""
        distinct = sorted(set(labels))
        if len(distinct) < 2:
            raise InputError("intent training needs examples of at least two labels")
        pipeline = cls.build(c)
        pipeline.fit([_clip(t) for t in texts], list(labels))
        return cls(pipeline, list(pipeline.classes_))

    def scores(self, texts: Sequence[str | None]) -> Any:
        import numpy as np

        decision = self.pipeline.decision_function([_clip(t) for t in texts])
        if decision.ndim == 1:  # two classes: sklearn returns one column
            decision = np.column_stack([-decision, decision])
        z = decision * self.temperature
        z -= z.max(axis=1, keepdims=True)
        prob = np.exp(z)
        return prob / prob.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str | None]) -> list[Prediction]:
        if not texts:
            return []
        prob = self.scores(texts)
        best = prob.argmax(axis=1)
        return [
            Prediction(self.labels[b], round(float(prob[i, b]), 4), None, "model")
            for i, b in enumerate(best)
        ]

    def save(self, path: Path) -> Path:
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"pipeline": self.pipeline, "labels": self.labels,
                     "temperature": self.temperature, "format": 2}, path, compress=3)
        return path

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        import joblib

        try:
            doc = joblib.load(path)
        except (OSError, EOFError, ValueError, KeyError) as exc:
            raise ConfigError(f"intent model {path} cannot be read: {exc}",
                              "retrain it with `cxlens train intent LABELS.csv`") from exc
        return cls(doc["pipeline"], doc["labels"], doc.get("temperature", 3.0))


def _clip(text: str | None) -> str:
    return (text or "")[:MAX_CHARS]


def read_labels(path: Path) -> tuple[list[str], list[str]]:
    """Read a ``text,label`` CSV (UTF-8, header row). Blank rows are skipped."""
    if not path.is_file():
        raise NotFoundError(f"labels file {path} does not exist")
    texts: list[str] = []
    labels: list[str] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            fields = [f.strip().lower() for f in reader.fieldnames or []]
            if "text" not in fields or "label" not in fields:
                raise InputError(
                    f"{path} needs the columns text,label (found: {', '.join(fields) or 'none'})",
                    "write a header row `text,label`",
                )
            reader.fieldnames = fields
            for row in reader:
                text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
                if text and label:
                    texts.append(text)
                    labels.append(label)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8", "re-save it as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise InputError(f"{path} is not a readable CSV: {exc}") from exc
    if not texts:
        raise InputError(f"{path} has no labelled rows")
    return texts, labels


class IntentClassifier:
    """What the stage and the CLI use: the trained model when there is one, else keyword rules,
    with low-confidence predictions turned into ``other``."""

    def __init__(self, taxonomy: Taxonomy, model: IntentModel | None, min_confidence: float) -> None:
        self.taxonomy = taxonomy
        self.rules = KeywordRules(taxonomy)
        self.model = model
        self.min_confidence = min_confidence

    @classmethod
    def for_workspace(cls, models_dir: Path | None, min_confidence: float,
                      taxonomy_file: str | None = None) -> IntentClassifier:
        taxonomy = Taxonomy.load(taxonomy_file or None)
        path = models_dir / MODEL_FILE if models_dir is not None else None
        model = IntentModel.load(path) if path is not None and path.is_file() else None
        return cls(taxonomy, model, min_confidence)

    def predict(self, texts: Sequence[str | None]) -> list[Prediction]:
        if self.model is not None:
            preds = self.model.predict(texts)
            for p in preds:
                top = self.taxonomy.top_of(p.intent)
                if top != p.intent:
                    p.sub_intent, p.intent = p.intent, top
        else:
            preds = self.rules.predict_many(texts)
        for p, text in zip(preds, texts, strict=True):
            # Empty, emoji-only or punctuation-only text states no reason: the model would
            # still name one from its intercepts alone.
            if not _WORDY.search((text or "")[:MAX_CHARS]):
                p.intent, p.sub_intent, p.confidence = OTHER, None, 0.0
            elif p.confidence < self.min_confidence:
                p.intent, p.sub_intent = OTHER, None
        return preds


def known_reasons() -> tuple[str, ...]:
    """The top-level reason codes every taxonomy must cover."""
    return schema.REASONS
