"""Chinese segmentation with jieba, plus a contact-centre user dictionary.

The shipped dictionary (``user_dict.txt`` beside this module) keeps contact-centre words whole
(工单, 转人工, 开不了机, 运单号…); ``settings.text.user_dictionary`` names a further file in
jieba's format (``word [freq] [tag]`` per line) that the workspace adds on top. A private
:class:`jieba.Tokenizer` is used so cxlens never changes the global jieba state of its host.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from cxlens.errors import ConfigError

BUILTIN_DICTIONARY = Path(__file__).with_name("user_dict.txt")
_LOCK = threading.Lock()
_TOKEN_OK = re.compile(r"[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z0-9+#.\-]*")
# jieba's own block pattern (``jieba.re_han_default``): it segments each such run separately.
_BLOCK = re.compile("[\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+")
_BLOCK_TERMS: dict[str, dict[str, tuple[str, ...]]] = {}  # user dictionary → block → terms
_CACHE_MAX = 500_000  # bounds memory on large warehouses (~100 MB at most)

STOPWORDS = frozenset(
    # Chinese function words and contact-centre filler that carries no topic.
    "的 了 是 我 你 他 她 它 们 我们 你们 在 有 和 就 不 也 都 这 那 这个 那个 一个 吗 呢 吧 啊 哦 嗯 呀 "
    "么 什么 怎么 为什么 还 又 很 太 就是 可以 没有 一下 一直 已经 请 请问 您 您好 你好 谢谢 好的 好 "
    "麻烦 帮 帮我 给 把 被 让 对 到 说 要 想 会 能 过 上 下 里 中 后 前 再 但是 但 因为 所以 如果 "
    "还是 或者 然后 现在 今天 昨天 明天 时候 问题 一 二 三 个 次 元 号 先生 女士 客服 您的 我的 "
    "phone id card email name "
    # English stop words.
    "the a an and or but is are was were be been being to of in on for with my your you i me we "
    "it its this that these those not no can could would will shall should please thanks thank "
    "hi hello have has had do does did how what why when where there their our us am so just "
    "get got about from at as by if then than also still any some all very too up out one two "
    "im i'm dont don't cant can't it's is'nt ok okay yes yeah".split()
)


@lru_cache(maxsize=8)
def tokenizer(user_dictionary: str = "") -> Any:
    """A jieba tokenizer with the built-in and (optionally) the workspace user dictionary."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    with _LOCK:
        tok.initialize()
        tok.load_userdict(str(BUILTIN_DICTIONARY))
        if user_dictionary:
            path = Path(user_dictionary).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"text.user_dictionary {user_dictionary!r} does not exist",
                    "point it at a UTF-8 file with one `word [freq] [tag]` per line",
                )
            try:
                tok.load_userdict(str(path))
            except (UnicodeDecodeError, ValueError) as exc:
                raise ConfigError(
                    f"text.user_dictionary {user_dictionary!r} cannot be read: {exc}",
                    "save it as UTF-8 with one `word [freq] [tag]` per line",
                ) from exc
    return tok


def segment(text: str, user_dictionary: str = "") -> list[str]:
    """Words of ``text`` (jieba for Chinese; English words come out whole), spaces dropped.

    >>> segment("我的宽带一直连不上")
    ['我的', '宽带', '一直', '连不上']
    """
    if not text:
        return []
    return [w for w in tokenizer(user_dictionary).lcut(text, HMM=False) if w.strip()]


def _content(words: list[str]) -> tuple[str, ...]:
    out = []
    for word in words:
        word = word.strip().lower()
        if len(word) < 2 or word in STOPWORDS or not _TOKEN_OK.fullmatch(word):
            continue
        out.append(word)
    return tuple(out)


def terms(text: str, user_dictionary: str = "", limit: int = 20000) -> list[str]:
    """Content words of ``text``: segmented, lower-cased, stop words and numbers dropped.

    Equal to filtering :func:`segment`'s words, but cut block by block with a cache: jieba
    itself cuts each run of its block characters on its own and yields only single characters
    or whitespace between runs (never a content word), and contact-centre text repeats the same
    runs ("我的宽带", "已经三天了") across thousands of contacts — jieba was most of the text
    stage's time before.
    """
    tok = tokenizer(user_dictionary)
    cache = _BLOCK_TERMS.setdefault(user_dictionary, {})
    out: list[str] = []
    for block in _BLOCK.findall(text[:limit]):
        found = cache.get(block)
        if found is None:
            found = _content(tok.lcut(block, HMM=False))
            if len(cache) < _CACHE_MAX:
                cache[block] = found
        out.extend(found)
    return out


def keywords(text: str, k: int = 5, user_dictionary: str = "") -> list[str]:
    """The ``k`` most frequent content words, longer words first on ties."""
    counts = Counter(terms(text, user_dictionary))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))
    return [w for w, _ in ranked[:k]]
