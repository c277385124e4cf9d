"""The identifier graph as Ibis expressions: nodes, edges and connected components.

Source records are nodes. Rather than materialising record–record edges (a phone on n records
would give n·(n-1)/2 of them), the graph is kept *bipartite*: one membership row
``(node_id, edge)`` per record and identifier value it carries (``edge`` = ``"phone:+86…"``).
Two records are connected when they share an ``edge``. Probabilistic matches join the same
table as memberships of a synthetic edge (``"splink:<node_id>"``).

Connected components are computed on the values' *roots* (:func:`value_roots`): the integer
root–root links are few enough to fetch once and label with SciPy (:func:`components`); every
other step is an Ibis expression, so the same code runs on DuckDB and PySpark. With
``[identity] components = "engine"`` the labelling too runs in the backend, as rounds of min-label
propagation (:func:`propagate_components`), for root graphs too large for one process.
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
    import numpy as np
    import pyarrow as pa

    from cxlens.warehouse import Warehouse

RECORD_KEY = ("record_table", "source", "source_id")
# id types that identify a person on their own (an order number identifies its buyer)
EDGE_TYPES = schema.ID_TYPES
JUNK_PATTERN = r"^\+?[0-9]{0,3}$"
# junk that survives normalisation as a token; blocked in hashed form too when pseudonymised
JUNK_VALUES = ("+86", "+1", "+852", "+853", "+886", "+44", "+81", "+82", "+65")
# a mainland mobile is registered to one person (real-name rule), unlike a landline or an office
# switchboard: its memberships get kind "mobile", which is not weak (it anchors and bridges
# customers) but still obeys the household rule of "phone". Hashed values never match.
MOBILE_PATTERN = r"^\+861[3-9][0-9]{9}$"
# scratch tables of the root labels of pass 1 (strong edges) and pass 2 (with weak edges)
LABELS = ("identity_labels_a", "identity_labels_b")
# the other half of the ping-pong of engine-side propagation rounds (``components = "engine"``)
ROUND_SCRATCH = "identity_labels_round"
# the weak memberships the anchored-weak rule excluded (shared lines): a few hundred rows on the
# demo. The memberships components ran on are ``identity_edges_all`` less these
# (:func:`active_edges`); a copy of those ~1.1M string rows is not written.
EXCLUDED = "identity_edges"
# the case system of interactions whose source is not named in ``[identity] case_systems``
DEFAULT_CASE_SYSTEM = "crm"
# kinds that name a thing (an order, a CRM case), not a person: they link records but do not
# anchor a customer for the weak-value rule
NON_ANCHOR_KINDS = ("order", "case", "ref")
# personal tables whose rows name the contact they are about (``interaction_ref``)
REF_TABLES = tuple(name for name in schema.PERSONAL_TABLES
                   if "interaction_ref" in schema.ALL_TABLES[name])


def records(wh: Warehouse, distinct: bool = True) -> ir.Table:
    """Every source record of a person-bearing table as (record_table, source, source_id).

    ``distinct=False`` skips the de-duplication: the warehouse keeps (source, source_id)
    unique per table (writes are upserts on it), so it only guards against a broken store.
    """
    import ibis

    parts = []
    for name in schema.PERSONAL_TABLES:
        t = wh.table(name)
        parts.append(t.select(record_table=ibis.literal(name), source=t.source,
                              source_id=t.source_id))
    return ibis.union(*parts, distinct=distinct)


def numbered(recs: ir.Table, offset: int = 0) -> ir.Table:
    """Give records dense int64 node ids in key order (deterministic on every engine)."""
    import ibis

    rn = ibis.row_number().over(order_by=[recs.record_table, recs.source, recs.source_id])
    return recs.mutate(node_id=(rn + offset + 1).cast("int64"))


def numbered_records(wh: Warehouse) -> ir.Table:
    """:func:`numbered` (:func:`records`, ``distinct=False``) with the window partitioned by
    table: a table's records are numbered by (source, source_id) after the record counts of the
    tables before it in name order — the same ids as one window over all records, cheaper for
    the engine (the demo's ``identity_nodes`` write: CPU median 0.72 instead of 1.10 s in 4
    interleaved rounds, same rows)."""
    import ibis

    offsets, total = {}, 0
    for name in sorted(schema.PERSONAL_TABLES):
        offsets[name] = total
        total += wh.count(name)
    recs = records(wh, distinct=False)
    rn = ibis.row_number().over(group_by=recs.record_table,
                                order_by=[recs.source, recs.source_id])
    offset = recs.record_table.substitute(offsets, else_=0)
    return recs.mutate(node_id=(rn + offset + 1).cast("int64"))


def table_nodes(wh: Warehouse, name: str) -> ir.Table:
    """The records of one personal table numbered exactly as :func:`numbered` numbers
    :func:`records` (``distinct=False``): the tables named before it come first, so its node ids
    are an offset (their record count) plus its rank by (source, source_id). Lets the stage
    start Splink on the parties before ``identity_nodes`` is written (the stage checks the ids
    against it afterwards: :func:`cxlens.identity.fuzzy.SplinkRun.finish`)."""
    import ibis

    offset = sum(wh.count(other)
                 for other in schema.PERSONAL_TABLES if other < name)
    t = wh.table(name)
    recs = t.select(record_table=ibis.literal(name), source=t.source, source_id=t.source_id)
    return numbered(recs, offset)


def edge_key(id_type: ir.StringValue, id_value: ir.StringValue) -> ir.StringValue:
    """``"phone:+86138…"``. A WeChat id written in a parties ``wechat`` column and the same id
    as a chat ``handle`` (id type ``social``) are one value, so both fold into ``social``."""
    import ibis

    namespace = ibis.ifelse(id_type == "wechat", "social", id_type)
    return namespace.concat(":", id_value)


def identifier_rows(wh: Warehouse, settings: IdentitySettings) -> ir.Table:
    """The ``identifiers`` table plus, when ``case_edges`` is on, one ``case`` row per
    interaction logged under a CRM case (id_value ``"<case system>:<case number>"``) and, when
    ``ref_edges`` is on, one ``ref`` row per survey or case naming the contact it is about
    (id_value: its ``interaction_ref``, ``"<source>:<source_id>"``) and per interaction
    (id_value: its own ``"<source>:<source_id>"``). Every interaction gets its row, referenced
    or not, so a later survey about an old contact changes no old record's memberships (the
    incremental run keeps to its fast path)."""
    ids = wh.table("identifiers")
    if not (settings.case_edges or settings.ref_edges):
        return ids
    import ibis

    parts = [ids.select("record_table", "source", "source_id", "id_type", "id_value")]
    t = wh.table("interactions")
    if settings.case_edges:
        number = t.case_id.strip().nullif("")
        c = t.mutate(number=number).filter(number.notnull() & ~number.re_search(JUNK_PATTERN))
        default = ibis.literal(DEFAULT_CASE_SYSTEM)
        system = (c.source.substitute(dict(settings.case_systems), else_=default)
                  if settings.case_systems else default)
        parts.append(c.select(record_table=ibis.literal("interactions"), source=c.source,
                              source_id=c.source_id, id_type=ibis.literal("case"),
                              id_value=system.concat(":", c.number)))
    if settings.ref_edges:
        parts.append(t.select(record_table=ibis.literal("interactions"), source=t.source,
                              source_id=t.source_id, id_type=ibis.literal("ref"),
                              id_value=t.source.concat(":", t.source_id)))
        for name in REF_TABLES:
            r = wh.table(name)
            ref = r.interaction_ref.strip().nullif("")
            r = r.mutate(ref=ref).filter(ref.notnull())
            parts.append(r.select(record_table=ibis.literal(name), source=r.source,
                                  source_id=r.source_id, id_type=ibis.literal("ref"),
                                  id_value=r.ref))
    return ibis.union(*parts, distinct=False)


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

    import ibis

    located = located_identifiers(ids, nodes)
    usable = located.anti_join(agent_values(ids), "id_value")
    if rules.blocked:
        usable = usable.filter(~usable.id_value.isin(list(rules.blocked)))
    # a bare country code or a few digits ("+86", "0") identifies nobody, whatever the column
    usable = usable.filter(~usable.id_value.re_search(JUNK_PATTERN))
    mobile = (usable.id_type == "phone") & usable.id_value.re_search(MOBILE_PATTERN)
    rows = usable.select(
        "node_id", kind=ibis.ifelse(mobile, "mobile", usable.id_type),
        edge=edge_key(usable.id_type, usable.id_value),
    ).distinct()
    # read three times below; cached (engine-side, dropped when the expression is collected)
    # so the engines do not recompute the distinct and the regexes for each reader
    rows = rows.cache()

    # distinct records per value, counted only for the values with more rows than the limit
    # (a value has at least as many rows as records): a plain count over every value, then
    # a distinct count over the few candidates (a distinct count per value over the 1.1M demo
    # rows was the costliest step of the memberships, 0.64 s)
    rows_per = rows.group_by("edge").aggregate(n_rows=rows.count())
    candidates = rows_per.filter(rows_per.n_rows > rules.max_records).select("edge")
    over = rows.semi_join(candidates, "edge")
    counts = over.group_by("edge").aggregate(n_records=over.node_id.nunique())
    common = counts.filter(counts.n_records > rules.max_records).select("edge")

    # people behind a phone/e-mail: the distinct accounts quoted on the records carrying it
    # (records without an account say nothing either way), whatever rule dropped the account
    if all_ids is None:
        accounts = located.filter(located.id_type == "account")
        account_of = accounts.select("node_id", account=accounts.id_value)
    else:  # a subset of the values: the accounts of their records come from every identifier
        acc = all_ids.filter(all_ids.id_type == "account")
        ja = acc.join(nodes, list(RECORD_KEY))
        account_of = ja.select(node_id=ja.node_id, account=ja.id_value)
    household_kinds = [*rules.household_types, *(["mobile"] if "phone" in rules.household_types
                                                  else [])]
    typed = rows.filter(rows.kind.isin(household_kinds))
    typed = typed.join(account_of, "node_id").select("edge", "account")
    people = typed.group_by("edge").aggregate(n_people=typed.account.nunique())
    household = people.filter(people.n_people > rules.max_accounts).select("edge")

    active = rows.anti_join(common, "edge").anti_join(household, "edge")
    return active.select("node_id", "edge", "kind")


def located_identifiers(ids: ir.Table, nodes: ir.Table) -> ir.Table:
    """(node_id, id_type, id_value) of the identifiers of person records: one join on the
    (string) record key, then node ids (the rules group and join ints). A row without an id type
    names no value and is left out."""
    personal = ids.filter(ids.record_table.isin(list(schema.PERSONAL_TABLES))
                          & ids.id_type.notnull())
    j = personal.join(nodes, list(RECORD_KEY))
    return j.select(node_id=j.node_id, id_type=j.id_type, id_value=j.id_value).view()


def agent_values(ids: ir.Table) -> ir.Table:
    """The distinct identifier values of agents (their phones never merge customers)."""
    return ids.filter(ids.record_table == "agents").select("id_value").distinct()


@dataclass(frozen=True)
class Memberships:
    """:func:`memberships_in_memory`'s rows: ``table`` (node_id, edge, kind) as
    :func:`memberships` gives them, and each row's ``value_id``, a dense code of its ``edge``
    (0 … ``n_values`` - 1), so :func:`resolve_in_memory` need not encode the strings again."""

    table: pa.Table
    value_id: np.ndarray
    n_values: int


def memberships_in_memory(located: pa.Table, agents: pa.Array | Iterable[str],
                          rules: EdgeRules) -> Memberships:
    """:func:`memberships` on fetched rows: ``located`` is :func:`located_identifiers`
    (node_id, id_type, id_value), ``agents`` :func:`agent_values`. Same rows as the Ibis
    expression (``tests/identity/test_graph.py``), computed on integer codes: the string values
    are dictionary-encoded once and the per-value tests (agents, blocked, junk, mobile) run on
    the distinct values only. On the demo (1.1M rows) this replaces a cached engine-side table
    and three string group-bys (≈ 1.3 CPU-s) with ≈ 0.3 s of NumPy."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    node = located.column("node_id").to_numpy().astype(np.int64, copy=False)
    types = pc.dictionary_encode(located.column("id_type")).combine_chunks()
    values = pc.dictionary_encode(located.column("id_value")).combine_chunks()
    type_names = types.dictionary.to_pylist()
    t_code = types.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    vdict = values.dictionary
    n_v = len(vdict)
    # a null value gets code n_v: dropped below (no value links anything)
    v_code = pc.fill_null(values.indices, n_v).to_numpy(zero_copy_only=False).astype(np.int64)

    def flag(mask: pa.Array, null: bool) -> np.ndarray:
        return np.append(mask.to_numpy(zero_copy_only=False), null)

    agent_set = (agents.cast(pa.string()) if isinstance(agents, pa.Array)
                 else pa.array(list(agents), pa.string()))
    bad = flag(pc.or_(pc.is_in(vdict, value_set=agent_set),
                      pc.is_in(vdict, value_set=pa.array(rules.blocked, pa.string()))), True)
    bad |= flag(pc.match_substring_regex(vdict, JUNK_PATTERN), True)
    mobile_value = flag(pc.match_substring_regex(vdict, MOBILE_PATTERN), False)

    kind_names = list(dict.fromkeys([*type_names, "mobile"]))
    kind_of_type = np.array([kind_names.index(t) for t in type_names], dtype=np.int64)
    ns_names = list(dict.fromkeys("social" if t == "wechat" else t for t in type_names))
    ns_of_type = np.array([ns_names.index("social" if t == "wechat" else t) for t in type_names],
                          dtype=np.int64)
    phone = np.array([t == "phone" for t in type_names], dtype=bool)

    # the accounts quoted on each record, whatever rule drops the account value itself
    is_account = np.array([t == "account" for t in type_names], dtype=bool)[t_code]
    is_account &= v_code < n_v
    accounts = _unique_rows(node[is_account], v_code[is_account])

    keep = ~bad[v_code]
    node, t_code, v_code = node[keep], t_code[keep], v_code[keep]
    kind = np.where(phone[t_code] & mobile_value[v_code], kind_names.index("mobile"),
                    kind_of_type[t_code])
    # an edge is (namespace, value), coded as one integer; rows are distinct (node, kind, edge)
    edge = ns_of_type[t_code] * (n_v + 1) + v_code
    node, kind, edge = _unique_rows(node, kind, edge)
    n_codes = int(edge.max()) + 1 if len(edge) else 0

    # values on more than max_records distinct records: only values with more rows than that
    # can be, so the distinct count runs on those
    over = (np.bincount(edge, minlength=n_codes) > rules.max_records)[edge]
    common_pairs = _unique_rows(edge[over], node[over])[0]
    common = np.bincount(common_pairs, minlength=n_codes) > rules.max_records

    # household values: distinct accounts on the records carrying them
    hh_names = {*rules.household_types, *(["mobile"] if "phone" in rules.household_types else [])}
    hh_kind = np.array([k in hh_names for k in kind_names], dtype=bool)
    typed = hh_kind[kind]
    people = _accounts_per_edge(edge[typed], node[typed], accounts, n_codes)
    household = people > rules.max_accounts

    active = ~(common | household)[edge]
    codes, value_id = _dense(edge[active], n_codes)
    ns_code, value_code = np.divmod(codes, n_v + 1)
    names = pc.binary_join_element_wise(
        pa.array(ns_names, pa.string()).take(pa.array(ns_code)),
        vdict.take(pa.array(value_code)), ":")
    table = pa.table({
        "node_id": pa.array(node[active], pa.int64()),
        "edge": names.take(pa.array(value_id)),
        "kind": pa.array(kind_names, pa.string()).take(pa.array(kind[active])),
    })
    return Memberships(table, value_id, len(codes))


def _unique_rows(*cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct rows of non-negative integer columns, sorted (one combined key when it
    fits in 62 bits: sorted in place and decoded, no argsort)."""
    import numpy as np

    if not len(cols[0]):
        return cols
    sizes = [int(c.max()) + 1 for c in cols]
    if float(np.prod([float(s) for s in sizes])) < 2.0**62:
        key = np.zeros(len(cols[0]), dtype=np.int64)
        for c, size in zip(cols, sizes, strict=True):
            key = key * size + c
        key.sort()  # (np.unique hashes int64 in NumPy 2: several times slower here)
        new = np.ones(len(key), dtype=bool)
        new[1:] = key[1:] != key[:-1]
        key = key[new]
        out = []
        for size in reversed(sizes):
            key, rest = np.divmod(key, size)
            out.append(rest)
        return tuple(reversed(out))
    order = np.lexsort(cols[::-1])
    stacked = np.stack([c[order] for c in cols])
    new = np.ones(len(order), dtype=bool)
    new[1:] = (stacked[:, 1:] != stacked[:, :-1]).any(axis=0)
    return tuple(c[order[new]] for c in cols)


def _dense(codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct codes, sorted; each code's position among them) for codes below
    ``n_codes``: ``np.unique(codes, return_inverse=True)`` without a sort."""
    import numpy as np

    used = np.zeros(n_codes, dtype=bool)
    used[codes] = True
    position = np.cumsum(used) - 1
    return np.flatnonzero(used), position[codes]


def _accounts_per_edge(edge: np.ndarray, node: np.ndarray,
                       accounts: tuple[np.ndarray, ...], n_edges: int) -> np.ndarray:
    """Distinct accounts quoted on the records of each edge's memberships ((node, account)
    pairs in ``accounts``; a record may quote several)."""
    import numpy as np

    acc_node, acc_value = accounts
    order = np.argsort(acc_node, kind="stable")
    acc_node, acc_value = acc_node[order], acc_value[order]
    lo = np.searchsorted(acc_node, node, "left")
    hi = np.searchsorted(acc_node, node, "right")
    count = hi - lo
    row = np.repeat(np.arange(len(node)), count)
    within = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    pairs = _unique_rows(edge[row], acc_value[np.repeat(lo, count) + within])[0]
    return np.bincount(pairs, minlength=n_edges)


def excluded_counts(ids: ir.Table, nodes: ir.Table, rules: EdgeRules) -> dict[str, int]:
    """How many distinct values each rule removed (for the stage summary)."""
    active = memberships(ids, nodes, rules).select("edge").distinct().count().execute()
    total = ids.filter(ids.record_table.isin(list(schema.PERSONAL_TABLES)))
    total = total.select(edge=edge_key(total.id_type, total.id_value)).distinct().count()
    return {"values": int(total.execute()), "active_values": int(active)}


def active_edges(wh: Warehouse) -> ir.Table:
    """(node_id, edge, kind) memberships the customers were resolved on: every membership the
    rules kept (``identity_edges_all``, Splink's matches included) less the weak ones excluded
    as shared lines (:data:`EXCLUDED`)."""
    every = wh.table("identity_edges_all")
    return every.anti_join(wh.table(EXCLUDED), ["node_id", "edge"])


def anchored_weak_edges(edges: ir.Table, labels: ir.Table, weak_types: list[str]) -> ir.Table:
    """Weak memberships (phones) whose value touches at most one *anchored* component.

    After a first pass over the strong edges, a component is anchored when one of its records
    carries a personal identifier (account, e-mail, device, social; not an order or case number). A
    phone found in two anchored components is a shared line (household, office) and never
    merges them; a phone found in one joins the orphan records that carry it (calls, anonymous
    orders) to that component. ``labels`` is :func:`components`' (node_id, label) of the
    linked records; a record absent from it is its own component.
    """
    # an order number names an order, not a person: it does not anchor a customer
    personal = edges.filter(~edges.kind.isin([*weak_types, *NON_ANCHOR_KINDS]))
    strong_nodes = personal.select("node_id").distinct()
    anchors = label_of(strong_nodes, labels).select("label").distinct()
    weak = edges.filter(edges.kind.isin(weak_types))
    seen = label_of(weak.select("node_id", "edge"), labels).semi_join(anchors, "label")
    per_value = seen.group_by("edge").aggregate(anchors=seen.label.nunique())
    shared = per_value.filter(per_value.anchors > 1).select("edge")
    return weak.anti_join(shared, "edge").select("node_id", "edge", "kind")


def label_of(rows: ir.Table, labels: ir.Table, key: str = "node_id") -> ir.Table:
    """``rows`` with the label of the node in their ``key`` column (the node's own id when it
    is in no link)."""
    view = labels.view()  # callers may join two labelled sets of one labels table
    lab = view.select(lnode=view.node_id, llabel=view.label)
    j = rows.left_join(lab, rows[key] == lab.lnode)
    # .view() closes the join, so callers can join the result on ``label`` again
    return j.select(*rows.columns, label=j.llabel.coalesce(j[key])).view()


def value_roots(edges: ir.Table) -> ir.Table:
    """Distinct (node_id, root) rows: each value's *root* is the smallest record carrying it.

    Every record carrying a value is connected to the value's root, so the records' components
    are those of the roots, linked through records that carry several values (see
    :func:`root_links`). The string ``edge`` is grouped here once, never in the labelling.
    """
    root = edges.group_by("edge").aggregate(root=edges.node_id.min())
    j = edges.join(root, "edge")
    return j.select(node_id=j.node_id, root=j.root).distinct()


def first_roots(roots: ir.Table) -> ir.Table:
    """(node_id, root): the smallest root of each record — the root its component label is
    read from (:func:`node_labels`)."""
    return roots.group_by("node_id").aggregate(root=roots.root.min())


def root_links(roots: ir.Table, first: ir.Table | None = None) -> ir.Table:
    """Integer root–root links (src, dst): a record carrying values with roots r1 < r2 < …
    links each other root to r1 (src > dst). Far fewer rows than record–record links (on the
    demo ~0.1M instead of ~1.6M), small enough for :func:`components` to label in memory.
    ``first`` is :func:`first_roots` of ``roots`` when the caller already has it."""
    first = (first_roots(roots) if first is None else first).view()
    f = first.select(fnode=first.node_id, froot=first.root)
    j = roots.join(f, roots.node_id == f.fnode)
    return j.filter(j.root != j.froot).select(src=j.root, dst=j.froot).distinct()


def node_labels(first: ir.Table, root_labels: ir.Table) -> ir.Table:
    """(node_id, label) of every record in ``first`` (:func:`first_roots`), from the labels
    of the roots (:func:`components`); a root in no link is its own label."""
    return label_of(first, root_labels, key="root").select("node_id", "label").view()


def components(wh: Warehouse, links_t: ir.Table, target: str, method: str = "local",
               max_iterations: int = 50) -> int:
    """Connected components of the roots in ``links_t`` (see :func:`root_links`), written to
    ``target`` (one of :data:`LABELS`) as (node_id, label) for every root in a link: label =
    the smallest node id of its component; a root in no link is its own component. Returns the
    number of linked roots.

    The root graph is small (integers only: on the 665k-record demo ~0.1M links between ~0.13M
    roots), so it is fetched once and labelled by SciPy's connected components instead of
    rounds of engine-side label propagation (which cost a write and a query per round). Same
    labels on every engine: the smallest member is a property of the component, not of the
    algorithm. ``method="engine"`` (``[identity] components``) keeps the whole computation in the
    backend instead (:func:`propagate_components`), for graphs too large to fetch.
    """
    if method == "engine":
        return propagate_components(wh, links_t, target, max_iterations)
    import numpy as np
    import pyarrow as pa

    links = links_t.to_pyarrow()
    src = links.column("src").to_numpy().astype(np.int64, copy=False)
    dst = links.column("dst").to_numpy().astype(np.int64, copy=False)
    nodes, index = np.unique(np.concatenate([src, dst]), return_inverse=True)
    labels = nodes.copy()
    if len(src):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n, k = len(nodes), len(src)
        graph = coo_matrix((np.ones(k, dtype=np.int8), (index[:k], index[k:])), shape=(n, n))
        _, component = connected_components(graph, directed=False)
        # nodes are sorted, so a component's first position holds its smallest node id
        seen, first = np.unique(component, return_index=True)
        smallest = np.empty(len(seen), dtype=np.int64)
        smallest[seen] = nodes[first]
        labels = smallest[component]
    wh.replace(target, pa.table({"node_id": pa.array(nodes, pa.int64()),
                                 "label": pa.array(labels, pa.int64())}))
    return len(nodes)


def propagate_components(wh: Warehouse, links_t: ir.Table, target: str,
                         max_iterations: int) -> int:
    """:func:`components` as Ibis expressions run by the backend: min-label propagation with
    pointer jumping. Every round a root takes the smallest label of itself and its neighbours,
    then jumps to its label's label (this cuts the rounds from the graph's diameter to about its
    log). Labels only ever drop, so a round changed nothing exactly when the sum of labels did
    not move. Rounds ping-pong between ``target`` and ``identity_labels_round``, each written
    with :meth:`Warehouse.replace` (that also cuts Spark's lineage, which would otherwise grow
    with every round); the result ends in ``target``."""
    import ibis

    both = ibis.union(links_t, links_t.select(src=links_t.dst, dst=links_t.src),
                      distinct=True).cache()  # read by every round
    try:
        init = both.group_by(node_id=both.src).aggregate(label=both.dst.min())
        tables = (target, ROUND_SCRATCH)
        wh.replace(target, init.select("node_id", label=ibis.least(init.label, init.node_id)))
        previous = _label_sum(wh.table(target))
        for round_ in range(1, max_iterations + 1):
            src, dst = tables[(round_ - 1) % 2], tables[round_ % 2]
            wh.replace(dst, _propagate(wh.table(src), both))
            current = _label_sum(wh.table(dst))
            if current == previous:
                if dst != target:
                    wh.replace(target, wh.table(dst).select("node_id", "label"))
                wh.replace(ROUND_SCRATCH, [])
                return int(wh.table(target).count().execute())
            previous = current
    finally:
        both.release()
    from cxlens.errors import CxlensError

    raise CxlensError(
        f"identity graph did not converge in {max_iterations} rounds",
        "raise [identity] max_iterations in cxlens.toml, or use components = \"local\"",
    )


def _propagate(labels: ir.Table, links_t: ir.Table) -> ir.Table:
    """One round: root <- min label of itself and its linked roots; then jump."""
    import ibis

    nb = links_t.join(labels, links_t.dst == labels.node_id)
    via = nb.select(node_id=nb.src, label=nb.label)
    candidates = ibis.union(labels.select("node_id", "label"), via)
    step = candidates.group_by("node_id").aggregate(label=candidates.label.min())
    prev = labels.view()
    parent = prev.select(pid=prev.node_id, plabel=prev.label)
    jumped = step.left_join(parent, step.label == parent.pid)
    return jumped.select(node_id=jumped.node_id,
                         label=ibis.least(jumped.label, jumped.plabel.coalesce(jumped.label)))


def _label_sum(t: ir.Table) -> int:
    value = t.label.sum().execute()
    return int(value or 0)


@dataclass(frozen=True)
class Resolution:
    """What :func:`resolve_in_memory` found: ``labels`` (node_id, label) of every record whose
    label is not its own id, the weak memberships ``excluded`` as shared lines (node_id, edge,
    kind: rows of the input) and ``linked``, the records in a component of two or more."""

    labels: pa.Table
    excluded: pa.Table
    linked: int


def resolve_in_memory(edges: pa.Table, weak_types: Iterable[str],
                      value_ids: tuple[np.ndarray, int] | None = None) -> Resolution:
    """Both passes of the weak-value rule on fetched memberships (``components = "local"``).

    ``edges`` is (node_id, edge, kind), i.e. ``identity_edges_all``: on the demo 1.1M rows.
    ``value_ids`` (each row's value as a code below ``n``, and ``n``) spares encoding ``edge``. The string ``edge`` is dictionary-encoded into value ids and the graph is
    labelled as it is stored, *bipartite* (records and values are the vertices of one sparse
    graph), by SciPy's connected components: pass 1 over the strong memberships, then the
    anchored-weak rule (:func:`anchored_weak_edges`, here on arrays), then pass 2, which
    links pass-1 components through the kept weak memberships. A label is the smallest node id of its component,
    as with :func:`components`, so the map equals the engine-side one
    (``tests/identity/test_graph.py``). Until this round the same was rounds of cached Ibis
    expressions over the values' roots (:func:`value_roots`; still the path of
    ``components = "engine"``): about 1.5 CPU-s on the demo, against ≈ 0.5 here.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    node = edges.column("node_id").to_numpy().astype(np.int64, copy=False)
    if len(node) and node.min() < 0:
        raise ValueError("identity node ids are never negative")
    if value_ids is None:
        value = pc.dictionary_encode(edges.column("edge")).combine_chunks()
        vid = value.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        n_values = len(value.dictionary)
    else:  # each row's value as a dense code (Memberships.value_id), the strings not re-read
        vid, n_values = value_ids
        vid = vid.astype(np.int64, copy=False)
    kind = pc.dictionary_encode(edges.column("kind")).combine_chunks()
    kinds = kind.dictionary.to_pylist()
    kind_code = kind.indices.to_numpy(zero_copy_only=False)
    weak_set = set(weak_types)
    is_weak = np.array([k in weak_set for k in kinds] + [False], dtype=bool)
    is_personal = np.array([k not in weak_set and k not in NON_ANCHOR_KINDS for k in kinds]
                           + [False], dtype=bool)
    weak = is_weak[kind_code]
    n_nodes = int(node.max()) + 1 if len(node) else 1

    # pass 1: strong memberships only
    label1 = smallest_member(n_nodes, n_values, node[~weak], vid[~weak])
    # anchored components: one of their records carries a personal identifier
    anchored = np.zeros(n_nodes, dtype=bool)
    anchored[label1[node[is_personal[kind_code]]]] = True
    # a weak value seen in two anchored components is a shared line
    w_node, w_vid = node[weak], vid[weak]
    w_label = label1[w_node]
    seen = anchored[w_label]
    pairs = np.unique(w_vid[seen] * n_nodes + w_label[seen])
    per_value = np.bincount(pairs // n_nodes, minlength=n_values)
    excluded = weak & (per_value > 1)[vid]
    # pass 2: the kept weak memberships join pass-1 components, so it runs on those
    # (vertex = the component's label, a node id) and the weak values: a smaller graph
    kept = weak & ~excluded
    merged = smallest_member(n_nodes, n_values, label1[node[kept]], vid[kept])
    label2 = merged[label1]
    ids = np.arange(n_nodes, dtype=np.int64)
    moved = label2 != ids
    members = np.bincount(label2, minlength=n_nodes)
    return Resolution(
        labels=pa.table({"node_id": pa.array(ids[moved]), "label": pa.array(label2[moved])}),
        excluded=edges.select(["node_id", "edge", "kind"]).filter(pa.array(excluded)),
        linked=int((members[label2] > 1).sum()),
    )


def smallest_member(n_nodes: int, n_values: int, node: np.ndarray,
                     vid: np.ndarray) -> np.ndarray:
    """For every node id below ``n_nodes``: the smallest node id of its component in the
    bipartite graph of the memberships (node, value id)."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    size = n_nodes + n_values
    graph = coo_matrix((np.ones(len(node), dtype=np.int8), (node, vid + n_nodes)),
                       shape=(size, size))
    _, component = connected_components(graph, directed=False)
    of_node = component[:n_nodes]
    # vertex i < n_nodes is node id i: the smallest node id per component
    smallest = np.full(component.max() + 1, n_nodes, dtype=np.int64)
    np.minimum.at(smallest, of_node, np.arange(n_nodes, dtype=np.int64))
    return smallest[of_node]
