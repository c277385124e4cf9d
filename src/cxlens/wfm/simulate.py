"""Discrete-event simulation (simpy) of a staffed plan, to check the formulas.

Calls arrive as a Poisson process at each interval's forecast rate; each waits for a free agent
(first come, first served) and hangs up if its patience (exponential, mean ``patience_s``) runs
out first; handle times are exponential (the Erlang assumption) or lognormal with a given
coefficient of variation (closer to real handle times). The number of agents changes at each
interval boundary; an agent leaving mid-call finishes the call first.

Simulated service level (answered within T / offered), ASA (mean wait of answered calls) and
abandonment are reported next to the formulas' values per interval (:func:`simulate_plan`) or for
one steady-state interval (:func:`simulate_interval`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from cxlens.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

Service = Literal["exponential", "lognormal"]


@dataclass
class _Tally:
    offered: np.ndarray
    answered: np.ndarray
    in_target: np.ndarray
    abandoned: np.ndarray
    wait_answered: np.ndarray
    busy_s: float = 0.0


def _service_sampler(rng: np.random.Generator, service: Service, cv: float) -> Any:
    if service == "exponential":
        return lambda mean: rng.exponential(mean)
    if service == "lognormal":
        sigma2 = math.log(1 + cv * cv)
        return lambda mean: rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))
    raise InputError(f"unknown handle-time distribution {service!r}",
                     "use exponential or lognormal")


def _run(
    calls: np.ndarray,
    agents: np.ndarray,
    aht_s: np.ndarray,
    interval_s: float,
    answer_s: float,
    patience_s: float | None,
    seed: int,
    service: Service = "exponential",
    cv: float = 1.0,
) -> _Tally:
    """Simulate consecutive intervals; statistics are attributed to the arrival's interval."""
    import simpy

    rng = np.random.default_rng(seed)
    sample = _service_sampler(rng, service, cv)
    n = len(calls)
    tally = _Tally(*(np.zeros(n) for _ in range(5)))
    env = simpy.Environment()
    pool = simpy.Store(env)
    state = {"staffed": 0, "leaving": []}

    def set_staff(target: int) -> None:
        diff = target - state["staffed"]
        # cancel pending log-offs before adding agents
        while diff > 0 and state["leaving"]:
            req = state["leaving"].pop()
            if req.triggered:  # already took an agent: hand it back
                pool.put(object())
            else:
                req.cancel()
            diff -= 1
        for _ in range(max(diff, 0)):
            pool.put(object())
        for _ in range(max(-diff, 0)):
            state["leaving"].append(pool.get())
        state["leaving"] = [r for r in state["leaving"] if not r.triggered]
        state["staffed"] = target

    def caller(k: int, aht: float):
        start = env.now
        req = pool.get()
        if patience_s is not None:
            timer = env.timeout(rng.exponential(patience_s))
            fired = yield req | timer
            if req not in fired:
                req.cancel()
                if req.triggered:
                    pool.put(req.value)
                tally.abandoned[k] += 1
                return
            token = fired[req]
        else:
            token = yield req
        wait = env.now - start
        tally.answered[k] += 1
        tally.wait_answered[k] += wait
        if wait <= answer_s + 1e-9:
            tally.in_target[k] += 1
        duration = sample(aht)
        tally.busy_s += duration
        yield env.timeout(duration)
        pool.put(token)

    def driver():
        for k in range(n):
            set_staff(int(agents[k]))
            count = rng.poisson(calls[k]) if calls[k] > 0 else 0
            times = np.sort(rng.uniform(0, interval_s, count))
            tally.offered[k] = count
            begin = env.now
            for t in times:
                yield env.timeout(begin + t - env.now)
                env.process(caller(k, float(aht_s[k])))
            yield env.timeout(begin + interval_s - env.now)

    env.process(driver())
    env.run(until=n * interval_s + 24 * 3600)  # let the last calls finish
    return tally


def _check(calls: Any, agents: Any, aht_s: Any, patience_s: float | None) -> None:
    if np.any(np.asarray(calls, float) < 0) or np.any(np.asarray(agents, float) < 0):
        raise InputError("calls and agents must not be negative")
    if np.any(np.asarray(aht_s, float) <= 0):
        raise InputError("AHT must be above 0 seconds")
    if patience_s is not None and (not math.isfinite(patience_s) or patience_s <= 0):
        raise InputError(f"patience must be above 0 seconds, got {patience_s:g}")


def simulate_interval(
    calls: float,
    interval_s: float,
    aht_s: float,
    agents: int,
    answer_s: float = 20.0,
    patience_s: float | None = None,
    intervals: int = 200,
    warmup: int = 4,
    seed: int = 7,
    service: Service = "exponential",
    cv: float = 1.0,
) -> dict[str, float]:
    """Steady state of one interval's rate and staff, simulated for ``intervals`` intervals.

    Returns service_level, asa, abandon_rate, occupancy and the number of simulated calls.

    >>> simulate_interval(100, 1800, 180, 14)["service_level"]   # doctest: +SKIP
    0.889...
    """
    _check(calls, agents, aht_s, patience_s)
    if calls <= 0:
        raise InputError(f"calls per interval must be above 0, got {calls:g}")
    if intervals <= warmup:
        raise InputError("simulate more intervals than the warm-up")
    if patience_s is None and agents * interval_s <= calls * aht_s:
        raise InputError(
            f"offered load {calls * aht_s / interval_s:.2f} erlangs is not below {agents} agents: "
            "without abandonment the queue grows without bound",
            "add agents or pass a patience",
        )
    n = intervals
    t = _run(np.full(n, float(calls)), np.full(n, agents), np.full(n, float(aht_s)),
             interval_s, answer_s, patience_s, seed, service, cv)
    keep = slice(warmup, n)
    offered = t.offered[keep].sum()
    answered = t.answered[keep].sum()
    return {
        "calls": float(offered),
        "service_level": float(t.in_target[keep].sum() / offered),
        "asa": float(t.wait_answered[keep].sum() / answered) if answered else math.inf,
        "abandon_rate": float(t.abandoned[keep].sum() / offered),
        "occupancy": float(min(t.busy_s / (agents * n * interval_s), 1.0)),
    }


def simulate_plan(
    plan: pd.DataFrame,
    interval: int,
    answer_s: float = 20.0,
    patience_s: float | None = None,
    seed: int = 7,
    service: Service = "exponential",
    cv: float = 1.0,
) -> pd.DataFrame:
    """Simulate a :func:`~cxlens.wfm.plan.staffing_plan` queue by queue, interval by interval.

    Adds sim_calls, sim_service_level, sim_asa_s, sim_abandon_rate next to the plan's columns.
    Patience: ``patience_s`` if given, else the plan's per-queue ``patience_s`` column (if any),
    else callers never hang up (Erlang C).
    """
    import pandas as pd

    out = []
    for i, (_key, part) in enumerate(plan.groupby(["queue", "channel"], sort=True)):
        part = part.sort_values("interval_start")
        pat = patience_s
        if pat is None and "patience_s" in part and part["patience_s"].notna().any():
            pat = float(part["patience_s"].dropna().iloc[0])
        _check(part["calls"], part["agents"], part["aht_s"], pat)
        t = _run(part["calls"].to_numpy(float), part["agents"].to_numpy(int),
                 part["aht_s"].to_numpy(float), interval * 60, answer_s, pat, seed + i,
                 service, cv)
        with np.errstate(invalid="ignore", divide="ignore"):
            sim = part.assign(
                sim_calls=t.offered,
                sim_service_level=np.where(t.offered > 0, t.in_target / t.offered, np.nan),
                sim_asa_s=np.where(t.answered > 0, t.wait_answered / t.answered, np.nan),
                sim_abandon_rate=np.where(t.offered > 0, t.abandoned / t.offered, np.nan),
            )
        out.append(sim)
    return pd.concat(out, ignore_index=True) if out else plan.copy()
