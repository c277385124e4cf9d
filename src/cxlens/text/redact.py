"""PII redaction for Chinese and English contact-centre text.

What is found and replaced by a typed placeholder:

* ``[PHONE]`` mainland mobiles in every written form (``+86 138-1234-5678``, ``0086…``,
  ``８６１３８…`` in full-width digits, digits split by spaces/dashes/dots, Chinese digit words
  ``一三八…``), landlines with an area code (``0755-12345678``, ``(010) 1234 5678``) and
  international / English numbers (``+1 (415) 555-0123``, ``+44 20 7946 0958``, ``415-555-0123``);
* ``[ID]`` 18-digit resident identity numbers whose ISO 7064 MOD 11-2 check digit *and* birth date
  are valid;
* ``[CARD]`` 16–19 digit bank cards that pass the Luhn check and start like a card (3–6, 9);
* ``[EMAIL]`` e-mail addresses (full-width ``＠`` included);
* ``[NAME]`` the names the CRM knows for the customer (passed in by the caller).

Look-alikes that must survive: order numbers (``订单号 2026081512345``), 18-digit order ids that
fail the ID checksum or carry no valid birth date, tracking numbers (``SF1234567890123``), amounts,
dates and times. A number directly after an order/tracking keyword is never read as a card.

How: the text is first mapped character-for-character to a normalised twin (full-width → ASCII,
Chinese digit words → digits) so offsets stay equal; candidate digit runs — digits joined by short
separators — are found on the twin, split into their digit groups, and the longest run of groups
that classifies as a PII type wins. Replacements are applied to the original text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal

PiiType = Literal["PHONE", "ID", "CARD", "EMAIL", "NAME"]

# One-to-one character map (same length) so spans found on the twin apply to the original.
_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_CN_DIGITS = dict(zip("零〇一二三四五六七八九幺", "001234567891", strict=True))
_TWIN = str.maketrans({**_FULLWIDTH, **_CN_DIGITS, "\u3000": " ", "－": "-", "—": "-", "–": "-",
                       "（": "(", "）": ")", "＋": "+", "．": "."})

# A candidate: optional + / ( then digits joined by at most 3 separator characters.
_SEP = r"[ \t\-./()，,、]"
_CANDIDATE = re.compile(
    rf"(?<![A-Za-z0-9_])(?:\+|\()?\d(?:{_SEP}{{0,3}}\d)*[Xx]?(?![A-Za-z0-9_])"
)
_GROUP = re.compile(r"\d+")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
)
# Keywords right before a number that make it an order / tracking / invoice reference.
_ORDER_CONTEXT = re.compile(
    r"(订单|訂單|單號|单号|运单|快递|物流|发票|工单|流水|编号|編號|代码|编码|序列号|型号|批次|会员号|券码|"
    r"order|tracking|invoice|ref|ticket|case|serial|model|po|sku|"
    r"awb|waybill|shipment|parcel|no\.?|#)\s*[:：#号]?\s*$",
    re.I,
)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# The ~120 commonest surnames cover > 90% of mainland people; a guessed Chinese name must start
# with one, so "我叫不醒" or "本人同意" are not taken for names.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚"
    "娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池"
    "查麻苑迟邝"
)
_NAME_INTRO_ZH = re.compile(
    r"(?:我叫|我的名字(?:是|叫)|本人(?:是|叫)?|姓名(?:是|[:：])?\s*|我是)\s*"
    r"([\u4e00-\u9fff]{2,3}?)(?=[，,。.!！？?；;、\s]|$|电话|手机|身份|我|的|，)"
)
_NAME_INTRO_EN = re.compile(
    r"(?:[Mm]y name is|[Ii]t's|[Ii]t is|[Tt]his is|I am|I'm)\s+"
    r"([A-Z][a-z]+(?:[ -][A-Z][a-z']+)?)(?=[,.;!?]|\s|$)"
)
_SIGNATURE = re.compile(
    r"\n\s*(?:(?:谢谢|此致|盼复。?|敬礼|Regards,?|Best regards,?|Thanks,?|Best,?|Sincerely,?|Cheers,?)"
    r"[ \t]*\n?[ \t]*)?([\u4e00-\u9fff]{2,3}|[A-Z][a-z]+(?: [A-Z][a-z']+)?)\s*$"
)
_NOT_EN_NAMES = frozenset(
    "Sorry Happy Fine Good Great Okay Still Not Just Very Really Here There Calling About Your The "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday Customer Service Support Thanks".split()
)
_HTML_TAG = re.compile(r"<(?:script|style)\b.*?</(?:script|style)\s*>|<!--.*?-->|</?[A-Za-z][^<>]{0,2000}>",
                       re.S | re.I)
_PLACEHOLDER = re.compile(r"\[(?:PHONE|ID|CARD|EMAIL|NAME)\]")


@dataclass(frozen=True)
class Span:
    """One PII finding: ``text[start:end]`` of ``kind``."""

    start: int
    end: int
    kind: PiiType


@dataclass
class Redaction:
    """A redacted text and what was removed from it."""

    text: str
    spans: list[Span] = field(default_factory=list)

    @property
    def found(self) -> int:
        return len(self.spans)


def twin(text: str) -> str:
    """The same-length normalised twin of ``text`` (full-width → ASCII, 一二三 → 123)."""
    return text.translate(_TWIN)


def id_number_valid(number: str) -> bool:
    """True for an 18-character resident ID with a valid birth date and MOD 11-2 check digit.

    >>> id_number_valid("11010519491231002X"), id_number_valid("110105194912310021")
    (True, False)
    """
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != number[17].upper():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date(2030, 12, 31)


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _landline(digits: str) -> bool:
    # 0 + area code (2 digits for 010/02x, else 3) + 7–8 digit subscriber number.
    if len(digits) < 10 or not digits.startswith("0") or digits.startswith("00"):
        return False
    if digits[1] in "12":
        return len(digits) in (10, 11) and (digits[1] == "2" or digits[:3] == "010")
    return len(digits) in (11, 12) and digits[1] in "3456789"


def _international(raw: str, digits: str) -> bool:
    """NANP / international numbers written with a + or with the usual separators."""
    stripped = raw.strip()
    if stripped.startswith("+"):
        return 8 <= len(digits) <= 15 and not digits.startswith("0")
    if digits.startswith("00") and 10 <= len(digits) <= 17:
        return True
    # North American 10 digits (or 1 + 10) written in groups: (415) 555-0123, 415-555-0123.
    if len(digits) < 8:
        return False
    nanp = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    if len(nanp) == 10 and nanp[0] in "23456789" and nanp[3] in "23456789":
        return bool(re.fullmatch(r"\+?1?[ .-]?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}", stripped))
    # UK style 0 + 10 digits in groups: 020 7946 0958, 07700 900123.
    if len(digits) == 11 and digits[0] == "0" and digits[1] in "123789" and " " in stripped:
        return True
    return False


def classify_number(raw: str, preceding: str = "") -> PiiType | None:
    """The PII type of one candidate number (as written), or None for a look-alike.

    ``preceding`` is the text just before it, used to spare order and tracking numbers.
    """
    digits = "".join(_GROUP.findall(raw))
    tail = raw[-1:].upper()
    if tail == "X" and len(digits) == 17:
        digits += "X"
    n = len(digits)
    national = digits
    if digits.startswith("0086"):
        national = digits[4:]
    elif digits.startswith("86") and n == 13:
        national = digits[2:]
    if len(national) == 11 and _MOBILE.fullmatch(national):
        return "PHONE"
    if n == 18 and id_number_valid(digits):
        return "ID"
    order_like = bool(_ORDER_CONTEXT.search(preceding[-16:]))
    if 16 <= n <= 19 and digits.isdigit() and digits[0] in "345629" and luhn_valid(digits):
        return None if order_like else "CARD"
    if order_like:
        return None
    if _landline(digits) or (digits.startswith("86") and _landline("0" + digits[2:])):
        return "PHONE"
    if _international(raw, digits):
        return "PHONE"
    return None


def _number_spans(text: str, norm: str) -> Iterable[Span]:
    for match in _CANDIDATE.finditer(norm):
        raw = match.group()
        if len("".join(_GROUP.findall(raw))) < 8:  # no PII number is shorter: "7天", "2999元"
            continue
        start = match.start()
        groups = list(_GROUP.finditer(raw))
        if len(raw) > 400:  # a table of numbers, not one number: classify group runs only
            groups = groups[:2000]
        i = 0
        while i < len(groups):
            found = None
            # Longest run of consecutive groups that classifies (a number split across words).
            for j in range(min(len(groups), i + 12) - 1, i - 1, -1):
                lo = groups[i].start()
                lo = 0 if i == 0 and raw[:1] in "+(" else lo
                hi = groups[j].end()
                if j == len(groups) - 1 and raw.endswith(("X", "x")) and hi == len(raw) - 1:
                    hi = len(raw)
                piece = raw[lo:hi]
                if i == 0 and raw[:1] == "(" and ")" not in piece:
                    piece = piece[1:]
                    lo += 1
                kind = classify_number(piece, norm[max(0, start + lo - 24) : start + lo])
                if kind is not None:
                    found = (lo, hi, kind, j)
                    break
            if found is None:
                i += 1
                continue
            lo, hi, kind, j = found
            yield Span(start + lo, start + hi, kind)
            i = j + 1


def names_may_occur(text: str, names: Sequence[str]) -> bool:
    """False when no form of ``names`` occurs in ``text`` even as a bare substring — then
    ``find(text, names, g)`` equals ``find(text, (), g)``: masking and the word-boundary checks
    of the real search only ever remove matches. Lets callers cache the name-free result of a
    text shared by many customers."""
    return name_check(names)(text)


def name_check(names: Sequence[str]) -> Callable[[str], bool]:
    """:func:`names_may_occur` for one customer's ``names``, as a test of the text alone (built
    once per customer, not once per message)."""
    return _name_check(tuple(sorted({n for n in names if n})))


@lru_cache(maxsize=4096)
def _name_check(key: tuple[str, ...]) -> Callable[[str], bool]:
    plain, ascii_forms, other = _name_forms(key)

    def check(text: str) -> bool:
        if any(v in text for v in plain):
            return True
        if not ascii_forms and not other:
            return False
        if ascii_forms and not other and text.isascii():
            lower = text.lower()
            return any(v in lower for v in ascii_forms)
        loose = _loose_names(key)
        return loose is not None and loose.search(text) is not None

    return check


@lru_cache(maxsize=4096)
def _name_forms(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(forms only ever written as themselves, lower-cased ASCII forms, any other form?)."""
    plain, ascii_forms, other = [], [], False
    for v in _name_variants(names):
        if v.isascii():
            ascii_forms.append(v.lower())
        elif any(ch in _TWIN_TOUCHED or ch.lower() != ch.upper() for ch in v):
            other = True
        else:
            plain.append(v)  # Han characters: the twin leaves them, case does not apply
    return tuple(plain), tuple(ascii_forms), other


def _sources(char: str) -> str:
    """Every character whose twin is ``char`` (itself included) in either letter case."""
    forms = {char, char.lower(), char.upper()}
    return "".join(sorted(forms.union(*(_TWIN_SOURCES.get(f, "") for f in forms))))


_TWIN_SOURCES: dict[str, str] = {}
for _src, _dst in ((chr(k), v) for k, v in _TWIN.items()):
    _TWIN_SOURCES[_dst] = _TWIN_SOURCES.get(_dst, "") + _src
_TWIN_TOUCHED = frozenset(_TWIN_SOURCES) | frozenset("".join(_TWIN_SOURCES.values()))


@lru_cache(maxsize=4096)
def _loose_names(names: tuple[str, ...]) -> re.Pattern[str] | None:
    # Searched on the original text, not its twin (translating every text cost more than the
    # search): each character of a name form matches anything whose twin it is.
    variants = _name_variants(names)
    if not variants:
        return None
    forms = ("".join(f"[{re.escape(_sources(ch))}]" for ch in v)
             for v in sorted(variants, key=len, reverse=True))
    return re.compile("|".join(forms), re.I)


@lru_cache(maxsize=4096)
def _compiled_names(names: tuple[str, ...]) -> re.Pattern[str] | None:
    variants = _name_variants(names)
    if not variants:
        return None
    ordered = sorted(variants, key=len, reverse=True)
    # An ASCII name ends where ASCII letters and digits end: ``\b`` would not fire between
    # "是" and "Bob" (CJK characters are word characters too), so "我是Bob Li" kept the name.
    alternatives = "|".join(
        rf"(?<![A-Za-z0-9_]){re.escape(v)}(?![A-Za-z0-9_])" if v.isascii() else re.escape(v)
        for v in ordered
    )
    return re.compile(alternatives, re.I)


@lru_cache(maxsize=65536)
def _name_matcher(names: tuple[str, ...]) -> Callable[[str], Iterable[tuple[int, int]]] | None:
    """What ``_compiled_names(names).finditer`` finds, as (start, end) pairs, without compiling a
    regex per customer where that is not needed (compiling was ~10 % of the text stage):

    * names in uncased, twin-free characters (Han): ``re.I`` changes nothing, so the leftmost
      occurrence of any form, the longest at one place, is what the alternation returns;
    * ASCII names in ASCII text: the same on the lower-cased text, skipping occurrences glued
      to ASCII letters, digits or ``_`` (the pattern's lookarounds);
    * anything else: the compiled pattern.
    """
    variants = _name_variants(names)
    if not variants:
        return None
    ordered = sorted(variants, key=len, reverse=True)
    if all(not v.isascii() and all(ch == ch.lower() == ch.upper() and ch not in _TWIN_TOUCHED
                                   for ch in v) for v in ordered):
        return lambda text: _literal_matches(text, ordered)
    if all(v.isascii() for v in ordered):
        lowered = [v.lower() for v in ordered]

        def ascii_or_regex(text: str) -> Iterable[tuple[int, int]]:
            if text.isascii():
                return _literal_matches(text.lower(), lowered, _ASCII_WORD)
            pattern = _compiled_names(names)
            assert pattern is not None
            return (m.span() for m in pattern.finditer(text))

        return ascii_or_regex
    pattern = _compiled_names(names)
    assert pattern is not None
    return lambda text: (m.span() for m in pattern.finditer(text))


_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _literal_matches(text: str, ordered: Sequence[str],
                     word: frozenset[str] | None = None) -> Iterator[tuple[int, int]]:
    # The regex alternation, longest form first: the earliest place where a form occurs (and,
    # with ``word``, is not glued to a word character), the first form in order there.
    n = len(text)

    def next_at(form: str, pos: int) -> int:
        at = text.find(form, pos)
        if word is not None:
            while at != -1 and ((at and text[at - 1] in word)
                                or (at + len(form) < n and text[at + len(form)] in word)):
                at = text.find(form, at + 1)
        return at

    pos = 0
    nxt = [next_at(f, 0) for f in ordered]
    while True:
        best = -1
        for k, form in enumerate(ordered):
            at = nxt[k]
            if at != -1 and at < pos:
                at = nxt[k] = next_at(form, pos)
            if at != -1 and (best == -1 or at < nxt[best]):
                best = k
        if best == -1:
            return
        lo = nxt[best]
        pos = lo + len(ordered[best])
        yield lo, pos


def _name_variants(names: tuple[str, ...]) -> set[str]:
    variants: set[str] = set()
    for name in names:
        name = (name or "").strip()
        if len(name) < 2 or _PLACEHOLDER.fullmatch(name):
            continue
        variants.add(name)
        if name.isascii():
            parts = [p for p in re.split(r"[\s.]+", name) if len(p) >= 3]
            variants.update(parts)  # "Smith" alone still names the customer
            if len(parts) >= 2:
                variants.add(f"{parts[-1]} {parts[0]}")
        elif len(name) >= 2:
            variants.add(name.replace(" ", ""))
    return variants


def _guessed_names(norm: str) -> Iterable[Span]:
    """Names the text introduces itself ("我叫王伟", "my name is Jo Lee", an e-mail signature)."""
    for pattern in (_NAME_INTRO_ZH, _NAME_INTRO_EN, _SIGNATURE):
        for m in pattern.finditer(norm):
            name = m.group(1)
            if name.isascii():
                if name.split()[0] in _NOT_EN_NAMES:
                    continue
            elif name[0] not in _SURNAMES and name[:2] not in _SURNAMES:
                continue
            yield Span(m.start(1), m.end(1), "NAME")


def find(text: str, names: Sequence[str] = (), guess_names: bool = False) -> list[Span]:
    """All PII spans in ``text`` (non-overlapping, in order).

    ``guess_names`` also takes names the text introduces ("我叫王伟", "My name is Jo Lee", an
    e-mail signature) — use it for what the customer wrote, not for the agent's turns.

    >>> [s.kind for s in find("王伟的手机是 +86 138-1234-5678，邮箱 wang@qq.com", ["王伟"])]
    ['NAME', 'PHONE', 'EMAIL']
    """
    if not text:
        return []
    norm = twin(text)
    if "<" in norm:
        # HTML bodies: tags become a line break padded to the same length, so offsets hold and
        # "<br>Mary Jones</p>" reads as a signature line.
        norm = _HTML_TAG.sub(lambda m: "\n" + " " * (len(m.group()) - 1), norm)
    spans: list[Span] = [Span(m.start(), m.end(), "EMAIL") for m in _EMAIL.finditer(norm)]
    masked = _mask(norm, spans)
    spans.extend(_number_spans(text, masked))
    matches = _name_matcher(tuple(sorted({n for n in names if n}))) if names else None
    if matches is not None:
        masked = _mask(norm, spans)
        spans.extend(Span(lo, hi, "NAME") for lo, hi in matches(masked))
    if guess_names:
        spans.extend(_guessed_names(_mask(norm, spans)))
    spans.sort(key=lambda s: (s.start, -s.end))
    kept: list[Span] = []
    for span in spans:
        if kept and span.start < kept[-1].end:
            continue
        kept.append(span)
    return kept


def _mask(norm: str, spans: Sequence[Span]) -> str:
    if not spans:
        return norm
    chars = list(norm)
    for s in spans:
        chars[s.start : s.end] = "\x00" * (s.end - s.start)
    return "".join(chars)


def redact(text: str | None, names: Sequence[str] = (), guess_names: bool = False) -> Redaction:
    """Replace every PII span by its typed placeholder.

    >>> redact("卡号 6222 0212 3456 7890 128，订单号 2026081512345").text
    '卡号 [CARD]，订单号 2026081512345'
    """
    if not text:
        return Redaction(text or "")
    spans = find(text, names, guess_names)
    if not spans:
        return Redaction(text)
    out: list[str] = []
    last = 0
    for s in spans:
        out.append(text[last : s.start])
        out.append(f"[{s.kind}]")
        last = s.end
    out.append(text[last:])
    return Redaction("".join(out), spans)


def redact_many(texts: Sequence[str | None], names: Sequence[Sequence[str]] | None = None) -> list[Redaction]:
    """:func:`redact` over a batch; ``names[i]`` are the known names for ``texts[i]``."""
    if names is None:
        return [redact(t) for t in texts]
    return [redact(t, n) for t, n in zip(texts, names, strict=True)]
