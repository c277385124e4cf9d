"""A small contact-centre language model for pocketsphinx ("domain" mode).

pocketsphinx's general 130k-word model turns synthetic or narrow-band call audio into word
salad ("good morning, thank you for calling" → "what will we saw your portfolio"). Restricting
the search to the words and word pairs agents actually say — the QA rules' phrases plus a
built-in corpus of call-centre sentences (``domain_en.txt``) and the user's own phrase file —
makes the phrases QA looks for recognisable. The price: words outside the corpus cannot be
recognised at all; they come out as the nearest in-domain word. docs/speech.md has the figures.

The model is a bigram ARPA file with absolute discounting and proper back-off weights, built in
pure Python in a few milliseconds.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections import Counter, defaultdict
from functools import lru_cache
from importlib import resources
from pathlib import Path

from cxlens.errors import ConfigError

_WORD = re.compile(r"[a-z][a-z']*")
# Small discount: trust the few observed word pairs (measured best of 0.1/0.5/0.8 on espeak calls).
DISCOUNT = 0.1


def corpus_sentences(extra_file: str = "", rule_phrases: tuple[str, ...] = ()) -> list[str]:
    """The domain corpus: built-in sentences + QA phrases (English) + the user's phrase file."""
    text = resources.files("cxlens.speech").joinpath("domain_en.txt").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    lines.extend(rule_phrases)
    if extra_file:
        path = Path(extra_file)
        if not path.is_file():
            raise ConfigError(
                f"speech.domain_phrases_file {extra_file} does not exist",
                "point it at a UTF-8 text file with one phrase per line, or leave it empty",
            )
        lines.extend(ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip())
    return lines


def tokenise(sentence: str) -> list[str]:
    return _WORD.findall(sentence.lower())


@lru_cache(maxsize=1)
def dictionary_words(dict_path: str) -> frozenset[str]:
    """Words the pronunciation dictionary knows (alternates like ``read(2)`` folded)."""
    words = set()
    with open(dict_path, encoding="utf-8") as handle:
        for line in handle:
            head = line.split(" ", 1)[0]
            words.add(head.split("(", 1)[0])
    return frozenset(words)


def build_arpa(sentences: list[str], vocabulary: frozenset[str] | None = None) -> str:
    """A bigram ARPA model of ``sentences`` (words missing from ``vocabulary`` dropped)."""
    tokens = []
    for sentence in sentences:
        words = [w for w in tokenise(sentence) if vocabulary is None or w in vocabulary]
        if words:
            tokens.append(["<s>", *words, "</s>"])
    if not tokens:
        raise ConfigError("the speech domain corpus has no usable English words")
    unigrams = Counter(w for t in tokens for w in t)
    bigrams = Counter((a, b) for t in tokens for a, b in zip(t, t[1:], strict=False))
    total, size = sum(unigrams.values()), len(unigrams)
    p_uni = {w: (c + 1) / (total + size) for w, c in unigrams.items()}
    following: dict[str, dict[str, int]] = defaultdict(dict)
    for (a, b), count in bigrams.items():
        following[a][b] = count
    backoff = {}
    for history, nexts in following.items():
        seen = sum(nexts.values())
        kept = sum((c - DISCOUNT) / seen for c in nexts.values())
        denominator = 1.0 - sum(p_uni[b] for b in nexts)
        backoff[history] = (1.0 - kept) / denominator if denominator > 1e-9 else 1e-3
    lines = ["\\data\\", f"ngram 1={size}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    for word in sorted(unigrams):
        logp = -99.0 if word == "<s>" else math.log10(p_uni[word])
        bow = f" {math.log10(backoff[word]):.4f}" if word in backoff else ""
        lines.append(f"{logp:.4f} {word}{bow}")
    lines += ["", "\\2-grams:"]
    for (a, b), count in sorted(bigrams.items()):
        seen = sum(following[a].values())
        lines.append(f"{math.log10((count - DISCOUNT) / seen):.4f} {a} {b}")
    lines += ["", "\\end\\", ""]
    return "\n".join(lines)


def model_files(sentences: list[str], dict_path: str) -> tuple[str, str]:
    """Write the domain LM and a matching small pronunciation dictionary to content-addressed
    temp files; returns ``(arpa_path, dict_path)``.

    The small dictionary matters: loading the full 135k-word one takes ~10 s per decoder.
    """
    key = "\n".join([dict_path, str(DISCOUNT), *sentences])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir())
    arpa = folder / f"cxlens-domain-{digest}.arpa"
    small = folder / f"cxlens-domain-{digest}.dict"
    if not (arpa.exists() and small.exists()):
        vocabulary = dictionary_words(dict_path)
        text = build_arpa(sentences, vocabulary)
        words = {w for t in (tokenise(s) for s in sentences) for w in t if w in vocabulary}
        with open(dict_path, encoding="utf-8") as handle:
            entries = [ln for ln in handle if ln.split(" ", 1)[0].split("(", 1)[0] in words]
        _atomic_write(small, "".join(entries))
        _atomic_write(arpa, text)
    return str(arpa), str(small)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
