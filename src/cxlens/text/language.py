"""Language of a text: ``zh``, ``en`` or ``other``.

A character census decides most texts without a model: any real share of Han characters makes a
text Chinese (contact-centre Chinese is full of Latin product names, "我的iPhone开不了机", so the
threshold is low); kana or hangul make it ``other``. Only texts with Latin letters and no CJK go
to ``langid``, restricted to a few candidates, and short ASCII texts are decided by a stop-word
check first because langid is unreliable below ~20 characters.
"""

from __future__ import annotations

import array
import base64
import bz2
import hashlib
import html
import os
import pickle
import re
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

Language = Literal["zh", "en", "other"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af\u1100-\u11ff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[a-z']+")
_TAG = re.compile(r"<(?:script|style)\b.*?</(?:script|style)\s*>|<!--.*?-->|<[^<>]{0,2000}>", re.S | re.I)
_HTML_HINT = re.compile(r"<(?:html|body|div|p|br|span|table|td|tr|a|b|i|font|meta|head)\b", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\xa0\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")

# Frequent English function words: two hits in a short text is enough to call it English.
_EN_STOP = frozenset(
    "the a an and or but is are was were be been to of in on for with my your you i me we it "
    "this that not no can could would will please thanks thank hi hello have has had do does "
    "did how what why when where there their our us am".split()
)
_CANDIDATES = ("en", "zh", "fr", "de", "es", "it", "pt", "nl", "id", "ms", "vi", "tl", "ja", "ko")


def strip_html(text: str) -> str:
    """Plain text of an HTML e-mail body (tags, scripts and styles removed, entities decoded).

    Texts that do not look like HTML are returned unchanged, so a customer writing "a<b" keeps it.
    """
    if "<" not in text or not _HTML_HINT.search(text):
        return text
    body = re.sub(r"<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>", "\n", text, flags=re.I)
    body = html.unescape(_TAG.sub(" ", body))
    body = _SPACES.sub(" ", body)
    return _BLANK_LINES.sub("\n", body).strip()


@lru_cache(maxsize=1)
def _langid() -> Any:
    import numpy as np
    from langid.langid import LanguageIdentifier

    # What LanguageIdentifier.from_modelstring builds, from the cached decoded model.
    nb_ptc, nb_pc, nb_classes, tk_nextmove, tk_output = _langid_model()
    nb_numfeats = int(len(nb_ptc) / len(nb_pc))
    identifier = LanguageIdentifier(
        np.array(nb_ptc).reshape(nb_numfeats, len(nb_pc)), np.array(nb_pc), nb_numfeats,
        nb_classes, tk_nextmove, tk_output, norm_probs=True)
    identifier.set_languages(list(_CANDIDATES))
    return identifier


def _langid_model() -> tuple[Any, Any, list[str], array.array[int], dict[int, tuple[int, ...]]]:
    """langid's model as its pickle holds it (``nb_ptc, nb_pc, nb_classes, tk_nextmove,
    tk_output``). langid ships it as a bz2-compressed pickle of plain lists: decoding took ~3 s
    of CPU, a third of the text stage on a 3k-customer workspace, for a handful of texts. The
    decoded arrays are kept in the user's cache folder (an .npz, no pickle) keyed by a hash of
    langid's model; without a writable cache the model is decoded as before."""
    import numpy as np
    from langid.langid import model as encoded

    path = _cache_dir() / f"langid-{hashlib.sha256(encoded).hexdigest()[:16]}.npz"
    try:
        with np.load(path, allow_pickle=False) as doc:
            ends = doc["output_ends"].tolist()
            flat = doc["output_values"].tolist()
            starts = [0, *ends[:-1]]
            tk_output = {k: tuple(flat[a:b]) for k, a, b in
                         zip(doc["output_keys"].tolist(), starts, ends, strict=True)}
            return (array.array("f", doc["nb_ptc"].tobytes()),
                    array.array("f", doc["nb_pc"].tobytes()), doc["nb_classes"].tolist(),
                    array.array("H", doc["tk_nextmove"].tobytes()), tk_output)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        pass  # not cached yet (or unreadable): decode langid's own copy
    nb_ptc, nb_pc, nb_classes, tk_nextmove, tk_output = pickle.loads(
        bz2.decompress(base64.b64decode(encoded)))
    keys = list(tk_output)
    lengths = np.array([len(tk_output[k]) for k in keys], dtype=np.int64)
    arrays = {
        "nb_ptc": np.frombuffer(nb_ptc, dtype=np.float32),
        "nb_pc": np.frombuffer(nb_pc, dtype=np.float32),
        "nb_classes": np.array(nb_classes),
        "tk_nextmove": np.frombuffer(tk_nextmove, dtype=np.uint16),
        "output_keys": np.array(keys, dtype=np.int64),
        "output_ends": np.cumsum(lengths),
        "output_values": np.array([v for k in keys for v in tk_output[k]], dtype=np.int64),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(partial, **arrays)
        os.replace(partial, path)  # atomic: a concurrent reader sees the whole file or none
    except OSError:
        pass  # a read-only home: decode again next time
    return nb_ptc, nb_pc, nb_classes, tk_nextmove, tk_output


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cxlens"


def detect(text: str | None) -> Language:
    """``zh``, ``en`` or ``other`` (empty, emoji-only and digits-only texts are ``other``).

    >>> detect("我的iPhone开不了机"), detect("my bill is wrong"), detect("🙂🙂")
    ('zh', 'en', 'other')
    """
    if not text:
        return "other"
    sample = text[:2000]
    han = len(_HAN.findall(sample))
    latin = len(_LATIN.findall(sample))
    if _KANA_HANGUL.search(sample) and len(_KANA_HANGUL.findall(sample)) >= max(2, han // 4):
        return "other"
    if han and han * 8 >= latin:  # a Han char is ~half a word, an English word ~5 letters
        return "zh"
    if latin < 2:
        return "other"
    words = _WORD.findall(sample.lower())
    if sum(w in _EN_STOP for w in words[:60]) >= 2:
        return "en"
    if latin < 12:
        # Too short for langid: a few ASCII words in a contact centre are English far more often.
        return "en" if sample.isascii() else "other"
    lang, _ = _langid().classify(sample)
    return "en" if lang == "en" else ("zh" if lang == "zh" else "other")


def detect_many(texts: list[str | None]) -> list[Language]:
    """:func:`detect` over a batch."""
    return [detect(t) for t in texts]
