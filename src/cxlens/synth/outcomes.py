"""What each contact of a chunk led to, drawn for the whole chunk at once with numpy.

The journey walk (:mod:`cxlens.synth.contacts`) decides only what later contacts depend on:
channel, IVR leg, wait and abandonment, agent, transfer, resolution, talk, hold and wrap time.
Everything else about a contact — the customer's mood and end sentiment, the QA slips, the true
CSAT, the wrap-up code and disposition, the product and amount mentioned, the survey — depends on
those values but feeds no later decision, so it is drawn here in one vectorised pass per chunk
(``settle``) and the rows are written from the arrays. The formulas are the ones documented in
docs/synth.md ("Agents' effects", "Satisfaction and churn"); only the random stream differs from
the per-contact draws they replace (``numpy.default_rng([seed, chunk, 2])``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from cxlens.schema import REASONS
from cxlens.synth import text as tx
from cxlens.synth import vocab
from cxlens.synth.journeys import MOOD_BASE

if TYPE_CHECKING:
    from cxlens.synth.centre import Agent
    from cxlens.synth.journeys import ChunkSim, Problem

_REASON_I = {r: i for i, r in enumerate(REASONS)}
_MOOD_BASE = np.array([MOOD_BASE[r] for r in REASONS])
_MOODS = ("angry", "frustrated", "neutral", "positive")
_MOOD_S = np.array([-1, -1, 0, 1])
_MOOD_CUTS = np.array([-1.2, -0.3, 0.9])
_QA = tx.QA_RULES  # greeting, verify_identity, closing, forbidden_phrase, empathy
_QA_FACTOR = np.array([1.0 if r not in ("empathy", "forbidden_phrase") else
                       1.5 if r == "empathy" else 0.35 for r in _QA])
_CHANNELS = ("phone", "chat", "email", "social")
_RULE_MASK = np.array([[rule in tx.RULES_BY_CHANNEL[ch] for rule in _QA] for ch in _CHANNELS])
_EMPATHY, _FORBIDDEN = _QA.index("empathy"), _QA.index("forbidden_phrase")
_SURVEY_BIAS = np.array([0.0, 1.8, 1.2, 0.7, 0.8, 1.5])  # by CSAT 1..5
_AMOUNT_FACTORS = np.array([0.1, 0.5, 1, 1, 2])
_DEVICES = np.array(vocab.DEVICES)
_IS_DEVICE = np.isin(np.arange(len(vocab.PRODUCTS)), _DEVICES)
_PRICES = np.array([price for _, _, price in vocab.PRODUCTS], dtype=float)
_EMPTY = "[]"
WRAP_EXTRA = 0.73  # of the 30 % a voluntary wrap-up left uncoded (docs/synth.md "Wrap-up codes")
WRAP_CODED = 0.7 + 0.3 * WRAP_EXTRA  # ≈ 92 % of handled contacts carry a wrap-up code
WRAP_WRONG = 0.05  # mis-keyed codes


class Leg(NamedTuple):
    """An IVR leg or an abandoned call/chat: only its truth row waits for the mood draw."""

    prob: Problem
    attempt: int
    channel: str
    iid: str
    wait: float  # the wait that soured the mood (0 for IVR)


class Answered(NamedTuple):
    """A handled contact as the journey walk left it (times in seconds since the start)."""

    prob: Problem
    attempt: int
    channel: str
    source: str
    sid: str
    queue: str
    t: float
    wait: float
    agent: Agent
    transfers: int
    resolved: bool
    talk: float
    hold: float
    acw: float
    ended: float
    ani: str | None
    cookie: str | None  # the site cookie of a web visit just before (chat only)
    order: tuple[float, str, int] | None
    case_id: str


def settle(sim: ChunkSim) -> None:
    """Draw the outcomes of every pending contact of the chunk and write their rows."""
    pending = sim.pending
    if pending:
        _write(sim, pending)
    sim.pending = []
    from cxlens.synth.contacts import write_case

    for prob, resolved, gave_up, end in sim.closures:
        write_case(sim, prob, resolved, gave_up, end)
    sim.closures = []


def _write(sim: ChunkSim, pending: list[Leg | Answered]) -> None:
    g = sim.brng
    n = len(pending)
    reason_i = np.fromiter((_REASON_I[e.prob.reason] for e in pending), np.int64, n)
    attempt = np.fromiter((e.attempt for e in pending), np.int64, n)
    answered = np.fromiter((type(e) is Answered for e in pending), bool, n)
    chan_i = np.fromiter((_CHANNELS.index(e.channel) if e.channel != "ivr" else 0
                          for e in pending), np.int64, n)
    wait = np.fromiter((e.wait for e in pending), float, n)
    # the customer's mood: a handled e-mail or social post is not soured by the reply time
    mood_wait = np.where(answered & (chan_i >= 2), 0.0, wait)
    score = (_MOOD_BASE[reason_i] - 0.55 * attempt - np.minimum(mood_wait, 900.0) / 300.0
             + g.normal(0, 0.6, n))
    mood_i = np.searchsorted(_MOOD_CUTS, score, side="right")
    s0 = _MOOD_S[mood_i]
    resolved = np.fromiter((type(e) is Answered and e.resolved for e in pending), bool, n)
    # end sentiment follows the outcome (angry → calm when resolved)
    r = g.random(n)
    s1 = np.where(resolved, np.where((s0 >= 0) | (r < 0.45), 1, 0),
                  np.where(s0 > 0, 0, np.where((s0 < 0) | (r < 0.5), -1, 0)))
    s1 = np.where(answered, s1, s0)
    qa_risk = np.fromiter((e.agent.qa_risk if type(e) is Answered else 0.0 for e in pending),
                          float, n)
    slips = (g.random((n, len(_QA))) < qa_risk[:, None] * _QA_FACTOR[None, :]) \
        & _RULE_MASK[chan_i] & answered[:, None]
    slips[:, _EMPATHY] &= s0 < 0  # empathy is owed only to a customer who starts negative
    s1 = np.where(slips[:, _FORBIDDEN], np.minimum(s1, 0), s1)
    transfers = np.fromiter((e.transfers if type(e) is Answered else 0 for e in pending),
                            np.int64, n)
    csat_effect = np.fromiter((e.agent.csat_effect if type(e) is Answered else 0.0
                               for e in pending), float, n)
    phone_wait = np.where(chan_i == 0, wait, 0.0)
    csat = np.clip(np.round(3.1 + 1.3 * resolved - 0.45 * attempt
                            - np.minimum(phone_wait, 900) / 300 + csat_effect + 0.35 * s1
                            - 0.4 * transfers + g.normal(0, 0.6, n)), 1, 5).astype(np.int64)
    # product and amount the customer mentions: the order's, else any (a device if technical)
    product = g.integers(0, len(vocab.PRODUCTS), n)
    ordered = np.fromiter((e.order[2] if type(e) is Answered and e.order else -1
                           for e in pending), np.int64, n)
    product = np.where(ordered >= 0, ordered, product)
    fix = (reason_i == _REASON_I["technical"]) & ~_IS_DEVICE[product]
    product = np.where(fix, _DEVICES[g.integers(0, len(_DEVICES), n)], product)
    amount = (_PRICES[product] * _AMOUNT_FACTORS[g.integers(0, 5, n)]).astype(np.int64)
    days_waiting = g.integers(2, 10, n)
    # what the agent keyed: resolution claimed optimistically, wrap-up code mostly right
    claimed = resolved | (g.random(n) < 0.35)
    callback = g.random(n) < 1 / 3
    coded = g.random(n) < WRAP_CODED
    wrong = g.random(n) < WRAP_WRONG
    wrap_i = np.where(wrong, (reason_i + g.integers(1, len(REASONS), n)) % len(REASONS),
                      reason_i)
    # post-contact survey: 70 % asked (not on social), response biased to the extremes
    asked = (chan_i != 3) & (g.random(n) < 0.7)
    responded = g.random(n) < 0.15 * _SURVEY_BIAS[csat]
    reply_after = g.exponential(10_800, n)
    nps = np.clip(np.round(2.3 * csat - 1.5 + g.normal(0, 1.2, n)), 0, 10).astype(np.int64)
    ces = np.clip(np.round(2 + 0.9 * attempt + np.where(resolved, 0, 1.5) + g.normal(0, 1, n)),
                  1, 7).astype(np.int64)
    comment = g.random(n) < 0.5
    case_u = g.random(n)

    cols = (mood_i.tolist(), s0.tolist(), s1.tolist(), slips.tolist(), csat.tolist(),
            product.tolist(), amount.tolist(), days_waiting.tolist(), claimed.tolist(),
            callback.tolist(), coded.tolist(), wrap_i.tolist(), asked.tolist(),
            responded.tolist(), reply_after.tolist(), nps.tolist(), ces.tolist(),
            comment.tolist(), case_u.tolist())
    from cxlens.synth.contacts import write_answered, write_leg_truth

    for e, drawn in zip(pending, zip(*cols, strict=True), strict=True):
        if type(e) is Answered:
            write_answered(sim, e, *drawn)
        else:
            write_leg_truth(sim, e, _MOODS[drawn[0]], drawn[1])
