"""Problems become journeys: self-service, then assisted contacts until resolved or given up.

For each person of a chunk, problems arise over time (rates by tier, plan, weekday and incident
days); each problem is walked contact by contact: a channel is chosen (language, tier and age
matter), a phone call meets the queue model of :mod:`cxlens.synth.centre` (wait, patience,
abandonment), an agent with individual effects answers and may resolve it. Unresolved problems and
repeat contacts lower satisfaction and raise the churn hazard; a churner stops contacting and
ordering. Every row written records its true person and problem in the truth buffers.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from cxlens.schema import REASONS
from cxlens.synth import people as pp
from cxlens.synth import vocab
from cxlens.synth.centre import INTERVAL_S, INTERVALS, REASON_WEIGHTS, Centre
from cxlens.synth.people import DAY, Person
from cxlens.synth.rows import Rows

RESOLVE_BASE = {"billing": 0.62, "delivery": 0.55, "technical": 0.5, "account_access": 0.72,
                "product_enquiry": 0.88, "cancellation": 0.78, "complaint": 0.42, "refund": 0.52}
SELF_SERVE = {"billing": 0.08, "delivery": 0.18, "technical": 0.14, "account_access": 0.3,
              "product_enquiry": 0.35, "cancellation": 0.08, "complaint": 0.02, "refund": 0.1}
MOOD_BASE = {"billing": -0.5, "delivery": -0.5, "technical": -0.4, "account_access": -0.3,
             "product_enquiry": 0.4, "cancellation": -0.3, "complaint": -1.2, "refund": -0.6}
CHANNEL_LOGIT = {"phone": 0.25, "chat": 0.0, "email": -0.2, "social": -0.4}
TALK_MEAN_S = {"billing": 330, "delivery": 260, "technical": 420, "account_access": 240,
               "product_enquiry": 200, "cancellation": 300, "complaint": 480, "refund": 320}
_GAPS_DAYS = (0.5, 1.0, 1.5, 2.5)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass
class Problem:
    problem_id: str
    person: Person
    reason: str
    opened: float
    incident: str | None
    case: dict[str, object] | None = None
    crm_case: str | None = None  # the CRM case its handled contacts are logged under


def route_queue(person: Person, reason: str) -> str:
    """The phone/chat queue a contact is routed to (mirrored by centre.queue_shares)."""
    if person.tier == "vip":
        return "vip"
    if person.language == "en":
        return "general_en"
    if reason in ("billing", "refund"):
        return "billing_zh"
    if reason in ("technical", "account_access"):
        return "tech_zh"
    return "general_zh"


class ChunkSim:
    """Simulate the journeys of one chunk's persons into row buffers."""

    # (person idx, site cookie, end) of the last web session: a chat opened from that visit
    # carries the same cookie (the widget runs on the site)
    last_web: tuple[int, str, float] | None = None

    def __init__(self, centre: Centre, chunk: int, rng: random.Random,
                 nrng: np.random.Generator, buffers: dict[str, Rows],
                 orders_by_person: dict[int, list[tuple[float, str, int]]]) -> None:
        self.c = centre
        self.config = centre.config
        self.chunk = chunk
        self.rng = rng
        self.nrng = nrng
        self.b = buffers
        self.orders = orders_by_person
        self.horizon = self.config.days * DAY
        self.seq: dict[str, int] = {}
        self.documents: dict[int, tuple[str, str]] = {}
        self.records = buffers["truth:records"].tuples
        self.cdf = centre.interval_cdf()
        self.incident_of = {(inc.first_day + k, inc.reason): inc.kind
                            for inc in centre.incidents for k in range(len(inc.multipliers))}
        # the rosters stay numpy arrays, shared with the centre: a plain-Python copy costs
        # ~36 bytes per (agent, interval) — ~390 MB per worker at 1M customers — for a saving
        # of ~0.1 µs per contact; the small per-interval curves are copied to lists
        self.on_shift = centre.on_shift
        self.any_on_shift = centre.any_on_shift
        self.wait_prob = {q: v.tolist() for q, v in centre.wait_prob.items()}
        self.wait_mean = {q: v.tolist() for q, v in centre.wait_mean.items()}
        self._id_heads: dict[str, str] = {}
        # wrap-up codes and case links draw from their own stream so the rest stays as it was
        self.case_rng = random.Random(f"case-{centre.config.seed}-{chunk}")
        # contacts whose outcomes are drawn for the whole chunk at once (outcomes.settle), and
        # the problem endings that close their helpdesk cases afterwards
        self.pending: list[Any] = []
        self.closures: list[tuple[Problem, bool, bool, float]] = []
        self.brng = np.random.default_rng([centre.config.seed, chunk, 2])

    # -- ids ---------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        n = self.seq.get(prefix, 0)
        self.seq[prefix] = n + 1
        head = self._id_heads.get(prefix)
        if head is None:
            head = self._id_heads[prefix] = f"{prefix}{self.chunk:05d}"
        return f"{head}{n:07d}"

    def record(self, table: str, source: str, source_id: str, person: Person) -> None:
        self.records.append((table, source, source_id, person.person_id))

    # -- problems -----------------------------------------------------------------------------
    def problems(self, persons: list[Person]) -> dict[int, list[Problem]]:
        """Problems per person (Poisson per person × day × reason), sorted by opening time."""
        c, cfg = self.c, self.config
        mult = np.array([p.contact_propensity * (1.3 if p.tier == "vip" else 1.0)
                         * {"basic": 0.9, "plus": 1.0, "premium": 1.15}[p.plan] for p in persons])
        reason_w = np.array([REASON_WEIGHTS[r] for r in REASONS])
        day_rate = c.day_weight[:, None] * c.reason_day * reason_w[None, :]  # (days, reasons)
        lam = cfg.problem_rate * mult[:, None, None] * day_rate[None, :, :]
        counts = self.nrng.poisson(lam)
        pi, di, ri = np.nonzero(counts)
        reps = counts[pi, di, ri]
        pi, di, ri = np.repeat(pi, reps), np.repeat(di, reps), np.repeat(ri, reps)
        opened = di * DAY + self._time_of_day(len(pi))
        out: dict[int, list[Problem]] = {}
        for k in np.argsort(opened, kind="stable"):
            p = persons[int(pi[k])]
            reason = REASONS[int(ri[k])]
            out.setdefault(p.idx, []).append(Problem(
                self.next_id("PR"), p, reason, float(opened[k]),
                self.incident_of.get((int(di[k]), reason))))
        return out

    def _time_of_day(self, n: int) -> np.ndarray:
        u = self.nrng.random(n)
        interval = np.minimum(np.searchsorted(self.cdf, u), INTERVALS - 1)
        return interval * INTERVAL_S + self.nrng.random(n) * INTERVAL_S

    def next_time(self, after: float, gap_mean_s: float) -> float:
        """A later contact: after a gap, moved into a plausible hour (and weekday) of that day."""
        rng = self.rng
        t = after + rng.expovariate(1 / gap_mean_s)
        if gap_mean_s < 4 * 3600:
            return t
        day = math.floor(t / DAY)
        weights = self.c.day_weight
        while 0 <= day < len(weights) and rng.random() > weights[day] / 1.3:
            day += 1  # quieter days get fewer follow-ups: push some to the next day
        u = rng.random()
        interval = min(int(np.searchsorted(self.cdf, u)), INTERVALS - 1)
        moved = day * DAY + interval * INTERVAL_S + self.rng.random() * INTERVAL_S
        return moved if moved > after + 600 else t

    # -- one person ---------------------------------------------------------------------------
    def person(self, p: Person, problems: list[Problem]) -> None:
        """Walk a person's problems in time order; churn ends the walk."""
        cfg = self.config
        hazard = 0.015 * cfg.days / 90  # background churn over the period
        unresolved = 0
        if self.rng.random() < hazard:
            p.churn_date = self.rng.random() * self.horizon
        kept = 0
        for prob in problems:
            if p.churn_date is not None and prob.opened >= p.churn_date:
                break
            outcome = self.journey(prob)
            kept += 1
            resolved, contacts, end = outcome
            unresolved += not resolved
            risk = 0.0
            if not resolved:
                risk += 0.06 + (0.06 if prob.reason == "complaint" else 0.0)
            if contacts >= 3:
                risk += 0.03 * (contacts - 2)
            if prob.reason == "cancellation" and resolved:
                risk += 0.5  # the customer asked to leave and was not retained
            if p.tier == "vip":
                risk *= 0.8
            p.dissatisfaction += risk
            if self.rng.random() < risk:
                when = end + self.rng.expovariate(1 / (5 * DAY))
                if p.churn_date is None or when < p.churn_date:
                    p.churn_date = when
        if p.churn_date is not None and p.churn_date >= self.horizon:
            p.churn_date = None
        p.churned = p.churn_date is not None
        p.problem_count, p.unresolved_count = kept, unresolved

    def journey(self, prob: Problem) -> tuple[bool, int, float]:
        """Contacts of one problem; returns (resolved, assisted contacts, end time)."""
        rng, p = self.rng, prob.person
        t = prob.opened
        order = self._order_ref(p, t)
        contacts = assisted = 0
        channels: list[str] = []
        resolved = gave_up = self_served = False
        p_self = 0.45 + (0.15 if p.age < 35 else 0.0) - (0.2 if p.age > 55 else 0.0)
        if rng.random() < p_self:
            t = self.web_session(p, t, vocab.HELP_PAGES[prob.reason], prob.reason)
            channels.append("web")
            if rng.random() < SELF_SERVE[prob.reason]:
                resolved = self_served = True
        attempt = 0
        prev_channel: str | None = None
        while not resolved and t < self.horizon and attempt < 7:
            channel = self.choose_channel(p, prev_channel)
            result = self.contact(prob, channel, attempt, t, order)
            contacts += result.legs
            channels.append(channel)
            if result.answered:
                assisted += 1
            resolved = result.resolved
            t = result.end
            prev_channel = channel
            attempt += 1
            if resolved:
                break
            if result.answered and rng.random() < 0.12 + 0.08 * attempt - (
                    0.05 if p.tier == "vip" else 0.0):
                gave_up = True
                break
            gap = 2_400.0 if not result.answered else _GAPS_DAYS[int(rng.random() * 4)] * DAY
            t = self.next_time(t, gap)
        from cxlens.synth.contacts import close_case

        close_case(self, prob, resolved, gave_up, t)
        # column order of rows.TRUTH_SCHEMAS["problems"] (tuple-buffered)
        self.b["truth:problems"].tuples.append((
            prob.problem_id, p.person_id, prob.reason, prob.opened, t if resolved else None, t,
            resolved, gave_up, self_served, contacts, assisted, ">".join(channels),
            prob.incident, order[1] if order else None))
        return resolved, assisted, t

    def _order_ref(self, p: Person, t: float) -> tuple[float, str, int] | None:
        orders = [o for o in self.orders.get(p.idx, ()) if o[0] < t]
        return orders[-1] if orders else None

    def choose_channel(self, p: Person, prev: str | None) -> str:
        rng = self.rng
        if prev is not None and rng.random() < 0.55:
            return prev
        w_phone = 0.42 + (0.2 if p.age > 50 else 0.0) + (0.1 if p.tier == "vip" else 0.0)
        w_chat = 0.33 + (0.15 if p.age < 35 else 0.0)
        w_email = (0.12 + (0.2 if p.language == "en" else 0.0)) if p.email else 0.0
        w_social = 0.09 if (p.weibo or p.wechat) and p.language == "zh" else 0.0
        u = rng.random() * (w_phone + w_chat + w_email + w_social)
        if u < w_phone:
            return "phone"
        if u < w_phone + w_chat:
            return "chat"
        return "email" if u < w_phone + w_chat + w_email else "social"

    # -- web ----------------------------------------------------------------------------------
    def web_session(self, p: Person, t: float, pages: tuple[str, ...], reason: str | None) -> float:
        """A self-service or browsing session in ``web_events``; returns when it ended."""
        rng = self.rng
        session = self.next_id("ws")
        anonymous_device = rng.random() < 0.12  # a shared or new computer: no known cookie
        device = f"anon-{session}" if anonymous_device else p.devices[
            int(rng.random() * len(p.devices))]
        account = pp.write_account(rng, p.account) if rng.random() < 0.5 else None
        # a signed-in browser sends the account with every event, no login step needed
        user_id = p.account if account is None and pp.remembered(device) else None
        n = rng.randint(2, 7)
        events, records, pid = self.b["web_events"].tuples, self.records, p.person_id
        for k in range(n):
            options = pages if reason else vocab.BROWSE_PAGES
            page = options[int(rng.random() * len(options))]
            event = "page_view" if k else "landing"
            if account and k == 1:
                event = "login"
            dwell = rng.expovariate(1 / 40) + 3
            sid = f"{session}-{k}"
            events.append(("web", sid, session, t, page, event, round(dwell, 1), device,
                           account if k >= 1 else user_id))
            records.append(("web_events", "web", sid, pid))
            t += dwell
        self.last_web = (p.idx, device, t)
        return t + 60

    def site_cookie(self, p: Person, t: float) -> str | None:
        """The cookie of ``p``'s web visit that ended just before ``t`` (chat from that page)."""
        last = self.last_web
        return last[1] if last and last[0] == p.idx and 0 <= t - last[2] <= 1800 else None

    # -- one contact --------------------------------------------------------------------------
    def contact(self, prob: Problem, channel: str, attempt: int, t: float,
                order: tuple[float, str, int] | None) -> _Result:
        from cxlens.synth.contacts import assisted_contact

        return assisted_contact(self, prob, channel, attempt, t, order)


class _Result(NamedTuple):
    answered: bool
    resolved: bool
    end: float
    legs: int


def pii_json(spans: list[dict[str, str]]) -> str:
    return json.dumps(spans, ensure_ascii=False)
