"""Conversations whose words follow the true reason, mood and outcome, with planted PII and QA slips.

A conversation is a list of turns (speaker, text, seconds after the start, true sentiment) plus
the PII spans planted in it (each span's text occurs verbatim in a turn) and the QA rules the
agent broke. Phrases come from :mod:`cxlens.synth.templates`; the combination of mood prefix ×
reason statement × tail × product/order/amount gives thousands of distinct customer openings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cxlens.synth import templates as tp

QA_RULES = ("greeting", "verify_identity", "closing", "forbidden_phrase", "empathy")
RULES_BY_CHANNEL = {
    "phone": QA_RULES, "chat": QA_RULES,
    "email": ("greeting", "closing", "forbidden_phrase", "empathy"),
    "social": ("forbidden_phrase", "empathy"),
}
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id(region6: str, birth_yyyymmdd: str, seq3: int) -> str:
    """An 18-digit resident ID number with a valid ISO 7064 MOD 11-2 check character."""
    body = f"{region6}{birth_yyyymmdd}{seq3:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def luhn_complete(prefix_digits: str) -> str:
    """Append the Luhn check digit to ``prefix_digits``."""
    total = 0
    for i, ch in enumerate(reversed(prefix_digits)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return prefix_digits + str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return len(digits) >= 12 and total % 10 == 0


@dataclass
class Speaker:
    """What a conversation needs to know about the customer."""

    name: str
    phone_written: str
    email: str | None
    id_card: str
    bank_card: str


@dataclass
class Conversation:
    turns: list[tuple[str, str, float, int]] = field(default_factory=list)
    pii: list[dict[str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    subject: str | None = None

    def text(self, lang: str) -> str:
        labels = tp.SPEAKER_LABEL[lang]
        sep = "：" if lang == "zh" else ": "
        return "\n".join(f"{labels[s]}{sep}{t}" for s, t, _, _ in self.turns)


def _fill(template: str, values: dict[str, object]) -> str:
    return template.format(**values) if "{" in template else template


def conversation(
    rng: random.Random, *, lang: str, channel: str, reason: str, mood: str,
    sentiment_start: int, sentiment_end: int, resolved: bool, attempt: int, duration_s: float,
    customer: Speaker, agent_name: str, violations: list[str], product: str,
    order: str | None, amount: int, days_waiting: int, pii_rate: float = 0.3,
) -> Conversation:
    """Turns of one assisted contact (phone transcript, chat, e-mail pair or social thread)."""
    values = {"product": product, "order": order or "", "amount": amount, "n": attempt + 1,
              "days": days_waiting, "agent": agent_name, "name": customer.name}
    conv = Conversation(violations=list(violations))
    broke = set(violations)
    rnd = rng.random

    def pick(options: tuple[str, ...] | list[str]) -> str:  # faster than Random.choice
        return options[int(rnd() * len(options))]

    statement = pick(tp.REASON_OPEN[lang][reason])
    if order is None and "{order}" in statement:  # no order to quote: take a phrase without one
        options = [s for s in tp.REASON_OPEN[lang][reason] if "{order}" not in s]
        statement = pick(options)
    prefix = pick(tp.MOOD_PREFIX[lang][mood])
    if "{n}" in prefix and attempt == 0:
        prefix = tp.MOOD_PREFIX[lang][mood][0]
    opening = _fill(prefix, values) + _fill(statement, values) + pick(tp.MOOD_TAIL[lang][mood])
    turns: list[tuple[str, str, int]] = []  # speaker, text, sentiment

    def plant(kind: str, text: str) -> None:
        conv.pii.append({"type": kind, "text": text})

    extras: list[str] = []
    if rng.random() < pii_rate:
        kind = rng.choices(("id_card", "bank_card", "email"), weights=(3, 3, 2), k=1)[0]
        if kind == "email" and not customer.email:
            kind = "id_card"
        value = {"id_card": customer.id_card, "bank_card": customer.bank_card,
                 "email": customer.email or ""}[kind]
        extras.append(pick(tp.PII_EXTRA[lang][kind]).format(**{kind: value}))
        plant(kind, value)

    if channel in ("email", "social"):
        body = opening + ("".join(extras) if channel == "email" else "")
        if channel == "email":
            body += pick(tp.EMAIL_SIGN[lang]).format(name=customer.name)
            plant("name", customer.name)
            subject = pick(tp.EMAIL_SUBJECT[lang][reason])
            conv.subject = subject.format(**values) if order or "{order}" not in subject else (
                subject.replace("{order}", "").strip())
        turns.append(("customer", body, sentiment_start))
        reply = []
        if "greeting" not in broke and channel == "email":
            reply.append("您好，" if lang == "zh" else "Dear customer, ")
        if sentiment_start < 0 and "empathy" not in broke:
            reply.append(pick(tp.EMPATHY[lang]))
        if "forbidden_phrase" in broke:
            reply.append(pick(tp.FORBIDDEN[lang]))
        reply.append(_fill(pick(tp.SOLUTION[lang][reason] if resolved else tp.NO_SOLUTION[lang]),
                           values))
        if "closing" not in broke and channel == "email":
            reply.append(pick(tp.CLOSING[lang]))
        turns.append(("agent", ("" if lang == "zh" else " ").join(reply), 0))
        spacing = [0.0, duration_s]
    else:
        if channel == "chat" and rng.random() < 0.6:
            turns.append(("bot", pick(tp.BOT_GREETING[lang]), 0))
            short = _fill(statement, values).strip().rstrip("，,")
            turns.append(("customer", short + ("。" if lang == "zh" and short[-1] not in "？！"
                                               else ""), sentiment_start))
            turns.append(("bot", pick(tp.BOT_HANDOVER[lang]), 0))
        if "greeting" not in broke:
            turns.append(("agent", _fill(pick(tp.GREETING[lang]), values), 0))
        turns.append(("customer", opening, sentiment_start))
        if "verify_identity" not in broke:
            turns.append(("agent", pick(tp.VERIFY[lang]), 0))
            answer = pick(tp.VERIFY_ANSWER[lang])
            plant("phone", customer.phone_written)
            if "{name}" in answer:
                plant("name", customer.name)
            turns.append(("customer", answer.format(phone=customer.phone_written,
                                                    name=customer.name) + "".join(extras),
                          min(sentiment_start, 0)))
        elif extras:
            turns.append(("customer", "".join(extras), min(sentiment_start, 0)))
        if sentiment_start < 0 and "empathy" not in broke:
            turns.append(("agent", pick(tp.EMPATHY[lang]), 0))
        if "forbidden_phrase" in broke:
            turns.append(("agent", pick(tp.FORBIDDEN[lang]), 0))
            turns.append(("customer", pick(tp.MOOD_TAIL[lang]["angry"]), -1))
        turns.append(("agent", _fill(pick(tp.SOLUTION[lang][reason] if resolved
                                          else tp.NO_SOLUTION[lang]), values), 0))
        turns.append(("customer", pick(tp.CUSTOMER_END[lang][sentiment_end]), sentiment_end))
        if "closing" not in broke:
            turns.append(("agent", pick(tp.CLOSING[lang]), 0))
        n = len(turns)
        step = duration_s / max(1, n)
        spacing = [round(k * step + rng.random() * step * 0.5, 1) for k in range(n)]
    conv.turns = [(s, t, spacing[k], sent) for k, (s, t, sent) in enumerate(turns)]
    # a planted value may be absent when its turn was skipped; keep only what the text holds
    full = "\n".join(t for _, t, _, _ in conv.turns)
    conv.pii = [p for p in conv.pii if p["text"] and p["text"] in full]
    return conv


def survey_comment(rng: random.Random, lang: str, csat: int) -> str:
    band = "low" if csat <= 2 else "mid" if csat == 3 else "high"
    return rng.choice(tp.SURVEY_COMMENT[lang][band])
