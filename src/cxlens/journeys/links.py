"""Journeys that continue across two customer keys: contacts back to back on one identifier.

The identity stage keeps a shared line (a family landline, an office number) from merging the
customers who call from it, so the records that carry only that line stay unlinked, each under a
key of its own: the IVR leg under one key, the agent call it was put through to under another.
Within minutes, though, two contacts on the same line are one caller: the IVR leg, an abandoned
attempt and the call that follows are one person about one thing. So, for stitching only, keys
whose contacts follow each other on one identifier value (the earlier ended at most
``link_s`` before the later started) are stitched as one customer; each touch keeps its own
``customer_key`` in ``journey_contacts``.

Only *consecutive* contacts on a value are compared (a window ``lag``, no self-join), so a
switchboard on thousands of records costs one sort, not a cross product.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis

if TYPE_CHECKING:
    import ibis.expr.types as ir

LINK_S = 30 * 60.0  # back to back on one line: the IVR leg, a retry, the call put through


def back_to_back_keys(
    contacts: ir.Table,
    interactions: ir.Table,
    identifiers: ir.Table,
    link_s: float,
    blocked: Sequence[str] = (),
    max_records: int | None = None,
) -> ir.Table:
    """``(customer_key, journey_key)`` for the keys joined by back-to-back contacts.

    ``contacts`` are :func:`cxlens.journeys.build.linked_contacts` rows. ``journey_key`` is the
    smallest key of the group; keys with no such link are not listed. Groups are closed over
    two hops (a key, the keys it links to and theirs), enough for the IVR leg → retry → call
    chains seen in practice. Values the identity stage never uses are not used here either: an
    agent's number, ``blocked`` values (a company switchboard: strangers call from it minutes
    apart) and values on more than ``max_records`` contacts.
    """
    agents = identifiers.filter(identifiers.record_table == "agents").select("id_value")
    ids = identifiers.filter((identifiers.record_table == "interactions")
                             & identifiers.id_value.notnull())
    ids = ids.select("source", "source_id", "id_type", "id_value").distinct()
    ids = ids.anti_join(agents.distinct(), "id_value")
    if blocked:
        ids = ids.filter(~ids.id_value.isin(list(blocked)))
    if max_records is not None:
        per_value = ids.group_by(["id_type", "id_value"]).aggregate(_n=ids.count())
        common = per_value.filter(per_value._n > max_records).select("id_type", "id_value")
        ids = ids.anti_join(common, ["id_type", "id_value"])
    rec = interactions.select("source", "source_id", "interaction_id")
    c = contacts.select(
        "interaction_id", "customer_key",
        _start=contacts.started_at.epoch_seconds(), _end=contacts.end_ts.epoch_seconds(),
    )
    v = ids.inner_join(rec, ["source", "source_id"]).inner_join(c, "interaction_id")
    line = ibis.window(group_by=[v.id_type, v.id_value], order_by=[v._start, v.interaction_id])
    v = v.mutate(_prev_key=v.customer_key.lag().over(line), _prev_end=v._end.lag().over(line))
    edges = v.filter(v._prev_key.notnull() & (v._prev_key != v.customer_key)
                     & (v._start - v._prev_end <= link_s))
    edges = edges.select(a=edges.customer_key, b=edges._prev_key)
    both = edges.union(edges.select(a=edges.b, b=edges.a)).distinct()
    hop1 = both.group_by("a").aggregate(_min=both.b.min())
    hop1 = hop1.select(key=hop1.a, label=ibis.least(hop1.a, hop1._min))
    hop2 = both.inner_join(hop1, both.b == hop1.key)
    hop2 = hop2.group_by(hop2.a).aggregate(_min=hop2.label.min())
    out = hop1.inner_join(hop2, hop1.key == hop2.a)
    return out.select(customer_key=out.key, journey_key=ibis.least(out.label, out._min))
