"""The contact centre itself: arrival seasonality, incidents, agents, roster and queue model.

Everything here is global to a run (the same for every chunk of customers), built once from the
seed, so chunks can be generated independently and still share one centre. The queue model is
analytic per 30-minute interval: the expected phone load of the whole customer base (from the
same rates the journeys use) meets the agents the roster puts on shift; Erlang C gives the chance
of waiting and the mean wait; each simulated call then draws its wait and the caller's patience.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np

from cxlens.schema import REASONS
from cxlens.synth import vocab
from cxlens.synth.config import SynthConfig

INTERVALS = 48  # 30-minute intervals per day
INTERVAL_S = 1_800.0
# Relative contact volume per local hour: morning peak ~10:00, afternoon ~15:00, quiet at night.
HOURLY = np.array([0.15, 0.10, 0.07, 0.05, 0.05, 0.08, 0.20, 0.50, 1.00, 1.60, 1.90, 1.70,
                   1.10, 1.30, 1.70, 1.85, 1.60, 1.20, 0.90, 0.85, 0.80, 0.60, 0.40, 0.25])
# Monday peak, quieter weekends (index = date.weekday()).
WEEKLY = np.array([1.30, 1.10, 1.00, 1.00, 0.95, 0.72, 0.62])
REASON_WEIGHTS = {
    "billing": 0.20, "delivery": 0.22, "technical": 0.15, "account_access": 0.10,
    "product_enquiry": 0.15, "cancellation": 0.05, "complaint": 0.06, "refund": 0.07,
}
PHONE_SHARE = 0.42       # of assisted contacts (drives the analytic phone load)
CONTACTS_PER_PROBLEM = 1.9
PHONE_AHT_S = 420.0
PATIENCE_MEAN_S = 110.0   # callers' patience ~ exponential
SL_SECONDS = 20.0


@dataclass
class Incident:
    kind: str
    reason: str
    first_day: int
    multipliers: list[float]
    description: str


@dataclass
class Agent:
    idx: int
    agent_id: str
    name: str
    queue: str
    skills: str
    site: str
    shift: str
    hired_days_ago: int
    aht_factor: float
    resolve_effect: float   # logit shift of the chance to resolve
    csat_effect: float      # shift of true satisfaction
    qa_risk: float          # chance of each QA violation per contact
    off_days: tuple[int, ...]


@dataclass
class Centre:
    """Global state of the simulated centre (same for every chunk)."""

    config: SynthConfig
    intraday: np.ndarray                  # (48,) share of a day's arrivals per interval
    day_weight: np.ndarray                # (days,) weekly pattern
    reason_day: np.ndarray                # (days, reasons) incident multipliers
    incidents: list[Incident]
    agents: list[Agent]
    on_shift: dict[str, list[list[np.ndarray]]]      # queue -> day -> interval -> agent idxs
    any_on_shift: list[list[np.ndarray]]
    wait_prob: dict[str, np.ndarray] = field(default_factory=dict)   # queue -> (days, 48)
    wait_mean: dict[str, np.ndarray] = field(default_factory=dict)
    servers: dict[str, np.ndarray] = field(default_factory=dict)
    load: dict[str, np.ndarray] = field(default_factory=dict)        # expected calls

    def interval_cdf(self) -> np.ndarray:
        return np.cumsum(self.intraday)


def _intraday() -> np.ndarray:
    half = np.repeat(HOURLY, 2)
    # smooth the step between hours so the 30-minute curve is not a staircase
    smooth = (half + np.roll(half, 1) + np.roll(half, -1)) / 3
    return smooth / smooth.sum()


def _incidents(config: SynthConfig, rng: random.Random) -> list[Incident]:
    if not config.incidents or config.days < 5:
        return []
    d = config.days
    plan = [
        ("delivery_outage", "delivery", 0.45, [5.0, 4.0, 2.5, 1.5],
         "courier partner outage: parcels stuck in sorting centres"),
        ("billing_error", "billing", 0.72, [4.0, 2.0, 1.3], "double charge on monthly bills"),
        ("app_outage", "technical", 0.22, [3.0, 2.0], "app login and sync failures"),
    ]
    out = []
    for kind, reason, at, mults, text in plan:
        first = min(d - 1, max(0, int(d * at) + rng.randint(-2, 2)))
        while (config.start_date + timedelta(days=first)).weekday() >= 5 and first + 1 < d:
            first += 1  # outages that matter are noticed on working days
        out.append(Incident(kind, reason, first, mults, text))
    return out


def erlang_c(servers: int, load_erlangs: float) -> float:
    """Probability that an arriving call waits (M/M/N), 1.0 when overloaded."""
    if servers <= 0 or load_erlangs >= servers:
        return 1.0
    if load_erlangs <= 0:
        return 0.0
    # iterative Erlang B, then convert to C (numerically stable for large N)
    b = 1.0
    for k in range(1, servers + 1):
        b = load_erlangs * b / (k + load_erlangs * b)
    rho = load_erlangs / servers
    return b / (1 - rho + rho * b)


def build_centre(config: SynthConfig) -> Centre:
    """The centre of a run: same seed, same centre."""
    rng = random.Random(f"centre-{config.seed}")
    days = config.days
    start = config.start_date
    day_weight = np.array([WEEKLY[(start + timedelta(days=i)).weekday()] for i in range(days)])
    incidents = _incidents(config, rng)
    reason_day = np.ones((days, len(REASONS)))
    for inc in incidents:
        r = REASONS.index(inc.reason)
        for k, m in enumerate(inc.multipliers):
            if inc.first_day + k < days:
                reason_day[inc.first_day + k, r] *= m
    intraday = _intraday()
    agents = _agents(config, rng)
    on_shift, any_on = _roster(config, agents, rng)
    centre = Centre(config, intraday, day_weight, reason_day, incidents, agents, on_shift, any_on)
    _queue_model(centre)
    return centre


def _agents(config: SynthConfig, rng: random.Random) -> list[Agent]:
    total = max(len(vocab.QUEUES) * 3, round(120 * config.customers / 20_000))
    agents: list[Agent] = []
    surnames = [s for s, _ in vocab.ZH_SURNAMES[:30]]
    for queue, (skills, share) in vocab.QUEUES.items():
        for _ in range(max(3, round(total * share))):
            idx = len(agents)
            night_ok = queue in {"general_zh", "general_en"}
            shift = rng.choices(("early", "mid", "late", "night"),
                                weights=(36, 30, 28, 6 if night_ok else 0), k=1)[0]
            if queue == "general_en" and rng.random() < 0.7:
                name = f"{rng.choice(vocab.EN_FIRST_FEMALE + vocab.EN_FIRST_MALE)} " \
                       f"{rng.choice(vocab.EN_LAST)}"
            else:
                name = rng.choice(surnames) + rng.choice(vocab.ZH_GIVEN_FEMALE
                                                         + vocab.ZH_GIVEN_MALE)
            hired = int(rng.expovariate(1 / 500)) + 10
            novice = hired < 120  # new hires: slower, resolve less, more QA slips
            off = (5, 6) if rng.random() < 0.55 else tuple(
                sorted({(s := rng.randrange(7)), (s + 1) % 7}))
            agents.append(Agent(
                idx=idx, agent_id=f"E{10001 + idx}", name=name, queue=queue, skills=skills,
                site=rng.choice(vocab.SITES), shift=shift, hired_days_ago=hired,
                aht_factor=rng.lognormvariate(0.12 if novice else 0.0, 0.18),
                resolve_effect=rng.gauss(-0.35 if novice else 0.05, 0.45),
                csat_effect=rng.gauss(0.0, 0.35),
                qa_risk=min(0.6, rng.betavariate(1.4, 14) * (1.8 if novice else 1.0)),
                off_days=off,
            ))
    return agents


def _shift_intervals(shift: str) -> np.ndarray:
    start_h, length = vocab.SHIFTS[shift]
    hours = [(start_h + k) % 24 for k in range(length)]
    return np.array(sorted({h * 2 + j for h in hours for j in (0, 1)}))


def _roster(config: SynthConfig, agents: list[Agent], rng: random.Random):
    days = config.days
    start = config.start_date
    on_shift: dict[str, list[list[list[int]]]] = {
        q: [[[] for _ in range(INTERVALS)] for _ in range(days)] for q in vocab.QUEUES}
    any_on: list[list[list[int]]] = [[[] for _ in range(INTERVALS)] for _ in range(days)]
    cover = {s: _shift_intervals(s) for s in vocab.SHIFTS}
    for d in range(days):
        weekday = (start + timedelta(days=d)).weekday()
        for a in agents:
            if weekday in a.off_days or rng.random() < 0.05:  # days off and absence
                continue
            for i in cover[a.shift]:
                on_shift[a.queue][d][i].append(a.idx)
                any_on[d][i].append(a.idx)
    as_arrays = {q: [[np.array(x, dtype=np.int32) for x in day] for day in v]
                 for q, v in on_shift.items()}
    return as_arrays, [[np.array(x, dtype=np.int32) for x in day] for day in any_on]


def queue_shares(config: SynthConfig) -> dict[str, float]:
    """Share of phone calls per queue (mirrors the routing in journeys.route_queue)."""
    en, vip = config.en_share, config.vip_share
    billingish = REASON_WEIGHTS["billing"] + REASON_WEIGHTS["refund"]
    techish = REASON_WEIGHTS["technical"] + REASON_WEIGHTS["account_access"]
    vip_calls = vip * 1.3 / (vip * 1.3 + (1 - vip))  # VIPs have more problems
    zh_reg = (1 - en) * (1 - vip_calls)
    return {
        "vip": vip_calls,
        "general_en": en * (1 - vip_calls),
        "billing_zh": zh_reg * billingish,
        "tech_zh": zh_reg * techish,
        "general_zh": zh_reg * (1 - billingish - techish),
    }


def _queue_model(centre: Centre) -> None:
    """Per queue and interval: expected calls, phone positions staffed, P(wait), mean wait.

    The roster is planned on a forecast that knows the weekday pattern but not the incidents:
    positions per interval = Erlang C requirement for an 80/20 service level on that forecast,
    thinned by the day's absence. The actual load (incident spikes included) meets them.
    """
    config = centre.config
    days = config.days
    mean_reason = np.array([REASON_WEIGHTS[r] for r in REASONS])
    daily_base = config.customers * config.problem_rate * CONTACTS_PER_PROBLEM * PHONE_SHARE
    incident_factor = (centre.reason_day * mean_reason).sum(axis=1)  # (days,)
    shares = queue_shares(config)
    mu = 1.0 / PHONE_AHT_S
    rng = np.random.default_rng([config.seed, 7_777])
    start = config.start_date
    weekdays = [(start + timedelta(days=d)).weekday() for d in range(days)]
    for q in vocab.QUEUES:
        plan = np.zeros((7, INTERVALS), dtype=np.int64)
        for wd in range(7):
            for i in range(INTERVALS):
                lam = daily_base * shares[q] * WEEKLY[wd] * centre.intraday[i]
                plan[wd, i] = _required(lam / INTERVAL_S / mu, mu)
        attendance = rng.normal(0.95, 0.05, size=days).clip(0.75, 1.05)
        for inc in centre.incidents:  # after the first day, supervisors call in overtime
            for k in range(1, len(inc.multipliers)):
                if inc.first_day + k < days:
                    attendance[inc.first_day + k] *= 1.3
        load = np.zeros((days, INTERVALS))
        servers = np.zeros((days, INTERVALS), dtype=np.int64)
        pw = np.zeros((days, INTERVALS))
        wm = np.zeros((days, INTERVALS))
        for d in range(days):
            day_load = daily_base * shares[q] * centre.day_weight[d] * incident_factor[d]
            for i in range(INTERVALS):
                lam = day_load * centre.intraday[i]
                n = max(1, int(round(plan[weekdays[d], i] * attendance[d])))
                a = lam / INTERVAL_S / mu
                load[d, i], servers[d, i], pw[d, i] = lam, n, erlang_c(n, a)
                if n > a:
                    wm[d, i] = 1.0 / (n * mu - lam / INTERVAL_S)
                else:  # overloaded: the queue grows until callers' patience runs out
                    wm[d, i] = 240.0 * (a / n)
        centre.load[q], centre.servers[q] = load, servers
        centre.wait_prob[q], centre.wait_mean[q] = pw, np.minimum(wm, 1_800.0)


def _required(a: float, mu: float) -> int:
    """Fewest servers giving 80 % of calls answered within 20 s (Erlang C)."""
    need = max(1, math.ceil(a))
    while _service_level(need, a, mu) < 0.8:
        need += 1
    return need


def _service_level(n: int, a: float, mu: float) -> float:
    p = erlang_c(n, a)
    return 1 - p * math.exp(-(n - a) * mu * SL_SECONDS)
