"""The KPI registry: every KPI defined once, in code and in words.

A KPI is a *population* of rows of one fact (contacts, surveys, journey touches) and a
per-row *measure*; its value is ``sum(measure) / count(population) × scale`` (a rate or a mean),
or the plain ``sum(measure)`` for counts. Because numerator and denominator are sums, a KPI can be
sliced by any dimension and time bucket and re-aggregated without bias.

The fact columns these lambdas read are built in :mod:`cxlens.metrics.facts`:

- contacts: ``offered`` (inbound, not a self-service leg), ``handled`` (offered, not abandoned),
  ``abandoned``, ``short_abandon``, ``live`` (a queued channel), ``wait``, ``handle_s``,
  ``assisted`` (an agent took it), ``transfers``, ``complaint``, ``customer_key``, ``sentiment``;
- surveys: ``csat`` (1-5), ``nps`` (0-10), ``ces`` (1-7);
- touches (``journey_contacts``): ``kind``, ``offered``, ``resolved``, ``first_assisted``,
  ``repeat_any``, ``repeat_channel``, ``followed_by_assisted``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ibis

from cxlens.config import MetricSettings
from cxlens.metrics.localtime import GRAINS

if TYPE_CHECKING:
    import ibis.expr.types as ir

Fact = Literal["contacts", "surveys", "touches"]
Rule = Callable[[Any, MetricSettings], Any]


def _one(t: ir.Table, m: MetricSettings) -> ir.IntegerValue:
    return ibis.literal(1)


def _flag(expr: ir.BooleanValue) -> ir.IntegerValue:
    return expr.fill_null(False).cast("int64")


@dataclass(frozen=True)
class Kpi:
    """One KPI: how to compute it (``population``, ``measure``) and what it means."""

    name: str
    label_en: str
    label_zh: str
    unit: str
    fact: Fact
    numerator: str
    denominator: str
    exclusions: str
    population: Rule
    measure: Rule
    kind: Literal["count", "ratio", "per_customer"] = "ratio"
    scale: float = 1.0
    needs: tuple[str, ...] = ("interactions",)
    extra: frozenset[str] = field(default_factory=frozenset)
    higher_is_better: bool | None = True

    @property
    def definition(self) -> str:
        """The KPI in words: numerator, denominator, exclusions."""
        if self.kind == "count":
            return f"{self.numerator}. Excludes: {self.exclusions}."
        return (f"{self.numerator} ÷ {self.denominator}"
                f"{' × ' + format(self.scale, 'g') if self.scale != 1 else ''}."
                f" Excludes: {self.exclusions}.")

    def describe(self) -> dict[str, Any]:
        """The registry entry as plain data (for `cxlens kpis --json` and the web UI)."""
        return {
            "name": self.name, "label_en": self.label_en, "label_zh": self.label_zh,
            "unit": self.unit, "definition": self.definition, "numerator": self.numerator,
            "denominator": self.denominator, "exclusions": self.exclusions,
            "needs": list(self.needs), "higher_is_better": self.higher_is_better,
        }


_SELF = "self-service legs (IVR/web/app without an agent), outbound and internal contacts"

_LIST: tuple[Kpi, ...] = (
    Kpi("offered", "Offered", "呼入量", "contacts", "contacts",
        "Inbound contacts offered to the centre on any assisted channel", "", _SELF,
        lambda t, m: t.offered, _one, kind="count", higher_is_better=None),
    Kpi("handled", "Handled", "接通量", "contacts", "contacts",
        "Offered contacts that were answered (not abandoned)", "", _SELF,
        lambda t, m: t.handled, _one, kind="count", higher_is_better=None),
    Kpi("abandoned", "Abandoned", "放弃量", "contacts", "contacts",
        "Offered contacts the customer gave up on while waiting", "",
        _SELF + "; short abandons (waited less than metrics.short_abandon_seconds)",
        lambda t, m: t.offered & t.abandoned & ~t.short_abandon, _one, kind="count",
        higher_is_better=False),
    Kpi("abandon_rate", "Abandon rate", "放弃率", "%", "contacts",
        "Abandoned contacts", "offered contacts",
        _SELF + "; short abandons from both numerator and denominator",
        lambda t, m: t.offered & ~t.short_abandon, lambda t, m: _flag(t.abandoned),
        scale=100, higher_is_better=False),
    Kpi("asa", "Average speed of answer", "平均应答速度", "s", "contacts",
        "Total queue wait of answered live contacts (seconds)", "answered live contacts",
        "abandoned contacts; e-mail/social (not queued live: metrics.live_channels); "
        "contacts with no wait time",
        lambda t, m: t.handled & t.live & t.wait.notnull(), lambda t, m: t.wait,
        higher_is_better=False),
    Kpi("service_level", "Service level", "服务水平", "%", "contacts",
        "Live contacts answered within metrics.service_level_seconds",
        "live contacts offered",
        "short abandons; non-live channels; " + _SELF,
        lambda t, m: t.offered & t.live & ~t.short_abandon,
        lambda t, m: _flag(~t.abandoned & (t.wait <= m.service_level_seconds)), scale=100),
    Kpi("aht", "Average handle time", "平均处理时长", "s", "contacts",
        "Talk + hold + after-call work of handled assisted contacts (seconds)",
        "handled assisted contacts with a known handle time",
        "abandoned and self-service contacts; contacts with neither talk time nor an end time "
        "(missing end times are excluded, not counted as zero)",
        lambda t, m: t.handled & t.assisted & t.handle_s.notnull(), lambda t, m: t.handle_s,
        higher_is_better=False),
    Kpi("transfer_rate", "Transfer rate", "转接率", "%", "contacts",
        "Handled assisted contacts transferred at least once", "handled assisted contacts",
        "abandoned and self-service contacts",
        lambda t, m: t.handled & t.assisted, lambda t, m: _flag(t.transfers > 0), scale=100,
        higher_is_better=False),
    Kpi("fcr_true", "First-contact resolution (true)", "首次解决率（跨渠道）", "%", "touches",
        "Journeys whose first assisted contact was marked resolved AND had no further customer "
        "contact on any channel within the journey window",
        "journeys with a first assisted contact whose outcome is known",
        "journeys with no assisted contact; contacts with unknown outcome",
        lambda t, m: t.first_assisted & t.resolved.notnull(),
        lambda t, m: _flag(t.resolved & ~t.repeat_any), scale=100,
        needs=("interactions", "journey_contacts")),
    Kpi("fcr_channel", "First-contact resolution (per channel)", "首次解决率（单渠道）", "%",
        "touches",
        "Assisted contacts marked resolved with no repeat on the SAME channel within the "
        "window (what a per-channel system reports)",
        "assisted contacts whose outcome is known",
        "abandoned and self-service contacts; contacts with unknown outcome",
        lambda t, m: (t.kind == "assisted") & t.resolved.notnull(),
        lambda t, m: _flag(t.resolved & ~t.repeat_channel), scale=100,
        needs=("interactions", "journey_contacts")),
    Kpi("repeat_rate", "Repeat-contact rate", "重复来电率", "%", "touches",
        "Offered contacts after which the same customer came back about the same issue on any "
        "channel within the window", "offered contacts",
        _SELF + "; web sessions",
        lambda t, m: t.offered, lambda t, m: _flag(t.repeat_any), scale=100,
        needs=("interactions", "journey_contacts"), higher_is_better=False),
    Kpi("csat", "CSAT (mean)", "满意度（均值）", "score 1-5", "surveys",
        "Sum of CSAT answers (1-5)", "surveys with a CSAT answer",
        "unanswered surveys", lambda t, m: t.csat.notnull(), lambda t, m: t.csat,
        needs=("surveys",)),
    Kpi("csat_top2", "CSAT top-2-box", "满意度（前两档）", "%", "surveys",
        "Surveys answering 4 or 5", "surveys with a CSAT answer", "unanswered surveys",
        lambda t, m: t.csat.notnull(), lambda t, m: _flag(t.csat >= 4), scale=100,
        needs=("surveys",)),
    Kpi("nps", "Net promoter score", "净推荐值", "NPS", "surveys",
        "Promoters (9-10) minus detractors (0-6)", "surveys with an NPS answer",
        "unanswered surveys",
        lambda t, m: t.nps.notnull(),
        lambda t, m: ibis.cases((t.nps >= 9, 1), (t.nps <= 6, -1), else_=0), scale=100,
        needs=("surveys",)),
    Kpi("ces", "Customer effort score", "客户费力度", "score 1-7", "surveys",
        "Sum of effort answers (1 = very easy, 7 = very hard)", "surveys with a CES answer",
        "unanswered surveys", lambda t, m: t.ces.notnull(), lambda t, m: t.ces,
        needs=("surveys",), higher_is_better=False),
    Kpi("sentiment_index", "Sentiment index", "情绪指数", "index -100..100", "contacts",
        "Sum of contact sentiment (-1 negative … +1 positive) from the text stage",
        "contacts the text stage scored", "contacts without text; " + _SELF,
        lambda t, m: t.sentiment.notnull() & t.offered, lambda t, m: t.sentiment, scale=100,
        needs=("interactions", "interaction_insights"), extra=frozenset({"sentiment"})),
    Kpi("complaint_rate", "Complaint rate", "投诉率", "%", "contacts",
        "Offered contacts whose reason is a complaint", "offered contacts", _SELF,
        lambda t, m: t.offered, lambda t, m: _flag(t.complaint), scale=100,
        higher_is_better=False),
    # Read from journey touches: they carry the customer key already (no identity_map join).
    Kpi("contacts_per_customer", "Contacts per customer", "人均联络次数", "contacts/customer",
        "touches", "Offered contacts of identified customers",
        "distinct identified customers who made them",
        "contacts not linked to a customer; " + _SELF,
        lambda t, m: t.offered & ~t.customer_key.fill_null("u:").startswith("u:"), _one,
        kind="per_customer", needs=("journey_contacts",), higher_is_better=False),
    Kpi("self_service_containment", "Self-service containment", "自助服务解决率", "%",
        "touches",
        "Self-service touches (IVR/app without an agent, help-page web sessions) NOT followed "
        "by an assisted contact in the same journey", "self-service touches",
        "browsing web sessions without a help page; sessions of unidentified visitors",
        lambda t, m: t.kind.isin(["self_service", "web_session"]),
        lambda t, m: _flag(~t.followed_by_assisted), scale=100,
        needs=("journey_contacts",)),
)

KPIS: dict[str, Kpi] = {k.name: k for k in _LIST}

# Dimension -> (label_en, label_zh, the fact joins it needs; "contact" = journey touches need
# their interaction's columns)
DIMENSIONS: dict[str, tuple[str, str, frozenset[str]]] = {
    "channel": ("Channel", "渠道", frozenset()),
    "queue": ("Queue", "队列", frozenset({"contact"})),
    "agent": ("Agent", "坐席", frozenset({"contact"})),
    "team": ("Team", "班组", frozenset({"contact", "team"})),
    "reason": ("Contact reason", "来电原因", frozenset()),
    "tier": ("Customer tier", "客户等级", frozenset({"customer", "tier"})),
    "segment": ("Customer segment", "客户分群", frozenset({"customer", "segment"})),
    "language": ("Language", "语言", frozenset({"contact"})),
}

__all__ = ["DIMENSIONS", "GRAINS", "KPIS", "Kpi"]
