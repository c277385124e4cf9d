"""Score one interaction against the rule book: pure Python on its turns, no warehouse.

Turns whose speaker is unknown (mono call recordings, untagged e-mail bodies) count as
possibly-agent *and* possibly-customer, so a mono transcript is still inspected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from cxlens.qa.rules import Rule, RuleBook, matcher, normalise

# A phrase match inside the engine: (message seq, start, end, matched text) — a plain tuple,
# the frozen Evidence dataclass cost more to build than the search (evidence dicts are made
# from it).
Hit = tuple[int, int, int, str]
Found = tuple[int, int, str]  # a pattern's first match in one text: start, end, matched text
_SEQ = attrgetter("seq")
_UNSEEN = object()
FIRSTS_MAX = 200_000  # most texts whose first match is kept, per pattern


@dataclass
class Turn:
    """One message of the conversation."""

    seq: int
    speaker: str | None
    text: str
    ts: datetime | None = None


@dataclass
class CallContext:
    """What QA knows about an interaction besides its turns."""

    channel: str | None = None
    sentiment: float | None = None  # customer sentiment (start of call) from the text stage
    silence_s: float | None = None  # longest internal silence from the audio signal
    silence_at_s: float | None = None


@dataclass
class RuleResult:
    rule: str
    passed: bool
    applicable: bool
    weight: float
    critical: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def points(self) -> float | None:
        if not self.applicable:
            return None
        return self.weight if self.passed else 0.0


@dataclass
class InspectionResult:
    score: float | None
    passed: bool | None
    results: list[RuleResult]

    @property
    def failed(self) -> list[str]:
        return [r.rule for r in self.results if r.applicable and not r.passed]


class Inspector:
    """Applies a :class:`RuleBook` to conversations.

    >>> from cxlens.qa.rules import load_rules
    >>> qa = Inspector(load_rules())
    >>> r = qa.inspect([Turn(1, "agent", "您好，很高兴为您服务"), Turn(2, "customer", "查话费")])
    >>> "greeting" in [x.rule for x in r.results if x.passed]
    True
    """

    def __init__(self, book: RuleBook, long_silence_s: float = 8.0,
                 negative_sentiment: float = -0.2, empathy_trigger: str = "lexicon") -> None:
        self.book = book
        self.long_silence_s = long_silence_s
        self.negative_sentiment = negative_sentiment
        self.use_lexicon = empathy_trigger in ("lexicon", "either")
        self.use_sentiment = empathy_trigger in ("sentiment", "either")
        self.negative = matcher(tuple(book.negative_lexicon.all()))
        # compiled once per rule: hashing a phrase tuple per call cost more than the search
        self.patterns = {r.id: matcher(tuple(r.phrases.all())) for r in book.rules}
        self._norm_cache: dict[str, str] = {}
        # per pattern, the first match in each normalised text seen (None: no match)
        self._firsts: dict[re.Pattern[str], dict[str, Found | None]] = {}
        # per rule, what inspect needs, looked up once: (rule, kind, channels, reason when the
        # channel is out of scope is built per call); script orders run after the others
        self._checks = [(r, r.kind, None if r.channels is None else frozenset(r.channels))
                        for r in book.rules if r.kind != "script_order"]
        self._orders = [r for r in book.rules if r.kind == "script_order"]
        self._ids = [r.id for r in book.rules]

    def _normalised(self, text: str) -> str:
        # Agent scripts and short customer turns repeat across thousands of contacts.
        found = self._norm_cache.get(text)
        if found is None:
            found = normalise(text)
            if len(self._norm_cache) < 200_000:
                self._norm_cache[text] = found
        return found

    def _first_match(self, pattern: re.Pattern[str] | None, turns: list[Turn],
                     texts: dict[int, str], position: str = "any",
                     within_chars: int | None = None) -> Hit | None:
        """:func:`_first_match`, searching each distinct text once per pattern: agent turns
        are scripted (the demo's 487k agent turns are 3.5k distinct texts) and each rule searched
        every one of them again."""
        if pattern is None or (within_chars is not None and position == "end"):
            return _first_match(pattern, turns, texts, position, within_chars)
        firsts = self._firsts.get(pattern)
        if firsts is None:
            firsts = self._firsts[pattern] = {}
        limit = within_chars if within_chars is not None and position == "start" else None
        for turn in turns:
            text = texts[turn.seq]
            found: Any = firsts.get(text, _UNSEEN)
            if found is _UNSEEN:
                hit = pattern.search(text)
                found = None if hit is None else (hit.start(), hit.end(), hit.group(0))
                if len(firsts) < FIRSTS_MAX:
                    firsts[text] = found
            if found is not None and (limit is None or found[0] <= limit):
                return turn.seq, found[0], found[1], found[2]
        return None

    def inspect(self, turns: Sequence[Turn], context: CallContext | None = None) -> InspectionResult:
        context = context or CallContext()
        turns = sorted(turns, key=_SEQ)
        normalised = self._normalised
        texts = {t.seq: normalised(t.text or "") for t in turns}
        agent = [t for t in turns if t.speaker in ("agent", None)]
        customer = [t for t in turns if t.speaker in ("customer", None)]
        results: dict[str, RuleResult] = {}
        channel = context.channel
        for rule, kind, channels in self._checks:
            if channels is not None and channel not in channels:
                results[rule.id] = RuleResult(rule.id, True, False, rule.weight, rule.critical,
                                              {"reason": f"not checked on {channel}"})
                continue
            own = agent if rule.speaker == "agent" else customer
            if kind == "required_phrase":
                results[rule.id] = self._required(rule, own, texts)
            elif kind == "forbidden_phrase":
                results[rule.id] = self._forbidden(rule, own, texts)
            elif kind == "empathy":
                results[rule.id] = self._empathy(rule, agent, customer, texts, context)
            elif kind == "long_silence":
                results[rule.id] = self._silence(rule, context)
        for rule in self._orders:
            results[rule.id] = self._order(rule, results)
        ordered = [results[i] for i in self._ids]
        applicable = [r for r in ordered if r.applicable]
        total = sum(r.weight for r in applicable)
        if not total:
            return InspectionResult(None, None, ordered)
        score = round(100.0 * sum(r.points or 0.0 for r in applicable) / total, 1)
        critical_failed = any(r.critical and not r.passed for r in applicable)
        return InspectionResult(score, score >= self.book.pass_mark and not critical_failed, ordered)

    # -- rule kinds -----------------------------------------------------------------------------
    def _required(self, rule: Rule, own: list[Turn], texts: dict[int, str]) -> RuleResult:
        if not own:
            return RuleResult(rule.id, True, False, rule.weight, rule.critical,
                              {"reason": f"no {rule.speaker} turns"})
        window = own
        if rule.position == "start":
            window = own[: rule.within_turns]
        elif rule.position == "end":
            window = own[-rule.within_turns:]
        found = self._first_match(self.patterns[rule.id], window, texts, rule.position,
                             rule.within_chars)
        if found is None:
            where = {"start": f"the first {rule.within_turns} {rule.speaker} turns",
                     "end": f"the last {rule.within_turns} {rule.speaker} turns",
                     "any": f"any {rule.speaker} turn"}[rule.position]
            return RuleResult(rule.id, False, True, rule.weight, rule.critical,
                              {"reason": f"no {rule.id} phrase in {where}"})
        return RuleResult(rule.id, True, True, rule.weight, rule.critical, _evidence(found))

    def _forbidden(self, rule: Rule, own: list[Turn], texts: dict[int, str]) -> RuleResult:
        if not own:
            return RuleResult(rule.id, True, False, rule.weight, rule.critical,
                              {"reason": f"no {rule.speaker} turns"})
        found = self._first_match(self.patterns[rule.id], own, texts)
        if found is None:
            return RuleResult(rule.id, True, True, rule.weight, rule.critical)
        return RuleResult(rule.id, False, True, rule.weight, rule.critical, _evidence(found))

    def _empathy(self, rule: Rule, agent: list[Turn], customer: list[Turn],
                 texts: dict[int, str], context: CallContext) -> RuleResult:
        trigger = (self._negative_turn(_opening(customer, agent, rule.trigger_turns), texts)
                   if self.use_lexicon else None)
        by_score = (self.use_sentiment and context.sentiment is not None
                    and context.sentiment <= self.negative_sentiment)
        if trigger is None and not by_score:
            return RuleResult(rule.id, True, False, rule.weight, rule.critical,
                              {"reason": "customer not negative"})
        if not agent:
            return RuleResult(rule.id, True, False, rule.weight, rule.critical,
                              {"reason": "no agent turns"})
        since = trigger[0] if trigger is not None else (customer[0].seq if customer else 0)
        cause: dict[str, Any] = (_evidence(trigger, "trigger") if trigger is not None
                                 else {"trigger_sentiment": context.sentiment})
        after = [t for t in agent if t.seq >= since]
        found = self._first_match(self.patterns[rule.id], after, texts)
        if found is None:
            return RuleResult(rule.id, False, True, rule.weight, rule.critical,
                              {"reason": "negative customer, no empathy phrase after it", **cause})
        return RuleResult(rule.id, True, True, rule.weight, rule.critical,
                          {**_evidence(found), **cause})

    def _negative_turn(self, customer: list[Turn], texts: dict[int, str]) -> Hit | None:
        if self.negative is None:
            return None
        return self._first_match(self.negative, customer, texts)

    def _silence(self, rule: Rule, context: CallContext) -> RuleResult:
        limit = rule.max_silence_s or self.long_silence_s
        # Only the audio signal measures silence: a turn's start time says nothing about when
        # the previous speaker stopped, so gaps between message timestamps are not dead air.
        seconds, detail = context.silence_s, {"source": "audio", "at_s": context.silence_at_s}
        if seconds is None:
            return RuleResult(rule.id, True, False, rule.weight, rule.critical,
                              {"reason": "no audio signal metrics"})
        evidence = {"seconds": round(seconds, 1), "limit_s": limit, **detail}
        return RuleResult(rule.id, seconds <= limit, True, rule.weight, rule.critical, evidence)

    def _order(self, rule: Rule, results: dict[str, RuleResult]) -> RuleResult:
        positions = [(rid, results[rid].evidence.get("seq")) for rid in rule.order
                     if rid in results and results[rid].applicable and results[rid].passed
                     and results[rid].evidence.get("seq") is not None]
        if len(positions) < 2:
            return RuleResult(rule.id, True, False, rule.weight, rule.critical,
                              {"reason": "fewer than two steps found"})
        seqs = [p for _, p in positions]
        in_order = all(a <= b for a, b in zip(seqs, seqs[1:], strict=False))
        steps = {rid: seq for rid, seq in positions}
        return RuleResult(rule.id, in_order, True, rule.weight, rule.critical, {"steps": steps})


def _first_match(pattern: re.Pattern[str] | None, turns: list[Turn], texts: dict[int, str],
                 position: str = "any", within_chars: int | None = None) -> Hit | None:
    """First phrase match in ``turns``; with ``within_chars`` it must sit near the turn's start
    (position ``start``) or end (``end``) — a greeting buried in the middle of a long e-mail
    reply is not a greeting."""
    if pattern is None:
        return None
    if within_chars is not None and position == "end":
        for turn in turns:
            text = texts[turn.seq]
            for hit in pattern.finditer(text):
                if len(text.rstrip()) - hit.end() <= within_chars:
                    return turn.seq, hit.start(), hit.end(), hit.group(0)
        return None
    # only a turn's first match can count: one search per turn
    limit = within_chars if within_chars is not None and position == "start" else None
    search = pattern.search
    for turn in turns:
        seq = turn.seq
        hit = search(texts[seq])
        if hit is not None and (limit is None or hit.start() <= limit):
            return seq, hit.start(), hit.end(), hit.group(0)
    return None


def _evidence(found: Hit, prefix: str = "") -> dict[str, Any]:
    seq, start, end, text = found
    if not prefix:
        return {"seq": seq, "start": start, "end": end, "text": text}
    return {f"{prefix}_seq": seq, f"{prefix}_start": start, f"{prefix}_end": end,
            f"{prefix}_text": text}


def _opening(customer: list[Turn], agent: list[Turn], agent_turns: int) -> list[Turn]:
    """What the customer said as they came in: their turns before the agent's
    ``agent_turns``-th turn. Empathy answers that, not a complaint about the outcome at the end.
    Without speaker labels (mono transcripts) the first ``agent_turns + 1`` turns stand in."""
    if all(t.speaker is None for t in customer):
        return customer[: agent_turns + 1]
    labelled = [t for t in agent if t.speaker == "agent"]
    if len(labelled) < agent_turns:
        return customer
    limit = labelled[agent_turns - 1].seq
    return [t for t in customer if t.seq < limit]
