"""Customers and the records other systems keep about them (CRM, billing, shop, campaigns).

Identifiers are written the way clerks and systems write them (``138-0013-8000``,
``008613800138000``, ``0755-12345678``, random e-mail case); every value is unique per person
except household landlines, which 2–3 persons of one household share.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from cxlens.synth import vocab
from cxlens.synth.config import SynthConfig

DAY = 86_400.0

# Bijective scramblers on [0, m) for m = 10^k, 16^k, 36^k, 7·10^k: multiplying by a number
# coprime to m (no factor 2, 3, 5 or 7) permutes the residues; the salt shifts and picks the unit.
_UNITS = (48_271_837, 69_069_011, 2_654_435_761, 1_103_515_249, 22_695_477_913)


def scramble(x: int, modulus: int, salt: int = 0) -> int:
    """A unique-looking number in [0, modulus) for each x < modulus (a bijection)."""
    shift = (salt * 2_654_435_761 + 97_531) % modulus
    return ((x + shift) * _UNITS[salt % len(_UNITS)]) % modulus


def base36(n: int, width: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(chars[r])
    return "".join(reversed(out))


@dataclass
class Person:
    """One true customer (the ground truth behind many records)."""

    idx: int
    person_id: str
    language: str
    gender: str
    name: str
    birth_date: date
    city: str
    region: str
    area_code: str
    tier: str
    plan: str
    created_at: float  # seconds since the period start (negative: before it)
    mobile: str  # 11 digits
    email: str | None  # the mailbox form (dots as the mailbox shows them); case varies per record
    account: str
    wechat: str | None
    weibo: str | None
    devices: list[str]
    household: int | None = None
    landline: str | None = None  # digits with area code, shared by the household
    age: int = 0
    # behaviour
    contact_propensity: float = 1.0
    patience: float = 1.0
    # filled by the journey simulation
    churn_date: float | None = None
    churned: bool = False
    dissatisfaction: float = 0.0
    problem_count: int = 0
    unresolved_count: int = 0
    crm_ids: list[str] = field(default_factory=list)


def _weighted(rng: random.Random, items: tuple, cum_weights: list[float]) -> tuple:
    return rng.choices(items, cum_weights=cum_weights, k=1)[0]


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


_SURNAMES = tuple(s for s, _ in vocab.ZH_SURNAMES)
_SURNAME_W = _cumulative([w for _, w in vocab.ZH_SURNAMES])
_CITY_W = _cumulative([c[4] for c in vocab.CITIES])
_DOM_ZH_W = _cumulative([w for _, w in vocab.EMAIL_DOMAINS_ZH])
_DOM_EN_W = _cumulative([w for _, w in vocab.EMAIL_DOMAINS_EN])


def make_people(config: SynthConfig, chunk: int, rng: random.Random) -> list[Person]:
    """The persons of one chunk (global indices ``config.chunk_range(chunk)``)."""
    lo, hi = config.chunk_range(chunk)
    start = config.start_date
    seed = config.seed
    people: list[Person] = []
    for idx in range(lo, hi):
        lang = "en" if rng.random() < config.en_share else "zh"
        gender = "F" if rng.random() < 0.5 else "M"
        if lang == "zh":
            surname = _weighted(rng, _SURNAMES, _SURNAME_W)
            given = rng.choice(vocab.ZH_GIVEN_FEMALE if gender == "F" else vocab.ZH_GIVEN_MALE)
            name = surname + given
        else:
            first = rng.choice(vocab.EN_FIRST_FEMALE if gender == "F" else vocab.EN_FIRST_MALE)
            name = f"{first} {rng.choice(vocab.EN_LAST)}"
        age = int(min(80, max(18, rng.gauss(38, 12))))
        birth = start - timedelta(days=age * 365 + rng.randrange(365))
        city, region, area, _, _ = _weighted(rng, vocab.CITIES, _CITY_W)
        vip = rng.random() < config.vip_share
        plan = rng.choices(vocab.PLANS, weights=(2, 3, 4) if vip else (5, 3, 1), k=1)[0]
        tenure_days = rng.expovariate(1 / 900) + 5
        mobile = rng.choice(vocab.MOBILE_PREFIXES) + f"{scramble(idx, 10**8, seed * 16 + 1):08d}"
        email = _email(rng, idx, seed, lang, name)
        wechat_p = 0.75 if lang == "zh" else 0.2
        wechat = None
        if rng.random() < wechat_p:
            wechat = f"wxid_{base36(scramble(idx, 36**9, seed * 16 + 4), 9)}"
        weibo = None
        if lang == "zh" and rng.random() < 0.3:
            weibo = "@" + rng.choice(vocab.PINYIN_SYLLABLES) + rng.choice(
                ("爱吃鱼", "的日常", "_", "小号", "2026", "酱", "不加班")) + str(
                scramble(idx, 10**8, seed * 16 + 11))
        devices = [f"d{scramble(idx * 4 + k, 16**10, seed * 16 + 5) :010x}"
                   for k in range(1 if rng.random() < 0.6 else 2)]
        people.append(Person(
            idx=idx, person_id=f"P{idx:08d}", language=lang, gender=gender, name=name,
            birth_date=birth, city=city, region=region, area_code=area,
            tier="vip" if vip else "regular", plan=plan, created_at=-tenure_days * DAY,
            mobile=mobile, email=email, account=f"A{scramble(idx, 10**9, seed * 16 + 2):09d}",
            wechat=wechat, weibo=weibo, devices=devices, age=age,
            contact_propensity=rng.lognormvariate(0, 0.35),
            patience=rng.lognormvariate(0, 0.4),
        ))
    _households(config, chunk, people, rng)
    return people


def _email(rng: random.Random, idx: int, seed: int, lang: str, name: str) -> str | None:
    if rng.random() > (0.62 if lang == "zh" else 0.95):
        return None
    unique = scramble(idx, 10**8, seed * 16 + 3)
    if lang == "zh" and rng.random() < 0.4:
        return f"{10_000_000 + unique}@qq.com"
    if lang == "en":
        first, _, last = name.lower().partition(" ")
        local = f"{first}.{last}{unique % 10_000_000}" if rng.random() < 0.6 else (
            f"{first[0]}{last}{unique}")
        domains, weights = vocab.EMAIL_DOMAINS_EN, _DOM_EN_W
    else:
        a, b = rng.choice(vocab.PINYIN_SYLLABLES), rng.choice(vocab.PINYIN_SYLLABLES)
        local = f"{a}.{b}{unique}" if rng.random() < 0.3 else f"{a}{b}{unique}"
        domains, weights = vocab.EMAIL_DOMAINS_ZH, _DOM_ZH_W
    return f"{local}@{_weighted(rng, domains, weights)[0]}"


def _households(config: SynthConfig, chunk: int, people: list[Person],
                rng: random.Random) -> None:
    """Group some same-city persons into households of 2–3 sharing one landline."""
    by_city: dict[str, list[Person]] = {}
    for p in people:
        if rng.random() < config.household_share * 1.1:
            by_city.setdefault(p.city, []).append(p)
    house = 0
    digits_of = {c[0]: c[3] for c in vocab.CITIES}
    for city, members in by_city.items():
        i = 0
        while i + 1 < len(members):
            size = 3 if rng.random() < 0.3 and i + 2 < len(members) else 2
            hid = chunk * config.chunk_customers + house
            house += 1
            nd = digits_of[city]
            local = scramble(hid, 7 * 10 ** (nd - 1), config.seed * 16 + 9)
            number = members[i].area_code + str(2 + local // 10 ** (nd - 1)) + (
                f"{local % 10 ** (nd - 1):0{nd - 1}d}")
            for p in members[i:i + size]:
                p.household, p.landline = hid, number
            i += size
    # a few single-person landlines (not shared) so a landline alone is not a household marker
    for p in people:
        if p.landline is None and rng.random() < 0.05:
            nd = digits_of[p.city]
            local = scramble(config.customers + p.idx, 7 * 10 ** (nd - 1), config.seed * 16 + 9)
            p.landline = p.area_code + str(2 + local // 10 ** (nd - 1)) + (
                f"{local % 10 ** (nd - 1):0{nd - 1}d}")


# -- messy writing of identifiers --------------------------------------------------------------

def write_mobile(rng: random.Random, mobile: str) -> str:
    """A mobile number as people and systems write it."""
    k = rng.random()
    if k < 0.30:
        return mobile
    if k < 0.45:
        return f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    if k < 0.60:
        return f"+86 {mobile}"
    if k < 0.72:
        return f"0086{mobile}"
    if k < 0.84:
        return f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if k < 0.93:
        return f"+86{mobile}"
    return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"


def write_landline(rng: random.Random, number: str, area_len: int) -> str:
    area, local = number[:area_len], number[area_len:]
    k = rng.random()
    if k < 0.45:
        return f"{area}-{local}"
    if k < 0.65:
        return number
    if k < 0.80:
        return f"({area}){local}"
    return f"+86 {area[1:]} {local[:4]} {local[4:]}"


def write_email(rng: random.Random, email: str) -> str:
    """Same mailbox, random case (what a form or a mail header may show)."""
    k = rng.random()
    if k < 0.6:
        return email
    if k < 0.75:
        return email.upper()
    local, _, domain = email.partition("@")
    return local[:1].upper() + local[1:] + "@" + (domain.capitalize() if k < 0.9 else domain)


def write_account(rng: random.Random, account: str) -> str:
    return account.lower() if rng.random() < 0.08 else account


# share of a customer's own browsers that stay signed in ("remember me": the site recognises the
# account on every visit; docs/synth.md "Identifiers"); drawn from the device id, not the stream
REMEMBERED_DEVICE_SHARE = 0.7


def remembered(device: str) -> bool:
    """Whether this personal browser is kept signed in (never true for an anonymous cookie)."""
    return not device.startswith("anon-") and int(device[1:], 16) % 100 < 100 * (
        REMEMBERED_DEVICE_SHARE)


def typo_name(rng: random.Random, name: str) -> str:
    """A name as mistyped by a clerk: homophone, traditional form, or swapped letters."""
    if " " in name:  # English
        chars = list(name)
        i = rng.randrange(1, len(chars) - 2)
        if chars[i] != " " and chars[i + 1] != " ":
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        return "".join(chars)
    positions = [i for i, ch in enumerate(name) if ch in vocab.HOMOPHONES]
    if positions:
        i = rng.choice(positions)
        return name[:i] + vocab.HOMOPHONES[name[i]] + name[i + 1:]
    return traditional(name) if traditional(name) != name else name + name[-1]


def traditional(name: str) -> str:
    return "".join(vocab.TRADITIONAL.get(ch, ch) for ch in name)


def swap_digits(rng: random.Random, mobile: str) -> str:
    i = rng.randrange(3, len(mobile) - 1)
    if mobile[i] == mobile[i + 1]:
        i = 3 if mobile[3] != mobile[4] else i
    return mobile[:i] + mobile[i + 1] + mobile[i] + mobile[i + 2:]
