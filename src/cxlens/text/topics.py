"""Topics and emerging issues: top terms per reason and week, and terms whose share jumps.

Input: one ``(started_at, reason, terms)`` triple per interaction (terms from
:func:`cxlens.text.segment.terms`, i.e. jieba words for Chinese). For every ISO week (``period`` =
its Monday) and reason — plus ``*`` for all reasons together — a term's ``count`` is the number of
interactions that use it and ``share`` = count / interactions of that reason that week. Its
``baseline_share`` is the pooled share over the previous :data:`BASELINE_WEEKS` weeks, smoothed
so an unseen term does not divide by zero; ``lift`` = share / baseline. A term is ``emerging`` when
it is used by at least :data:`MIN_COUNT` interactions, by at least :data:`MIN_SHARE` of them,
and its lift is at least :data:`MIN_LIFT` — a new complaint wave about one product shows up as
its product word emerging under ``complaint``.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

ALL = "*"
TOP_TERMS = 20
BASELINE_WEEKS = 4
MIN_COUNT = 5
MIN_SHARE = 0.05
MIN_LIFT = 3.0


def week_of(at: datetime | date | None) -> str:
    """ISO date of the Monday of ``at``'s week ("unknown" without a timestamp)."""
    if at is None:
        return "unknown"
    day = at.date() if isinstance(at, datetime) else at
    return (day - timedelta(days=day.weekday())).isoformat()


@dataclass
class Counts:
    """Interactions and term uses per (week, reason): what :func:`rows` needs. Counts of parts
    of the data add up (:meth:`merge`), so workers can each count their share."""

    n_docs: Counter[tuple[str, str]] = field(default_factory=Counter)
    term_docs: defaultdict[tuple[str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter))

    def add(self, docs: Iterable[tuple[Any, str | None, Sequence[str]]]) -> None:
        """Count ``(started_at, reason, terms)`` per interaction."""
        for at, reason, terms in docs:
            period = week_of(at)
            distinct = set(terms)
            for r in (reason or "other", ALL):
                self.n_docs[(period, r)] += 1
                self.term_docs[(period, r)].update(distinct)

    def merge(self, other: Counts) -> None:
        self.n_docs.update(other.n_docs)
        for key, counts in other.term_docs.items():
            self.term_docs[key].update(counts)


def build(docs: Iterable[tuple[Any, str | None, Sequence[str]]]) -> list[dict[str, Any]]:
    """Rows of the ``topics`` table from ``(started_at, reason, terms)`` per interaction."""
    counts = Counts()
    counts.add(docs)
    return rows(counts)


def rows(counts: Counts) -> list[dict[str, Any]]:
    """Rows of the ``topics`` table from the counts of every interaction."""
    n_docs, term_docs = counts.n_docs, counts.term_docs
    periods = sorted({p for p, _ in n_docs if p != "unknown"})
    reasons = sorted({r for _, r in n_docs})
    out: list[dict[str, Any]] = []
    for reason in reasons:
        for idx, period in enumerate(periods + (["unknown"] if (("unknown", reason) in n_docs) else [])):
            docs_now = n_docs.get((period, reason), 0)
            if not docs_now:
                continue
            counts = term_docs[(period, reason)]
            previous = periods[max(0, idx - BASELINE_WEEKS) : idx] if period != "unknown" else []
            base_docs = sum(n_docs.get((p, reason), 0) for p in previous)
            base_counts: Counter[str] = Counter()
            for p in previous:
                base_counts.update(term_docs.get((p, reason), Counter()))
            # Ties broken by the term: Counter order follows set iteration, which varies by run.
            chosen = {t for t, _ in heapq.nsmallest(TOP_TERMS, counts.items(),
                                                   key=lambda kv: (-kv[1], kv[0]))}
            scored = []
            for term, count in counts.items():
                share = count / docs_now
                if base_docs:
                    baseline = (base_counts.get(term, 0) + 0.5) / (base_docs + 1)
                    lift = share / baseline
                else:
                    baseline, lift = None, None
                emerging = bool(lift is not None and count >= MIN_COUNT and share >= MIN_SHARE
                                and lift >= MIN_LIFT)
                if term in chosen or emerging:
                    scored.append((term, count, share, baseline, lift, emerging))
            for term, count, share, baseline, lift, emerging in scored:
                out.append({
                    "period": period, "reason": reason, "term": term, "count": count,
                    "docs": docs_now, "share": round(share, 4),
                    "baseline_share": None if baseline is None else round(baseline, 4),
                    "lift": None if lift is None else round(lift, 3), "emerging": emerging,
                })
    return out
