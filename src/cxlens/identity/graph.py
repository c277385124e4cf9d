"""The identifier graph as Ibis expressions: nodes, edges and connected components.

Source records are nodes. Rather than materialising record–record edges (a phone on n records
would give n·(n-1)/2 of them), the graph is kept *bipartite*: one membership row
``(node_id, edge)`` per record and identifier value it carries (``edge`` = ``"phone:+86…"``).
Two records are connected when they share an ``edge``. Probabilistic matches join the same
table as memberships of a synthetic edge (``"splink:<node_id>"``).

Connected components use min-label propagation with pointer jumping: every round a value takes
the smallest label of its records, every record the smallest label of its values, then each
record jumps to its label's label. Labels only ever decrease, so a round changed nothing exactly
when the sum of labels did not move. Each round is materialised into a scratch table with
:meth:`Warehouse.replace`, so the same code runs on DuckDB and PySpark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cxlens import schema
from cxlens.clean.identifiers import normalize_value
from cxlens.config import IdentitySettings

if TYPE_CHECKING:
    from collections.abc import Callable

    import ibis.expr.types as ir

    from cxlens.warehouse import Warehouse

RECORD_KEY = ("record_table", "source", "source_id")
# id types that identify a person on their own (an order number identifies its buyer)
EDGE_TYPES = schema.ID_TYPES
LABELS = ("identity_labels_a", "identity_labels_b")
JUNK_PATTERN = r"^\+?[0-9]{0,3}$"
# junk that survives normalisation as a token; blocked in hashed form too when pseudonymised
JUNK_VALUES = ("+86", "+1", "+852", "+853", "+886", "+44", "+81", "+82", "+65")
# a mainland mobile is registered to one person (real-name rule), unlike a landline or an office
# switchboard: its memberships get kind "mobile", which is not weak (it anchors and bridges
# customers) but still obeys the household rule of "phone". Hashed values never match.
MOBILE_PATTERN = r"^\+861[3-9][0-9]{9}$"


def records(wh: Warehouse) -> ir.Table:
    """Every source record of a person-bearing table as (record_table, source, source_id)."""
    import ibis

    parts = []
    for name in schema.PERSONAL_TABLES:
        t = wh.table(name)
        parts.append(t.select(record_table=ibis.literal(name), source=t.source,
                              source_id=t.source_id))
    return ibis.union(*parts, distinct=True)


def numbered(recs: ir.Table, offset: int = 0) -> ir.Table:
    """Give records dense int64 node ids in key order (deterministic on every engine)."""
    import ibis

    rn = ibis.row_number().over(order_by=[recs.record_table, recs.source, recs.source_id])
    return recs.mutate(node_id=(rn + offset + 1).cast("int64"))


def edge_key(id_type: ir.StringValue, id_value: ir.StringValue) -> ir.StringValue:
    """``"phone:+86138…"``. A WeChat id written in a parties ``wechat`` column and the same id
    as a chat ``handle`` (id type ``social``) are one value, so both fold into ``social``."""
    import ibis

    namespace = ibis.ifelse(id_type == "wechat", "social", id_type)
    return namespace.concat(":", id_value)


def blocked_values(
    raw_values: Iterable[str], region: str, hasher: Callable[[str], str] | None
) -> list[str]:
    """Normalise user-written blocked values under every id type they parse as."""
    out: set[str] = set()
    if hasher is not None:
        out.update(hasher(v) for v in JUNK_VALUES)
    for raw in raw_values:
        for id_type in EDGE_TYPES:
            value = normalize_value(id_type, raw, region)
            if value:
                out.add(hasher(value) if hasher else value)
    return sorted(out)


@dataclass(frozen=True)
class EdgeRules:
    """What keeps an identifier value from becoming an edge (see IdentitySettings)."""

    blocked: tuple[str, ...]
    max_accounts: int
    household_types: tuple[str, ...]
    max_records: int

    @classmethod
    def from_settings(cls, settings: IdentitySettings, blocked: Iterable[str]) -> EdgeRules:
        return cls(tuple(sorted(set(blocked))), settings.max_accounts_per_identifier,
                   tuple(settings.household_types), settings.max_records_per_value)


def memberships(ids: ir.Table, nodes: ir.Table, rules: EdgeRules,
                all_ids: ir.Table | None = None) -> ir.Table:
    """Active (node_id, edge, kind) rows: identifiers that may merge records.

    ``ids`` is (a subset of) the identifiers table; every rule is a function of one value's
    rows (and, through ``all_ids``, the accounts on those rows' records), so a subset holding
    all rows of its values gives the same answer as the full table.
    Dropped: values of non-person tables (agents), blocked values and agents' numbers, values
    on more than ``max_records`` records, and household values — phones/e-mails on records
    quoting more than ``max_accounts`` distinct accounts (a family landline, a shared mailbox).
    """

    personal = ids.filter(ids.record_table.isin(list(schema.PERSONAL_TABLES)))
    agent_values = ids.filter(ids.record_table == "agents").select("id_value").distinct()
    personal = personal.anti_join(agent_values, "id_value")
    if rules.blocked:
        personal = personal.filter(~personal.id_value.isin(list(rules.blocked)))
    # a bare country code or a few digits ("+86", "0") identifies nobody, whatever the column
    personal = personal.filter(~personal.id_value.re_search(JUNK_PATTERN))
    import ibis

    mobile = (personal.id_type == "phone") & personal.id_value.re_search(MOBILE_PATTERN)
    rows = personal.select(
        *RECORD_KEY, kind=ibis.ifelse(mobile, "mobile", personal.id_type),
        edge=edge_key(personal.id_type, personal.id_value),
    ).distinct()
    rows = rows.join(nodes, list(RECORD_KEY)).select("node_id", "edge", "kind", "record_table",
                                                      "source", "source_id")

    counts = rows.group_by("edge").aggregate(n_records=rows.node_id.nunique())
    common = counts.filter(counts.n_records > rules.max_records).select("edge")

    # people behind a phone/e-mail: the distinct accounts quoted on the records carrying it
    # (records without an account say nothing either way)
    source = ids if all_ids is None else all_ids  # accounts of the records, whatever value
    accounts = source.filter(source.id_type == "account")
    account_of = accounts.select("record_table", "source", "source_id", account=accounts.id_value)
    household_kinds = [*rules.household_types, *(["mobile"] if "phone" in rules.household_types
                                                  else [])]
    typed = rows.filter(rows.kind.isin(household_kinds))
    typed = typed.join(account_of, list(RECORD_KEY)).select("edge", "account")
    people = typed.group_by("edge").aggregate(n_people=typed.account.nunique())
    household = people.filter(people.n_people > rules.max_accounts).select("edge")

    active = rows.anti_join(common, "edge").anti_join(household, "edge")
    return active.select("node_id", "edge", "kind")


def excluded_counts(ids: ir.Table, nodes: ir.Table, rules: EdgeRules) -> dict[str, int]:
    """How many distinct values each rule removed (for the stage summary)."""
    active = memberships(ids, nodes, rules).select("edge").distinct().count().execute()
    total = ids.filter(ids.record_table.isin(list(schema.PERSONAL_TABLES)))
    total = total.select(edge=edge_key(total.id_type, total.id_value)).distinct().count()
    return {"values": int(total.execute()), "active_values": int(active)}


def anchored_weak_edges(wh: Warehouse, labels: str, weak_types: list[str]) -> ir.Table:
    """Weak memberships (phones) whose value touches at most one *anchored* component.

    After a first pass over the strong edges, a component is anchored when one of its records
    carries a personal identifier (account, e-mail, device, social; not an order number). A phone found in two anchored
    components is a shared line (household, office) and never merges them; a phone found in
    one joins the orphan records that carry it (calls, anonymous orders) to that component.
    """
    edges = wh.table("identity_edges_all")
    lab = wh.table(labels)
    # an order number names an order, not a person: it does not anchor a customer
    personal = edges.filter(~edges.kind.isin([*weak_types, "order"]))
    strong_nodes = personal.select("node_id").distinct()
    anchors = lab.semi_join(strong_nodes, "node_id").select("label").distinct()
    weak = edges.filter(edges.kind.isin(weak_types))
    seen = weak.join(lab, "node_id").semi_join(anchors, "label")
    per_value = seen.group_by("edge").aggregate(anchors=seen.label.nunique())
    shared = per_value.filter(per_value.anchors > 1).select("edge")
    return weak.anti_join(shared, "edge").select("node_id", "edge", "kind")


def components(wh: Warehouse, max_iterations: int, start: str | None = None) -> tuple[str, int]:
    """Label ``identity_nodes`` by connected component over ``identity_edges``.

    Returns the scratch table holding the final (node_id, label) rows — label = the smallest
    node_id of the component — and the number of rounds run.
    """
    first = 0
    if start is None:
        nodes = wh.table("identity_nodes")
        wh.replace(LABELS[0], nodes.select("node_id", label=nodes.node_id))
    else:  # continue from an earlier labelling of a sub-graph (labels stay valid, only drop)
        first = LABELS.index(start)
    previous = _label_sum(wh, LABELS[first])
    for round_ in range(1, max_iterations + 1):
        src, dst = LABELS[(round_ - 1 + first) % 2], LABELS[(round_ + first) % 2]
        wh.replace(dst, propagate(wh.table(src), wh.table("identity_edges")))
        current = _label_sum(wh, dst)
        if current == previous:
            return dst, round_
        previous = current
    from cxlens.errors import CxlensError

    raise CxlensError(
        f"identity graph did not converge in {max_iterations} rounds",
        "raise [identity] max_iterations in cxlens.toml",
    )


def propagate(labels: ir.Table, edges: ir.Table) -> ir.Table:
    """One round: value ← min label of its records; record ← min label of its values; jump."""
    import ibis

    with_label = edges.join(labels, "node_id")
    edge_label = with_label.group_by("edge").aggregate(label=with_label.label.min())
    via = edges.join(edge_label, "edge").select("node_id", "label")
    candidates = ibis.union(labels.select("node_id", "label"), via)
    step = candidates.group_by("node_id").aggregate(label=candidates.label.min())
    # pointer jumping: a label is itself a node id, whose own label (as of the previous round)
    # may already be smaller; this cuts the rounds from the graph's diameter to about its log
    prev = labels.view()
    parent = prev.select(pid=prev.node_id, plabel=prev.label)
    jumped = step.join(parent, step.label == parent.pid)
    return jumped.select(node_id=jumped.node_id, label=ibis.least(jumped.label, jumped.plabel))


def _label_sum(wh: Warehouse, name: str) -> int:
    t = wh.table(name)
    value = t.label.sum().execute()
    return int(value or 0)
