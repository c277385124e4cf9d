"""Queueing formulas for staffing: Erlang B (lines), Erlang C (M/M/n) and Erlang A (M/M/n+M).

Everything is vectorised over intervals with numpy/scipy: pass arrays of calls (one value per
interval) and get arrays back. The search for the smallest staff meeting a target is a vectorised
bisection (a handful of array steps for the whole grid), not a Python loop per interval.

Definitions (what a contact-centre planner expects):

* **offered load** ``A = calls x AHT / interval`` in erlangs.
* **wait probability** (Erlang C): share of calls that find every agent busy and queue.
* **service level**: share of *offered* calls answered within the answer-time target ``T``;
  Erlang C: ``1 - C(n, A) * exp(-(n - A) * T / AHT)``. Under Erlang A, calls that abandon count
  against it (they were offered and not answered within T).
* **ASA**: average wait of answered calls; Erlang C: ``C(n, A) * AHT / (n - A)``.
* **occupancy**: share of staffed time agents spend handling calls (``A / n``; Erlang A uses the
  load actually served, ``A * (1 - abandon_rate) / n``).
* **shrinkage**: share of paid time not available for calls; scheduled agents =
  ``ceil(agents / (1 - shrinkage))``.

Erlang A follows Garnett, Mandelbaum & Reiman (2002) with exponential patience ``1/theta``:
with ``x = n / (AHT * theta)`` and ``y = lambda / theta`` the queue sum is
``A(x, y) = x e^y y^-x gamma(x, y)`` (lower incomplete gamma), and the offered wait of a call
that queues satisfies ``P(V > t | V > 0) = P(x, y e^(-theta t)) / P(x, y)``.

>>> from cxlens.wfm.erlang import staff_erlang_c
>>> r = staff_erlang_c(100, aht_s=180, interval_s=1800, target=0.8, answer_s=20, shrinkage=0.3)
>>> int(r["agents"]), int(r["scheduled_agents"]), round(float(r["service_level"]), 4)
(14, 20, 0.8884)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxlens.errors import InputError

FloatArray = NDArray[np.float64]
# A staff above this is a sign of a unit mistake (calls per day typed as per interval).
MAX_AGENTS = 1_000_000
# Rounding guard: 14 / 0.7 is 20.000000000000004 in binary floating point, not 21 agents.
_EPS = 1e-9


# -- validation -------------------------------------------------------------------------------
def check_interval(interval_minutes: int) -> int:
    """An interval in minutes that divides the day (5, 10, 15, 20, 30, 60...)."""
    if isinstance(interval_minutes, bool) or not float(interval_minutes).is_integer():
        raise InputError(f"interval must be a whole number of minutes, got {interval_minutes}")
    minutes = int(interval_minutes)
    if minutes <= 0 or 1440 % minutes:
        raise InputError(
            f"an interval of {interval_minutes} minutes does not divide the day",
            "use one of 5, 10, 15, 20, 30, 60, 120 minutes",
        )
    return minutes


def check_target(target: float, answer_s: float, interval_s: float | None = None) -> None:
    """A service-level target strictly between 0 and 100% and a feasible answer time."""
    if not math.isfinite(target) or target <= 0 or target > 1:
        raise InputError(
            f"service-level target must be above 0% and at most 100%, got {target * 100:g}%",
            "write it like 80/20 (80% answered within 20 s)",
        )
    if target >= 1:
        raise InputError(
            "a 100% service level cannot be guaranteed by any finite staff",
            "use a target such as 99/20",
        )
    if not math.isfinite(answer_s) or answer_s < 0:
        raise InputError(f"answer-time target must be 0 seconds or more, got {answer_s:g}")
    if interval_s is not None and answer_s > interval_s:
        raise InputError(
            f"answer-time target {answer_s:g} s is longer than the {interval_s / 60:g}-minute interval",
            "use an answer time within the interval, or a longer interval",
        )


def check_fraction(name: str, value: float, upper_open: bool = True) -> None:
    """Shrinkage in [0, 1); max occupancy in (0, 1]."""
    if name == "shrinkage":
        if not math.isfinite(value) or value < 0 or value >= 1:
            raise InputError(f"shrinkage must be at least 0 and below 1 (0.3 = 30%), got {value:g}")
        return
    if not math.isfinite(value) or value <= 0 or value > 1:
        raise InputError(f"{name} must be above 0 and at most 1 (0.85 = 85%), got {value:g}")


def _as_float(name: str, value: ArrayLike, positive: bool = False) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be a finite number")
    if positive and np.any(arr <= 0):
        raise InputError(f"{name} must be above 0, got {float(arr.min()):g}")
    if np.any(arr < 0):
        raise InputError(f"{name} must not be negative, got {float(arr.min()):g}")
    return arr


# -- Erlang B and C ---------------------------------------------------------------------------
def offered_load(calls: ArrayLike, aht_s: ArrayLike, interval_s: float) -> FloatArray:
    """Offered load in erlangs: calls x AHT / interval length."""
    return np.asarray(calls, dtype=np.float64) * np.asarray(aht_s, dtype=np.float64) / interval_s


def _log_erlang_b(agents: FloatArray, load: FloatArray) -> FloatArray:
    """log B(n, A) = log Poisson pmf(n; A) - log Poisson cdf(n; A); stable for large n and A."""
    from scipy.special import gammaln, pdtr

    safe = np.where(load > 0, load, 1.0)
    log_pmf = agents * np.log(safe) - safe - gammaln(agents + 1)
    with np.errstate(divide="ignore"):
        log_b = log_pmf - np.log(pdtr(agents, safe))
    # no load: nothing is ever blocked (log 0), except with no lines at all
    return np.where(load > 0, log_b, np.where(agents > 0, -np.inf, 0.0))


def erlang_b(agents: ArrayLike, load: ArrayLike) -> FloatArray:
    """Blocking probability of ``agents`` lines (trunks) offered ``load`` erlangs (Erlang B)."""
    n, a = np.broadcast_arrays(np.asarray(agents, np.float64), np.asarray(load, np.float64))
    return np.exp(_log_erlang_b(n, a))


def erlang_c(agents: ArrayLike, load: ArrayLike) -> FloatArray:
    """Probability that a call waits (Erlang C); 1 in the unstable region ``agents <= load``."""
    n, a = np.broadcast_arrays(np.asarray(agents, np.float64), np.asarray(load, np.float64))
    b = np.exp(_log_erlang_b(n, a))
    stable = n > a
    with np.errstate(divide="ignore", invalid="ignore"):
        c = n * b / (n - a + a * b)
    return np.where(stable, np.clip(c, 0.0, 1.0), 1.0)


def erlang_c_metrics(
    agents: ArrayLike, load: ArrayLike, aht_s: ArrayLike, answer_s: float
) -> dict[str, FloatArray]:
    """Service level, ASA, occupancy and wait probability of ``agents`` under Erlang C.

    In the unstable region (load >= agents) the queue grows without bound: service level 0,
    ASA infinite, occupancy 1, ``stable`` False — never a division error.
    """
    n, a, aht = np.broadcast_arrays(
        np.asarray(agents, np.float64), np.asarray(load, np.float64), np.asarray(aht_s, np.float64)
    )
    pw = erlang_c(n, a)
    stable = n > a
    gap = np.where(stable, n - a, 1.0)
    sl = np.where(stable, 1.0 - pw * np.exp(-gap * answer_s / np.where(aht > 0, aht, 1.0)), 0.0)
    asa = np.where(stable, pw * aht / gap, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        occ = np.where(n > 0, np.minimum(a / np.where(n > 0, n, 1.0), 1.0), np.where(a > 0, 1.0, 0.0))
    idle = a <= 0  # no calls: nothing waits
    return {
        "wait_probability": np.where(idle, 0.0, pw),
        "service_level": np.where(idle, 1.0, np.clip(sl, 0.0, 1.0)),
        "asa": np.where(idle, 0.0, asa),
        "occupancy": occ,
        "stable": stable | idle,
    }


# -- Erlang A ---------------------------------------------------------------------------------
def _log_gammainc(a: FloatArray, z: FloatArray) -> FloatArray:
    """log P(a, z), the regularised lower incomplete gamma, without underflow (z > 0, a > 0)."""
    from scipy.special import gammainc, gammaln

    p = gammainc(a, z)
    with np.errstate(divide="ignore"):
        out = np.log(p)
    tiny = ~(p > 1e-280)
    if np.any(tiny):
        # P underflows only when z is far below a, where P(a, z) = e^-z z^a / Gamma(a+1) *
        # sum_k prod_{i<=k} z / (a+i) converges fast
        at, zt = a[tiny], z[tiny]
        term, total = np.ones_like(at), np.ones_like(at)
        for k in range(1, 200_000):
            term = term * zt / (at + k)
            total += term
            if np.all(term < 1e-17 * total):
                break
        out[tiny] = -zt + at * np.log(zt) - gammaln(at + 1) + np.log(total)
    return out


def erlang_a_metrics(
    agents: ArrayLike,
    calls: ArrayLike,
    interval_s: float,
    aht_s: ArrayLike,
    patience_s: ArrayLike,
    answer_s: float,
) -> dict[str, FloatArray]:
    """Erlang A (M/M/n+M): wait probability, abandon rate, service level, ASA, occupancy.

    ``patience_s`` is the mean time callers are willing to wait (exponential patience).
    Service level counts abandoned calls as offered and not answered in time; ASA is the mean
    wait of answered calls. Always stable: abandonment bounds the queue.
    """
    from scipy.special import expit, gammaln

    n, lam, aht, pat = np.broadcast_arrays(
        np.asarray(agents, np.float64),
        np.asarray(calls, np.float64) / interval_s,
        np.asarray(aht_s, np.float64),
        np.asarray(patience_s, np.float64),
    )
    shape = n.shape
    n, lam, aht, pat = (v.reshape(-1) for v in (n, lam, aht, pat))
    out = {k: np.zeros(n.shape) for k in ("wait_probability", "abandon_rate", "asa", "occupancy")}
    out["service_level"] = np.ones(n.shape)
    busy = lam > 0
    nobody = busy & (n <= 0)
    out["wait_probability"][nobody] = 1.0
    out["abandon_rate"][nobody] = 1.0
    out["service_level"][nobody] = 0.0
    out["asa"][nobody] = np.inf
    m = busy & (n > 0)
    if np.any(m):
        nn, ll, hh, pp = n[m], lam[m], aht[m], pat[m]
        theta = 1.0 / pp
        a = ll * hh
        x, y = nn / (hh * theta), ll / theta
        log_p = _log_gammainc(x, y)
        log_s = gammaln(x + 1) + y - x * np.log(y) + log_p
        log_b = _log_erlang_b(nn, a)
        # P(W) = S / (1/B - 1 + S), computed as a logistic of logs so nothing overflows
        log_r = np.log1p(-np.minimum(np.exp(log_b), 1 - 1e-16)) - log_b - log_s
        pw = expit(-log_r)
        s = np.exp(np.minimum(log_s, 700.0))
        ab_given_w = np.clip(1.0 - (nn / a) * (1.0 - 1.0 / s), 0.0, 1.0)
        abandon = pw * ab_given_w
        # answered after waiting, within T and in total (closed forms, see module docstring)
        q = np.exp(-theta * answer_s)
        served_all = np.exp(_log_gammainc(x + 1, y) - log_p)
        served_late = np.exp(_log_gammainc(x + 1, y * q) - log_p)
        served_wait = pw * (x / y) * served_all
        served_wait_t = pw * (x / y) * np.maximum(served_all - served_late, 0.0)
        out["wait_probability"][m] = pw
        out["abandon_rate"][m] = abandon
        out["service_level"][m] = np.clip(1.0 - pw + served_wait_t, 0.0, 1.0)
        served = np.maximum(1.0 - pw + served_wait, 1e-300)
        out["asa"][m] = _mean_wait_answered(x, y, theta) * served_wait / served
        out["occupancy"][m] = np.minimum(a * (1.0 - abandon) / nn, 1.0)
    result = {k: v.reshape(shape) for k, v in out.items()}
    result["stable"] = np.ones(shape, dtype=bool)
    return result


def _mean_wait_answered(x: FloatArray, y: FloatArray, theta: FloatArray) -> FloatArray:
    """E[wait | waited and answered]: density ~ exp(-theta(x+1)v - y e^(-theta v)), Gauss-Legendre."""
    nodes, weights = np.polynomial.legendre.leggauss(96)
    mode = np.maximum(np.log(np.maximum(y, 1e-300) / (x + 1)), 0.0) / theta
    sd = 1.0 / (theta * np.sqrt(x + 1))
    lo = np.maximum(mode - 12 * sd, 0.0)
    # log-concave density: past the mode it falls at least as fast as its slope at 0 (if < 0)
    slope0 = theta * (x + 1 - y)
    tail = np.where(slope0 > 0, np.minimum(14 * sd, 40.0 / np.maximum(slope0, 1e-300)), 14 * sd)
    hi = mode + tail + 1e-9
    half = (hi - lo) / 2
    v = lo[:, None] + half[:, None] * (nodes[None, :] + 1)
    log_h = -theta[:, None] * (x[:, None] + 1) * v - y[:, None] * np.exp(-theta[:, None] * v)
    w = weights[None, :] * np.exp(log_h - log_h.max(axis=1, keepdims=True))
    return (w * v).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-300)


# -- staffing searches ------------------------------------------------------------------------
def _smallest(meets: Callable[[FloatArray], NDArray[np.bool_]], lo: FloatArray) -> FloatArray:
    """Smallest integer n >= lo with meets(n), for every element at once (meets is monotone)."""
    lo = lo.astype(np.float64).copy()
    step = np.maximum(np.ceil(np.sqrt(lo)) * 4 + 8, 8.0)
    hi = lo + step
    ok = meets(hi)
    while not np.all(ok):
        if np.any(hi > MAX_AGENTS):
            raise InputError(
                f"no staff up to {MAX_AGENTS:,} agents meets the target",
                "check the units: calls per interval, AHT in seconds",
            )
        lo = np.where(ok, lo, hi + 1)
        step = np.where(ok, step, step * 2)
        hi = np.where(ok, hi, hi + step)
        ok = meets(hi)
    while np.any(lo < hi):
        mid = np.floor((lo + hi) / 2)
        good = meets(mid)
        hi = np.where(good, mid, hi)
        lo = np.where(good, lo, mid + 1)
    return hi


def _walk_erlang_c(load: FloatArray, aht: FloatArray, target: float, answer_s: float,
                   asa_s: float | None) -> tuple[FloatArray, FloatArray]:
    """Fewest agents meeting SL (and ASA) under Erlang C, for every interval at once.

    Starts each interval at its first stable staff ``floor(A) + 1`` (Erlang B there from the
    closed form) and steps all unresolved intervals up together with the stable recursion
    ``B(n) = A B(n-1) / (n + A B(n-1))``; resolved intervals drop out. The number of steps is
    the largest safety margin (about 4 sqrt(A)), not the number of intervals.
    """
    agents = np.floor(load) + 1
    wait = np.zeros_like(load)  # Erlang C at the staff found
    todo = np.flatnonzero(load > 0)
    n, a, h = agents[todo], load[todo], aht[todo]
    b = np.exp(_log_erlang_b(n, a))
    for _ in range(MAX_AGENTS):
        c = n * b / (n - a + a * b)
        good = 1.0 - c * np.exp(-(n - a) * answer_s / h) >= target - 1e-12
        if asa_s is not None:
            good &= c * h / (n - a) <= asa_s + 1e-12
        agents[todo[good]] = n[good]
        wait[todo[good]] = c[good]
        keep = ~good
        if not keep.any():
            break
        todo, n, a, h, b = todo[keep], n[keep] + 1, a[keep], h[keep], b[keep]
        b = a * b / (n + a * b)
    return agents, wait


def _scheduled(agents: FloatArray, shrinkage: float) -> FloatArray:
    return np.ceil(agents / (1.0 - shrinkage) - _EPS)


def _prepare(
    calls: ArrayLike, aht_s: ArrayLike, interval_s: float, target: float, answer_s: float,
    shrinkage: float, max_occupancy: float, allow_zero: bool,
) -> tuple[FloatArray, FloatArray]:
    check_target(target, answer_s, interval_s)
    check_fraction("shrinkage", shrinkage)
    check_fraction("max occupancy", max_occupancy)
    c = _as_float("calls", calls, positive=not allow_zero)
    h = _as_float("AHT (seconds)", aht_s, positive=True)
    c, h = np.broadcast_arrays(c, h)
    if c.size and float((c * h).max()) / interval_s > MAX_AGENTS:
        raise InputError(
            f"offered load above {MAX_AGENTS:,} erlangs is beyond any contact centre",
            "check the units: calls per interval, AHT in seconds",
        )
    return c, h


def staff_erlang_c(
    calls: ArrayLike,
    aht_s: ArrayLike,
    interval_s: float,
    target: float = 0.8,
    answer_s: float = 20.0,
    asa_s: float | None = None,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
    allow_zero: bool = False,
) -> dict[str, Any]:
    """Fewest agents per interval meeting an SL target (and an ASA target, and max occupancy).

    Args:
        calls: calls offered per interval (scalar or array).
        aht_s: average handle time in seconds (scalar or array).
        interval_s: interval length in seconds.
        target, answer_s: e.g. 0.8 and 20 for "80% answered within 20 s".
        asa_s: optional ASA target in seconds (both targets must hold).
        max_occupancy: cap on agent occupancy (adds agents where the SL target alone would
            burn agents out).
        shrinkage: share of paid time away from the phones; sets ``scheduled_agents``.
        allow_zero: intervals with no calls get 0 agents (plans) instead of an error.

    Returns a dict of arrays: load, agents, scheduled_agents, service_level, asa, occupancy,
    wait_probability.
    """
    c, h = _prepare(calls, aht_s, interval_s, target, answer_s, shrinkage, max_occupancy, allow_zero)
    if asa_s is not None and (not math.isfinite(asa_s) or asa_s <= 0):
        raise InputError(f"ASA target must be above 0 seconds, got {asa_s:g}")
    load = offered_load(c, h, interval_s)
    flat_load, flat_aht = load.reshape(-1), h.reshape(-1)

    agents, wait = _walk_erlang_c(flat_load, flat_aht, target, answer_s, asa_s)
    # max occupancy: at least load / max_occupancy agents (C recomputed only where it bites)
    floor = np.ceil(flat_load / max_occupancy - _EPS)
    bumped = np.flatnonzero((floor > agents) & (flat_load > 0))
    if bumped.size:
        agents[bumped] = floor[bumped]
        wait[bumped] = erlang_c(agents[bumped], flat_load[bumped])
    busy = flat_load > 0
    agents = np.where(busy, agents, 0.0)
    gap = np.where(busy, agents - flat_load, 1.0)
    out: dict[str, Any] = {
        "load": flat_load, "agents": agents, "scheduled_agents": _scheduled(agents, shrinkage),
        "service_level": np.where(busy, 1.0 - wait * np.exp(-gap * answer_s / flat_aht), 1.0),
        "asa": np.where(busy, wait * flat_aht / gap, 0.0),
        "occupancy": np.where(busy, flat_load / np.where(busy, agents, 1.0), 0.0),
        "wait_probability": np.where(busy, wait, 0.0),
    }
    return {k: v.reshape(load.shape) for k, v in out.items()}


def staff_erlang_a(
    calls: ArrayLike,
    aht_s: ArrayLike,
    interval_s: float,
    patience_s: ArrayLike,
    target: float = 0.8,
    answer_s: float = 20.0,
    max_abandon: float | None = None,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
    allow_zero: bool = False,
) -> dict[str, Any]:
    """Fewest agents meeting the SL target (and an abandon-rate cap) when callers hang up.

    Same outputs as :func:`staff_erlang_c` plus ``abandon_rate``.
    """
    c, h = _prepare(calls, aht_s, interval_s, target, answer_s, shrinkage, max_occupancy, allow_zero)
    pat = _as_float("patience (seconds)", patience_s, positive=True)
    if max_abandon is not None and not 0 < max_abandon < 1:
        raise InputError(f"abandon-rate cap must be between 0 and 1, got {max_abandon:g}")
    c, h, pat = np.broadcast_arrays(c, h, pat)
    shape = c.shape
    fc, fh, fp = c.reshape(-1), h.reshape(-1), pat.reshape(-1)

    def meets(n: FloatArray) -> NDArray[np.bool_]:
        met = erlang_a_metrics(n, fc, interval_s, fh, fp, answer_s)
        good = met["service_level"] >= target - 1e-12
        if max_abandon is not None:
            good &= met["abandon_rate"] <= max_abandon + 1e-12
        return good

    agents = _smallest(meets, np.where(fc > 0, 1.0, 0.0))
    load = offered_load(fc, fh, interval_s)
    met = erlang_a_metrics(agents, fc, interval_s, fh, fp, answer_s)
    served_load = load * (1 - met["abandon_rate"])
    agents = np.maximum(agents, np.ceil(served_load / max_occupancy - _EPS))
    agents = np.where(fc > 0, agents, 0.0)
    met = erlang_a_metrics(agents, fc, interval_s, fh, fp, answer_s)
    out: dict[str, Any] = {"load": load, "agents": agents,
                           "scheduled_agents": _scheduled(agents, shrinkage)}
    out.update({k: met[k] for k in
                ("service_level", "asa", "occupancy", "wait_probability", "abandon_rate")})
    return {k: v.reshape(shape) for k, v in out.items()}


def trunks_erlang_b(load: ArrayLike, blocking: float = 0.01) -> FloatArray:
    """Fewest lines (trunks) so that at most ``blocking`` of calls get a busy signal."""
    if not 0 < blocking < 1:
        raise InputError(f"blocking target must be between 0 and 1, got {blocking:g}")
    a = _as_float("load (erlangs)", load)
    flat = a.reshape(-1)
    lines = _smallest(lambda n: erlang_b(n, flat) <= blocking, np.zeros_like(flat))
    return lines.reshape(a.shape)
