"""Language of a text: ``zh``, ``en`` or ``other``.

A character census decides most texts without a model: any real share of Han characters makes a
text Chinese (contact-centre Chinese is full of Latin product names, "我的iPhone开不了机", so the
threshold is low); kana or hangul make it ``other``. Only texts with Latin letters and no CJK go
to ``langid``, restricted to a few candidates, and short ASCII texts are decided by a stop-word
check first because langid is unreliable below ~20 characters.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
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
    from langid.langid import LanguageIdentifier, model

    identifier = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    identifier.set_languages(list(_CANDIDATES))
    return identifier


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
